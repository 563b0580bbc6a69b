"""`python -m mix_eval.calibrate`: the shipped reference responses, judged with another
judge (the loopback server, answering as `conftest.judge_reply`), set beside the
leaderboard; a rerun makes no judge call; the report shows the measured shift. And each
part in process, at its edges: the cost estimate, calibration.json (built, printed, read,
matched, found), `calibrate` with scoring faked, and how the shipped files are made."""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import (
    API_SETTINGS, JUDGE_KEY, REF_RESPONSES, REPO, fake_server, judge_reply, make_responses, read_jsonl, run_module,
)

from mix_eval.calibrate import build_parser
from mix_eval.calibration import cost, record, references
from mix_eval.calibration import run as calibration_run
from mix_eval.calibration.cost import CHARS_PER_TOKEN, CostEstimate, describe, estimate
from mix_eval.cli import flags
from mix_eval.compute_metrics import build_parser as compute_metrics_parser
from mix_eval.data import PACKAGE_DATA, split_file
from mix_eval.errors import MixEvalError
from mix_eval.judges.protocol import judge_messages
from mix_eval.leaderboard import SOURCE
from mix_eval.responses import COMPLETE, read_status
from mix_eval.settings import CalibrationSettings, DataSettings, JudgeSettings, ScoringSettings
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


