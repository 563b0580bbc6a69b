"""Mutation testing of the modules that decide a score, a verdict or a refusal.

    python tools/mutation.py                 # mutmut run, then the report
    python tools/mutation.py --recheck       # test again the mutants not killed (after new tests)
    python tools/mutation.py --recheck --only 'mix_eval/scoring/*'   # ... of some modules only
    python tools/mutation.py --report-only   # the report from the last run's results
    python tools/mutation.py --save-before   # keep the current figures as the "before" column
    python tools/mutation.py --report-only --diffs survivors/   # each survivor's change, a file a module

What is mutated, and by which tests, is `setup.cfg`'s ``[mutmut]`` section; mutmut runs each
mutant against only the tests that cover the function it changed. Tests marked ``slow`` (the
whole program in child processes, a real server for minutes) are left out of the run: they
would cover everything at several seconds a mutant, and a rule is proved at its edges by the
fast tests. The report goes into this folder's README, between its two report markers, and
into ``mutation_report.json`` beside this script; mutants judged equivalent (no test can tell
them from the original) are listed in ``equivalent_mutants.txt`` with one line saying why.

Not part of ``.ci/run``; a full run takes about 10 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import configparser
import fnmatch
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
README = TOOLS / "README.md"
REPORT_JSON = TOOLS / "mutation_report.json"
BEFORE_JSON = TOOLS / "mutation_before.json"
EQUIVALENTS = TOOLS / "equivalent_mutants.txt"
MUTANTS = ROOT / "mutants"
BEGIN, END = "<!-- mutation report: begin -->", "<!-- mutation report: end -->"

# mutmut's exit codes of a mutant's test run, as its own table reads them
# (mutmut.stats.status_by_exit_code; spelled here so that the report and its tests need no
# mutmut installed); anything else is "suspicious".
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          35: "suspicious", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "caught by type check", 2: "interrupted", None: "not checked", -11: "segfault", -9: "segfault"}
COLUMNS = ("killed", "timeout", "survived", "no tests", "not checked", "other")
DETECTED = ("killed", "timeout")  # a test noticed the mutant (a timeout: it made a test hang)
GOAL = 0.90


class ToolError(Exception):
    """A problem the user can fix; printed as one line."""


def mutated_modules() -> list[str]:
    """The ``only_mutate`` globs of setup.cfg, expanded to the files they name."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    try:
        globs = [line.strip() for line in config.get("mutmut", "only_mutate").splitlines() if line.strip()]
    except (configparser.NoSectionError, configparser.NoOptionError):
        raise ToolError("setup.cfg has no [mutmut] only_mutate: nothing to mutate") from None
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "mix_eval").rglob("*.py"))
    modules = [f for f in files if any(fnmatch.fnmatch(f, g) for g in globs)]
    return [m for m in modules if "def " in (ROOT / m).read_text(encoding="utf-8")]


