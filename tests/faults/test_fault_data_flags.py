"""Bad data and bad flags: one clear error before any work, and nothing that blocks the
corrected rerun.

Covered elsewhere and not repeated here (see docs/fault_injection.md): a wrong
--data_path, a truncated data file, malformed items and options/target mismatches
(tests/test_data.py), a response file without its status file and a corrupt response
line met by `evaluate` (tests/test_resume_kill.py).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import VERSION, assert_one_clear_error, clean_env, read_jsonl, snapshot
from conftest import run_module
from mix_eval.evaluate import main as evaluate_main


def evaluate(tmp_path: Path, data_path: Path, *extra: str) -> int:
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "4",
                          "--data_path", str(data_path), "--output_dir", str(tmp_path / "out"),
                          "--inference_only", "--limit", "3", "--max_new_tokens", "3", *extra])


@pytest.fixture
def env(monkeypatch, tmp_path):
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return monkeypatch


# ---------------------------------------------------------------- versions


def test_unknown_version_offline_is_one_error_and_writes_nothing(tiny_chat, data_path, tmp_path):
    out = tmp_path / "out"
    proc = run_module(
        "mix_eval.evaluate", "--model_name", "local_chat", "--model_path", str(tiny_chat), "--benchmark",
        "mixeval_hard", "--version", "2099-01-01", "--batch_size", "2", "--data_path", str(data_path),
        "--output_dir", str(out), "--inference_only", timeout=120, cwd=tmp_path,
        env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")},
    )
    assert proc.returncode == 2
    assert_one_clear_error(proc.stderr, "2099-01-01", str(data_path / "mixeval-2099-01-01"), "--data_path")
    assert not (out / "local_chat").exists()
    assert "loading local_chat" not in proc.stderr


def test_unknown_version_in_compute_metrics_names_the_folders(tmp_path, capsys, env):
    from helpers import make_responses
    from mix_eval.compute_metrics import main as compute_main

    make_responses(tmp_path / "responses", "my_model", "mixeval_hard", 5)
    code = compute_main(["--benchmark", "mixeval_hard", "--version", "2024-13-01", "--model_response_dir",
                         str(tmp_path / "responses"), "--free_form_parser", "rule", "--multi_choice_parser", "rule"])
    assert code == 2
    assert_one_clear_error(capsys.readouterr().err, "mixeval_hard/2024-13-01", "--version")


# ---------------------------------------------------------------- model names


@pytest.mark.parametrize("typo, suggested", [
    ("gpt4o", "gpt_4o"), ("local-chat", "local_chat"),
    ("Meta-Llama-3-8B-Instruct", "llama_3_8b_instruct"), ("claude3_5_sonnet", "claude_3_5_sonnet"),
    ("GPT_4O", "gpt_4o"), ("LOCAL_CHAT", "local_chat"),
])
def test_unknown_model_name_suggests_close_matches(data_path, tmp_path, capsys, env, typo, suggested):
    assert evaluate(tmp_path, data_path, "--model_name", typo) == 2
    line = assert_one_clear_error(capsys.readouterr().err, f"unknown model name {typo!r}", "Did you mean",
                                  suggested, "python -m mix_eval.models")
    assert line
    assert not (tmp_path / "out" / typo).exists()


@pytest.mark.parametrize("model_id, row, served", [
    ("gpt-4o", "gpt_4o", "gpt-4o-2024-05-13"), ("claude-3-5-sonnet", "claude_3_5_sonnet", "claude-3-5-sonnet-20240620")])
def test_a_model_id_beside_a_catalog_row_is_evaluated_by_its_id_and_names_the_row(data_path, tmp_path, capsys, env,
                                                                               caplog, model_id, row, served):
    """gpt-4o is a model OpenAI serves today: evaluated by its id (here stopped for its
    key), with a warning naming the reference's row the user may have meant."""
    assert evaluate(tmp_path, data_path, "--model_name", model_id) == 2
    assert_one_clear_error(capsys.readouterr().err, f"--model_name {model_id} needs an API key")
    assert f"the catalog's {row} is the reference's row ({served})" in caplog.text


