"""Scoring end to end: rule parsers, the model parser against a loopback judge, resume; and
the aggregation of item scores into score.json (`mix_eval.scoring.aggregate`) at its edges."""
from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    AT_ONCE_S, JUDGE_KEY, REPO, between, child_env, fake_server, judge_reply, judged_answer, judged_score,
    make_responses, wait_until,
)

from mix_eval.compute_metrics import main as compute_main
from mix_eval.scoring import aggregate
from mix_eval.splits import SplitKind

VERSION = "2024-06-01"


# ---------------------------------------------------------------- fixtures


# What the deterministic judge (conftest.judge_reply) makes of the reference's gemma
# responses to mixeval_hard, counted without the suite's code: a free-form answer is right
# when it contains a gold answer (case aside), a multiple-choice answer gets the letter
# md5(response) % number of options. Per benchmark: the mean of each split rounded to 3
# decimals, the two weighted by their item counts (the reference's score.json).
# The first 60 free-form lines: MATH 0/2, BBH 2/4, DROP 32/54 right (overall 34/60 = 0.567);
# the first 40 multiple-choice lines: AGIEval 4/18, MBPP 0/2, MMLU 6/19, HellaSwag 0/1
# (overall 10/40 = 0.25). Unequal splits, so the overall is weighted: 0.4402, not 0.4085.
SCORES_60_40 = {"overall": 0.4402, "MATH": 0.0, "BBH": 0.5, "DROP": 0.593,
                "AGIEval": 0.222, "MBPP": 0.0, "MMLU": 0.316, "HellaSwag": 0.0}
# All 500 + 500 lines: free-form MATH 0/16, BBH 4/16, DROP 72/167, GSM8k 4/22, AGIEval 0/12,
# TriviaQA 50/267 (overall 130/500 = 0.26); multiple-choice AGIEval 16/71, MBPP 0/2, MMLU
# 70/231, HellaSwag 14/61, BoolQ 19/37, GPQA 2/8, PIQA 2/8, OpenBookQA 0/8, ARC 0/4,
# CommonsenseQA 10/50, SIQA 8/20 (overall 141/500 = 0.282). AGIEval is in both splits:
# 0/12 = 0.0 and 16/71 = 0.225, weighted 12 : 71.
SCORES_ALL = {"overall": 0.271, "MATH": 0.0, "BBH": 0.25, "DROP": 0.431,
              "GSM8k": 0.182, "AGIEval": (0.0 * 12 + 0.225 * 71) / 83, "TriviaQA": 0.187, "MBPP": 0.0,
              "MMLU": 0.303, "HellaSwag": 0.23, "BoolQ": 0.514, "GPQA": 0.25, "PIQA": 0.25, "OpenBookQA": 0.0,
              "ARC": 0.0, "CommonsenseQA": 0.2, "SIQA": 0.4}


server = fake_server(reply=judge_reply, api_key=JUDGE_KEY)



def model_args(root: Path, server, benchmark="mixeval_hard", *extra: str) -> list[str]:
    return ["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
            "--api_base_url", server.base_url, "--api_parallel_num", "16", *extra]


# ---------------------------------------------------------------- rule parsers


