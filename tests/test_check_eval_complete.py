"""check_eval_complete: the reference's flags and log lines."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import REF_RESPONSES

from mix_eval.utils.check_eval_complete import CLOSING_LINE
from mix_eval.utils.check_eval_complete import main as check_main

VERSION = "2024-06-01"


@pytest.fixture
def responses_dir(tmp_path):
    """The reference's gemma response files, with complete status files beside them."""
    root = tmp_path / "model_responses"
    shutil.copytree(REF_RESPONSES, root / "gemma_11_7b_instruct")
    for status_split, folder in (("close_freeform", "mixeval"), ("close_multichoice", "mixeval"),
                                 ("close_freeform_hard", "mixeval_hard"),
                                 ("close_multichoice_hard", "mixeval_hard")):
        vdir = root / "gemma_11_7b_instruct" / folder / VERSION
        for p in vdir.iterdir():
            p.chmod(0o644)
        (vdir / f"status_{status_split}.json").write_text(json.dumps(
            {"args": {"model_name": "gemma_11_7b_instruct", "split": status_split},
             "status": {"batch_id": 99, "time_elapsed": 1.0, "status": "complete"}}))
    return root


def run_check(root, out, *models, benchmark="mixeval", base=("none",)):
    return check_main(["--benchmark", benchmark, "--version", VERSION, "--chat_models_to_check", *models,
                       "--base_models_to_check", *base, "--model_response_dir", str(root),
                       "--out_path", str(out)])


def test_complete_folders_pass(responses_dir, tmp_path):
    out = tmp_path / "checks.log"
    assert run_check(responses_dir, out, "gemma_11_7b_instruct") == 0
    assert run_check(responses_dir, out, "gemma_11_7b_instruct", benchmark="mixeval_hard") == 0
    assert out.read_text().splitlines() == [CLOSING_LINE, CLOSING_LINE]  # appended


def test_truncated_and_missing_folders_are_named(responses_dir, tmp_path, capsys):
    vdir = responses_dir / "gemma_11_7b_instruct" / "mixeval" / VERSION
    ff = vdir / "gemma_11_7b_instruct_close_freeform.jsonl"
    ff.write_text("".join(ff.read_text().splitlines(keepends=True)[:1500]))
    out = tmp_path / "checks.log"
    assert run_check(responses_dir, out, "gemma_11_7b_instruct", "never_ran") == 1
    lines = out.read_text().splitlines()
    assert lines[0].startswith(f"Directory {vdir} has issues.")
    assert "[Status complete: True], [Responses file complete: False]" in lines[0]
    assert lines[1] == f"Directory {responses_dir / 'never_ran' / 'mixeval' / VERSION} does not exist."
    assert lines[-1] == CLOSING_LINE
    assert capsys.readouterr().out.splitlines() == lines


def test_in_progress_and_limit_runs_are_incomplete(responses_dir, tmp_path):
    vdir = responses_dir / "gemma_11_7b_instruct" / "mixeval_hard" / VERSION
    status = vdir / "status_close_multichoice_hard.json"
    doc = json.loads(status.read_text())
    doc["args"]["limit"] = 500
    status.write_text(json.dumps(doc))
    out = tmp_path / "checks.log"
    assert run_check(responses_dir, out, "gemma_11_7b_instruct", benchmark="mixeval_hard") == 1
    line = out.read_text().splitlines()[0]
    assert "[Status complete: False]" in line and "--limit 500" in line


def test_default_sizes_follow_the_data(responses_dir, tmp_path, data_path):
    """2024-08-11 multiple-choice has 1995 items: a complete run of it is complete."""
    src = responses_dir / "gemma_11_7b_instruct" / "mixeval" / VERSION
    dst = responses_dir / "gemma_11_7b_instruct" / "mixeval" / "2024-08-11"
    shutil.copytree(src, dst)
    mc = dst / "gemma_11_7b_instruct_close_multichoice.jsonl"
    mc.write_text("".join(mc.read_text().splitlines(keepends=True)[:1995]))
    args = ["--benchmark", "mixeval", "--version", "2024-08-11", "--chat_models_to_check",
            "gemma_11_7b_instruct", "--base_models_to_check", "none", "--model_response_dir",
            str(responses_dir), "--out_path", str(tmp_path / "c.log")]
    assert check_main(args + ["--data_path", str(data_path)]) == 0
    assert check_main(args + ["--data_path", str(data_path), "--n_closemultichoice", "2000"]) == 1
