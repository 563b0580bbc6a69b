"""Each file name of the output folders is spelled in one module, `mix_eval.folders`
(issue 19, point 1). The names are pinned here, as earlier runs and the reference wrote
them; any other module of the package that spells one in its code (a string, the text of
an f-string, a message or help text; docstrings aside) fails `test_no_other_module_spells_a_folder_file_name`.
Read from the source with `ast`, so the check needs no run."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import REPO

from mix_eval import folders
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

PACKAGE = REPO / "mix_eval"

# name -> the constant of `mix_eval.folders` that spells it
NAMES = {
    "score.json": folders.SCORE_FILE,
    "score_intervals.json": folders.INTERVALS_FILE,
    "judge_report.json": folders.JUDGE_REPORT_FILE,
    "run_manifest.json": folders.MANIFEST_FILE,
    "derived_from.json": folders.DERIVED_FROM_FILE,
    ".mix_eval.lock": folders.LOCK_FILE,
    "report.html": folders.REPORT_HTML_FILE,
    "report.md": folders.REPORT_MARKDOWN_FILE,
    "samples.html": folders.SAMPLES_FILE,
    "judge_agreement.json": folders.AGREEMENT_FILE,
    "error.log": folders.ERROR_LOG,
    "calibration.json": folders.CALIBRATION_FILE,
}
# the parts that the names made from a split, a judge or a judged file begin with
PREFIXES = ("judge_results_", ".journal_", ".batch_journal_", "status_")
# a status file's prefix, not the attribute an HTTP error carries
_SPELLED = re.compile("|".join(re.escape(n) for n in NAMES) + "|" + "|".join(
    re.escape(p) + ("(?!code)" if p == "status_" else "") for p in PREFIXES))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def spelled_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every folder file name in the strings of ``source``'s code, docstrings aside."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            found += [(node.lineno, m.group(0)) for m in _SPELLED.finditer(node.value)]
    return sorted(found)


def test_the_names_are_the_reference_s():
    for name, constant in NAMES.items():
        assert constant == name
    vdir = Path("out/m/mixeval/2024-06-01")
    assert folders.model_version_dir("out", "m", "mixeval", "2024-06-01") == vdir
    assert folders.response_path(vdir, "m", "close_freeform").name == "m_close_freeform.jsonl"
    assert folders.status_path(vdir, "close_multichoice_hard").name == "status_close_multichoice_hard.json"
    assert folders.is_status_file("status_close_freeform.json") and not folders.is_status_file("score.json")
    rule = JudgeSettings(free_form_parser="rule", multi_choice_parser="rule")
    assert folders.judged_file_name(rule, SplitKind.FREE_FORM) == "judge_results_ff_rule.jsonl"
    local = JudgeSettings(judge_model_id="org/judge-7b")
    assert folders.judged_file_name(local, SplitKind.MULTIPLE_CHOICE) == "judge_results_mp_model_judge_org_judge-7b.jsonl"
    judged = vdir / folders.judged_file_name(JudgeSettings(), SplitKind.FREE_FORM)
    assert judged.name == "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl"
    assert folders.journal_path(judged).name == ".journal_judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl"
    assert folders.batch_journal_path(Path("out"), "org/j").name == ".batch_journal_org_j.jsonl"
    assert folders.lock_path(vdir).name == ".mix_eval.lock"


def test_a_judged_file_name_reads_back():
    for settings in (JudgeSettings(), JudgeSettings(judge_model_id="org/judge_x"),
                     JudgeSettings(free_form_parser="rule", multi_choice_parser="rule")):
        for kind in SplitKind:
            parsed = folders.parse_judged_file_name(folders.judged_file_name(settings, kind))
            assert parsed is not None and parsed.kind is kind and parsed.parser == settings.parser(kind)
            if parsed.parser == "model":
                assert parsed.judge == folders.judge_in_file_name(settings.judge(kind))
    for other in ("score.json", "judge_results_xx_rule.jsonl", "judge_results_ff_rule.json", ".journal_x.jsonl"):
        assert folders.parse_judged_file_name(other) is None


def test_judged_files_lists_only_judged_files(tmp_path):
    for name in ("judge_results_mp_rule.jsonl", "judge_results_ff_model_judge_j.jsonl", "judge_results_zz.jsonl",
                 ".journal_judge_results_ff_model_judge_j.jsonl", "score.json"):
        (tmp_path / name).write_text("")
    (tmp_path / "judge_results_ff_rule.jsonl").mkdir()  # not a file
    assert [(p.name, n.kind, n.parser, n.judge) for p, n in folders.judged_files(tmp_path)] == [
        ("judge_results_ff_model_judge_j.jsonl", SplitKind.FREE_FORM, "model", "j"),
        ("judge_results_mp_rule.jsonl", SplitKind.MULTIPLE_CHOICE, "rule", None)]


def test_json_files_are_written_as_before(tmp_path):
    # score.json, score_intervals.json and derived_from.json end with a newline (the reference's
    # score.json does); the others do not
    assert folders.write_json(tmp_path / "score.json", {"overall": 0.5}).read_text() == '{\n    "overall": 0.5\n}\n'
    assert folders.write_json(tmp_path / "judge_report.json", {"a": 1}).read_text() == '{\n    "a": 1\n}'
    assert folders.read_json_object(tmp_path / "judge_report.json") == {"a": 1}
    (tmp_path / "run_manifest.json").write_text("[1]")
    (tmp_path / "bad.json").write_bytes(b"\xff")
    for tolerated in ("run_manifest.json", "bad.json", "absent.json"):
        assert folders.read_json_object(tmp_path / tolerated) == {}
    assert folders.derived_from(tmp_path) is None
    (tmp_path / "derived_from.json").write_text("not json")
    assert folders.derived_from(tmp_path) == {}


@pytest.mark.parametrize("module", sorted(p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py")
                                          if p != PACKAGE / "folders.py"))
def test_no_other_module_spells_a_folder_file_name(module):
    found = spelled_names((REPO / module).read_text(encoding="utf-8"))
    assert not found, (f"{module} spells {', '.join(f'{name!r} (line {line})' for line, name in found)}: "
                       "import the name or the path from mix_eval.folders")


def test_the_check_catches_a_name_in_code_and_not_in_a_docstring():
    source = '''"""Writes score.json and judge_report.json."""
def f(vdir, e):
    """The .mix_eval.lock of vdir."""
    a = vdir / "score.json"
    b = f"{vdir}/.journal_{e}.jsonl"
    c = "no run_manifest.json written"
    d = path.name.startswith("status_")
    return e.status_code, "status_code", "scores.json", "the report"
'''
    assert spelled_names(source) == [(4, "score.json"), (5, ".journal_"), (6, "run_manifest.json"), (7, "status_")]
    assert spelled_names('x = "judge_results_*.jsonl"') == [(1, "judge_results_")]
    assert spelled_names((PACKAGE / "folders.py").read_text(encoding="utf-8"))  # where they are spelled