@pytest.mark.slow
def test_rule_parsers_reproduce_reference_figures_and_combine(tmp_path, capsys):
    root = tmp_path / "responses"
    for benchmark in ("mixeval", "mixeval_hard"):
        make_responses(root, "my_model", benchmark, None)
    figures = {"mixeval": (0.448, 0.628, 0.538), "mixeval_hard": (0.204, 0.354, 0.279)}
    for benchmark, (ff, mp, overall) in figures.items():
        code = compute_main(["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
                             "--free_form_parser", "rule", "--multi_choice_parser", "rule"])
        assert code == 0
        vdir = root / "my_model" / benchmark / VERSION
        ff_lines = [json.loads(x) for x in open(vdir / "judge_results_ff_rule.jsonl")]
        mp_lines = [json.loads(x) for x in open(vdir / "judge_results_mp_rule.jsonl")]
        assert round(sum(x["eval_result"] for x in ff_lines) / len(ff_lines), 3) == ff
        assert round(sum(x["eval_result"] for x in mp_lines) / len(mp_lines), 3) == mp
        scores = json.loads((vdir / "score.json").read_text())
        assert list(scores)[0] == "overall" and round(scores["overall"], 3) == overall
        run_scores = json.loads((root / "score.json").read_text())
        assert run_scores == {"my_model": scores}
        out = capsys.readouterr().out
        assert "|    overall    |" in out or "| overall |" in out.replace("  ", " ")
        # every cell at the 3 decimals of the split scores, the combined ones too (kept
        # unrounded in score.json, as the reference keeps them)
        cells = re.findall(r"\|\s*([\w -]+?)\s*\|\s*(\d\.\d+)\s*\|", out)
        assert {name for name, _ in cells} >= set(scores) and all(len(v.split(".")[1]) == 3 for _, v in cells)
        assert dict(cells)["overall"] == f"{scores['overall']:.3f}"
        assert any(len(repr(v).split(".")[1]) > 3 for v in scores.values() if isinstance(v, float))
        # scoring again from the judged files gives the same numbers, without judging: both
        # score.json files are deleted first, so the ones compared are this run's
        judged = {p.name: p.read_bytes() for p in vdir.glob("judge_results_*")}
        (vdir / "score.json").unlink()
        (root / "score.json").unlink()
        assert compute_main(["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
                             "--free_form_parser", "rule", "--multi_choice_parser", "rule",
                             "--compute_score_from_judged_file"]) == 0
        assert json.loads((vdir / "score.json").read_text()) == scores
        assert json.loads((root / "score.json").read_text()) == {"my_model": scores}
        assert {p.name: p.read_bytes() for p in vdir.glob("judge_results_*")} == judged