# ---------------------------------------------------------------- --model_path that is not a checkpoint


def _missing(tiny: Path, tmp: Path) -> Path:
    return tmp / "no-such-model"


def _a_file(tiny: Path, tmp: Path) -> Path:
    return tiny / "config.json"


def _empty_folder(tiny: Path, tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _config_only(tiny: Path, tmp: Path) -> Path:
    (tmp / "config-only").mkdir()
    shutil.copy(tiny / "config.json", tmp / "config-only")
    return tmp / "config-only"


def _broken_config(tiny: Path, tmp: Path) -> Path:
    shutil.copytree(tiny, tmp / "broken-config")
    (tmp / "broken-config" / "config.json").write_text('{"model_type": "llama", "hidden')
    return tmp / "broken-config"


def _no_tokenizer(tiny: Path, tmp: Path) -> Path:
    shutil.copytree(tiny, tmp / "no-tokenizer", ignore=shutil.ignore_patterns("tokenizer*"))
    return tmp / "no-tokenizer"


def _truncated_weights(tiny: Path, tmp: Path) -> Path:
    shutil.copytree(tiny, tmp / "truncated")
    weights = tmp / "truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a download cut short
    return tmp / "truncated"


NOT_CHECKPOINTS = [
    pytest.param(_missing, "does not exist", id="missing-path"),
    pytest.param(_a_file, "is not a Hugging Face checkpoint", id="a-file"),
    pytest.param(_empty_folder, "is not a Hugging Face checkpoint", id="empty-folder"),
    pytest.param(_config_only, "no file named model.safetensors", id="config-without-weights"),
    pytest.param(_broken_config, "not a valid JSON file", id="broken-config"),
    pytest.param(_no_tokenizer, "could not load the tokenizer", id="no-tokenizer"),
    pytest.param(_truncated_weights, "could not load the model", id="truncated-weights"),
]


@pytest.mark.parametrize("make, says", NOT_CHECKPOINTS)
def test_a_model_path_that_is_not_a_checkpoint_is_one_error(tiny_chat, data_path, tmp_path, capsys, env, make, says):
    path = make(tiny_chat, tmp_path)
    assert evaluate(tmp_path, data_path, "--model_name", "local_chat", "--model_path", str(path)) == 2
    assert_one_clear_error(capsys.readouterr().err, str(path), says)
    vdir = tmp_path / "out" / "local_chat" / "mixeval_hard" / VERSION
    assert not any(vdir.glob("*.jsonl")), "responses were written without a model"


def test_the_corrected_model_path_is_accepted_after_a_failed_load(tiny_chat, data_path, tmp_path, capsys, env):
    empty = _empty_folder(tiny_chat, tmp_path)
    assert evaluate(tmp_path, data_path, "--model_name", "local_chat", "--model_path", str(empty)) == 2
    capsys.readouterr()
    code = evaluate(tmp_path, data_path, "--model_name", "local_chat", "--model_path", str(tiny_chat))
    assert code == 0, capsys.readouterr().err
    vdir = tmp_path / "out" / "local_chat" / "mixeval_hard" / VERSION
    assert len(read_jsonl(vdir / "local_chat_close_freeform_hard.jsonl")) == 3


def test_a_failed_model_load_leaves_the_output_folder_without_responses(tiny_chat, data_path, tmp_path, capsys, env):
    """A failed load leaves only status files that record no batch (and do not block the
    corrected rerun, above)."""
    empty = _empty_folder(tiny_chat, tmp_path)
    assert evaluate(tmp_path, data_path, "--model_name", "local_chat", "--model_path", str(empty)) == 2
    files = snapshot(tmp_path / "out")
    assert not [f for f in files if f.endswith(".jsonl")]
    status = json.loads((tmp_path / "out" / "local_chat" / "mixeval_hard" / VERSION /
                         "status_close_freeform_hard.json").read_text())
    assert status["status"]["batch_id"] == -1  # nothing generated
