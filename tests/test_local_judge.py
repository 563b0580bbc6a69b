"""A local Hugging Face judge (--judge_model_id) on tiny real checkpoints: one that never
gives a verdict (the random fallback), one that always does (hand-set weights)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REF_RESPONSES, make_responses, read_jsonl
from verdict_checkpoint import build_verdict_checkpoint

from mix_eval.compute_metrics import main as compute_main

VERSION = "2024-06-01"


@pytest.fixture(scope="module")
def mute_judge(tmp_path_factory) -> Path:
    """A tiny checkpoint that answers at once: its final norm is zeroed, so every logit is
    0 and greedy decoding picks token 0, which its generation config treats as an end."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mix_eval.models.tiny import build_tiny_checkpoint

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
    ff = read_jsonl(vdir / f"judge_results_ff_model_judge_{judge_file_tail}.jsonl")
    mp = read_jsonl(vdir / f"judge_results_mp_model_judge_{judge_file_tail}.jsonl")
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


# The reply of the verdict judge: a free-form verdict and a multiple-choice one, each read
# by its own rule (the first [[number]], the first [[letter]]).
VERDICT_PIECES = ("The correctness score: ", "[[", "1.0", "]]", ". The option chosen by the model: ", "[[B]]")
VERDICT_REPLY = "The correctness score: [[1.0]]. The option chosen by the model: [[B]]"


@pytest.fixture(scope="module")
def verdict_judge(tmp_path_factory) -> Path:
    """A tiny checkpoint whose greedy answer to any chat is VERDICT_REPLY (hand-set weights)."""
    return build_verdict_checkpoint(tmp_path_factory.mktemp("judge") / "org" / "verdict-judge", VERDICT_PIECES)


def test_local_judge_verdicts_are_scored(tmp_path, verdict_judge, capsys):
    """A local judge that does give verdicts: one round, no random fallback, the judged
    files carry its reply, and score.json has the figures computed by hand."""
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval", n=5)
    args = ["--benchmark", "mixeval", "--version", VERSION, "--model_response_dir", str(root),
            "--judge_model_id", str(verdict_judge), "--batch_size_judge", "2"]  # batches of 2, 2, 1: left padding
    assert compute_main(args) == 0
    judge_file_tail = str(verdict_judge).replace("/", "_")
    ff = read_jsonl(vdir / f"judge_results_ff_model_judge_{judge_file_tail}.jsonl")
    mp = read_jsonl(vdir / f"judge_results_mp_model_judge_{judge_file_tail}.jsonl")
    assert [x["judge_response"] for x in ff + mp] == [VERDICT_REPLY] * 10
    assert [(x["id"], x["judge_score"]) for x in ff] == [
        ("1471", 1.0), ("240", 1.0), ("565", 1.0), ("785", 1.0), ("647", 1.0)]
    assert [(x["id"], x["judge_option"]) for x in mp] == [
        ("1755", "B"), ("422", "B"), ("801", "B"), ("1248", "B"), ("128", "B")]
    report = json.loads((vdir / "judge_report.json").read_text())
    for split in ("free_form", "multiple_choice"):
        assert (report[split]["rounds"], report[split]["judge_calls"], report[split]["random_fallback"]) == (1, 5, 0)
    assert "never judged" not in capsys.readouterr().out
    # By hand. Free-form: every item 1.0 (DROP 4 items, BBH 1). Multiple-choice (AGIEval):
    # targets A, A, B, B, A, so "B" is right for 801 and 1248: 2 of 5 = 0.4.
    # score.json weighs the splits by their counts (5 and 5): overall (1.0 + 0.4) / 2 = 0.7.
    expected = {"overall": 0.7, "DROP": 1.0, "BBH": 1.0, "AGIEval": 0.4}
    scores = json.loads((vdir / "score.json").read_text())
    assert list(scores) == list(expected)
    assert scores == pytest.approx(expected, abs=1e-9)
    # a pinned revision is recorded, and replies of other weights are not reused
    assert report["free_form"]["provider"] == "local" and report["free_form"]["revision"] is None
    assert compute_main(args + ["--judge_revision", "0123abc"]) == 0
    report = json.loads((vdir / "judge_report.json").read_text())
    assert (report["free_form"]["revision"], report["free_form"]["judge_calls"]) == ("0123abc", 5)