def copy_packed(tmp_path: Path, monkeypatch) -> Path:
    """The shipped reference files copied to ``tmp_path/packed``, which the module then reads."""
    packed = tmp_path / "packed"
    packed.mkdir()
    for path in references.PACKED.iterdir():
        (packed / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(references, "PACKED", packed)
    monkeypatch.setattr(references, "MANIFEST", packed / "manifest.json")
    return packed


def test_a_rebuilt_file_must_have_the_manifests_line_count_too(tmp_path, monkeypatch):
    """The digest right but the line count not: the same refusal, naming the model, the
    split and the packed file."""
    packed = copy_packed(tmp_path, monkeypatch)
    manifest = json.loads((packed / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["llama_3_8b_instruct_close_multichoice.jsonl"]["lines"] = 1999
    (packed / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    split = references.reference_splits()[1]
    assert len(references.rebuild_lines("llama_3_8b_instruct", references.reference_splits()[0])) == 2000
    with pytest.raises(MixEvalError) as caught:
        references.rebuild_lines("llama_3_8b_instruct", split)
    assert str(caught.value) == (
        f"the reference responses of llama_3_8b_instruct (close_multichoice) rebuilt from "
        f"{packed / 'llama_3_8b_instruct_close_multichoice.jsonl.gz'} differ from the reference's file: the package "
        "or its benchmark data is damaged; reinstall mix_eval")


def test_the_references_are_rebuilt_from_the_packages_data_not_a_local_copy(tmp_path, monkeypatch):
    """A user's own ./mix_eval/data (which --data_path's default prefers) does not change the
    rebuilt reference responses: they are made from the benchmark inside the package."""
    split = references.reference_splits()[0]
    shipped = split_file(PACKAGE_DATA, VERSION, split)
    local = split_file(tmp_path / "mix_eval" / "data", VERSION, split)
    local.parent.mkdir(parents=True)
    items = json.loads(shipped.read_text(encoding="utf-8"))
    items["0"]["prompt"] += " (a user's edit)"
    local.write_text(json.dumps(items), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    lines = references.rebuild_lines("gemma_11_7b_instruct", split)
    assert len(lines) == 2000 and "a user's edit" not in "".join(lines)


def test_only_the_shipped_models_can_be_rebuilt():
    with pytest.raises(MixEvalError) as caught:
        references.rebuild_lines("my_model", references.reference_splits()[0])
    assert str(caught.value) == ("no reference responses of 'my_model' ship with mix_eval; they are of "
                                 "gemma_11_7b_instruct, llama_3_8b_instruct")


def test_the_reference_folder_written_again_keeps_equal_files_and_mends_the_rest(tmp_path):
    """A second write leaves an equal response file as it was (not rewritten), rewrites one
    that differs, and writes each split's status: complete, batch 0, no time, the args of an
    `evaluate` run of the model into the folder."""
    model = "llama_3_8b_instruct"
    vdir = references.write_reference_responses(tmp_path, model)
    ff, mc = (vdir / f"{model}_{split.name}.jsonl" for split in references.reference_splits())
    kept, original = ff.stat(), mc.read_bytes()
    mc.write_text("damaged\n", encoding="utf-8")
    (vdir / "status_close_freeform.json").write_text("{}", encoding="utf-8")
    assert references.write_reference_responses(tmp_path, model) == vdir
    assert (ff.stat().st_ino, ff.stat().st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    assert mc.read_bytes() == original
    for path in (ff, mc):  # one item a line, each line whole
        ids = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
        assert len(ids) == len(set(ids)) == 2000
    for split in references.reference_splits():
        status = json.loads((vdir / f"status_{split.name}.json").read_text(encoding="utf-8"))
        assert status == {"args": references.status_args(model, tmp_path, split),
                          "status": {"batch_id": 0, "time_elapsed": 0.0, "status": "complete"}}
        args = status["args"]
        assert (args["model_name"], args["benchmark"], args["version"], args["output_dir"], args["split"]) == (
            model, "mixeval", VERSION, str(tmp_path), split.name)
        assert args["data_path"] == "mix_eval/data/" and args["freeform_judge"] == "gpt-3.5-turbo-0125"


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


@pytest.mark.slow  # the module's calibration run (about a minute) is its setup
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


@pytest.mark.slow  # the module's calibration run (about a minute) is its setup
def test_a_calibration_file_given_that_cannot_be_read_is_one_line(calibrated, tmp_path):
    bad = tmp_path / "calibration.json"
    bad.write_text("{", encoding="utf-8")
    done = run("mix_eval.report", "--model_response_dir", str(calibrated["folder"]), "--calibration", str(bad),
               cache=calibrated["cache"], cwd=tmp_path)
    assert done.returncode == 2
    assert "not a readable calibration.json" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- the cost estimate, in process

FF_LINE = {"prompt": "What is 2+2?", "target": ["4", "four"], "response": "4\n\n\nQuestion: and 3+3?"}
MC_LINE = {"prompt": "Which is a fruit?", "options": ["apple", "stone"], "response": "A\n\nB is a stone."}


def judge_chars(line: dict, kind: SplitKind) -> int:
    """The characters of the messages that ask the judge about ``line``, its response as written."""
    return sum(len(m["content"]) for m in judge_messages(line, kind, line["response"]))


def uneven(line: dict, kind: SplitKind, pad: int = 0) -> dict:
    """``line`` with its response padded so its messages are 4k + 1 characters long: an
    estimate that does not round each request's tokens up is off by ¾ of a token."""
    line = {**line, "response": line["response"] + " " * pad}
    while judge_chars(line, kind) % CHARS_PER_TOKEN != 1:
        line["response"] += " "
    return line


def tokens(line: dict, kind: SplitKind) -> int:
    return math.ceil(judge_chars(line, kind) / 4)


def test_the_estimate_counts_each_request_of_each_judge_rounded_up_with_its_price():
    """One estimate per judge name: every line of every file is one request, its messages'
    characters / 4 rounded up, 60 reply tokens; the known judge's list price, an unknown
    judge none; the responses as written (no base-model cut)."""
    ff = [uneven(FF_LINE, SplitKind.FREE_FORM, pad) for pad in (0, 7, 20)]
    mc = uneven(MC_LINE, SplitKind.MULTIPLE_CHOICE)
    ff_tokens = sum(tokens(line, SplitKind.FREE_FORM) for line in ff)
    mc_tokens = tokens(mc, SplitKind.MULTIPLE_CHOICE)
    two = JudgeSettings(freeform_judge="gpt-4.1-mini", multichoice_judge="judge-x")
    assert estimate(two, {SplitKind.FREE_FORM: [ff[:2], ff[2:]], SplitKind.MULTIPLE_CHOICE: [[mc]]}) == [
        CostEstimate("gpt-4.1-mini", requests=3, prompt_tokens=ff_tokens, completion_tokens=180, price=(0.4, 1.6)),
        CostEstimate("judge-x", requests=1, prompt_tokens=mc_tokens, completion_tokens=60, price=None),
    ]
    # the same judge on both splits: one estimate; the price given wins, the Batch API flagged
    one = JudgeSettings(freeform_judge="j", multichoice_judge="j", judge_price=(1.0, 2.0), judge_mode="batch")
    assert estimate(one, {SplitKind.FREE_FORM: [ff[:1]], SplitKind.MULTIPLE_CHOICE: [[mc]]}) == [
        CostEstimate("j", requests=2, prompt_tokens=tokens(ff[0], SplitKind.FREE_FORM) + mc_tokens,
                     completion_tokens=120, price=(1.0, 2.0), batch=True)]
    assert estimate(two, {SplitKind.MULTIPLE_CHOICE: []}) == [CostEstimate("judge-x", price=None)]


def test_a_local_judge_costs_nothing_unless_given_a_price_whatever_its_name():
    """A local judge (--judge_model_id) has no list price, even named like an API judge
    that has one; a price given for it is used."""
    lines = {SplitKind.MULTIPLE_CHOICE: [[MC_LINE]]}
    local, = estimate(JudgeSettings(judge_model_id="gpt-4.1-mini"), lines)
    assert (local.judge, local.price, local.usd) == ("gpt-4.1-mini", None, None)
    priced, = estimate(JudgeSettings(judge_model_id="org/judge", judge_price=(0.5, 0.25)), lines)
    assert (priced.judge, priced.price, priced.batch) == ("org/judge", (0.5, 0.25), False)


def test_the_lines_printed_before_judging():
    """Requests and tokens with thousands separators; dollars to the cent, live or the Batch
    API's half, with the live input / output prices; no dollars without a price; then how
    it was estimated."""
    estimates = [CostEstimate("gpt-4.1-mini", 8000, 3_456_789, 480_000, (0.4, 1.6)),
                 CostEstimate("judge-x", 1234, 1_000_000, 74_040, (1.0, 2.0), batch=True),
                 CostEstimate("org/local", 12, 345, 720, None)]
    last = ("Estimate: ~4 characters per token, 60 tokens per reply, one request per item; replies already in the "
            "journal (an earlier run into this folder) cost nothing. A reasoning judge also bills its hidden "
            "reasoning tokens as output, which this leaves out.")
    assert describe(estimates) == [
        "Estimated cost of judge gpt-4.1-mini: 8,000 requests, ~3,456,789 input + ~480,000 output tokens: about "
        "$2.15 (live; live price $0.40 / $1.60 per million input / output tokens).",
        "Estimated cost of judge judge-x: 1,234 requests, ~1,000,000 input + ~74,040 output tokens: about $0.57 "
        "(Batch API, half the live price; live price $1.00 / $2.00 per million input / output tokens).",
        "Estimated cost of judge org/local: 12 requests, ~345 input + ~720 output tokens: price unknown, so no "
        "dollar figure (give the judge's live price with --judge_price INPUT,OUTPUT).",
        last,
    ]
    assert describe([]) == [last]


# ---------------------------------------------------------------- calibration.json, in process

BOTH = {SplitKind.FREE_FORM: JUDGE, SplitKind.MULTIPLE_CHOICE: JUDGE}


def test_the_judge_label_names_one_judge_or_each_splits():
    assert record.judge_label(BOTH) == JUDGE
    assert (record.judge_label({SplitKind.FREE_FORM: "a", SplitKind.MULTIPLE_CHOICE: "b"})
            == "a (free-form) + b (multiple-choice)")


def test_the_judges_folder_name_in_the_cache(tmp_path, monkeypatch):
    """One path component: a judge once though it judges both splits, two joined by __, a run
    of other characters than letters, digits, '.', '_' and '-' as one _, no dot at either
    end, _ for a name left empty; @effort when one is asked for; under calibration/ in the
    user's cache."""
    assert record.judge_slug(BOTH) == JUDGE
    assert record.judge_slug(BOTH, "high") == f"{JUDGE}@high"
    assert record.judge_slug({SplitKind.FREE_FORM: "Org/Model v2", SplitKind.MULTIPLE_CHOICE: "Xjudge.."}) == (
        "Org_Model_v2__Xjudge")
    assert record.judge_slug({SplitKind.FREE_FORM: "..", SplitKind.MULTIPLE_CHOICE: ".a_b-c."}, "low") == "___a_b-c@low"
    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path))
    assert record.root_dir() == tmp_path / "calibration"
    assert record.default_dir({SplitKind.FREE_FORM: "a", SplitKind.MULTIPLE_CHOICE: "b"}, "minimal") == (
        tmp_path / "calibration" / "a__b@minimal")
    assert record.default_dir(BOTH) == tmp_path / "calibration" / JUDGE


def test_the_record_sets_each_score_beside_the_models_leaderboard_row():
    """Each column both the leaderboard and the judge have: the published value, the score
    × 100 to one decimal, their difference; a column either lacks is left out (BoolQ is not
    published; llama's HellaSwag not scored); the mean shift over the models that have it."""
    scores = {
        "gemma_11_7b_instruct": {
            "mixeval": {"overall": 0.7034, "TriviaQA": 0.6512, "MMLU": 0.669, "DROP": 0.8, "HellaSwag": 0.6666,
                        "CommonsenseQA": 0.7, "BoolQ": 0.9},
            "mixeval_hard": {"overall": 0.4, "TriviaQA": 0.3, "MMLU": 0.39, "DROP": 0.551}},
        "llama_3_8b_instruct": {
            "mixeval": {"overall": 0.754, "TriviaQA": 0.72, "MMLU": 0.7, "DROP": 0.864, "CommonsenseQA": 0.7},
            "mixeval_hard": {"overall": 0.45, "TriviaQA": 0.4, "MMLU": 0.41, "DROP": 0.7}},
    }
    judges = {SplitKind.FREE_FORM: "a", SplitKind.MULTIPLE_CHOICE: "b"}
    made = record.build(judges, scores, "2026-11-02T10:00:00+00:00", {SplitKind.FREE_FORM: "low"})
    assert made == {
        "judge": "a (free-form) + b (multiple-choice)",
        "judges": {"free_form": "a", "multiple_choice": "b"},
        "reasoning_effort": {"free_form": "low", "multiple_choice": None},
        "created": "2026-11-02T10:00:00+00:00",
        "benchmark": "mixeval",
        "version": VERSION,
        "leaderboard": SOURCE,
        "leaderboard_judge": "gpt-3.5-turbo-0125",
        "models": {
            "gemma_11_7b_instruct": {
                "MixEval": {"leaderboard": 69.6, "judge": 70.3, "delta": 0.7},
                "TriviaQA": {"leaderboard": 64.3, "judge": 65.1, "delta": 0.8},
                "MMLU": {"leaderboard": 66.9, "judge": 66.9, "delta": 0.0},
                "DROP": {"leaderboard": 80.6, "judge": 80.0, "delta": -0.6},
                "HellaSwag": {"leaderboard": 66.3, "judge": 66.7, "delta": 0.4},
                "CommonsenseQA": {"leaderboard": 73.6, "judge": 70.0, "delta": -3.6},
                "MixEval-Hard": {"leaderboard": 39.1, "judge": 40.0, "delta": 0.9},
                "TriviaQA-Hard": {"leaderboard": 30.3, "judge": 30.0, "delta": -0.3},
                "MMLU-Hard": {"leaderboard": 39.0, "judge": 39.0, "delta": 0.0},
                "DROP-Hard": {"leaderboard": 55.1, "judge": 55.1, "delta": 0.0},
            },
            "llama_3_8b_instruct": {
                "MixEval": {"leaderboard": 75.0, "judge": 75.4, "delta": 0.4},
                "TriviaQA": {"leaderboard": 71.7, "judge": 72.0, "delta": 0.3},
                "MMLU": {"leaderboard": 71.9, "judge": 70.0, "delta": -1.9},
                "DROP": {"leaderboard": 86.4, "judge": 86.4, "delta": 0.0},
                "CommonsenseQA": {"leaderboard": 78.3, "judge": 70.0, "delta": -8.3},
                "MixEval-Hard": {"leaderboard": 45.6, "judge": 45.0, "delta": -0.6},
                "TriviaQA-Hard": {"leaderboard": 40.2, "judge": 40.0, "delta": -0.2},
                "MMLU-Hard": {"leaderboard": 40.7, "judge": 41.0, "delta": 0.3},
                "DROP-Hard": {"leaderboard": 67.6, "judge": 70.0, "delta": 2.4},
            },
        },
        "mean_delta": {"MixEval": 0.55, "TriviaQA": 0.55, "MMLU": -0.95, "DROP": -0.3, "HellaSwag": 0.4,
                       "CommonsenseQA": -5.95, "MixEval-Hard": 0.15, "TriviaQA-Hard": -0.25, "MMLU-Hard": 0.15,
                       "DROP-Hard": 1.2},
    }
    assert list(made["mean_delta"]) == list(made["models"]["gemma_11_7b_instruct"])  # in the models' order
    # no efforts known: none recorded
    assert record.build(judges, scores, "x")["reasoning_effort"] == {"free_form": None, "multiple_choice": None}


def test_the_mean_shift_is_rounded_to_two_decimals(monkeypatch):
    """With a third reference model the mean of one-decimal shifts has a third decimal: kept to two."""
    monkeypatch.setattr(record, "REFERENCE_MODELS", {**references.REFERENCE_MODELS,
                                                     "llama_3_70b_instruct": "LLaMA-3-70B-Instruct"})
    leaderboard = {"gemma_11_7b_instruct": (0.697, 0.391), "llama_3_8b_instruct": (0.751, 0.456),
                   "llama_3_70b_instruct": (0.842, 0.559)}  # MixEval +0.1, +0.1, +0.2; MixEval-Hard 0
    scores = {model: {"mixeval": {"overall": ff}, "mixeval_hard": {"overall": hard}}
              for model, (ff, hard) in leaderboard.items()}
    assert record.build(BOTH, scores, "x")["mean_delta"] == {"MixEval": 0.13, "MixEval-Hard": 0.0}


def test_the_table_printed_after_a_calibration():
    """Model and column left-aligned, numbers right-aligned under a dashed rule; one decimal,
    the delta signed; the mean shifts signed to two decimals; no trailing blanks."""
    made = {
        "judge": "judge-x", "leaderboard_judge": "lb-judge",
        "models": {"gemma_11_7b_instruct": {"MixEval": {"leaderboard": 69.6, "judge": 70.3, "delta": 0.7},
                                            "MMLU-Hard": {"leaderboard": 39.0, "judge": 35.2, "delta": -3.8}},
                   "llama_3_8b_instruct": {"MixEval": {"leaderboard": 75.0, "judge": 75.4, "delta": 0.4}}},
        "mean_delta": {"MixEval": 0.55, "MMLU-Hard": -3.8},
    }
    assert record.format_table(made).split("\n") == [
        "model                 column     leaderboard (lb-judge)  judge-x  delta",
        "--------------------  ---------  ----------------------  -------  -----",
        "gemma_11_7b_instruct  MixEval                      69.6     70.3   +0.7",
        "gemma_11_7b_instruct  MMLU-Hard                    39.0     35.2   -3.8",
        "llama_3_8b_instruct   MixEval                      75.0     75.4   +0.4",
        "mean shift            MixEval                                     +0.55",
        "mean shift            MMLU-Hard                                   -3.80",
    ]
    del made["leaderboard_judge"]  # a record without it: the leaderboard's judge
    assert record.format_table(made).split("\n")[0] == (
        "model                 column     leaderboard (gpt-3.5-turbo-0125)  judge-x  delta")


def write_calibration(path: Path, judge: str = JUDGE, **fields) -> Path:
    """A calibration.json of ``judge`` on both splits, with ``fields`` added or replaced."""
    made = {"judge": judge, "judges": {"free_form": judge, "multiple_choice": judge},
            "created": "2026-11-02T10:00:00+00:00", "mean_delta": {"MixEval": 1, "MixEval-Hard": -1.25}, **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(made), encoding="utf-8")
    return path


def test_a_calibration_is_read_back_as_written(tmp_path):
    """What the report uses of a calibration.json: its path, judges, date and mean shifts,
    and the reasoning effort of each split where it says one."""
    path = write_calibration(tmp_path / "c.json", "gpt-5-mini",
                             reasoning_effort={"free_form": "high", "multiple_choice": None})
    loaded = record.load(str(path))
    both = {"free_form": "gpt-5-mini", "multiple_choice": "gpt-5-mini"}
    assert loaded == record.Calibration(path, "gpt-5-mini", both,
                                        "2026-11-02T10:00:00+00:00", {"MixEval": 1.0, "MixEval-Hard": -1.25},
                                        {"free_form": "high", "multiple_choice": None})
    assert loaded.date == "2026-11-02"
    assert record.load(write_calibration(tmp_path / "old.json")).efforts == {}  # before efforts were recorded
    assert record.load(write_calibration(tmp_path / "none.json", reasoning_effort=None)).efforts == {}


def test_a_calibration_that_cannot_be_read_says_which_file_why_and_what_to_do(tmp_path):
    bad = tmp_path / "calibration.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(MixEvalError) as caught:
        record.load(bad)
    assert str(caught.value) == (f"{bad}: not a readable calibration.json (KeyError: 'judges'); run python -m "
                                 "mix_eval.calibrate again to write it")


def test_a_calibration_matches_the_same_judges_at_the_same_effort():
    """Same judge on each split (a Hub id's / as _), and no effort asked that differs from
    one the calibration recorded."""
    made = record.Calibration(Path("c.json"), "org_judge", {"free_form": "org_judge", "multiple_choice": "org_judge"},
                              "2026-11-02T10:00:00+00:00", {}, {"free_form": "high", "multiple_choice": None})
    local = {SplitKind.FREE_FORM: "org/judge", SplitKind.MULTIPLE_CHOICE: "org/judge"}
    assert made.matches(local)
    assert made.matches(local, {SplitKind.FREE_FORM: "high", SplitKind.MULTIPLE_CHOICE: "low"})
    assert made.matches(local, {SplitKind.FREE_FORM: None})
    assert not made.matches(local, {SplitKind.FREE_FORM: "low"})
    assert not made.matches({SplitKind.FREE_FORM: "org/judge", SplitKind.MULTIPLE_CHOICE: "other"})
    assert not made.matches({SplitKind.FREE_FORM: "other", SplitKind.MULTIPLE_CHOICE: "org/judge"},
                            {SplitKind.FREE_FORM: "high"})


def test_the_calibration_found_for_a_run(tmp_path, monkeypatch):
    """A file given that measured these judges at these efforts; else the judges' folder in
    the cache (no effort, then each effort asked); else none."""
    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path / "cache"))
    high = {SplitKind.FREE_FORM: "high", SplitKind.MULTIPLE_CHOICE: "high"}
    low = {SplitKind.FREE_FORM: "low", SplitKind.MULTIPLE_CHOICE: "low"}
    given = write_calibration(tmp_path / "given.json", reasoning_effort={"free_form": "high"})
    assert record.find(BOTH, given) == record.load(given)
    assert record.find(BOTH, given, high) == record.load(given)
    assert record.find(BOTH, given, low) is None  # measured at another effort; the cache has none
    assert record.find({kind: "other" for kind in SplitKind}, given) is None
    assert record.find(BOTH) is None
    plain = write_calibration(tmp_path / "cache" / "calibration" / JUDGE / "calibration.json",
                              reasoning_effort={"free_form": "high", "multiple_choice": "high"})
    assert record.find(BOTH, given, low) is None
    assert record.find(BOTH, None, high) == record.load(plain)
    at_low = write_calibration(tmp_path / "cache" / "calibration" / f"{JUDGE}@low" / "calibration.json",
                               reasoning_effort={"free_form": "low", "multiple_choice": "low"})
    assert record.find(BOTH, given, low) == record.load(at_low)
    assert record.find(BOTH, plain, low) == record.load(at_low)  # given at another effort: the cache's at this one


# ---------------------------------------------------------------- a calibration, in process (scoring faked)

UNSET = object()  # an argument the caller did not pass


def test_the_calibration_folder_is_the_one_given_else_the_judges_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path / "cache"))
    judge = JudgeSettings(freeform_judge="gpt-5-mini", multichoice_judge="org/judge", judge_reasoning_effort="high")
    assert calibration_run.output_dir(CalibrationSettings(judge)) == (
        tmp_path / "cache" / "calibration" / "gpt-5-mini__org_judge@high")
    assert calibration_run.output_dir(CalibrationSettings(judge, output_dir="here")) == Path("here")


