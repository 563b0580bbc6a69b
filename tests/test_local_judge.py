"""A local Hugging Face judge (--judge_model_id), on a tiny real checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REF_RESPONSES

from mix_eval.compute_metrics import main as compute_main

VERSION = "2024-06-01"


@pytest.fixture(scope="module")
def mute_judge(tmp_path_factory) -> Path:
    """A tiny checkpoint that answers at once: its final norm is zeroed, so every logit is
    0 and greedy decoding picks token 0, which its generation config treats as an end."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mix_eval.utils.tiny_checkpoint import build_tiny_checkpoint

    path = build_tiny_checkpoint(tmp_path_factory.mktemp("judge") / "org" / "tiny-judge")
    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        model.model.norm.weight.zero_()
    tok = AutoTokenizer.from_pretrained(path)
    model.generation_config.eos_token_id = [tok.eos_token_id, 0]
    model.save_pretrained(path)
    return path


def test_local_judge_runs_the_judge_protocol(tmp_path, mute_judge, capsys, monkeypatch):
    root = tmp_path / "responses"
    vdir = root / "my_model" / "mixeval" / VERSION
    vdir.mkdir(parents=True)
    for f in (REF_RESPONSES / "mixeval" / VERSION).glob("*.jsonl"):
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)[:5]
        (vdir / f.name.replace("gemma_11_7b_instruct", "my_model")).write_text("".join(lines), encoding="utf-8")
    args = ["--benchmark", "mixeval", "--version", VERSION, "--model_response_dir", str(root),
            "--judge_model_id", str(mute_judge), "--batch_size_judge", "3"]
    assert compute_main(args) == 0
    judge_file_tail = str(mute_judge).replace("/", "_")
    ff = [json.loads(x) for x in open(vdir / f"judge_results_ff_model_judge_{judge_file_tail}.jsonl")]
    mp = [json.loads(x) for x in open(vdir / f"judge_results_mp_model_judge_{judge_file_tail}.jsonl")]
    assert len(ff) == len(mp) == 5
    # the mute judge never gives a verdict: 10 rounds, then the reference's random verdicts
    report = json.loads((vdir / "judge_report.json").read_text())
    assert report["free_form"]["random_fallback"] == 5 and report["free_form"]["rounds"] == 10
    assert report["free_form"]["judge_calls"] == 50
    assert all(x["judge_response"] == "" for x in ff)
    assert all(x["judge_score"] in [i / 10 for i in range(11)] for x in ff)
    assert all(x["judge_option"] in "ABCDE" for x in mp)
    assert "never judged" in capsys.readouterr().out
    # nothing is asked twice: the rerun does not even load the judge
    from mix_eval.judges import local

    def no_loading(*a, **k):
        raise AssertionError("the judge was loaded again")

    monkeypatch.setattr(local.LocalJudge, "__init__", no_loading)
    scores = json.loads((vdir / "score.json").read_text())
    assert compute_main(args) == 0
    assert json.loads((vdir / "score.json").read_text()) == scores