@pytest.mark.slow
def test_rule_scoring_does_not_import_torch(tmp_path):
    root = tmp_path / "responses"
    make_responses(root, "my_model", "mixeval_hard", 50)
    code = ("import sys; from mix_eval.compute_metrics import main; "
            f"rc = main(['--benchmark', 'mixeval_hard', '--version', '{VERSION}', '--model_response_dir', "
            f"r'{root}', '--free_form_parser', 'rule', '--multi_choice_parser', 'rule']); "
            "assert rc == 0; assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- model parser


@pytest.mark.slow
def test_model_parser_end_to_end_and_no_judgment_bought_twice(tmp_path, server, judge_env):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", 60)
    mp_file = vdir / "my_model_close_multichoice_hard.jsonl"
    mp_file.write_text("".join(mp_file.read_text(encoding="utf-8").splitlines(keepends=True)[:40]), encoding="utf-8")
    assert compute_main(model_args(root, server)) == 0
    calls = len(server.chat_requests())
    assert calls == 100
    first = server.chat_requests()[0]
    assert first.body["model"] == "gpt-3.5-turbo-0125"
    assert first.body["max_tokens"] == 999 and first.body["response_format"] == {"type": "text"}
    assert first.authorization == f"Bearer {JUDGE_KEY}"
    ff = [json.loads(x) for x in open(vdir / "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl")]
    mp = [json.loads(x) for x in open(vdir / "judge_results_mp_model_judge_gpt-3.5-turbo-0125.jsonl")]
    assert len(ff) == 60 and len(mp) == 40
    assert list(ff[0])[-2:] == ["judge_response", "judge_score"]
    assert list(mp[0])[-2:] == ["judge_response", "judge_option"]
    assert sum(x["judge_score"] for x in ff) == 34                                   # see SCORES_60_40
    assert sum(judged_score(x) for x in mp) == 10
    scores = json.loads((vdir / "score.json").read_text())
    assert list(scores) == list(SCORES_60_40)
    assert scores == pytest.approx(SCORES_60_40, abs=1e-9)
    report = json.loads((vdir / "judge_report.json").read_text())
    assert report["free_form"]["random_fallback"] == 0 and report["multiple_choice"]["blocked"] == 0
    # a rerun over complete judged files makes no judge call
    assert compute_main(model_args(root, server)) == 0
    assert len(server.chat_requests()) == calls
    assert json.loads((vdir / "score.json").read_text()) == scores
    # even with the journal gone, the judged files are enough
    for journal in vdir.glob(".journal_*"):
        journal.unlink()
    assert compute_main(model_args(root, server)) == 0
    assert len(server.chat_requests()) == calls
    # a judged file from elsewhere scores without any judge (score.json deleted first, so
    # the one compared is written by this run)
    judged = {p.name: p.read_bytes() for p in vdir.glob("judge_results_*")}
    (vdir / "score.json").unlink()
    assert compute_main(model_args(root, server, "mixeval_hard", "--compute_score_from_judged_file")) == 0
    assert json.loads((vdir / "score.json").read_text()) == scores
    assert len(server.chat_requests()) == calls
    assert {p.name: p.read_bytes() for p in vdir.glob("judge_results_*")} == judged


@pytest.mark.slow
def test_invalid_verdicts_are_retried_then_random_and_reported(tmp_path, server, judge_env, capsys):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval", 10)
    ff_lines = [json.loads(x) for x in open(vdir / "my_model_close_freeform.jsonl")]
    prompts = [x["prompt"] for x in ff_lines]
    unique = [i for i, p in enumerate(prompts) if prompts.count(p) == 1]
    i_never, i_once = unique[1], unique[3]
    seen = {"once": 0}

    def flaky(body):
        user = body["messages"][-1]["content"]
        if "Golden Answer(s)" in user[-3000:]:
            question = between(user, "Question: ", "\nGolden Answer(s):")
            if question == prompts[i_never]:
                return "I cannot decide. [[7]]"  # out of range: never valid
            if question == prompts[i_once] and seen["once"] == 0:
                seen["once"] += 1
                return "no verdict here"
        return judge_reply(body)

    server.reply = flaky
    assert compute_main(model_args(root, server, "mixeval")) == 0
    ff = [json.loads(x) for x in open(vdir / "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl")]
    ids = [x["id"] for x in ff]
    # the reference's order: judged in round 1, then round 2, then random fallbacks
    assert ids[-1] == ff_lines[i_never]["id"] and ids[-2] == ff_lines[i_once]["id"]
    assert ff[-1]["judge_response"] == "I cannot decide. [[7]]"
    assert ff[-1]["judge_score"] in [x / 10 for x in range(11)]
    report = json.loads((vdir / "judge_report.json").read_text())["free_form"]
    assert report["random_fallback"] == 1 and report["rounds"] == 10
    assert "1 never judged" in capsys.readouterr().out
    # 10 items + 1 retry of `once` + 9 retries of `never`, and the multiple-choice 10
    assert len(server.chat_requests()) == 10 + 1 + 9 + 10


@pytest.mark.slow
def test_blocked_requests_score_zero_or_random_letter(tmp_path, server, judge_env, no_refusal_pause):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval", 4)
    ff_lines = [json.loads(x) for x in open(vdir / "my_model_close_freeform.jsonl")]
    blocked = ff_lines[1]["response"]
    from fake_openai_server import Fault

    def filtering(body):
        if judged_answer(body) == blocked:
            return Fault("400", message="content filter")
        return judge_reply(body)

    server.reply = filtering
    assert compute_main(model_args(root, server, "mixeval")) == 0
    ff = {x["id"]: x for x in map(json.loads, open(vdir / "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl"))}
    assert ff[ff_lines[1]["id"]]["judge_score"] == 0.0 and ff[ff_lines[1]["id"]]["judge_response"] == "[[0.0]]"
    assert json.loads((vdir / "judge_report.json").read_text())["free_form"]["blocked"] == 1
    assert server.count(400) == 10


@pytest.mark.slow
def test_wrong_key_stops_at_once_with_a_clear_message(tmp_path, server, monkeypatch, capsys):
    root = tmp_path / "responses"
    make_responses(root, "my_model", "mixeval_hard", 60)
    monkeypatch.setenv("MODEL_PARSER_API", "sk-wrong-key-456")
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    assert compute_main(model_args(root, server)) == 2
    assert time.monotonic() - start < AT_ONCE_S
    err = capsys.readouterr().err
    assert "MODEL_PARSER_API" in err and "sk-wrong-key-456" not in err and "Traceback" not in err
    assert len(server.chat_requests()) <= 16 + 2  # not 60 items x 99 retries


@pytest.mark.slow
def test_no_credentials_stops_evaluate_before_generation(tmp_path, monkeypatch, tiny_chat, data_path):
    from mix_eval.evaluate import main as evaluate_main

    monkeypatch.delenv("MODEL_PARSER_API", raising=False)
    monkeypatch.delenv("OPENAI_API_TYPE", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    code = evaluate_main(["--model_name", "local_chat", "--model_path", str(tiny_chat), "--benchmark",
                          "mixeval_hard", "--version", VERSION, "--batch_size", "4", "--data_path",
                          str(data_path), "--output_dir", str(out), "--limit", "2"])
    assert code == 2
    assert not (out / "local_chat").exists()  # nothing generated
    assert "MODEL_PARSER_API" in (out / "error.log").read_text()


@pytest.mark.slow
def test_evaluate_generates_and_judges_in_one_go(tmp_path, server, judge_env, tiny_chat, data_path):
    from mix_eval.evaluate import main as evaluate_main

    out = tmp_path / "out"
    code = evaluate_main(["--model_name", "local_chat", "--model_path", str(tiny_chat), "--benchmark",
                          "mixeval_hard", "--version", VERSION, "--batch_size", "4", "--data_path",
                          str(data_path), "--output_dir", str(out), "--limit", "6", "--max_new_tokens", "3",
                          "--api_base_url", server.base_url, "--api_parallel_num", "4"])
    assert code == 0
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    assert json.loads((vdir / "score.json").read_text())["overall"] >= 0
    assert list(json.loads((out / "score.json").read_text())) == ["local_chat"]
    assert len(server.chat_requests()) == 12


@pytest.mark.slow
def test_sigkill_halfway_through_judging_then_rerun(tmp_path, server, judge_env):
    """1000 judgments, killed halfway: the rerun ends with the same scores, few extra calls."""
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", None)
    server.latency = 0.01
    env = child_env(MODEL_PARSER_API=JUDGE_KEY)
    cmd = [sys.executable, "-m", "mix_eval.compute_metrics", *model_args(root, server)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    wait_until(lambda: len(server.chat_requests()) >= 500, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    total = len(server.chat_requests())
    assert 1000 <= total <= 1050, f"{total} judge calls for 1000 judgments"
    assert json.loads((vdir / "score.json").read_text()) == pytest.approx(SCORES_ALL, abs=1e-9)


# ---------------------------------------------------------------- aggregate, in-process



def test_split_scores_are_means_at_3_decimals_with_counts_in_first_seen_order():
    """overall first, then each benchmark as first met, then number_samples in the same order;
    each mean rounded to 3 decimals (1/3 -> 0.333, 2/3 -> 0.667, 0.0005 up to 0.001)."""
    scores = aggregate.split_scores([("B", 1), ("A", 0.001), ("B", 0), ("A", 0), ("B", 0), ("C", 1), ("A", 0)])
    assert scores == {"overall": round(2.001 / 7, 3), "B": 0.333, "A": 0.0, "C": 1.0,
                      "number_samples": {"overall": 7, "B": 3, "A": 3, "C": 1}}
    assert list(scores) == ["overall", "B", "A", "C", "number_samples"]
    assert list(scores["number_samples"]) == ["overall", "B", "A", "C"]
    assert aggregate.split_scores([("A", 1), ("A", 1), ("A", 0)]) == {
        "overall": 0.667, "A": 0.667, "number_samples": {"overall": 3, "A": 3}}
    assert aggregate.split_scores([("A", 0.0015), ("A", 0)])["A"] == 0.001  # 0.00075
    assert aggregate.split_scores([]) == {"number_samples": {}}


def test_combine_weighs_each_key_by_its_counts_and_keeps_the_order():
    """Each key: ff * n_ff / (n_ff + n_mp) + mp * n_mp / (n_ff + n_mp), a key of one split only
    taken as it is; overall, then the free-form keys, then the multiple-choice-only ones."""
    ff = {"overall": 0.25, "F": 0.5, "S": 0.0, "number_samples": {"overall": 3, "F": 2, "S": 1}}
    mp = {"overall": 0.6, "S": 1.0, "M": 0.2, "number_samples": {"overall": 5, "S": 4, "M": 1}}
    combined = aggregate.combine(ff, mp)
    assert combined == {"overall": 0.25 * (3 / 8) + 0.6 * (5 / 8), "F": 0.5, "S": 0.0 * (1 / 5) + 1.0 * (4 / 5),
                        "M": 0.2}
    assert list(combined) == ["overall", "F", "S", "M"]
    assert aggregate.score_json_for_model(ff, mp) == combined
    # splits with one item each (a count of 1 is a count)
    one = {"overall": 1.0, "X": 1.0, "number_samples": {"overall": 1, "X": 1}}
    zero = {"overall": 0.0, "X": 0.0, "number_samples": {"overall": 1, "X": 1}}
    assert aggregate.combine(one, zero) == {"overall": 0.5, "X": 0.5}
    # overall in neither split (both empty): nothing
    assert aggregate.combine({"number_samples": {}}, {"number_samples": {}}) == {}
    # a split without number_samples: each side refused, naming the first key
    no_counts = {"overall": 0.5, "X": 0.5}
    for pair in ((no_counts, one), (one, no_counts), (no_counts, {"number_samples": {}})):
        with pytest.raises(ValueError) as e:
            aggregate.combine(*pair)
        assert str(e.value) == "split scores lack the sample count of 'overall'; build them with split_scores()"


def test_score_json_for_run_holds_a_copy_of_each_models_scores():
    """model -> its score.json object, in the models' order; later changes to the input do not reach it."""
    first, second = {"overall": 0.5, "A": 0.5}, {"overall": 0.1}
    run = aggregate.score_json_for_run({"m2": first, "m1": second})
    assert run == {"m2": {"overall": 0.5, "A": 0.5}, "m1": {"overall": 0.1}} and list(run) == ["m2", "m1"]
    first["A"] = 0.0
    assert run["m2"] == {"overall": 0.5, "A": 0.5}


def test_item_scores_by_parser_and_kind():
    """rule: 1 for a truthy eval_result, 0 otherwise (both kinds); model free-form: the judge's
    score; model multiple-choice: 1 when the judge's letter is the target's (index 0 is A)."""
    rule = [{"benchmark_name": "A", "eval_result": True}, {"benchmark_name": "B", "eval_result": False},
            {"benchmark_name": "A", "eval_result": 1}, {"benchmark_name": "A", "eval_result": None},
            {"benchmark_name": "C", "eval_result": "yes"}, {"benchmark_name": "C", "eval_result": ""}]
    expected = [("A", 1), ("B", 0), ("A", 1), ("A", 0), ("C", 1), ("C", 0)]
    for kind in SplitKind:
        got = aggregate.item_scores(kind, "rule", rule)
        assert got == expected and all(type(score) is int for _, score in got)
    assert aggregate.item_scores_rule(rule) == expected
    ff = [{"benchmark_name": "A", "judge_score": 0.7, "eval_result": False}, {"benchmark_name": "B", "judge_score": 0}]
    assert aggregate.item_scores(SplitKind.FREE_FORM, "model", ff) == [("A", 0.7), ("B", 0)]
    assert aggregate.item_scores_freeform_model(ff) == [("A", 0.7), ("B", 0)]
    mp = [{"benchmark_name": "A", "target": [0], "judge_option": "A", "eval_result": False},
          {"benchmark_name": "A", "target": [1], "judge_option": "A"},
          {"benchmark_name": "B", "target": [2], "judge_option": "C"},
          {"benchmark_name": "B", "target": [25], "judge_option": "Z"}]
    got = aggregate.item_scores(SplitKind.MULTIPLE_CHOICE, "model", mp)
    assert got == [("A", 1), ("A", 0), ("B", 1), ("B", 1)] and all(type(score) is int for _, score in got)


@pytest.mark.parametrize("target", [[0, 1], [], 0, "A"])
def test_a_multiple_choice_target_that_is_not_one_index_is_refused_by_name(target):
    """The target of a judged multiple-choice line must be a list of exactly one index."""
    with pytest.raises(ValueError) as e:
        aggregate.item_scores_multichoice_model([{"benchmark_name": "A", "target": target, "judge_option": "A"}])
    assert str(e.value) == f"multiple-choice target must be a one-element list, got {target!r}"


def test_combine_takes_every_key_of_either_split_and_a_missing_score_as_0():
    """Every key of either split is combined, also when neither split has an overall; a split
    that counts a key but holds no score for it counts that score as 0 (nothing is made up)."""
    ff = {"X": 0.5, "number_samples": {"X": 2}}
    mp = {"Y": 1.0, "number_samples": {"Y": 1}}
    assert aggregate.combine(ff, mp) == {"X": 0.5, "Y": 1.0}
    counted_not_scored = {"overall": 1.0, "number_samples": {"overall": 1, "S": 3}}
    scored = {"overall": 1.0, "S": 1.0, "number_samples": {"overall": 1, "S": 1}}
    assert aggregate.combine(counted_not_scored, scored) == {"overall": 1.0, "S": 0.25}
    assert aggregate.combine(scored, counted_not_scored) == {"overall": 1.0, "S": 0.25}