def read_equivalents() -> dict[str, str]:
    """``mutant name: why no test can tell it from the original``, one a line."""
    found: dict[str, str] = {}
    if not EQUIVALENTS.exists():
        return found
    for number, line in enumerate(EQUIVALENTS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, why = line.partition(":")
        if not sep or not why.strip():
            raise ToolError(f"{EQUIVALENTS.name} line {number}: write 'mutant name: why it is equivalent'")
        found[name.strip()] = why.strip()
    return found


def results() -> dict[str, dict[str, str]]:
    """Mutant name -> status, per module, from mutmut's files under mutants/."""
    by_module: dict[str, dict[str, str]] = {}
    for module in mutated_modules():
        meta = MUTANTS / (module + ".meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        by_module[module] = {name: STATUS.get(code, "suspicious") for name, code in codes.items()}
    return by_module


def figures(by_module: dict[str, dict[str, str]], equivalents: dict[str, str]) -> dict[str, dict]:
    """Counts per module; the score is killed (timeouts included) over the mutants that are not equivalent."""
    table: dict[str, dict] = {}
    for module, statuses in by_module.items():
        counts = dict.fromkeys(COLUMNS, 0)
        equivalent = 0
        for name, status in statuses.items():
            if name in equivalents and status != "killed":
                equivalent += 1
                continue
            counts[status if status in counts else "other"] += 1
        counts["mutants"] = len(statuses)
        counts["equivalent"] = equivalent
        scored = len(statuses) - equivalent
        counts["score"] = round((counts["killed"] + counts["timeout"]) / scored, 4) if scored else 1.0
        table[module] = counts
    return table


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render(report: dict, before: dict, equivalents: dict[str, str], names: set[str]) -> str:
    rows = ["| module | mutants | killed | timed out | survived | no tests | not run | equivalent | killed, before "
            "| killed, after |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for module, c in report["modules"].items():
        then = before.get("modules", {}).get(module, {})
        was = _percent(then.get("score"))
        if then.get("not checked"):  # the first run was stopped before it reached them
            was += f" ({then['not checked']} not run)"
        rows.append(f"| `{module}` | {c['mutants']} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                    f"{c['no tests']} | {c['not checked'] + c['other']} | {c['equivalent']} | {was} | "
                    f"{_percent(c['score'])} |")
    lines = [BEGIN, "",
             f"Run of {report['date']}: mutmut {report['mutmut']}, {report['children']} children on "
             f"{report['cores']} cores, {report['minutes']} min for the full run"
             + (f" and {report['recheck_minutes']} min of rechecks" if report["recheck_minutes"] else "") +
             f" (\"before\": {before.get('date', 'not measured')}). "
             f"Killed = killed or timed out, over the mutants that are not equivalent; goal "
             f"{int(GOAL * 100)}% in each module.", "", *rows, ""]
    survivors = report["survivors"]
    if survivors:
        lines += ["Survivors (each wants a test at an edge, or a line in `equivalent_mutants.txt`):", ""]
        lines += [f"- `{name}` ({status})" for name, status in survivors.items()]
        lines.append("")
    listed = {n: why for n, why in equivalents.items() if n in names}
    if listed:
        lines += ["Equivalent mutants (no test can tell them from the original):", ""]
        lines += [f"- `{name}`: {why}" for name, why in sorted(listed.items())]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_report(by_module: dict[str, dict[str, str]], minutes: float, children: int, recheck: bool) -> dict:
    if not by_module:
        raise ToolError("no mutation results under mutants/: run `python tools/mutation.py` first")
    equivalents = read_equivalents()
    status_of = {name: status for statuses in by_module.values() for name, status in statuses.items()}
    previous = json.loads(REPORT_JSON.read_text(encoding="utf-8")) if REPORT_JSON.exists() else {}
    import mutmut

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "mutmut": getattr(mutmut, "__version__", "?"),
        "children": children,
        "cores": os.cpu_count(),
        # the full run's time is kept through rechecks, which add theirs beside it
        "minutes": round(minutes, 1) if minutes and not recheck else previous.get("minutes", 0),
        "recheck_minutes": (round(previous.get("recheck_minutes", 0) + minutes, 1) if recheck
                            else 0 if minutes else previous.get("recheck_minutes", 0)),
        "modules": figures(by_module, equivalents),
        "survivors": {name: status for name, status in status_of.items()
                      if status not in DETECTED and name not in equivalents},
    }
    before = json.loads(BEFORE_JSON.read_text(encoding="utf-8")) if BEFORE_JSON.exists() else {}
    for name in sorted(equivalents):
        if status_of.get(name, "killed") == "killed":  # its function changed, or a test tells it apart
            print(f"mutation: {EQUIVALENTS.name} lists {name}, which is "
                  f"{'killed' if name in status_of else 'no mutant now'}: take the line out", file=sys.stderr)
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ToolError(f"{README} has lost its report markers {BEGIN} ... {END}: put them back")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(head + render(report, before, equivalents, set(status_of)) + tail, encoding="utf-8")
    REPORT_JSON.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return report


def write_diffs(folder: Path, by_module: dict[str, dict[str, str]], survivors: dict[str, str]) -> None:
    """One file a module: each surviving mutant's name, status and change, to write tests from
    (those not run yet left out)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for module, statuses in by_module.items():
        diffs = [f"# {name} ({survivors[name]})\n{get_diff_for_mutant(name, path=module)}\n"
                 for name in statuses if survivors.get(name, "not checked") != "not checked"]
        if diffs:
            (folder / (module.replace("/", "_") + ".diff")).write_text("\n".join(diffs), encoding="utf-8")
            written += len(diffs)
    print(f"{written} survivors' changes in {folder}")


def run_mutmut(children: int, names: list[str]) -> float:
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.exists():
        raise ToolError("mutmut is not installed here: pip install -e '.[dev]'")
    start = time.monotonic()
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    done = subprocess.run([str(mutmut), "run", "--max-children", str(children), *names], cwd=ROOT, env=env)
    if done.returncode != 0:
        raise ToolError(f"mutmut run ended with exit code {done.returncode} (its output is above)")
    return (time.monotonic() - start) / 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2,
                        help="mutants tested at once (default: the number of cores)")
    parser.add_argument("--recheck", action="store_true",
                        help="test again only the mutants that survived, timed out or were not checked")
    parser.add_argument("--only", action="append", metavar="GLOB",
                        help="with --recheck: only the modules matching (repeatable), e.g. 'mix_eval/scoring/*'")
    parser.add_argument("--report-only", action="store_true", help="write the report from the last results")
    parser.add_argument("--diffs", type=Path, metavar="FOLDER",
                        help="write each surviving mutant's change there, one file a module")
    parser.add_argument("--save-before", action="store_true",
                        help="keep the current figures as the report's 'before' column")
    args = parser.parse_args(argv)
    try:
        minutes = 0.0
        if not args.report_only:
            if args.recheck:
                # the mutants not killed; then any the run itself made anew (a function changed
                # since: mutmut regenerates its mutants when it starts), until none is left untested
                tried: set[str] = set()
                while True:
                    names = [n for module, statuses in results().items() for n, s in statuses.items()
                             if s not in DETECTED and n not in tried
                             and any(fnmatch.fnmatch(module, g) for g in args.only or ["*"])]
                    if not names:
                        break
                    tried.update(names)
                    minutes += run_mutmut(args.max_children, names)
            else:
                minutes = run_mutmut(args.max_children, [])
        by_module = results()
        report = write_report(by_module, minutes, args.max_children, args.recheck)
        if args.save_before:
            BEFORE_JSON.write_text(json.dumps({"date": report["date"], "modules": report["modules"]}, indent=1,
                                              sort_keys=True) + "\n", encoding="utf-8")
        if args.diffs:
            target = args.diffs.resolve()
            os.chdir(ROOT)  # mutmut reads its mutants/ from the working folder
            write_diffs(target, by_module, report["survivors"])
        for module, c in report["modules"].items():
            print(f"{module:40s} {c['mutants']:5d} mutants  {_percent(c['score']):>6s} killed")
    except ToolError as error:
        print(f"mutation: Error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
