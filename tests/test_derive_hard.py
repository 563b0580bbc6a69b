"""MixEval-Hard derived from a MixEval run: the matching on the packaged data, the folder
it writes, the loopback judge's Hard score with no further call, and what it never touches."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from conftest import DATA, JUDGE_KEY, REF_RESPONSES, fake_server, judge_reply, make_responses, read_jsonl

from mix_eval.compute_metrics import main as compute_main
from mix_eval.data import read_split_file, split_file, splits_for
from mix_eval.prompts import format_input
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
