"""MixEval-Hard derived from a MixEval run: the matching on the packaged data, the folder
it writes, the loopback judge's Hard score with no further call, and what it never touches;
and each rule of `derive_hard`, in-process on a tiny made-up benchmark."""
from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from conftest import DATA, JUDGE_KEY, REF_RESPONSES, fake_server, judge_reply, make_responses, read_jsonl

from mix_eval.compute_metrics import main as compute_main
from mix_eval.data import read_split_file, split_file, splits_for
from mix_eval.folders import folder_lock
from mix_eval.prompts import format_input
from mix_eval.scoring import derive
from mix_eval.scoring.intervals import intervals_json
from mix_eval.scoring.scores import model_scores
from mix_eval.settings import DataSettings, JudgeSettings, ScoringSettings
from mix_eval.splits import SplitKind
from mix_eval.subset import item_content, match_hard_items

VERSION = "2024-06-01"
JUDGED = {"ff": "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl",
          "mp": "judge_results_mp_model_judge_gpt-3.5-turbo-0125.jsonl"}



server = fake_server(reply=judge_reply, api_key=JUDGE_KEY)



def judge_args(root: Path, server, benchmark: str, *extra: str) -> list[str]:
    return ["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
            "--api_base_url", server.base_url, "--api_parallel_num", "32", *extra]


def rule_args(root: Path, benchmark: str = "mixeval", *extra: str) -> list[str]:
    return ["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
            "--free_form_parser", "rule", "--multi_choice_parser", "rule", *extra]


# ---------------------------------------------------------------- the packaged data

# Hard items whose MixEval item of the same id is the same question; every other one is
# found by its content. (The ids are each file's own numbering: 500 of 500 Hard ids exist
# in MixEval, 2024-08-11 multiple-choice aside, but they mostly name other questions.)
BY_ID = {("2024-06-01", "free-form"): 1, ("2024-06-01", "multiple-choice"): 3,
         ("2024-08-11", "free-form"): 0, ("2024-08-11", "multiple-choice"): 0}


@pytest.mark.parametrize("version", ["2024-06-01", "2024-08-11"])
def test_every_hard_item_of_the_packaged_data_is_a_mixeval_item(version):
    for source_split, hard_split in zip(splits_for("mixeval"), splits_for("mixeval_hard")):
        mixeval = {i["id"]: i for i in read_split_file(split_file(DATA, version, source_split), source_split)}
        hard = read_split_file(split_file(DATA, version, hard_split), hard_split)
        matching = match_hard_items(mixeval.values(), hard)
        assert matching.unmatched == [] and len(matching.matches) == len(hard) == 500
        assert [m.hard_id for m in matching.matches] == [i["id"] for i in hard]
        assert (matching.by_id, matching.by_content) == (BY_ID[version, hard_split.problem_type],
                                                         500 - BY_ID[version, hard_split.problem_type])
        same_id_other_question = 0
        for m, item in zip(matching.matches, hard):
            source = mixeval[m.source_id]
            # equal field for field (the id aside), so the formatted input a Hard run makes is the same
            assert {k: v for k, v in source.items() if k != "id"} == {k: v for k, v in item.items() if k != "id"}
            assert format_input(item) == format_input(source) == item["formated_input"]
            assert m.by_id == (m.source_id == m.hard_id)
            if item["id"] in mixeval and item_content(mixeval[item["id"]]) != item_content(item):
                same_id_other_question += 1
        assert same_id_other_question == sum(1 for i in hard if i["id"] in mixeval) - matching.by_id
        if (version, hard_split.problem_type) == ("2024-08-11", "multiple-choice"):
            assert sum(1 for i in hard if i["id"] not in mixeval) == 3  # found by content all the same


def test_repeated_questions_take_the_mixeval_copies_in_turn():
    mixeval = [{"id": "0", "prompt": "a"}, {"id": "1", "prompt": "b"}, {"id": "2", "prompt": "b"}]
    hard = [{"id": "0", "prompt": "b"}, {"id": "1", "prompt": "b"}, {"id": "2", "prompt": "b"},
            {"id": "3", "prompt": "c"}]
    matching = match_hard_items(mixeval, hard)
    # Hard "1" and "2" are MixEval's "1" and "2" by id; Hard "0" takes one of them by content
    assert [(m.hard_id, m.source_id, m.by_id) for m in matching.matches] == [
        ("0", "1", False), ("1", "1", True), ("2", "2", True)]
    assert matching.unmatched == ["3"]


# ---------------------------------------------------------------- the loopback judge