def few_reference_lines(output_dir, model):
    """`write_reference_responses` cut short: the model's folder with the first three lines of
    the reference's gemma files, each response marked with the model's name."""
    vdir = Path(output_dir) / model / "mixeval" / VERSION
    vdir.mkdir(parents=True, exist_ok=True)
    for split in references.reference_splits():
        with open(REF_RESPONSES / "mixeval" / VERSION / f"gemma_11_7b_instruct_{split.name}.jsonl",
                  encoding="utf-8") as f:
            lines = [json.loads(f.readline()) for _ in range(3)]
        text = "".join(json.dumps({**line, "response": f"{model}: {line['response']}"}) + "\n" for line in lines)
        (vdir / f"{model}_{split.name}.jsonl").write_text(text, encoding="utf-8")
    return vdir


def test_a_calibration_judges_the_reference_responses_and_writes_calibration_json(tmp_path, monkeypatch):
    """The judge is checked first; both models' reference folders are written and read for
    the cost estimate, printed before scoring; the reference folder is scored as
    compute_metrics would (the package's data, both models, progress shown); the scores and
    the first model's reasoning efforts make calibration.json, dated now in UTC, then the
    table and where it was saved are printed."""
    checked, written, estimated, scored = [], [], [], []
    real_estimate = cost.estimate
    monkeypatch.setattr(calibration_run, "check_judge_config", checked.append)
    monkeypatch.setattr(calibration_run, "write_reference_responses",
                        lambda output_dir, model: written.append((output_dir, model)) or
                        few_reference_lines(output_dir, model))
    monkeypatch.setattr(cost, "estimate", lambda judge, lines: estimated.append((judge, lines, real_estimate(
        judge, lines))) or estimated[-1][2])
    scores = {"gemma_11_7b_instruct": {"mixeval": {"overall": 0.7, "MMLU": 0.66},
                                       "mixeval_hard": {"overall": 0.4}},
              "llama_3_8b_instruct": {"mixeval": {"overall": 0.75}, "mixeval_hard": {"overall": 0.45}}}

    def fake_score(settings, *, progress=UNSET, echo=UNSET):
        scored.append((settings, progress))
        for model, by_benchmark in scores.items():
            for benchmark, values in by_benchmark.items():
                vdir = Path(settings.model_response_dir) / model / benchmark / VERSION
                vdir.mkdir(parents=True, exist_ok=True)
                (vdir / "score.json").write_text(json.dumps(values), encoding="utf-8")
        first = Path(settings.model_response_dir) / "gemma_11_7b_instruct" / "mixeval" / VERSION
        (first / "judge_report.json").write_text(json.dumps(
            {"free_form": {"reasoning_effort": "low"}, "multiple_choice": {"judge": "b"}}), encoding="utf-8")
        echo("scored")

    monkeypatch.setattr(calibration_run, "score", fake_score)
    root = tmp_path / "out"
    judge = JudgeSettings(freeform_judge="judge-a", multichoice_judge="judge-b", judge_price=(1.0, 2.0))
    settings = CalibrationSettings(judge, output_dir=str(root), verbose=True)
    said: list = []
    made = calibration_run.calibrate(settings, echo=said.append)

    assert checked == [judge]
    assert written == [(root, model) for model in MODELS]
    (estimated_judge, lines, estimates), = estimated
    assert estimated_judge is judge and list(lines) == list(SplitKind)
    for kind, split in zip(SplitKind, references.reference_splits()):
        assert lines[kind] == [read_jsonl(root / model / "mixeval" / VERSION / f"{model}_{split.name}.jsonl")
                               for model in MODELS]
    assert scored == [(ScoringSettings(data=DataSettings("mixeval", VERSION, data_path=str(PACKAGE_DATA)), judge=judge,
                                       model_response_dir=str(root), models_to_eval=MODELS, verbose=True), True)]
    created = made["created"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", created)
    assert abs(datetime.now(timezone.utc) - datetime.fromisoformat(created)) < timedelta(minutes=1)
    efforts = {SplitKind.FREE_FORM: "low", SplitKind.MULTIPLE_CHOICE: None}
    assert made == record.build({SplitKind.FREE_FORM: "judge-a", SplitKind.MULTIPLE_CHOICE: "judge-b"}, scores,
                                created, efforts)
    assert json.loads((root / "calibration.json").read_text(encoding="utf-8")) == made
    label = "judge-a (free-form) + judge-b (multiple-choice)"
    assert [e.judge for e in estimates] == ["judge-a", "judge-b"]
    assert said == [
        f"Calibrating {label} on the reference responses of gemma_11_7b_instruct, llama_3_8b_instruct "
        f"(MixEval {VERSION}) in {root}",
        *describe(estimates),
        "scored",
        f"{label} against the leaderboard (× 100; delta = judge − leaderboard):",
        record.format_table(made),
        f"Saved {root / 'calibration.json'}; the report of a run judged by {label} shows this shift beside its "
        "rank (python -m mix_eval.report), and never adjusts a score.",
    ]


def test_a_judge_that_cannot_run_stops_the_calibration_before_anything_is_written(tmp_path, monkeypatch):
    """No judge key: the judge's check stops it before a file is written or a judge asked."""
    for var in API_SETTINGS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setattr(calibration_run, "score", lambda *args, **kwargs: pytest.fail("scored without a judge"))
    root = tmp_path / "out"
    with pytest.raises(MixEvalError):
        calibration_run.calibrate(CalibrationSettings(JudgeSettings(freeform_judge=JUDGE, multichoice_judge=JUDGE),
                                                      output_dir=str(root)), echo=lambda _: None)
    assert not root.exists()


def test_the_efforts_are_the_first_models_judge_report(tmp_path):
    """Each split's reasoning_effort in the first reference model's judge_report.json;
    None where the file, the split or the effort is missing."""
    none = {SplitKind.FREE_FORM: None, SplitKind.MULTIPLE_CHOICE: None}
    assert calibration_run._efforts(tmp_path) == none
    vdir = tmp_path / "gemma_11_7b_instruct" / "mixeval" / VERSION
    vdir.mkdir(parents=True)
    (vdir / "judge_report.json").write_text(json.dumps({"free_form": None, "multiple_choice": {"x": 1}}))
    assert calibration_run._efforts(tmp_path) == none
    (vdir / "judge_report.json").write_text(json.dumps({"multiple_choice": {"reasoning_effort": "minimal"}}))
    assert calibration_run._efforts(tmp_path) == {SplitKind.FREE_FORM: None, SplitKind.MULTIPLE_CHOICE: "minimal"}


def test_a_score_missing_after_scoring_is_named(tmp_path):
    """A model's score.json missing or broken after scoring: a MixEvalError naming the file,
    the model, the benchmark and the cause."""
    path = tmp_path / "llama_3_8b_instruct" / "mixeval_hard" / VERSION / "score.json"
    with pytest.raises(MixEvalError) as caught:
        calibration_run._scores(tmp_path, "llama_3_8b_instruct", "mixeval_hard")
    assert str(caught.value) == (f"{path}: no score of llama_3_8b_instruct on mixeval_hard after scoring ([Errno 2] "
                                 f"No such file or directory: '{path}'); see the messages above")
    path.parent.mkdir(parents=True)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(MixEvalError, match=r"of llama_3_8b_instruct on mixeval_hard after scoring \(Expecting"):
        calibration_run._scores(tmp_path, "llama_3_8b_instruct", "mixeval_hard")
    path.write_text('{"overall": 0.5}', encoding="utf-8")
    assert calibration_run._scores(tmp_path, "llama_3_8b_instruct", "mixeval_hard") == {"overall": 0.5}


# ---------------------------------------------------------------- how the shipped files were made

PACK_SOURCE = ("the reference suite's responses (MixEval authors' code) of these models to MixEval 2024-06-01; per "
               "file: its line count and the SHA-256 of its bytes")


def pack_into(monkeypatch, packed: Path, manifest: Path) -> None:
    monkeypatch.setattr(references, "PACKED", packed)
    monkeypatch.setattr(references, "MANIFEST", manifest)


def test_packing_the_references_files_makes_the_shipped_files(tmp_path, monkeypatch):
    """`pack` of the reference's gemma folder: the shipped gzip files byte for byte (no
    name, no time, level 9, in a folder it makes), and their entries added to a manifest
    already there, the rest of it kept."""
    shipped = json.loads(references.MANIFEST.read_text(encoding="utf-8"))
    gemma = {name: entry for name, entry in shipped["files"].items() if name.startswith("gemma_")}
    assert len(gemma) == 2
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"source": "kept", "files": {name: entry for name, entry in shipped["files"].items()
                                                                 if name not in gemma}}), encoding="utf-8")
    packed = tmp_path / "new" / "packed"
    originals = {split.name: references.packed_path("gemma_11_7b_instruct", split).read_bytes()
                 for split in references.reference_splits()}
    pack_into(monkeypatch, packed, manifest)
    references.pack(REF_RESPONSES / "mixeval" / VERSION, "gemma_11_7b_instruct")
    for split in references.reference_splits():
        assert (packed / f"gemma_11_7b_instruct_{split.name}.jsonl.gz").read_bytes() == originals[split.name]
    assert sorted(path.name for path in packed.iterdir()) == sorted(f"{name}.gz" for name in gemma)
    assert json.loads(manifest.read_text(encoding="utf-8")) == {"source": "kept", "files": shipped["files"]}


