"""Typed settings built once from flags declared once; the pipeline without argparse."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from conftest import REPO, run_module
from mix_eval import compute_metrics, evaluate
from mix_eval.cli.flags import run_settings, scoring_settings
from mix_eval.settings import (
    DataSettings,
    GenerationSettings,
    JudgeSettings,
    ModelSettings,
    OutputSettings,
    RunSettings,
    ScoringSettings,
    SettingsError,
)

EVALUATE_MIN = ["--model_name", "local_chat", "--benchmark", "mixeval_hard", "--version", "2024-06-01",
                "--batch_size", "4"]
SCORING_MIN = ["--benchmark", "mixeval_hard", "--version", "2024-06-01"]
# The keys of a status file's "args", in order (as written before the flags were grouped).
STATUS_ARGS_ORDER = [
    "model_name", "model_path", "judge_model_id", "model_systemprompt", "benchmark", "version", "batch_size",
    "batch_size_judge", "max_gpu_memory", "max_gpu_memory_judge", "api_parallel_num", "api_base_url",
    "data_path", "output_dir", "inference_only", "verbose", "free_form_parser", "multi_choice_parser",
    "multichoice_judge", "freeform_judge", "extract_base_model_response", "compute_score_from_judged_file",
    "max_new_tokens", "limit", "dtype", "output_name", "model_module", "model_base_url", "model_id",
    "model_api_key_env", "model_gen_kwargs", "backend", "tensor_parallel_size", "data_parallel_size",
    "gpu_memory_utilization", "max_model_len", "distributed_executor_backend", "judge_mode", "judge_price",
    "judge_reasoning_effort", "judge_revision", "reasoning_effort", "thinking_budget", "reasoning_tags",
    "chat_template_kwargs", "model_price", "model_mode",
]


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.dest != "help"}


def _declared(action: argparse.Action) -> tuple:
    return (tuple(action.option_strings), action.default, action.help, action.type, action.choices,
            action.required, action.nargs, type(action))


@pytest.mark.parametrize("main, argv, mistyped", [
    (compute_metrics.main, SCORING_MIN, ["--judge_model", "x"]),  # would be read as --judge_model_id x
    (compute_metrics.main, SCORING_MIN, ["--free_form", "rule"]),  # was read as --free_form_parser rule
    (evaluate.main, EVALUATE_MIN, ["--max_new", "4"]),  # was read as --max_new_tokens 4
    (evaluate.main, EVALUATE_MIN, ["--inference"]),  # was read as --inference_only
])
def test_abbreviated_or_unknown_flags_are_refused(main, argv, mistyped, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv + mistyped)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and mistyped[0] in err


@pytest.mark.parametrize("module", ["mix_eval.utils.check_eval_complete", "mix_eval.demo"])
def test_every_parser_refuses_abbreviations(module):
    import importlib

    assert importlib.import_module(module).build_parser().allow_abbrev is False


def test_judge_and_data_flags_are_declared_once_for_both_commands():
    ev, cm = _actions(evaluate.build_parser()), _actions(compute_metrics.build_parser())
    shared = set(JudgeSettings.__dataclass_fields__) | {"benchmark", "version", "data_path", "verbose"}
    assert shared <= set(ev) and shared <= set(cm)
    for dest in sorted(shared):
        assert _declared(ev[dest]) == _declared(cm[dest]), dest


def test_flag_defaults_are_the_settings_defaults():
    settings = run_settings(evaluate.build_parser().parse_args(EVALUATE_MIN))
    assert settings == RunSettings(
        model=ModelSettings("local_chat", generation=GenerationSettings(batch_size=4)),
        data=DataSettings("mixeval_hard", "2024-06-01"), judge=JudgeSettings(), output=OutputSettings(),
    )
    scoring = scoring_settings(compute_metrics.build_parser().parse_args(SCORING_MIN))
    assert scoring == ScoringSettings(data=DataSettings("mixeval_hard", "2024-06-01"))


def test_defaults_are_pinned():
    """The defaults a user gets, written out here rather than read back from the settings
    classes (which the flags also read): a changed default fails this test."""
    flags = run_settings(evaluate.build_parser().parse_args(EVALUATE_MIN)).flags()
    assert flags == {
        "model_name": "local_chat", "model_path": None, "judge_model_id": None, "model_systemprompt": None,
        "benchmark": "mixeval_hard", "version": "2024-06-01", "batch_size": 4, "batch_size_judge": 1,
        "max_gpu_memory": None, "max_gpu_memory_judge": None, "api_parallel_num": 100, "api_base_url": None,
        "data_path": "mix_eval/data/", "output_dir": "mix_eval/data/model_responses", "inference_only": False,
        "verbose": False, "free_form_parser": "model", "multi_choice_parser": "model",
        "multichoice_judge": "gpt-3.5-turbo-0125", "freeform_judge": "gpt-3.5-turbo-0125",
        "extract_base_model_response": False, "compute_score_from_judged_file": False, "max_new_tokens": None,
        "limit": None, "dtype": None, "output_name": None, "model_module": None, "model_base_url": None,
        "model_id": None, "model_api_key_env": None, "model_gen_kwargs": None, "backend": "hf",
        "tensor_parallel_size": 1, "data_parallel_size": 1, "gpu_memory_utilization": 0.9, "max_model_len": None,
        "distributed_executor_backend": None, "judge_mode": "live", "judge_price": None,
        "judge_reasoning_effort": None, "judge_revision": None, "reasoning_effort": None, "thinking_budget": None,
        "reasoning_tags": None, "chat_template_kwargs": None, "model_price": None, "model_mode": "live",
    }
    scoring = scoring_settings(compute_metrics.build_parser().parse_args(SCORING_MIN))
    assert (scoring.model_response_dir, scoring.models_to_eval, scoring.verbose) == (
        "mix_eval/data/model_responses/", None, False)
    assert scoring.judge == JudgeSettings()  # the same judge defaults as evaluate's, pinned above


def test_every_flag_lands_in_the_settings_and_back_in_the_status_args():
    argv = EVALUATE_MIN + [
        "--model_path", "ckpt", "--judge_model_id", "org/judge", "--model_systemprompt", "be brief",
        "--batch_size_judge", "3", "--max_gpu_memory", "10GiB", "--max_gpu_memory_judge", "5GiB",
        "--api_parallel_num", "7", "--api_base_url", "http://127.0.0.1:1/v1", "--data_path", "d",
        "--output_dir", "o", "--inference_only", "--verbose", "--free_form_parser", "rule",
        "--multi_choice_parser", "rule", "--multichoice_judge", "mj", "--freeform_judge", "fj",
        "--extract_base_model_response", "--compute_score_from_judged_file", "--max_new_tokens", "9",
        "--limit", "5", "--dtype", "float16", "--output_name", "run1", "--model_module", "a.py",
        "--model_module", "b", "--model_base_url", "http://127.0.0.1:2/v1", "--model_id", "served",
        "--model_api_key_env", "MY_KEY", "--model_gen_kwargs", '{"temperature": 0}', "--backend", "vllm",
        "--tensor_parallel_size", "2", "--gpu_memory_utilization", "0.5", "--max_model_len", "2048",
        "--judge_price", "1,2.5",
    ]
    parser = evaluate.build_parser()
    ns = parser.parse_args(argv)
    settings = run_settings(ns)
    expected = dict(vars(ns))
    # the status file's args are every flag, in the order of the reference's parser, then ours
    assert list(settings.flags()) == STATUS_ARGS_ORDER
    assert settings.flags() == expected
    assert settings.model.model_module == ("a.py", "b")
    assert settings.model.batch_size == 4 and settings.model.max_new_tokens == 9  # the reference's names
    # a model reads every generation setting under its flag's name
    for name in GenerationSettings.__dataclass_fields__:
        assert getattr(settings.model, name) == getattr(settings.generation, name), name
    assert settings.name == "run1"
    scoring = settings.scoring()
    assert scoring.models_to_eval == ("run1",) and scoring.model_response_dir == "o"
    assert scoring.judge is settings.judge and scoring.data is settings.data


@pytest.mark.parametrize("build, flag", [
    (lambda: ModelSettings(""), "--model_name"),
    (lambda: DataSettings("mixeval_easy", "2024-06-01"), "--benchmark"),
    (lambda: DataSettings("mixeval", ""), "--version"),
    (lambda: DataSettings("mixeval", "2024-06-01", limit=0), "--limit"),
    (lambda: GenerationSettings(batch_size=0), "--batch_size"),
    (lambda: GenerationSettings(dtype="float8"), "--dtype"),
    (lambda: JudgeSettings(free_form_parser="regex"), "--free_form_parser"),
    (lambda: JudgeSettings(api_parallel_num=0), "--api_parallel_num"),
])
def test_settings_refuse_what_cannot_work_naming_the_flag(build, flag):
    with pytest.raises(SettingsError, match=flag):
        build()


def test_settings_are_frozen():
    with pytest.raises(Exception):
        JudgeSettings().api_parallel_num = 5  # type: ignore[misc]


def test_a_python_user_runs_the_pipeline_without_the_command_line(tiny_chat, tmp_path):
    code = f"""
