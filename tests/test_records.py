"""The one vocabulary (SplitKind), the one JSONL reader and the one record schema."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from mix_eval.data import SPLITS, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.judges.runner import Journal, JudgeReport
from mix_eval.records.jsonl import Mode, cut_torn_tail, first_of_each_id, read_jsonl
from mix_eval.records.schema import (
    item_problem,
    journal_entry_problem,
    judged_line_problem,
    response_line_problem,
)
from mix_eval.splits import SplitKind

FF, MP = SplitKind.FREE_FORM, SplitKind.MULTIPLE_CHOICE

# ---------------------------------------------------------------- SplitKind


def test_split_kind_carries_every_name_of_its_kind():
    assert (FF.problem_type, FF.file_name, FF.tag, FF.label) == ("free-form", "free-form.json", "ff", "free_form")
    assert (MP.problem_type, MP.file_name, MP.tag, MP.label) == (
        "multiple-choice", "multiple-choice.json", "mp", "multiple_choice")
    assert (FF.parser_flag, FF.judge_flag) == ("free_form_parser", "freeform_judge")
    assert (MP.parser_flag, MP.judge_flag) == ("multi_choice_parser", "multichoice_judge")
    assert SplitKind("multiple-choice") is MP and not FF.is_multichoice and MP.is_multichoice


@pytest.mark.parametrize("benchmark, names", [
    ("mixeval", ("close_freeform", "close_multichoice")),
    ("mixeval_hard", ("close_freeform_hard", "close_multichoice_hard")),
])
def test_each_split_carries_its_kind_and_names(benchmark, names):
    ff, mp = splits_for(benchmark)
    assert (ff.kind, mp.kind) == (FF, MP)
    assert (ff.name, mp.name) == names == (FF.split_name(benchmark), MP.split_name(benchmark))
    assert (ff.file_name, mp.file_name) == ("free-form.json", "multiple-choice.json")
    assert (ff.hub_split, mp.hub_split) == ("free_form", "multiple_choice")
    assert all(s.benchmark == benchmark for s in SPLITS[benchmark])


def test_a_judge_report_names_its_split_by_the_judged_file_tag():
    report = JudgeReport(split=MP, judge="j", items=3)
    assert report.as_dict()["split"] == "mp" and list(report.as_dict())[0] == "split"
    json.dumps(report.as_dict())  # judge_report.json holds it as before


# ---------------------------------------------------------------- the JSONL reader


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_strict_mode_is_one_error_naming_file_first_bad_line_id_and_count(tmp_path):
    path = _write(tmp_path / "r.jsonl", '{"id": "1"}\n{"id": "2", broken\n\n[1, 2]\n{"id": "4"}\n')
    with pytest.raises(MixEvalError) as excinfo:
        read_jsonl(path, Mode.STRICT, check=lambda r: None if isinstance(r, dict) else "is not an object")
    message = str(excinfo.value)
    assert message.startswith(f"{path}, line 2 (id '2'): not valid JSON (")
    assert message.endswith("(and 1 more bad line(s) in the file)") and "\n" not in message


def test_strict_mode_names_a_cut_last_line_and_reads_an_unterminated_good_one(tmp_path):
    path = _write(tmp_path / "r.jsonl", '{"id": "1"}\n{"id": "77", "resp')
    with pytest.raises(MixEvalError, match=r"line 2 \(id '77'\): cut off"):
        read_jsonl(path, Mode.STRICT, torn_line="cut off")
    good = _write(tmp_path / "g.jsonl", '{"id": "1"}\n{"id": "2"}')
    assert [line.record["id"] for line in read_jsonl(good, Mode.STRICT).lines] == ["1", "2"]


def test_strict_mode_on_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(MixEvalError, match="cannot be read"):
        read_jsonl(tmp_path / "absent.jsonl", Mode.STRICT)


def test_tolerant_mode_reports_and_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"id": "1"}\n"\xff"\n{"id": "3"}\n{"id": "4", "resp')
    content = read_jsonl(path, Mode.TOLERANT)
    assert [(line.number, line.record["id"]) for line in content.lines] == [(1, "1"), (3, "3")]
    assert [(b.number, b.problem) for b in content.bad] == [(2, "not UTF-8 text")]
    assert content.torn_tail == len('{"id": "4", "resp') and content.line_count == 4
    cut_torn_tail(content)
    assert path.read_bytes().endswith(b'{"id": "3"}\n') and content.torn_tail == 0
    assert read_jsonl(path, Mode.TOLERANT).torn_tail == 0


def test_tolerant_mode_skips_lines_the_check_rejects_and_a_missing_file_is_empty(tmp_path):
    path = _write(tmp_path / "r.jsonl", '{"id": "1"}\n{"no": "id"}\n')
    content = read_jsonl(path, Mode.TOLERANT, check=lambda r: None if "id" in r else "lacks id")
    assert len(content.lines) == 1 and content.bad[0].where() == "line 2" and content.bad[0].problem == "lacks id"
    assert read_jsonl(tmp_path / "absent.jsonl", Mode.TOLERANT).lines == []


def test_a_journal_skips_what_it_cannot_replay_and_cuts_a_torn_last_line(tmp_path, caplog):
    path = _write(tmp_path / "j.jsonl", '{"id": "1", "round": 1, "digest": "d", "outcome": "ok", "reply": "[[1]]"}\n'
                  '{"id": "2"}\n{"id": "3", "round": "x"}\n{"id": "4", "rou')
    journal = Journal(path)
    assert list(journal.entries) == [("1", 1)]
    assert "line 2 (id '2'): skipping an unreadable journal line (lacks round)" in caplog.text
    assert "line 3 (id '3'): skipping an unreadable journal line (has the round \"x\", not a number)" in caplog.text
    assert path.read_bytes().endswith(b'{"id": "3", "round": "x"}\n')
    assert journal_entry_problem({"id": "1", "round": "2"}) is None


def test_first_of_each_id_keeps_file_order(tmp_path):
    path = _write(tmp_path / "r.jsonl", '{"id": "a"}\n{"id": 1}\n{"id": "a"}\n{"id": "1"}\n')
    firsts, repeats = first_of_each_id(read_jsonl(path, Mode.TOLERANT).lines)
    assert [line.number for line in firsts] == [1, 2] and [line.number for line in repeats] == [3, 4]


# ---------------------------------------------------------------- the schema

ITEM = {"problem_type": "multiple-choice", "context": None, "prompt": "Q?", "options": ["x", "y"],
        "target": [1], "benchmark_name": "MMLU"}
LINE = {**ITEM, "id": "7", "formated_input": "Q?", "response": "B"}


def test_valid_records_have_no_problem():
    assert item_problem(ITEM, MP) is None and response_line_problem(LINE, MP) is None
    assert judged_line_problem({**LINE, "judge_option": "B"}, MP, "model") is None
    assert judged_line_problem({"id": "7", "benchmark_name": "X", "eval_result": True}, FF, "rule") is None


@pytest.mark.parametrize("change, says", [
    ({"target": ["B"]}, "has the target [\"B\"]; a multiple-choice target is one option index, like [2]"),
    ({"target": [5]}, "has the target [5], outside its 2 options (indices 0-1)"),
    ({"options": "x or y"}, "has the options \"x or y\", not a list of option texts"),
    ({"prompt": None}, "has the prompt null, not text"),
])
def test_items_and_response_lines_share_one_wording(change, says):
    assert item_problem({**ITEM, **change}, MP) == says
    assert response_line_problem({**LINE, **change}, MP) == says


def test_what_is_not_an_object_or_lacks_fields_is_said_the_same_way_everywhere():
    for problem in (item_problem([1], FF), response_line_problem([1], FF), judged_line_problem([1], FF, "rule")):
        assert problem == "is a list, not an object"
    assert response_line_problem({k: v for k, v in LINE.items() if k != "response"}, MP) == "lacks response"
    assert judged_line_problem(LINE, MP, "model") == "lacks judge_option"
    assert item_problem({k: v for k, v in ITEM.items() if k != "options"}, MP) == "lacks the field(s) options"


def test_judges_do_not_import_scoring_and_scoring_inputs_not_torch():
    code = ("import sys, mix_eval.judges.runner; a = sorted(m for m in sys.modules if m.startswith('mix_eval.scoring'))\n"
            "import mix_eval.scoring.inputs; print(a, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "False"]


# ---------------------------------------------------------------- response and status files (mix_eval.responses)

from mix_eval.errors import ResumeError  # noqa: E402
from mix_eval.responses import (  # noqa: E402
    check_resumable,
    repair_response_file,
    scan_response_file,
    thinking_status,
)


def test_repair_cuts_the_torn_tail_and_keeps_the_first_line_of_each_id(tmp_path):
    """A torn last line goes, and duplicate ids keep their first line, in file order, one JSON line each."""
    path = _write(tmp_path / "r.jsonl", '{"id": "1", "response": "a"}\n{"id": "2", "response": "b"}\n'
                  '{"id": "1", "response": "again"}\n{"id": "3", "resp')
    scan = scan_response_file(path)
    assert (scan.duplicates, scan.content.torn_tail) == (1, len('{"id": "3", "resp'))
    repair_response_file(scan)
    assert path.read_text(encoding="utf-8") == '{"id": "1", "response": "a"}\n{"id": "2", "response": "b"}\n'
    assert scan.duplicates == 0 and scan.content.torn_tail == 0
    torn_only = _write(tmp_path / "t.jsonl", '{"id": "1"}\n{"id": "2"')
    repair_response_file(scan_response_file(torn_only))
    assert torn_only.read_bytes() == b'{"id": "1"}\n'


def test_thinking_status_is_written_when_any_answer_thought_or_was_cut_off():
    """No keys for a model that never thought; the counts, under their names, when one answer did or was cut off."""
    assert thinking_status(5, 0, 0) == {}
    assert thinking_status(5, 1, 0) == {"thinking": {"answers": 5, "with_thinking": 1, "cut_off": 0}}
    assert thinking_status(5, 0, 1) == {"thinking": {"answers": 5, "with_thinking": 0, "cut_off": 1}}
    assert thinking_status(5, 3, 2) == {"thinking": {"answers": 5, "with_thinking": 3, "cut_off": 2}}


def _refusal(status: dict, args: dict, status_file: Path) -> str:
    with pytest.raises(ResumeError) as excinfo:
        check_resumable(status, args, status_file)
    return str(excinfo.value)


def test_resume_is_refused_when_a_result_argument_changed_naming_both_values(tmp_path):
    """Every result-changing argument must match; the refusal names the flag, both values and the folder."""
    status_file = tmp_path / "out" / "status_close_freeform.json"
    old = {"model_name": "m", "dtype": "bfloat16", "model_gen_kwargs": {"temperature": 0}, "backend": "vllm",
           "batch_size": 8}
    check_resumable({"args": old}, {**old, "batch_size": 64, "api_parallel_num": 3}, status_file)
    assert _refusal({"args": old}, {**old, "dtype": "float16"}, status_file) == (
        f"{status_file} was written with --dtype bfloat16, but this run has --dtype float16: responses made with "
        f"both cannot share one file. To resume, rerun with --dtype bfloat16; to start afresh, delete or move "
        f"{status_file.parent} (or pick another --output_dir).")
    # a value absent on one side is "(not given)"; text that a shell would split is quoted
    assert _refusal({"args": old}, {**old, "dtype": None}, status_file).startswith(
        f"{status_file} was written with --dtype bfloat16, but this run has --dtype (not given): ")
    assert _refusal({"args": {**old, "model_systemprompt": "be brief"}}, old, status_file).startswith(
        f"{status_file} was written with --model_systemprompt 'be brief', but this run has --model_systemprompt "
        "(not given): ")


def test_a_status_without_backend_means_hf(tmp_path):
    """A status file written before --backend existed was made by hf: it resumes under hf, not under vllm."""
    status_file = tmp_path / "status.json"
    check_resumable({"args": {"model_name": "m"}}, {"model_name": "m", "backend": "hf"}, status_file)
    check_resumable({"args": {"model_name": "m", "backend": "hf"}}, {"model_name": "m"}, status_file)
    assert "was written with --backend hf, but this run has --backend vllm: " in _refusal(
        {"args": {"model_name": "m"}}, {"model_name": "m", "backend": "vllm"}, status_file)
    assert "was written with --backend vllm, but this run has --backend hf: " in _refusal(
        {"args": {"model_name": "m", "backend": "vllm"}}, {"model_name": "m"}, status_file)
    # a status with no args at all (or null ones) holds only the defaults
    check_resumable({"args": None}, {"backend": "hf"}, status_file)
    assert "was written with --model_name (not given), but this run has --model_name m: " in _refusal(
        {}, {"model_name": "m"}, status_file)


def test_model_path_is_compared_as_the_folder_it_names(tmp_path, monkeypatch):
    """--model_path a/./b resumes a/b (the same folder), a/c does not; only model_path is compared so: a
    model name spelled ./m is another name."""
    monkeypatch.chdir(tmp_path)
    status_file = tmp_path / "status.json"
    check_resumable({"args": {"model_path": "ckpt/a"}}, {"model_path": "ckpt/./a"}, status_file)
    check_resumable({"args": {"model_path": "ckpt/a"}}, {"model_path": str(tmp_path / "ckpt" / "a")}, status_file)
    assert "was written with --model_path ckpt/a, but this run has --model_path ckpt/b: " in _refusal(
        {"args": {"model_path": "ckpt/a"}}, {"model_path": "ckpt/b"}, status_file)
    assert "was written with --model_name m, but this run has --model_name ./m: " in _refusal(
        {"args": {"model_name": "m"}}, {"model_name": "./m"}, status_file)
    # a path on one side only is a change, even where the other side's text would name the same folder
    assert "was written with --model_path (not given), but this run has --model_path ./None: " in _refusal(
        {"args": {}}, {"model_path": "./None"}, status_file)


from mix_eval.responses import check_safe_name, read_status, response_line, write_status  # noqa: E402


def test_scan_counts_thinking_and_cut_off_answers_and_keeps_first_lines(tmp_path):
    """Records are the first line of each id (whole, or only its id as text); answers that thought carry
    thinking_cut_off, those cut off carry it true; a repeat counts once as a duplicate."""
    lines = [{"id": 1, "response": "a", "thinking_cut_off": False}, {"id": "2", "response": "b"},
             {"id": "3", "response": "", "thinking_cut_off": True}, {"id": 1, "response": "again"},
             {"id": "4", "response": "c", "thinking_cut_off": "yes"}]
    path = _write(tmp_path / "r.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    scan = scan_response_file(path)
    assert (scan.records, scan.duplicates, scan.thought, scan.cut_off) == (
        [lines[0], lines[1], lines[2], lines[4]], 1, 3, 1)
    assert scan.content.path == path and scan.ids == ["1", "2", "3", "4"]
    ids_only = scan_response_file(path, keep_records=False)
    assert (ids_only.records, ids_only.duplicates, ids_only.thought, ids_only.cut_off) == (
        [{"id": "1"}, {"id": "2"}, {"id": "3"}, {"id": "4"}], 1, 3, 1)


def test_scan_refuses_damage_a_kill_cannot_leave_naming_the_line(tmp_path):
    """A bad line before the last is one error naming the file, the line and what to do; a torn last line is not."""
    path = _write(tmp_path / "r.jsonl", '{"id": "1"}\n{"no_id": 2}\n{"id": "3"}\n')
    with pytest.raises(ResumeError) as excinfo:
        scan_response_file(path)
    assert str(excinfo.value) == (f"{path}, line 2: lacks id. The file was changed by something other than mix_eval; "
                                  "fix or delete that line and rerun.")
    torn = _write(tmp_path / "t.jsonl", '{"id": "1"}\n{"id": "2", "resp')
    assert scan_response_file(torn).ids == ["1"]


def test_response_line_is_one_ascii_json_line():
    """A response line: the record as json.dumps writes it (ASCII, default separators) and a newline."""
    assert response_line({"id": "1", "response": "é"}) == '{"id": "1", "response": "\\u00e9"}\n'


def test_safe_names_refuse_paths_dots_and_separators():
    """A name with a slash, backslash, NUL or colon, or starting with a dot, is refused in words; others kept."""
    for good in ("gemma-7b_it", "XLM.v2", "m", "a..b"):
        assert check_safe_name("--model_name", good) == good
    for bad in ("", ".", "..", ".hidden", "a/b", "a\\b", "a\0b", "c:x"):
        with pytest.raises(MixEvalError) as excinfo:
            check_safe_name("--model_name", bad)
        assert str(excinfo.value) == (f"--model_name {bad!r} cannot be used in a path: use letters, digits, '-', '_' "
                                      "and '.', without slashes and not starting with a dot")


def test_status_files_round_trip_and_bad_ones_are_refused_in_words(tmp_path):
    """write_status writes args and status (extra keys inside status, only when given); read_status reads it
    back, None for none, and refuses what mix_eval did not write, naming the file and what to do."""
    path = tmp_path / "status_close_freeform.json"
    assert read_status(path) is None
    write_status(path, {"model_name": "m", "limit": None}, batch_id=3, time_elapsed=1.5, state="complete")
    assert json.loads(path.read_text()) == {"args": {"model_name": "m", "limit": None},
                                            "status": {"batch_id": 3, "time_elapsed": 1.5, "status": "complete"}}
    assert read_status(path) == json.loads(path.read_text())
    write_status(path, {}, batch_id=0, time_elapsed=0.0, state="in progress", extra={"thinking": {"answers": 1}})
    assert read_status(path) == {"args": {}, "status": {"batch_id": 0, "time_elapsed": 0.0, "status": "in progress",
                                                        "thinking": {"answers": 1}}}
    path.write_text('{"status": {"status": "complete"}}')
    assert read_status(path) == {"status": {"status": "complete"}}  # no args: an old file, still read
    afresh = "delete it to start this split afresh"
    for text, says in (
            ('{"args": {}', None),
            ('[1]', "not a status file (no `status` object); delete it to start afresh"),
            ('{"args": {}, "status": "complete"}', "not a status file (no `status` object); delete it to start afresh"),
            ('{"args": [1], "status": {}}',
             "not a status file (its `args` is not an object); delete it to start afresh"),
            ('{"args": {"split": 3, "model_name": ["m"], "dtype": 1}, "status": {}}',
             f"its args.model_name is ['m'], not text (a file mix_eval did not write); {afresh}")):
        path.write_text(text)
        with pytest.raises(ResumeError) as excinfo:
            read_status(path)
        if says is None:
            assert str(excinfo.value).startswith(f"{path}: not valid JSON (") and str(excinfo.value).endswith(
                f"); {afresh}")
        else:
            assert str(excinfo.value) == f"{path}: {says}"
    path.unlink()
    path.mkdir()
    with pytest.raises(ResumeError) as excinfo:
        read_status(path)
    assert str(excinfo.value) == f"{path}: cannot be read (Is a directory); {afresh}"
