"""Bad response files given to compute_metrics.

Each breakage is applied to a folder that was already scored once (judged files,
score.json, judge_report.json, journals). A line that cannot be scored must give exactly
one error naming the file, the line and the id, without a traceback, without a single
judge request, and without touching any file of the folder. What scoring can go on with
(repeated lines, items without a response) is a warning with a count.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest

from helpers import (
    DATA,
    FF_JUDGED,
    JUDGE_KEY,
    MP_JUDGED,
    VERSION,
    Fault,
    assert_one_clear_error,
    clean_env,
    cm_args,
    fake_server,
    is_judge_request,
    judge_reply,
    make_responses,
    read_jsonl,
    response_file,
    results_of,
    snapshot,
)
from mix_eval.compute_metrics import main as compute_main

N = 30
MODEL = "my_model"


server = fake_server(scope="module", reply=judge_reply)


@pytest.fixture(scope="module")
def scored(tmp_path_factory, server, data_path) -> Path:
    """A model folder with N responses per split, scored once with the model judge."""
    root = tmp_path_factory.mktemp("scored") / "responses"
    make_responses(root, MODEL, "mixeval_hard", N)
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp, root.parent)
        mp.setenv("MODEL_PARSER_API", JUDGE_KEY)
        assert compute_main(cm_args(root, server, "--data_path", str(data_path))) == 0
    return root


@pytest.fixture
def folder(scored, tmp_path, monkeypatch, server) -> Path:
    """A private copy of the scored folder; the judge key set; the request count reset."""
    root = tmp_path / "responses"
    shutil.copytree(scored, root)
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("MODEL_PARSER_API", JUDGE_KEY)
    server.reset()
    server.reply = judge_reply
    return root


def vdir_of(root: Path) -> Path:
    return root / MODEL / "mixeval_hard" / VERSION


def edit_line(path: Path, index: int, change: Callable[[dict], object]) -> dict:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[index])
    result = change(record)
    lines[index] = (result if isinstance(result, RawLine) else json.dumps(record)) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    return record


def ids_of(path: Path) -> list[str]:
    return [str(r["id"]) for r in read_jsonl(path)]


# ---------------------------------------------------------------- one clear error, nothing written


def _drop(field: str):
    return lambda r: r.pop(field) and None


def _set(field: str, value):
    return lambda r: r.__setitem__(field, value)


class RawLine(str):
    """A change that replaces the whole line with this text."""


def _raw(text: str):
    return lambda r: RawLine(text.replace("ID", str(r["id"])))


BREAKAGES = [
    # (split, line index, change, words of the message; "ID" means the line's id is named)
    pytest.param("ff", 3, _raw('{"id": "ID", "prompt": broken'), ["not valid JSON", "ID"], id="invalid-json"),
    pytest.param("ff", 5, _drop("response"), ["lacks response", "ID"], id="missing-response"),
    pytest.param("ff", 6, _drop("target"), ["lacks target", "ID"], id="missing-target"),
    pytest.param("mp", 7, _drop("options"), ["lacks options", "ID"], id="missing-options"),
    pytest.param("ff", 8, _drop("benchmark_name"), ["lacks benchmark_name", "ID"], id="missing-benchmark-name"),
    pytest.param("mp", 9, _drop("id"), ["lacks id"], id="missing-id"),
    pytest.param("ff", 10, _set("response", None), ["null response", "rerun evaluate", "ID"], id="null-response"),
    pytest.param("mp", 11, _set("response", 42), ["response 42, not text", "ID"], id="number-response"),
    pytest.param("ff", 12, _set("target", "Paris"), ["target", "list of answer texts", "ID"], id="ff-target-text"),
    pytest.param("mp", 13, lambda r: r.__setitem__("target", [len(r["options"]) + 2]), ["outside its", "ID"],
                 id="mp-target-past-options"),
    pytest.param("mp", 14, _set("target", ["B"]), ["one option index", "ID"], id="mp-target-letter"),
    pytest.param("mp", 15, _set("options", "A or B"), ["options", "ID"], id="options-not-a-list"),
    pytest.param("ff", 16, _set("prompt", None), ["prompt null", "ID"], id="null-prompt"),
    pytest.param("ff", 17, _raw('["ID", "a list"]'), ["not an object"], id="not-an-object"),
    pytest.param("ff", 18, _set("id", "999999"), ["no item with this id", "999999", "--version"], id="id-not-in-benchmark"),
    pytest.param("mp", 19, _set("prompt", "A question from another version of the data?"),
                 ["prompt differ", "ID", "other data"], id="question-differs-from-benchmark"),
]


@pytest.mark.parametrize("split, index, change, says", BREAKAGES)
def test_a_bad_line_is_one_error_naming_file_line_and_id(folder, server, capsys, split, index, change, says):
    vdir = vdir_of(folder)
    path = response_file(vdir, MODEL, split)
    record = edit_line(path, index, change)
    before = snapshot(vdir)
    code = compute_main(cm_args(folder, server, "--data_path", str(DATA)))
    err = capsys.readouterr().err
    assert code == 2
    needles = [str(path), f"line {index + 1}"] + [s.replace("ID", repr(str(record.get("id")))) for s in says]
    assert_one_clear_error(err, *needles)
    assert server.count() == 0, "a judge request was made for a file that cannot be scored"
    assert snapshot(vdir) == before, "a failed run changed the model folder"
    assert f"line {index + 1}" in (folder / "error.log").read_text()


def test_an_incomplete_last_line_says_the_run_was_interrupted(folder, server, capsys):
    path = response_file(vdir_of(folder), MODEL, "ff")
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b"\n", 0, len(data) - 1) + 1] + b'{"id": "77", "prompt": "cut he')
    before = snapshot(vdir_of(folder))
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 2
    assert_one_clear_error(capsys.readouterr().err, str(path), f"line {N}", "'77'", "incomplete last line",
                           "rerun evaluate")
    assert snapshot(vdir_of(folder)) == before and server.count() == 0


def test_a_line_that_is_not_utf8_names_its_line(folder, server, capsys):
    path = response_file(vdir_of(folder), MODEL, "mp")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"response": "', b'"response": "\xff\xfe', 1)
    path.write_bytes(b"".join(lines))
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 2
    assert_one_clear_error(capsys.readouterr().err, str(path), "line 5", "not UTF-8")


def test_many_bad_lines_name_the_first_and_count_the_rest(folder, server, capsys):
    path = response_file(vdir_of(folder), MODEL, "ff")
    first = edit_line(path, 2, _set("response", None))
    edit_line(path, 20, _drop("target"))
    edit_line(path, 25, _raw("{oops"))
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 2
    line = assert_one_clear_error(capsys.readouterr().err, str(path), "line 3", repr(first["id"]),
                                  "and 2 more bad line(s)")
    assert "line 21" not in line


def test_an_empty_response_file_is_one_error(folder, server, capsys):
    path = response_file(vdir_of(folder), MODEL, "mp")
    path.write_text("\n\n", encoding="utf-8")
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 2
    assert_one_clear_error(capsys.readouterr().err, str(path), "no responses")


def test_a_bad_file_of_a_second_model_stops_before_the_first_is_judged(folder, server, capsys):
    """Every file is checked before anything is judged: nothing is paid for or rewritten."""
    make_responses(folder, "zz_second", "mixeval_hard", N)
    bad = response_file(folder / "zz_second" / "mixeval_hard" / VERSION, "zz_second", "mp")
    edit_line(bad, 4, _drop("benchmark_name"))
    # the first model needs judging again (its judged files are gone), so a late check would pay
    for name in (FF_JUDGED, MP_JUDGED):
        (vdir_of(folder) / name).unlink()
    for journal in vdir_of(folder).glob(".journal_*"):
        journal.unlink()
    before = snapshot(folder)
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 2
    assert_one_clear_error(capsys.readouterr().err, str(bad), "line 5")
    assert server.count() == 0
    after = snapshot(folder)
    after.pop("error.log")
    assert after == before


# ---------------------------------------------------------------- a failure while judging


def test_a_judge_failure_midway_overwrites_no_judged_file_or_score(folder, server, capsys):
    """Free-form is judged fine, then the judge refuses the key on multiple-choice: the
    free-form judged file, score.json and judge_report.json of the last good run stay."""
    vdir = vdir_of(folder)
    for kind in ("ff", "mp"):  # new answers: both splits need the judge again
        path = response_file(vdir, MODEL, kind)
        for i in (1, 2):
            edit_line(path, i, lambda r: r.__setitem__("response", r["response"] + " (edited)"))

    def refuse_multiple_choice(body):
        if "Options: \n" in body["messages"][-1]["content"][-3000:]:
            return Fault("401")
        return judge_reply(body)

    server.reply = refuse_multiple_choice
    protected = {name: (vdir / name).read_bytes() for name in (FF_JUDGED, MP_JUDGED, "score.json", "judge_report.json")}
    run_score = (folder / "score.json").read_bytes()
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 2
    assert_one_clear_error(capsys.readouterr().err, "MODEL_PARSER_API")
    assert {name: (vdir / name).read_bytes() for name in protected} == protected
    assert (folder / "score.json").read_bytes() == run_score
    # the free-form judgments it paid for are kept: the rerun asks only for multiple-choice
    server.reply = judge_reply
    server.reset()
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 0
    assert len(server.chat_requests()) == 2 and all(is_judge_request(r.body) for r in server.chat_requests())
    assert ids_of(vdir / FF_JUDGED) == ids_of(response_file(vdir, MODEL, "ff"))


# ---------------------------------------------------------------- warnings: scoring goes on


def test_repeated_lines_are_a_warning_with_a_count_and_score_once(folder, server, caplog):
    vdir = vdir_of(folder)
    clean = results_of(folder, MODEL)
    path = response_file(vdir, MODEL, "ff")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    other = json.loads(lines[7])
    other["response"] = "a different answer"
    path.write_text("".join(lines + [lines[3], lines[5], json.dumps(other) + "\n"]), encoding="utf-8")
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 0
    assert f"{path}: 3 repeated line(s) ignored" in caplog.text
    assert "1 of them with another response" in caplog.text
    assert server.count() == 0  # the first line of each id is scored: all judged before
    assert results_of(folder, MODEL) == clean


def test_fewer_lines_than_the_benchmark_is_a_warning_with_a_count(folder, server, caplog):
    vdir = vdir_of(folder)
    path = response_file(vdir, MODEL, "ff")
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:-4]), encoding="utf-8")
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 0
    assert f"{path}: {500 - (N - 4)} of the 500 benchmark items have no response" in caplog.text
    assert "rerun evaluate to complete it" in caplog.text
    assert len(read_jsonl(vdir / FF_JUDGED)) == N - 4
    assert server.count() == 0


def test_a_limit_run_is_named_in_the_warning(folder, server, caplog):
    vdir = vdir_of(folder)
    (vdir / "status_close_freeform_hard.json").write_text(json.dumps(
        {"args": {"limit": N}, "status": {"batch_id": 3, "time_elapsed": 1.0, "status": "complete"}}))
    assert compute_main(cm_args(folder, server, "--data_path", str(DATA))) == 0
    assert f"had --limit {N}" in caplog.text


def test_a_wrong_data_path_is_one_error(folder, server, capsys, tmp_path):
    assert compute_main(cm_args(folder, server, "--data_path", str(tmp_path / "nowhere"))) == 2
    assert_one_clear_error(capsys.readouterr().err, "--data_path", str(tmp_path / "nowhere"))


# ---------------------------------------------------------------- judged files (--compute_score_from_judged_file)


@pytest.mark.parametrize("name, index, change, says", [
    pytest.param(FF_JUDGED, 4, _drop("judge_score"), "lacks judge_score", id="ff-missing-score"),
    pytest.param(FF_JUDGED, 5, _set("judge_score", "high"), "judge_score \"high\"", id="ff-score-text"),
    pytest.param(FF_JUDGED, 6, _set("judge_score", 7), "not a number from 0 to 1", id="ff-score-out-of-range"),
    pytest.param(MP_JUDGED, 7, _drop("judge_option"), "lacks judge_option", id="mp-missing-option"),
    pytest.param(MP_JUDGED, 8, _set("target", ["C"]), "one option index", id="mp-target-letter"),
    pytest.param(MP_JUDGED, 9, _raw("not json at all ID"), "not valid JSON", id="invalid-json"),
])
def test_a_bad_judged_file_line_is_one_error(folder, server, capsys, name, index, change, says):
    vdir = vdir_of(folder)
    record = edit_line(vdir / name, index, change)
    before = snapshot(vdir)
    assert compute_main(cm_args(folder, server, "--compute_score_from_judged_file")) == 2
    line = assert_one_clear_error(capsys.readouterr().err, str(vdir / name), f"line {index + 1}", says)
    if name != MP_JUDGED or index != 9:
        assert repr(str(record["id"])) in line
    assert snapshot(vdir) == before