@pytest.mark.slow
def test_mixeval_run_yields_hard_score_with_no_judge_call_equal_to_judging_hard_afresh(
        tmp_path, server, judge_env, capsys):
    root = tmp_path / "responses"
    source = make_responses(root, "gemma", "mixeval")
    assert compute_main(judge_args(root, server, "mixeval")) == 0
    mixeval_calls = server.count()
    report = json.loads((source / "judge_report.json").read_text())
    assert mixeval_calls == sum(r["judge_calls"] for r in report.values()) == 4000  # the MixEval items only
    out = capsys.readouterr().out
    hard = root / "gemma" / "mixeval_hard" / VERSION
    assert f"-> {hard}" in out and "95% CI" in out
    origin = json.loads((hard / "derived_from.json").read_text())
    assert origin["source"] == "gemma/mixeval/2024-06-01" and origin["benchmark"] == "mixeval"
    assert origin["matched_by_id"] == {"free_form": 1, "multiple_choice": 3}
    assert origin["matched_by_content"] == {"free_form": 499, "multiple_choice": 497}
    derived = json.loads((hard / "score.json").read_text())
    intervals = json.loads((hard / "score_intervals.json").read_text())
    assert list(intervals["scores"]) == list(derived)
    assert intervals["scores"]["overall"]["low"] < derived["overall"] < intervals["scores"]["overall"]["high"]
    hard_report = json.loads((hard / "judge_report.json").read_text())
    assert hard_report["free_form"]["items"] == 500 and hard_report["free_form"]["judge_calls"] == 0
    assert hard_report["multiple_choice"]["blocked"] == hard_report["multiple_choice"]["random_fallback"] == 0

    # the same responses judged afresh as a MixEval-Hard run, by the same judge
    fresh_root = tmp_path / "fresh"
    fresh = fresh_root / "gemma" / "mixeval_hard" / VERSION
    fresh.mkdir(parents=True)
    for name in ("gemma_close_freeform_hard.jsonl", "gemma_close_multichoice_hard.jsonl"):
        shutil.copy(hard / name, fresh / name)
    assert compute_main(judge_args(fresh_root, server, "mixeval_hard")) == 0
    assert server.count() == mixeval_calls + 1000
    assert json.loads((fresh / "score.json").read_text()) == derived
    for name in JUDGED.values():
        assert read_jsonl(fresh / name) == read_jsonl(hard / name)

    # the derived folder is a complete MixEval-Hard folder, scored again from its judged files
    from mix_eval.utils.check_eval_complete import main as check_main

    assert check_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                       "--chat_models_to_check", "gemma", "--base_models_to_check", "none",
                       "--out_path", str(tmp_path / "checks.log")]) == 0
    (hard / "score.json").unlink()
    assert compute_main(judge_args(root, server, "mixeval_hard")) == 0
    assert json.loads((hard / "score.json").read_text()) == derived
    assert server.count() == mixeval_calls + 1000  # the judged files' replies are reused

    # rescoring MixEval from its judged files writes the derived folder again
    (hard / "score.json").unlink()
    capsys.readouterr()
    assert compute_main(judge_args(root, server, "mixeval", "--compute_score_from_judged_file")) == 0
    assert json.loads((hard / "score.json").read_text()) == derived
    assert server.count() == mixeval_calls + 1000


@pytest.mark.slow
def test_evaluate_refuses_to_run_hard_into_a_derived_folder(tmp_path, capsys):
    from mix_eval.evaluate import main as evaluate_main

    root = tmp_path / "out"
    make_responses(root, "gemma", "mixeval")
    assert compute_main(rule_args(root)) == 0
    hard = root / "gemma" / "mixeval_hard" / VERSION
    before = {p.name: p.read_bytes() for p in hard.iterdir()}
    capsys.readouterr()
    code = evaluate_main(["--model_name", "local_chat", "--model_path", str(tmp_path / "no-checkpoint"),
                          "--output_name", "gemma", "--benchmark", "mixeval_hard", "--version", VERSION,
                          "--output_dir", str(root), "--batch_size", "4", "--free_form_parser", "rule",
                          "--multi_choice_parser", "rule"])
    assert code == 2
    err = capsys.readouterr().err
    assert "was derived from the MixEval run gemma/mixeval/2024-06-01" in err and "another --output_dir" in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in hard.iterdir()} == before


# ---------------------------------------------------------------- the rule parsers


