"""`python -m mix_eval.calibrate`: the shipped reference responses, judged with another
judge (the loopback server, answering as `conftest.judge_reply`), set beside the
leaderboard; a rerun makes no judge call; the report shows the measured shift."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import (
    API_SETTINGS, JUDGE_KEY, REF_RESPONSES, REPO, fake_server, judge_reply, make_responses, read_jsonl, run_module,
)

from mix_eval.calibrate import build_parser
from mix_eval.calibration import references
from mix_eval.calibration.cost import estimate
from mix_eval.cli import flags
from mix_eval.compute_metrics import build_parser as compute_metrics_parser
from mix_eval.errors import MixEvalError
from mix_eval.responses import COMPLETE, read_status
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

VERSION = "2024-06-01"
JUDGE = "gpt-4.1-mini"
MODELS = ("gemma_11_7b_instruct", "llama_3_8b_instruct")
# The leaderboard rows of the two models (chat table, × 100), as REFERENCE.md quotes them.
LEADERBOARD = {
    "gemma_11_7b_instruct": {"MixEval": 69.6, "MixEval-Hard": 39.1, "TriviaQA": 64.3, "MMLU": 66.9, "DROP": 80.6,
                             "HellaSwag": 66.3, "CommonsenseQA": 73.6},
    "llama_3_8b_instruct": {"MixEval": 75.0, "MixEval-Hard": 45.6, "TriviaQA": 71.7, "MMLU": 71.9, "DROP": 86.4,
                            "HellaSwag": 65.7, "CommonsenseQA": 78.3},
}

server = fake_server(scope="module", reply=judge_reply, api_key=JUDGE_KEY)


def run(module: str, *args: str, cache: Path, cwd: Path):
    """``python -m module args`` with the judge key, the cache at ``cache`` and no other API setting."""
    with pytest.MonkeyPatch.context() as mp:
        for var in API_SETTINGS:
            mp.delenv(var, raising=False)
        return run_module(module, *args, cwd=cwd,
                          env={"PYTHONPATH": str(REPO), "MODEL_PARSER_API": JUDGE_KEY, "MIX_EVAL_CACHE": str(cache)})


@pytest.fixture(scope="module")
def calibrated(server, tmp_path_factory):
    """One calibration of JUDGE into the default folder of a fresh cache, and a rerun."""
    home = tmp_path_factory.mktemp("calibration")
    cache = home / "cache"
    args = ("--freeform_judge", JUDGE, "--multichoice_judge", JUDGE, "--api_base_url", server.base_url,
            "--api_parallel_num", "500", "--judge_price", "0.4,1.6")
    before = len(server.chat_requests())
    first = run("mix_eval.calibrate", *args, cache=cache, cwd=home)
    assert first.returncode == 0, first.stderr[-3000:]
    calls = len(server.chat_requests()) - before
    folder = cache / "calibration" / JUDGE
    made = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
    second = run("mix_eval.calibrate", *args, cache=cache, cwd=home)
    assert second.returncode == 0, second.stderr[-3000:]
    rerun_calls = len(server.chat_requests()) - before - calls
    return {"home": home, "cache": cache, "folder": folder, "first": first, "calls": calls,
            "rerun_calls": rerun_calls, "record": made,
            "rerun_record": json.loads((folder / "calibration.json").read_text(encoding="utf-8"))}


# ---------------------------------------------------------------- the shipped responses


@pytest.mark.slow
def test_rebuilt_gemma_files_are_the_reference_files_and_the_folder_a_normal_run(tmp_path):
    vdir = references.write_reference_responses(tmp_path, "gemma_11_7b_instruct")
    assert vdir == tmp_path / "gemma_11_7b_instruct" / "mixeval" / VERSION
    fixtures = REF_RESPONSES / "mixeval" / VERSION
    for split in ("close_freeform", "close_multichoice"):
        name = f"gemma_11_7b_instruct_{split}.jsonl"
        rebuilt, reference = vdir / name, fixtures / name
        assert rebuilt.read_bytes() == reference.read_bytes()
        rebuilt_lines, reference_lines = read_jsonl(rebuilt), read_jsonl(reference)
        assert len(rebuilt_lines) == len(reference_lines) == 2000
        for ours, theirs in zip(rebuilt_lines, reference_lines):
            assert list(ours.items()) == list(theirs.items())  # fields, values and their order
        status = read_status(vdir / f"status_{split}.json")
        assert status["status"]["status"] == COMPLETE
        assert status["args"]["model_name"] == "gemma_11_7b_instruct" and status["args"]["split"] == split
        assert status["args"]["benchmark"] == "mixeval" and status["args"]["version"] == VERSION
    # llama's files are checked against the digests of the reference's files as they are rebuilt
    for split in references.reference_splits():
        lines = references.rebuild_lines("llama_3_8b_instruct", split)
        assert len(lines) == 2000 and len({json.loads(line)["id"] for line in lines}) == 2000


def test_only_ids_and_responses_ship(tmp_path):
    for model in MODELS:
        for split in references.reference_splits():
            with gzip.open(references.packed_path(model, split), "rt", encoding="utf-8") as f:
                assert {tuple(json.loads(line)) for line in f} == {("id", "response")}


@pytest.mark.slow
def test_a_damaged_response_is_an_error_not_a_near_copy(tmp_path, monkeypatch):
    packed = tmp_path / "packed"
    packed.mkdir()
    for path in references.PACKED.iterdir():
        (packed / path.name).write_bytes(path.read_bytes())
    split = references.reference_splits()[0]
    target = packed / references.packed_path("gemma_11_7b_instruct", split).name
    with gzip.open(target, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    lines[7]["response"] += " "
    with gzip.open(target, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(line) + "\n" for line in lines))
    monkeypatch.setattr(references, "PACKED", packed)
    monkeypatch.setattr(references, "MANIFEST", packed / "manifest.json")
    with pytest.raises(MixEvalError, match="differ from the reference's file"):
        references.rebuild_lines("gemma_11_7b_instruct", split)


# ---------------------------------------------------------------- flags and cost


def test_calibrate_takes_every_judge_flag_but_the_scoring_choices():
    def judge_flags(parser):
        group = next(g for g in parser._action_groups if g.title == "judge")
        return {a.dest for a in group._group_actions}

    ours, theirs = judge_flags(build_parser()), judge_flags(compute_metrics_parser())
    assert ours == theirs - set(flags.SCORING_CHOICE_FLAGS)
    assert {"freeform_judge", "multichoice_judge", "api_base_url", "judge_mode", "judge_price"} <= ours
    settings = flags.calibration_settings(build_parser().parse_args(
        ["--freeform_judge", "a", "--multichoice_judge", "b", "--judge_mode", "batch", "--api_parallel_num", "7"]))
    assert (settings.judge.judge(SplitKind.FREE_FORM), settings.judge.judge(SplitKind.MULTIPLE_CHOICE)) == ("a", "b")
    assert settings.judge.judge_mode == "batch" and settings.judge.api_parallel_num == 7
    assert settings.judge.free_form_parser == settings.judge.multi_choice_parser == "model"


def test_the_estimate_is_tokens_only_without_a_price_and_halved_in_batch_mode():
    lines = read_jsonl(REF_RESPONSES / "mixeval" / VERSION / "gemma_11_7b_instruct_close_multichoice.jsonl")[:10]
    unknown, = estimate(JudgeSettings(multichoice_judge="some-unpriced-judge"), {SplitKind.MULTIPLE_CHOICE: [lines]})
    assert unknown.requests == 10 and unknown.prompt_tokens > 10 * 300 and unknown.usd is None
    live, = estimate(JudgeSettings(multichoice_judge="x", judge_price=(1.0, 2.0)), {SplitKind.MULTIPLE_CHOICE: [lines]})
    batch, = estimate(JudgeSettings(multichoice_judge="x", judge_price=(1.0, 2.0), judge_mode="batch"),
                      {SplitKind.MULTIPLE_CHOICE: [lines]})
    assert live.usd == pytest.approx((live.prompt_tokens * 1.0 + live.completion_tokens * 2.0) / 1e6)
    assert batch.usd == pytest.approx(live.usd / 2)


# ---------------------------------------------------------------- a calibration run


@pytest.mark.slow
def test_a_calibration_makes_8000_calls_then_none_and_says_the_cost_first(calibrated):
    assert calibrated["calls"] == 8000
    assert calibrated["rerun_calls"] == 0
    out = calibrated["first"].stdout
    estimate_at = out.index(f"Estimated cost of judge {JUDGE}: 8,000 requests")
    assert estimate_at < out.index("gemma_11_7b_instruct (mixeval 2024-06-01):")
    assert "about $3." in out[estimate_at:estimate_at + 300]  # gpt-4.1-mini's list price, live
    assert "reasoning" in out
    assert calibrated["rerun_record"]["models"] == calibrated["record"]["models"]
    folder = calibrated["folder"]
    for model in MODELS:  # a normal response folder, scored, with MixEval-Hard derived
        for benchmark in ("mixeval", "mixeval_hard"):
            vdir = folder / model / benchmark / VERSION
            assert (vdir / "score.json").is_file()
            for kind in SplitKind:
                assert (vdir / f"judge_results_{kind.tag}_model_judge_{JUDGE}.jsonl").is_file()


def test_calibration_json_sets_the_judge_beside_the_leaderboard(calibrated):
    made = calibrated["record"]
    assert made["judge"] == JUDGE
    assert made["judges"] == {"free_form": JUDGE, "multiple_choice": JUDGE}
    assert set(made["models"]) == set(MODELS)
    folder = calibrated["folder"]
    for model in MODELS:
        entries = made["models"][model]
        assert set(entries) == set(LEADERBOARD[model]) | {"TriviaQA-Hard", "MMLU-Hard", "DROP-Hard"}
        for column, published in LEADERBOARD[model].items():
            assert entries[column]["leaderboard"] == published
        for benchmark, column in (("mixeval", "MixEval"), ("mixeval_hard", "MixEval-Hard")):
            scores = json.loads((folder / model / benchmark / VERSION / "score.json").read_text())
            assert entries[column]["judge"] == round(scores["overall"] * 100, 1)
        hard = json.loads((folder / model / "mixeval_hard" / VERSION / "score.json").read_text())
        assert entries["MMLU-Hard"]["judge"] == round(hard["MMLU"] * 100, 1)
        for e in entries.values():
            assert e["delta"] == pytest.approx(e["judge"] - e["leaderboard"], abs=1e-9)
    for column, mean in made["mean_delta"].items():
        deltas = [made["models"][m][column]["delta"] for m in MODELS]
        assert mean == pytest.approx(sum(deltas) / 2, abs=0.006)


@pytest.mark.slow
def test_the_gemma_scores_are_those_compute_metrics_gives(calibrated, server, tmp_path):
    root = tmp_path / "responses"
    make_responses(root, "gemma_11_7b_instruct", "mixeval")  # the reference's own files
    before = len(server.chat_requests())
    done = run("mix_eval.compute_metrics", "--benchmark", "mixeval", "--version", VERSION, "--model_response_dir",
               str(root), "--freeform_judge", JUDGE, "--multichoice_judge", JUDGE, "--api_base_url", server.base_url,
               "--api_parallel_num", "500", cache=tmp_path / "cache", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(server.chat_requests()) - before == 4000
    entries = calibrated["record"]["models"]["gemma_11_7b_instruct"]
    for benchmark, column in (("mixeval", "MixEval"), ("mixeval_hard", "MixEval-Hard")):
        scores = json.loads((root / "gemma_11_7b_instruct" / benchmark / VERSION / "score.json").read_text())
        assert entries[column]["judge"] == round(scores["overall"] * 100, 1)
    scores = json.loads((root / "gemma_11_7b_instruct" / "mixeval" / VERSION / "score.json").read_text())
    for column in ("TriviaQA", "MMLU", "DROP", "HellaSwag", "CommonsenseQA"):
        assert entries[column]["judge"] == round(scores[column] * 100, 1)


# ---------------------------------------------------------------- the report


def report_text(root: Path, cache: Path, cwd: Path, *extra: str) -> tuple[str, str]:
    done = run("mix_eval.report", "--model_response_dir", str(root), *extra, cache=cache, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return (root / "report.md").read_text(encoding="utf-8"), (root / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_report_shows_the_judges_shift_only_where_a_calibration_exists(calibrated, tmp_path):
    made = calibrated["record"]
    root = calibrated["folder"]  # runs judged by JUDGE: the calibration's own folder
    date = made["created"][:10]

    def shift(column: str) -> str:
        delta = round(made["mean_delta"][column], 1)
        where = f"+{delta:.1f} points above" if delta > 0 else f"{-delta:.1f} points below"
        return (f"{JUDGE} scored the reference models {where} the leaderboard on {column} (calibration of "
                f"{date}); the scores here are not adjusted.")

    markdown, html = report_text(root, calibrated["cache"], tmp_path)
    for column in ("MixEval", "MixEval-Hard"):
        assert markdown.count(shift(column).replace("_", "\\_")) == 2  # one run of each model
        assert html.count(shift(column)) == 2
    assert f"judge {JUDGE}, not the leaderboard's gpt-3.5-turbo-0125" in markdown  # labelled with its judge
    judge_rows = [line for line in markdown.splitlines() if line.startswith(("| free-form | model judge",
                                                                              "| multiple-choice | model judge"))]
    assert len(judge_rows) == 8 and all(f"| {JUDGE} |" in row for row in judge_rows)  # per split
    scores = json.loads((root / "gemma_11_7b_instruct" / "mixeval" / VERSION / "score.json").read_text())
    assert f"Overall: **{round(scores['overall'] * 100, 1):.1f} \\[" in markdown  # not adjusted

    # no calibration of the judge in this cache: no shift, but how to measure it
    empty = tmp_path / "empty-cache"
    markdown, html = report_text(root, empty, tmp_path)
    assert "scored the reference models" not in markdown and "scored the reference models" not in html
    assert f"{JUDGE} has no calibration here: python -m mix\\_eval.calibrate" in markdown

    # a calibration given to the report is used
    given = tmp_path / "given.json"
    given.write_text(json.dumps(made), encoding="utf-8")
    markdown, _ = report_text(root, empty, tmp_path, "--calibration", str(given))
    assert shift("MixEval").replace("_", "\\_") in markdown

    # a run scored by the rule parsers: no judge, no shift, no hint
    rules = tmp_path / "rules"
    make_responses(rules, "my_model", "mixeval_hard")
    done = run("mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", VERSION,
               "--model_response_dir", str(rules), "--free_form_parser", "rule", "--multi_choice_parser", "rule",
               cache=calibrated["cache"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = (rules / "report.md").read_text(encoding="utf-8")
    assert "scored the reference models" not in markdown and "calibration" not in markdown


def test_a_calibration_file_given_that_cannot_be_read_is_one_line(calibrated, tmp_path):
    bad = tmp_path / "calibration.json"
    bad.write_text("{", encoding="utf-8")
    done = run("mix_eval.report", "--model_response_dir", str(calibrated["folder"]), "--calibration", str(bad),
               cache=calibrated["cache"], cwd=tmp_path)
    assert done.returncode == 2
    assert "not a readable calibration.json" in done.stderr and "Traceback" not in done.stderr