def first_reference_lines(count: int) -> dict[str, list[str]]:
    """The first ``count`` lines of the reference's gemma files, by split name."""
    found = {}
    for split in references.reference_splits():
        with open(REF_RESPONSES / "mixeval" / VERSION / f"gemma_11_7b_instruct_{split.name}.jsonl",
                  encoding="utf-8") as f:
            found[split.name] = [f.readline() for _ in range(count)]
    return found


def test_packing_without_a_manifest_starts_one(tmp_path, monkeypatch):
    """No manifest yet: one is made, saying where the responses came from, with each file's
    line count and the SHA-256 of its bytes; each packed line is the id and the response."""
    source = tmp_path / "source"
    source.mkdir()
    lines = first_reference_lines(3)
    for name, text in lines.items():
        (source / f"gemma_11_7b_instruct_{name}.jsonl").write_text("".join(text), encoding="utf-8")
    packed, manifest = tmp_path / "packed", tmp_path / "packed" / "manifest.json"
    pack_into(monkeypatch, packed, manifest)
    references.pack(source, "gemma_11_7b_instruct")
    assert json.loads(manifest.read_text(encoding="utf-8")) == {"source": PACK_SOURCE, "files": {
        f"gemma_11_7b_instruct_{name}.jsonl": {"lines": 3,
                                               "sha256": hashlib.sha256("".join(text).encode("utf-8")).hexdigest()}
        for name, text in lines.items()}}
    for name, text in lines.items():
        with gzip.open(packed / f"gemma_11_7b_instruct_{name}.jsonl.gz", "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in text]
            assert f.read() == "".join(json.dumps({"id": r["id"], "response": r["response"]}) + "\n" for r in records)


@pytest.mark.parametrize("line, change", [(3, {"extra": 1}), (2, {"id": "no-such-id"}), (1, {"prompt": "other"})])
def test_packing_refuses_a_line_that_is_not_an_item_plus_its_response(tmp_path, monkeypatch, line, change):
    """A line with a field the item has not, an id the benchmark has not, or another question:
    refused, naming the file and the line (counted from 1), and nothing is packed."""
    source = tmp_path / "source"
    source.mkdir()
    lines = first_reference_lines(3)["close_freeform"]
    lines[line - 1] = json.dumps({**json.loads(lines[line - 1]), **change}) + "\n"
    bad = source / "gemma_11_7b_instruct_close_freeform.jsonl"
    bad.write_text("".join(lines), encoding="utf-8")
    pack_into(monkeypatch, tmp_path / "packed", tmp_path / "manifest.json")
    with pytest.raises(MixEvalError) as caught:
        references.pack(source, "gemma_11_7b_instruct")
    assert str(caught.value) == f"{bad}, line {line}: not a benchmark item plus its response"
    assert not (tmp_path / "packed").exists() and not (tmp_path / "manifest.json").exists()