@pytest.mark.slow
def test_rule_judgments_are_taken_over_and_a_separate_hard_run_is_never_touched(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="mix_eval")
    root = tmp_path / "responses"
    source = make_responses(root, "gemma", "mixeval")
    assert compute_main(rule_args(root)) == 0
    hard = root / "gemma" / "mixeval_hard" / VERSION
    source_judged = {x["id"]: x for x in read_jsonl(source / "judge_results_ff_rule.jsonl")}
    origin = json.loads((hard / "derived_from.json").read_text())
    hard_items = read_split_file(split_file(DATA, VERSION, splits_for("mixeval_hard")[0]), splits_for("mixeval_hard")[0])
    mixeval_split = splits_for("mixeval")[0]
    matching = match_hard_items(read_split_file(split_file(DATA, VERSION, mixeval_split), mixeval_split), hard_items)
    derived_judged = read_jsonl(hard / "judge_results_ff_rule.jsonl")
    assert [x["id"] for x in derived_judged] == [i["id"] for i in hard_items]
    for line, m in zip(derived_judged, matching.matches):
        assert line == {**source_judged[m.source_id], "id": m.hard_id}
    responses = read_jsonl(hard / "gemma_close_freeform_hard.jsonl")
    assert [{k: v for k, v in r.items() if k != "response"} for r in responses] == hard_items  # formated_input too
    assert not (hard / "judge_report.json").exists()
    scores = json.loads((hard / "score.json").read_text())
    assert round(scores["overall"], 3) == 0.277  # the reference's separate Hard run: 0.279

    # the reference's own MixEval-Hard run of gemma: every line equal to the derived one but
    # for the response, and most responses equal too (greedy decoding of the same input; by id,
    # only 1 of 500 free-form and 43 of 500 multiple-choice would be)
    for split, same in zip(splits_for("mixeval_hard"), (437, 461)):
        derived = read_jsonl(hard / f"gemma_{split.name}.jsonl")
        separate = {x["id"]: x for x in read_jsonl(REF_RESPONSES / "mixeval_hard" / VERSION /
                                                     f"gemma_11_7b_instruct_{split.name}.jsonl")}
        assert [{**x, "response": None} for x in derived] == [{**separate[x["id"]], "response": None} for x in derived]
        assert sum(x["response"] == separate[x["id"]]["response"] for x in derived) == same

    # rescoring writes the derived folder again
    assert compute_main(rule_args(root)) == 0
    assert json.loads((hard / "derived_from.json").read_text())["source"] == origin["source"]

    # a separate Hard run (no derived_from.json) is left as it is, with one line saying so
    shutil.rmtree(hard)
    make_responses(root, "gemma", "mixeval_hard")
    before = {p.name: p.read_bytes() for p in hard.iterdir()}
    caplog.clear()
    assert compute_main(rule_args(root)) == 0
    assert {p.name: p.read_bytes() for p in hard.iterdir() if p.name != ".mix_eval.lock"} == before
    assert any("holds a separate MixEval-Hard run; it is left as it is" in r.getMessage() for r in caplog.records)


