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
