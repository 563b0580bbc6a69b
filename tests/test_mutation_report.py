"""The mutation report (tools/README.md, made by tools/mutation.py) covers what it must.

The mutation run itself is not part of the tests (most of an hour); these tests hold its
configuration and its last report to the modules whose logic decides a score, a verdict or
a refusal, and to the goal of 90% of mutants killed in each.
"""
from __future__ import annotations

import configparser
import fnmatch
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"

# The modules that decide a score, a verdict or a refusal: the verdict parsers and judge
# protocol, scoring (aggregation, intervals, agreement, derivation), calibration, the known
# judges and their retirement, the refusal rules of judges and models, the resume checks of
# response files, run_manifest.json's merging, and the bundle's verification.
MUST_BE_MUTATED = [
    "mix_eval/judges/protocol.py",
    "mix_eval/scoring/aggregate.py",
    "mix_eval/scoring/intervals.py",
    "mix_eval/scoring/agreement.py",
    "mix_eval/scoring/derive.py",
    "mix_eval/calibration/cost.py",
    "mix_eval/calibration/record.py",
    "mix_eval/calibration/references.py",
    "mix_eval/calibration/run.py",
    "mix_eval/llm/known_judges.py",
    "mix_eval/judges/retired.py",
    "mix_eval/llm/refusals.py",
    "mix_eval/responses.py",
    "mix_eval/manifest.py",
    "mix_eval/run_bundle.py",
]


def load_tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", TOOLS / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_cfg_mutates_every_module_that_decides_a_score_a_verdict_or_a_refusal():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf-8")
    globs = config.get("mutmut", "only_mutate").split()
    for module in MUST_BE_MUTATED:
        assert (REPO / module).is_file(), module
        assert any(fnmatch.fnmatch(module, g) for g in globs), f"{module} is not in setup.cfg's only_mutate"
    assert load_tool().mutated_modules() == sorted(MUST_BE_MUTATED)


def test_the_report_names_every_module_with_its_figures_and_meets_the_goal():
    readme = (TOOLS / "README.md").read_text(encoding="utf-8")
    report = readme.split("<!-- mutation report: begin -->")[1].split("<!-- mutation report: end -->")[0]
    stored = json.loads((TOOLS / "mutation_report.json").read_text(encoding="utf-8"))
    before = json.loads((TOOLS / "mutation_before.json").read_text(encoding="utf-8"))
    for module in MUST_BE_MUTATED:
        row = next((line for line in report.splitlines() if line.startswith(f"| `{module}` |")), None)
        assert row is not None, f"the report has no row for {module}"
        figures = stored["modules"][module]
        assert figures["mutants"] > 0 and before["modules"][module]["mutants"] > 0
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == str(figures["mutants"]) and cells[-1] == f"{100 * figures['score']:.1f}%"
        assert figures["score"] >= 0.90, f"{module}: {figures['score']:.1%} of its mutants killed, under 90%"
        assert figures["not checked"] == 0, f"{module}: mutants never run"


def test_every_equivalent_mutant_says_why():
    tool = load_tool()
    equivalents = tool.read_equivalents()
    assert all(why for why in equivalents.values())
    stored = json.loads((TOOLS / "mutation_report.json").read_text(encoding="utf-8"))
    assert not set(equivalents) & set(stored["survivors"])


def test_figures_leave_equivalents_out_and_count_timeouts_as_killed(tmp_path):
    tool = load_tool()
    statuses = {"m.x_f__mutmut_1": "killed", "m.x_f__mutmut_2": "timeout", "m.x_f__mutmut_3": "survived",
                "m.x_f__mutmut_4": "survived", "m.x_f__mutmut_5": "no tests"}
    counts = tool.figures({"m.py": statuses}, {"m.x_f__mutmut_4": "same value either way"})["m.py"]
    assert (counts["mutants"], counts["equivalent"], counts["killed"], counts["timeout"]) == (5, 1, 1, 1)
    assert (counts["survived"], counts["no tests"]) == (1, 1)
    assert counts["score"] == 0.5  # 2 of the 4 that could be told apart
    # a mutant listed as equivalent but killed all the same counts as killed
    counts = tool.figures({"m.py": statuses}, {"m.x_f__mutmut_1": "wrongly listed"})["m.py"]
    assert (counts["equivalent"], counts["killed"], counts["score"]) == (0, 1, 0.4)


def test_an_equivalent_without_a_reason_is_refused_naming_its_line(tmp_path, monkeypatch):
    tool = load_tool()
    listed = tmp_path / "equivalent_mutants.txt"
    listed.write_text("# comment\nm.x_f__mutmut_1: same value\nm.x_f__mutmut_2\n", encoding="utf-8")
    monkeypatch.setattr(tool, "EQUIVALENTS", listed)
    with pytest.raises(tool.ToolError, match="line 3"):
        tool.read_equivalents()