def test_an_incomplete_mixeval_run_derives_nothing(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="mix_eval")
    root = tmp_path / "responses"
    make_responses(root, "gemma", "mixeval", 100)
    assert compute_main(rule_args(root)) == 0
    assert not (root / "gemma" / "mixeval_hard").exists()
    assert any("no MixEval-Hard derived" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_judge_report_of_the_hard_items_counts_their_blocked_and_random_verdicts(tmp_path):
    """Scored from judged files made elsewhere, with a journal: the Hard report counts the
    Hard items whose MixEval item was blocked or never judged, and no judge call."""
    root = tmp_path / "responses"
    source = make_responses(root, "gemma", "mixeval")
    hard_split, mixeval_split = splits_for("mixeval_hard")[0], splits_for("mixeval")[0]
    matching = match_hard_items(read_split_file(split_file(DATA, VERSION, mixeval_split), mixeval_split),
                                read_split_file(split_file(DATA, VERSION, hard_split), hard_split))
    blocked, never = matching.matches[0].source_id, matching.matches[1].source_id
    verdicts = {blocked: ("[[0.0]]", 0.0), never: ("I cannot tell", 0.3)}  # as the runner writes them
    ff = [{**r, "judge_response": verdicts.get(r["id"], ("[[1.0]]", 1.0))[0],
           "judge_score": verdicts.get(r["id"], ("[[1.0]]", 1.0))[1]}
          for r in read_jsonl(source / "gemma_close_freeform.jsonl")]
    mp = [{**r, "judge_response": "[[A]]", "judge_option": "A"}
          for r in read_jsonl(source / "gemma_close_multichoice.jsonl")]
    (source / JUDGED["ff"]).write_text("".join(json.dumps(x) + "\n" for x in ff))
    (source / JUDGED["mp"]).write_text("".join(json.dumps(x) + "\n" for x in mp))
    journal = [{"id": blocked, "round": 1, "digest": "d", "outcome": "blocked", "reply": None}]
    journal += [{"id": never, "round": n, "digest": "d", "outcome": "ok", "reply": "I cannot tell"} for n in range(1, 11)]
    (source / f".journal_{Path(JUDGED['ff']).stem}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in journal))
    split_report = {"judge": "gpt-3.5-turbo-0125", "items": 2000, "judge_calls": 2000, "reused": 0, "rounds": 10,
                    "blocked": 1, "random_fallback": 1, "invalid_replies": 10}
    (source / "judge_report.json").write_text(json.dumps({"free_form": {"split": "ff", **split_report},
                                                          "multiple_choice": {"split": "mp", **split_report}}))
    assert compute_main(["--benchmark", "mixeval", "--version", VERSION, "--model_response_dir", str(root),
                         "--compute_score_from_judged_file"]) == 0
    report = json.loads((root / "gemma" / "mixeval_hard" / VERSION / "judge_report.json").read_text())
    takes = [m.source_id for m in matching.matches]
    assert report["free_form"] == {
        "split": "ff", "judge": "gpt-3.5-turbo-0125", "items": 500, "judge_calls": 0, "reused": 500, "rounds": 10,
        "blocked": takes.count(blocked), "random_fallback": takes.count(never),
        "invalid_replies": 10 * takes.count(never)}
    # no journal for multiple-choice: counts that were 0 stay 0, the others cannot be split
    assert report["multiple_choice"]["blocked"] is None and report["multiple_choice"]["random_fallback"] == 0
    assert report["multiple_choice"]["rounds"] == 10


@pytest.mark.slow
def test_2024_08_11_derives_too_and_passes_check_eval_complete(tmp_path):
    """Made-up answers to every 2024-08-11 MixEval item (its multiple-choice file has 1995,
    and three Hard ids it lacks): the Hard folder is complete, its lines Hard's items."""
    from mix_eval.utils.check_eval_complete import main as check_main

    version = "2024-08-11"
    root = tmp_path / "responses"
    vdir = root / "toy" / "mixeval" / version
    vdir.mkdir(parents=True)
    for split in splits_for("mixeval"):
        items = read_split_file(split_file(DATA, version, split), split)
        (vdir / f"toy_{split.name}.jsonl").write_text(
            "".join(json.dumps({**item, "response": f"A {n % 7}"}) + "\n" for n, item in enumerate(items)))
    assert compute_main(["--benchmark", "mixeval", "--version", version, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    hard = root / "toy" / "mixeval_hard" / version
    origin = json.loads((hard / "derived_from.json").read_text())
    assert origin["matched_by_id"] == {"free_form": 0, "multiple_choice": 0}
    assert origin["matched_by_content"] == {"free_form": 500, "multiple_choice": 500}
    for split in splits_for("mixeval_hard"):
        items = read_split_file(split_file(DATA, version, split), split)
        lines = read_jsonl(hard / f"toy_{split.name}.jsonl")
        assert [{k: v for k, v in line.items() if k != "response"} for line in lines] == items
    assert check_main(["--benchmark", "mixeval_hard", "--version", version, "--model_response_dir", str(root),
                       "--chat_models_to_check", "toy", "--base_models_to_check", "none",
                       "--out_path", str(tmp_path / "checks.log")]) == 0


# ---------------------------------------------------------------- derive_hard in-process, on a tiny benchmark
#
# A made-up version of 4 + 3 MixEval items and 3 + 2 Hard items drawn from them: free-form Hard
# "0" is MixEval "0" (by id), Hard "1" and "2" are MixEval "2" and "3" (by content, MixEval "1"
# left out); multiple-choice Hard "7" and "0" are MixEval "1" and "2" (both by content: MixEval
# "0" is another question).

FF, MP = SplitKind.FREE_FORM, SplitKind.MULTIPLE_CHOICE
TINY = "2030-01-01"
MODEL = "toy"


def _ff(prompt: str, answer: str, bench: str) -> dict:
    return {"problem_type": "free-form", "context": None, "prompt": prompt, "target": [answer],
            "benchmark_name": bench}


def _mp(prompt: str, options: list, target: int, bench: str) -> dict:
    return {"problem_type": "multiple-choice", "context": None, "prompt": prompt, "options": options,
            "target": [target], "benchmark_name": bench}


TINY_MIXEVAL = {
    FF: {"0": _ff("Capital of France?", "Paris", "TriviaQA"), "1": _ff("2+2?", "4", "GSM8k"),
         "2": _ff("Largest planet?", "Jupiter", "TriviaQA"), "3": _ff("Author of Hamlet?", "Shakespeare", "DROP")},
    MP: {"0": _mp("Sky colour?", ["blue", "green"], 0, "MMLU"), "1": _mp("Cats say?", ["woof", "meow", "moo"], 1,
                                                                          "HellaSwag"),
         "2": _mp("Fire is?", ["cold", "hot"], 1, "MMLU")},
}
TINY_HARD = {FF: {"0": TINY_MIXEVAL[FF]["0"], "1": TINY_MIXEVAL[FF]["2"], "2": TINY_MIXEVAL[FF]["3"]},
             MP: {"7": TINY_MIXEVAL[MP]["1"], "0": TINY_MIXEVAL[MP]["2"]}}
TAKES = {FF: [("0", "0"), ("1", "2"), ("2", "3")], MP: [("7", "1"), ("0", "2")]}  # (Hard id, MixEval id)
# the judged lines' verdicts by MixEval id: (judge_response, judge_score or judge_option)
VERDICTS = {FF: {"0": ("[[1.0]]", 1.0), "1": ("[[1.0]]", 1.0), "2": ("[[0.0]]", 0.0), "3": ("no verdict", 0.3)},
            MP: {"0": ("[[A]]", "A"), "1": ("[[B]]", "B"), "2": ("unclear", "A")}}
JUDGE = "gpt-3.5-turbo-0125"
JUDGED_FILE = {FF: f"judge_results_ff_model_judge_{JUDGE}.jsonl", MP: f"judge_results_mp_model_judge_{JUDGE}.jsonl"}


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def tiny_data(root: Path, hard: dict = TINY_HARD) -> Path:
    """The tiny benchmark as data files under ``root``; returns ``root``."""
    for benchmark, items in (("mixeval", TINY_MIXEVAL), ("mixeval-hard", hard)):
        for kind in SplitKind:
            _write_json(root / f"mixeval-{TINY}" / benchmark / kind.file_name, items[kind])
    return root


def tiny_items(items: dict, kind: SplitKind) -> list[dict]:
    """The items as the data reader gives them (formated_input and id added)."""
    return [{**item, "formated_input": format_input(item), "id": i} for i, item in items[kind].items()]


def tiny_lines(kind: SplitKind, answer: str) -> list[dict]:
    """Response lines to every MixEval item of a kind."""
    return [{**item, "response": f"{answer} {item['id']}"} for item in tiny_items(TINY_MIXEVAL, kind)]


def tiny_judged(kind: SplitKind, lines: list[dict]) -> list[dict]:
    """The model parser's judged lines of response lines (`VERDICTS`)."""
    field = "judge_score" if kind is FF else "judge_option"
    return [{**line, "judge_response": VERDICTS[kind][line["id"]][0], field: VERDICTS[kind][line["id"]][1]}
            for line in lines]


def tiny_run(tmp_path: Path, judge: JudgeSettings = JudgeSettings(), data_path=None):
    """A scored MixEval run of the tiny benchmark: its settings, its folder, the free-form
    lines as just scored (answers "passed", unlike the file's "file") and no multiple-choice
    lines (read from the file), and both kinds' judged lines."""
    root = tmp_path / "out"
    source = root / MODEL / "mixeval" / TINY
    source.mkdir(parents=True)
    for kind, split in zip(SplitKind, splits_for("mixeval")):
        (source / f"{MODEL}_{split.name}.jsonl").write_text(jsonl_text(tiny_lines(kind, "file")), encoding="utf-8")
    data_path = str(tiny_data(tmp_path / "data")) if data_path is None else data_path
    settings = ScoringSettings(DataSettings("mixeval", TINY, data_path), judge=judge, model_response_dir=str(root))
    passed = tiny_lines(FF, "passed")
    judged = {FF: tiny_judged(FF, passed), MP: tiny_judged(MP, tiny_lines(MP, "file"))}
    return settings, source, {FF: passed, MP: []}, judged


def hard_of(lines: list[dict], kind: SplitKind) -> list[dict]:
    """The Hard lines the tiny run's lines make: Hard's order, Hard's ids, fields in place."""
    by_id = {line["id"]: line for line in lines}
    return [{**by_id[source_id], "id": hard_id} for hard_id, source_id in TAKES[kind]]


def jsonl_text(lines: list[dict]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def target_dir(settings: ScoringSettings) -> Path:
    return Path(settings.model_response_dir) / MODEL / "mixeval_hard" / TINY


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.name != ".mix_eval.lock"}


def test_derive_hard_writes_the_hard_folder_from_the_run_with_its_journal_counts(tmp_path):
    """Every file of a derived folder, exactly: Hard's ids and order, the free-form lines as
    passed and the multiple-choice ones read from the run's file, the status files of a Hard
    run (the run's args but --limit), the scores of the Hard items only, derived_from.json, and
    judge_report.json counted from the journal over the items Hard takes (the last round of
    an item decides whether it was blocked; an invalid reply is an ok one without a verdict)."""
    settings, source, responses, judged = tiny_run(tmp_path)
    _write_json(source / "status_close_freeform.json",
                {"args": {"model_name": "toy-chat", "model_path": "/ckpt", "benchmark": "mixeval", "version": TINY,
                          "split": "close_freeform", "limit": 4, "batch_size": 8},
                 "status": {"batch_id": 3, "time_elapsed": 12.5, "status": "complete"}})
    (source / "status_close_multichoice.json").write_text("{not json", encoding="utf-8")  # read as no status
    _write_json(source / "judge_report.json", {
        "free_form": {"split": "ff", "judge": "judge-of-the-run", "items": 4, "judge_calls": 9, "rounds": 9,
                      "blocked": 5, "random_fallback": 5, "invalid_replies": 5},
        "multiple_choice": {"split": "mp", "items": 3, "rounds": 5, "blocked": 5, "invalid_replies": 5}})
    ff_journal = [  # MixEval "0": blocked, then a verdict; "2": two replies without one, then blocked;
        # "3": one reply without a verdict; "1" is no Hard item
        {"id": "0", "round": 1, "digest": "d", "outcome": "blocked", "reply": "bad request"},
        {"id": "0", "round": 2, "digest": "d", "outcome": "ok", "reply": "[[1.0]]"},
        {"id": "2", "round": 1, "digest": "d", "outcome": "ok", "reply": "hmm"},
        {"id": "2", "round": 2, "digest": "d", "outcome": "ok", "reply": "still nothing"},
        {"id": "2", "round": 3, "digest": "d", "outcome": "blocked", "reply": None},
        {"id": "3", "round": 1, "digest": "d", "outcome": "ok", "reply": "cannot say"},
        {"id": "1", "round": 9, "digest": "d", "outcome": "blocked", "reply": "not a Hard item"}]
    # multiple-choice: a journal with no entry for a Hard item
    (source / f".journal_{Path(JUDGED_FILE[FF]).stem}.jsonl").write_text(jsonl_text(ff_journal), encoding="utf-8")
    mp_journal = [{"id": "0", "round": 5, "digest": "d", "outcome": "ok", "reply": "not a Hard item"}]
    (source / f".journal_{Path(JUDGED_FILE[MP]).stem}.jsonl").write_text(jsonl_text(mp_journal), encoding="utf-8")

    result = derive.derive_hard(settings, MODEL, source, responses, judged)

    target = target_dir(settings)
    hard_judged = {kind: hard_of(judged[kind], kind) for kind in SplitKind}
    # free-form: TriviaQA 1.0 and 0.0, DROP 0.3; multiple-choice: HellaSwag B right, MMLU A wrong
    scores = {"overall": 0.433 * (3 / 5) + 0.5 * (2 / 5), "TriviaQA": 0.5, "DROP": 0.3, "HellaSwag": 1.0,
              "MMLU": 0.0}
    intervals = model_scores(JudgeSettings(), hard_judged)[1]
    files = files_of(target)
    origin = json.loads(files["derived_from.json"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", origin.pop("created"))
    assert origin == {"benchmark": "mixeval", "version": TINY, "source": f"{MODEL}/mixeval/{TINY}",
                      "matched_by_id": {"free_form": 1, "multiple_choice": 0},
                      "matched_by_content": {"free_form": 2, "multiple_choice": 2}}
    assert isinstance(result, derive.DerivedHard)
    assert (result.vdir, result.scores, result.intervals) == (target, scores, intervals)
    assert result.origin == json.loads(files["derived_from.json"])
    status = {"batch_id": 0, "time_elapsed": 0.0, "status": "complete"}
    assert files == {
        "derived_from.json": files["derived_from.json"],
        f"{MODEL}_close_freeform_hard.jsonl": jsonl_text(hard_of(responses[FF], FF)),
        f"{MODEL}_close_multichoice_hard.jsonl": jsonl_text(hard_of(tiny_lines(MP, "file"), MP)),
        "status_close_freeform_hard.json": json.dumps({"args": {
            "model_name": "toy-chat", "model_path": "/ckpt", "benchmark": "mixeval_hard", "version": TINY,
            "split": "close_freeform_hard", "batch_size": 8}, "status": status}, indent=4),
        "status_close_multichoice_hard.json": json.dumps({"args": {
            "model_name": MODEL, "benchmark": "mixeval_hard", "version": TINY, "split": "close_multichoice_hard"},
            "status": status}, indent=4),
        JUDGED_FILE[FF]: jsonl_text(hard_judged[FF]),
        JUDGED_FILE[MP]: jsonl_text(hard_judged[MP]),
        "score.json": json.dumps(scores, indent=4) + "\n",
        "score_intervals.json": json.dumps(intervals_json(scores, intervals), indent=4) + "\n",
        "judge_report.json": json.dumps({
            "free_form": {"split": "ff", "judge": "judge-of-the-run", "items": 3, "judge_calls": 0, "reused": 3,
                          "rounds": 3, "blocked": 1, "random_fallback": 1, "invalid_replies": 3},
            "multiple_choice": {"split": "mp", "judge": JUDGE, "items": 2, "judge_calls": 0, "reused": 2,
                                "rounds": 0, "blocked": 0, "random_fallback": 1, "invalid_replies": 0}},
            indent=4),
    }


def test_without_a_journal_the_report_keeps_the_runs_rounds_and_its_counts_only_where_they_were_0(tmp_path):
    """No journal: rounds are the run's; blocked and invalid replies stay 0 where the run had 0
    and are null otherwise (1 cannot be split over the Hard items); the judge is the run's, else
    the settings'. Derived again once the run has no judge_report.json, the folder loses its own."""
    settings, source, responses, judged = tiny_run(tmp_path)
    _write_json(source / "judge_report.json", {
        "free_form": {"split": "ff", "judge": "judge-of-the-run", "rounds": 4, "blocked": 0, "invalid_replies": 1},
        "multiple_choice": {"split": "mp", "rounds": 6, "blocked": 1, "invalid_replies": 0}})
    assert derive.derive_hard(settings, MODEL, source, responses, judged) is not None
    target = target_dir(settings)
    assert json.loads((target / "judge_report.json").read_text()) == {
        "free_form": {"split": "ff", "judge": "judge-of-the-run", "items": 3, "judge_calls": 0, "reused": 3,
                      "rounds": 4, "blocked": 0, "random_fallback": 1, "invalid_replies": None},
        "multiple_choice": {"split": "mp", "judge": JUDGE, "items": 2, "judge_calls": 0, "reused": 2,
                            "rounds": 6, "blocked": None, "random_fallback": 1, "invalid_replies": 0}}

    (source / "judge_report.json").unlink()
    (target / "score.json").unlink()
    again = derive.derive_hard(settings, MODEL, source, responses, judged)
    assert again is not None and again.vdir == target
    assert not (target / "judge_report.json").exists()
    assert json.loads((target / "score.json").read_text()) == again.scores


@pytest.mark.parametrize("case", ["free-form by the rule parser", "free-form report not an object"])
def test_judge_report_holds_only_the_kinds_judged_by_a_model_with_a_report_in_the_run(tmp_path, case):
    """A kind scored by the rule parser, or whose entry in the run's report is not an object,
    has no entry; the other kind still does."""
    rule = case == "free-form by the rule parser"
    judge = JudgeSettings(free_form_parser="rule" if rule else "model")
    settings, source, responses, judged = tiny_run(tmp_path, judge)
    judged[FF] = [{**line, "eval_result": line["judge_score"] == 1.0} for line in judged[FF]]
    old = {"split": "mp", "judge": "j", "rounds": 2, "blocked": 0, "invalid_replies": 0}
    _write_json(source / "judge_report.json", {"free_form": old if rule else ["x"], "multiple_choice": old})
    assert derive.derive_hard(settings, MODEL, source, responses, judged) is not None
    assert json.loads((target_dir(settings) / "judge_report.json").read_text()) == {
        "multiple_choice": {"split": "mp", "judge": "j", "items": 2, "judge_calls": 0, "reused": 2, "rounds": 2,
                            "blocked": 0, "random_fallback": 1, "invalid_replies": 0}}
    if rule:  # the rule parser's judged file, scored by eval_result: TriviaQA 1 of 2, DROP 0
        assert (target_dir(settings) / "judge_results_ff_rule.jsonl").read_text() == jsonl_text(hard_of(judged[FF], FF))
        assert json.loads((target_dir(settings) / "score.json").read_text())["DROP"] == 0.0


def _separate_line(model: str, target: Path) -> str:
    return (f"{model}: {target} holds a separate MixEval-Hard run; it is left as it is (no MixEval-Hard derived "
            "from the MixEval run)")


def test_a_separate_hard_run_is_left_as_it_is_but_a_folder_holding_only_the_lock_is_derived(tmp_path, caplog):
    """A Hard folder with files and no derived_from.json is another run's: nothing written, one
    line saying so. A folder holding nothing but the lock file is free."""
    caplog.set_level(logging.INFO, logger="mix_eval")
    settings, source, responses, judged = tiny_run(tmp_path)
    target = target_dir(settings)
    target.mkdir(parents=True)
    (target / f"{MODEL}_close_freeform_hard.jsonl").write_text("a line of its own\n")
    assert derive.derive_hard(settings, MODEL, source, responses, judged) is None
    assert files_of(target) == {f"{MODEL}_close_freeform_hard.jsonl": "a line of its own\n"}
    assert [r.getMessage() for r in caplog.records if "separate" in r.getMessage()] == [_separate_line(MODEL, target)]

    (target / f"{MODEL}_close_freeform_hard.jsonl").unlink()
    (target / ".mix_eval.lock").write_text("")
    caplog.clear()
    assert derive.derive_hard(settings, MODEL, source, responses, judged) is not None
    assert (target / "derived_from.json").is_file()
    assert not [r for r in caplog.records if "separate" in r.getMessage()]


def test_a_separate_run_that_starts_before_the_lock_is_taken_is_seen_under_the_lock(tmp_path, caplog, monkeypatch):
    """The check is made again once the folder is locked: a run that wrote there in between
    keeps its folder, and the line names the model."""
    caplog.set_level(logging.INFO, logger="mix_eval")
    settings, source, responses, judged = tiny_run(tmp_path)
    target = target_dir(settings)

    @contextlib.contextmanager
    def lock_after_another_run(folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{MODEL}_close_freeform_hard.jsonl").write_text("another run's line\n")
        with folder_lock(folder):
            yield

    monkeypatch.setattr(derive, "folder_lock", lock_after_another_run)
    assert derive.derive_hard(settings, MODEL, source, responses, judged) is None
    assert files_of(target) == {f"{MODEL}_close_freeform_hard.jsonl": "another run's line\n"}
    assert [r.getMessage() for r in caplog.records] == [
        "toy: MixEval-Hard free-form: 1 items matched by id, 2 by content",
        "toy: MixEval-Hard multiple-choice: 0 items matched by id, 2 by content", _separate_line(MODEL, target)]


def _unmatched(settings, source, responses, judged, data):
    hard = {**TINY_HARD, MP: {**TINY_HARD[MP], "9": _mp("New?", ["a", "b"], 0, "MMLU")}}
    tiny_data(data, hard)
    return (f"toy: 1 MixEval-Hard multiple-choice item(s) of version {TINY} (e.g. id '9') equal no MixEval item; "
            "no MixEval-Hard derived. Run --benchmark mixeval_hard to score them")


def _lacks_judged(settings, source, responses, judged, data):
    judged[FF] = [line for line in judged[FF] if line["id"] != "3"]
    return ("toy: the MixEval run has no judged response to 1 of the items MixEval-Hard free-form takes from it "
            "(e.g. id '3'); no MixEval-Hard derived")


def _lacks_response(settings, source, responses, judged, data):
    responses[FF] = [line for line in responses[FF] if line["id"] not in ("0", "2")]
    return ("toy: the MixEval run has no judged response to 2 of the items MixEval-Hard free-form takes from it "
            "(e.g. id '0'); no MixEval-Hard derived")


def _other_question(settings, source, responses, judged, data):
    responses[FF] = [{**line, "prompt": "Largest moon?"} if line["id"] == "2" else line for line in responses[FF]]
    return (f"toy: the MixEval line of id '2' in {source} differs from the benchmark item; no MixEval-Hard derived "
            "(score the responses with the data that made them)")


def _other_judged_question(settings, source, responses, judged, data):
    judged[MP] = [{**line, "target": [0]} if line["id"] == "1" else line for line in judged[MP]]
    return (f"toy: the MixEval line of id '1' in {source} differs from the benchmark item; no MixEval-Hard derived "
            "(score the responses with the data that made them)")


def _no_data(settings, source, responses, judged, data):
    path = data / f"mixeval-{TINY}" / "mixeval-hard" / "multiple-choice.json"
    path.unlink()
    return f"no benchmark data at {path}: no MixEval-Hard derived from the MixEval run"


def _no_response_file(settings, source, responses, judged, data):
    path = source / f"{MODEL}_close_multichoice.jsonl"
    path.unlink()
    return f"toy: no response file {path}: no MixEval-Hard derived"


def _broken_response_file(settings, source, responses, judged, data):
    path = source / f"{MODEL}_close_multichoice.jsonl"
    path.write_text("")
    return f"toy: no MixEval-Hard derived: {path}: no responses"


@pytest.mark.parametrize("spoil", [_unmatched, _lacks_judged, _lacks_response, _other_question,
                                   _other_judged_question, _no_data, _no_response_file, _broken_response_file],
                         ids=lambda f: f.__name__.strip("_"))
def test_nothing_is_derived_when_the_data_or_the_run_lacks_something_and_one_line_says_what(tmp_path, caplog, spoil):
    """A Hard item no MixEval item equals, a Hard item without a response or a judged line, a
    line of another question, missing data, a missing or empty response file: None, no Hard
    folder, and the one line that says why."""
    caplog.set_level(logging.INFO, logger="mix_eval")
    settings, source, responses, judged = tiny_run(tmp_path)
    message = spoil(settings, source, responses, judged, tmp_path / "data")
    caplog.clear()
    assert derive.derive_hard(settings, MODEL, source, responses, judged) is None
    assert [r.getMessage() for r in caplog.records] == [message]
    assert not (Path(settings.model_response_dir) / MODEL / "mixeval_hard").exists()


def test_the_default_data_path_finds_a_version_fetched_into_the_cache(tmp_path, monkeypatch):
    """With the default --data_path, a version that ./mix_eval/data lacks is read from the
    cache it was fetched into (not looked for in ./mix_eval/data, which exists)."""
    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mix_eval" / "data").mkdir(parents=True)
    tiny_data(tmp_path / "cache" / "data")
    settings, source, responses, judged = tiny_run(tmp_path, data_path="mix_eval/data/")
    result = derive.derive_hard(settings, MODEL, source, responses, judged)
    assert result is not None and result.origin["source"] == f"{MODEL}/mixeval/{TINY}"
    assert result.origin["matched_by_content"] == {"free_form": 2, "multiple_choice": 2}
