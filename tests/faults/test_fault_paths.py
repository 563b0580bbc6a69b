"""Names that become paths (--model_name, --output_name, --benchmark, --version, the
judge names, --models_to_eval) cannot make the suite write outside --output_dir
(--model_response_dir).

Already covered in tests/test_api_models.py::test_names_cannot_write_outside_the_output_dir:
evaluate with --output_name ../escape, a/b, .hidden and --version ../../x.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import VERSION, FakeOpenAIServer, answer_or_judge, clean_env, make_responses, snapshot
from mix_eval.compute_metrics import main as compute_main
from mix_eval.evaluate import main as evaluate_main

UNSAFE = ["../escape", "../../escape", "a/../../escape", "/tmp/escape-abs", "..", ".", ".hidden", "a\\b", "c:d",
          "nul\0byte"]


def files_outside(tmp_path: Path, inside: Path, before: dict[str, str]) -> list[str]:
    """Files under tmp_path that are new or changed and not under `inside`."""
    after = snapshot(tmp_path)
    return [name for name, digest in after.items()
            if before.get(name) != digest and not (tmp_path / name).resolve().is_relative_to(inside.resolve())]


@pytest.fixture
def env(monkeypatch, tmp_path):
    clean_env(monkeypatch, tmp_path)
    return monkeypatch


@pytest.mark.parametrize("name", UNSAFE)
def test_a_registered_model_with_an_unsafe_name_cannot_escape(data_path, tmp_path, env, capsys, name):
    """--model_name of a user's model (--model_module) becomes the output folder's name."""
    module = tmp_path / "user_models.py"
    module.write_text(
        "from mix_eval.api.registry import register_model\n"
        "from mix_eval.models.base import ChatModel\n\n"
        f"@register_model({name!r})\n"
        "class Evil(ChatModel):\n"
        "    def __init__(self, args):\n"
        "        raise AssertionError('the model must not even be loaded')\n"
    )
    out = tmp_path / "deep" / "out"
    before = snapshot(tmp_path)
    code = evaluate_main(["--model_name", name, "--model_module", str(module), "--benchmark", "mixeval_hard",
                          "--version", VERSION, "--batch_size", "1", "--data_path", str(data_path),
                          "--output_dir", str(out), "--inference_only", "--limit", "1"])
    assert code == 2
    assert "--model_name" in capsys.readouterr().err
    assert files_outside(tmp_path, out, before) == []
    assert not Path("/tmp/escape-abs").exists()


@pytest.mark.parametrize("flag", ["--output_name", "--version"])
@pytest.mark.parametrize("value", ["/tmp/escape-abs", "..", "a\\b", "c:d"])
def test_unsafe_output_name_and_version_are_refused(data_path, tmp_path, env, capsys, flag, value):
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    args = {"--output_name": "x", "--version": VERSION}
    args[flag] = value
    code = evaluate_main(["--model_name", "gpt_4o", "--benchmark", "mixeval_hard", "--batch_size", "1",
                          "--data_path", str(data_path), "--output_dir", str(out), "--inference_only",
                          "--output_name", args["--output_name"], "--version", args["--version"]])
    assert code == 2
    assert flag in capsys.readouterr().err
    assert files_outside(tmp_path, out, before) == []


@pytest.mark.parametrize("command", ["evaluate", "compute_metrics"])
def test_an_unknown_benchmark_is_refused_by_the_parser(tmp_path, env, capsys, command):
    if command == "evaluate":
        argv = ["--model_name", "gpt_4o", "--benchmark", "../escape", "--version", VERSION, "--batch_size", "1",
                "--output_dir", str(tmp_path / "out")]
        main = evaluate_main
    else:
        argv = ["--benchmark", "../escape", "--version", VERSION, "--model_response_dir", str(tmp_path / "out")]
        main = compute_main
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert not any(tmp_path.rglob("*escape*"))


@pytest.mark.parametrize("flag, value", [("--models_to_eval", "../escape"), ("--models_to_eval", "/tmp/escape-abs"),
                                         ("--version", "../../escape"), ("--version", "..")])
def test_compute_metrics_refuses_unsafe_model_and_version_names(tmp_path, env, capsys, flag, value):
    root = tmp_path / "responses"
    make_responses(root, "my_model", "mixeval_hard", 3)
    args = {"--models_to_eval": "my_model", "--version": VERSION, flag: value}
    before = snapshot(tmp_path)
    code = compute_main(["--benchmark", "mixeval_hard", "--version", args["--version"], "--model_response_dir",
                         str(root), "--models_to_eval", args["--models_to_eval"], "--free_form_parser", "rule",
                         "--multi_choice_parser", "rule"])
    assert code == 2
    assert flag in capsys.readouterr().err
    assert files_outside(tmp_path, root, before) == []


def test_judge_names_with_slashes_stay_inside_the_model_folder(tmp_path, env):
    """Judge names go into judged file names ('/' becomes '_'): no path can come out."""
    root = tmp_path / "deep" / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", 3)
    env.setenv("MODEL_PARSER_API", "sk-test")
    before = snapshot(tmp_path)
    with FakeOpenAIServer(reply=answer_or_judge) as server:
        assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                             "--api_base_url", server.base_url, "--freeform_judge", "../../../../escape-ff",
                             "--multichoice_judge", "/tmp/escape-abs-mp"]) == 0
    assert files_outside(tmp_path, root, before) == []
    new = sorted(p.name for p in vdir.iterdir() if p.name.startswith("judge_results_"))
    assert new == ["judge_results_ff_model_judge_.._.._.._.._escape-ff.jsonl",
                   "judge_results_mp_model_judge__tmp_escape-abs-mp.jsonl"]
    assert not Path("/tmp/escape-abs-mp.jsonl").exists()
