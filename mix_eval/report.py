"""`python -m mix_eval.report`: where each scored model stands against the leaderboard.

Usage::

    python -m mix_eval.report [--model_response_dir DIR] [--models_to_eval M ...] \\
        [--benchmark {mixeval,mixeval_hard}] [--version V]

Reads every ``<dir>/<model>/<benchmark>/<version>/score.json`` the flags select (and
the files beside it) and writes ``<dir>/report.html`` (one self-contained page) and
``<dir>/report.md``. `evaluate` and `compute_metrics` write the same report after
scoring. The work is `mix_eval.reporting.write_report`.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.folders import REPORT_HTML_FILE, REPORT_MARKDOWN_FILE


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.report",
                         f"Write {REPORT_HTML_FILE} and {REPORT_MARKDOWN_FILE}: each scored model against the "
                         "published leaderboard.")
    flags.add_report_flags(p)
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return run_command(lambda: _report(ns), verbose=ns.verbose, log_dir=ns.model_response_dir,
                       saved="Nothing was lost", context="report")


def _report(ns: argparse.Namespace) -> None:
    from mix_eval.reporting import write_report

    files = write_report(flags.report_settings(ns))
    print(f"Report of {files.runs} scored folder(s): {files.html} (and {files.markdown.name} beside it); "
          f"every answer and verdict: {files.samples}")


if __name__ == "__main__":
    run_process(main)