import json, sys
from mix_eval.pipeline import evaluate
from mix_eval.settings import (DataSettings, GenerationSettings, JudgeSettings, ModelSettings,
                               OutputSettings, RunSettings)
result = evaluate(RunSettings(
    model=ModelSettings("local_chat", model_path={str(tiny_chat)!r},
                        generation=GenerationSettings(batch_size=4, max_new_tokens=2)),
    data=DataSettings("mixeval_hard", "2024-06-01", limit=3),
    judge=JudgeSettings(free_form_parser="rule", multi_choice_parser="rule"),
    output=OutputSettings(output_dir={str(tmp_path)!r}, output_name="my_run"),
), echo=lambda line: None)
loaded = sorted(m for m in sys.modules if m.startswith("mix_eval"))
print(json.dumps({{"scores": result.scores, "loaded": loaded}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(report["scores"]) == {"my_run"}
    written = json.loads((tmp_path / "my_run" / "mixeval_hard" / "2024-06-01" / "score.json").read_text())
    assert report["scores"]["my_run"] == written
    # nothing of the command-line layer was needed
    assert not [m for m in report["loaded"] if m.startswith("mix_eval.cli") or m in (
        "mix_eval.evaluate", "mix_eval.compute_metrics")], report["loaded"]


def test_evaluate_scores_the_run_it_made_without_calling_it_unregistered(tiny_chat, tmp_path):
    argv = ["--model_name", "local_chat", "--model_path", str(tiny_chat), "--benchmark", "mixeval_hard",
            "--version", "2024-06-01", "--batch_size", "4", "--max_new_tokens", "2", "--limit", "2",
            "--free_form_parser", "rule", "--multi_choice_parser", "rule", "--output_dir", str(tmp_path / "out"),
            "--output_name", "my_run"]
    done = run_module("mix_eval.evaluate", *argv)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "my_run" / "mixeval_hard" / "2024-06-01" / "score.json").is_file()
    assert "my_run" in done.stdout
    assert "not a registered model name" not in done.stderr
    # while compute_metrics on its own still notes it (the message this test looks for exists)
    again = run_module("mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", "2024-06-01",
                       "--model_response_dir", str(tmp_path / "out"), "--free_form_parser", "rule",
                       "--multi_choice_parser", "rule")
    assert again.returncode == 0, again.stderr
    assert "my_run is not a registered model name" in again.stderr


def test_the_readme_python_example_runs_as_written(tiny_chat, tmp_path):
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text[text.index("### From Python"):], re.S).group(1)
    (tmp_path / "tiny-chat").symlink_to(tiny_chat)
    out = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    overall = next(line for line in lines if re.fullmatch(r"\d\.\d+", line))
    scores = lines[-1]
    written = json.loads((tmp_path / "mix_eval_out" / "score.json").read_text(encoding="utf-8"))
    assert float(overall) == written["local_chat"]["overall"]
    assert scores == str(written)
