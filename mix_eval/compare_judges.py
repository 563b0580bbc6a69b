"""`python -m mix_eval.compare_judges`: two judges of the same responses, side by side.

Usage::

    python -m mix_eval.compare_judges --benchmark mixeval_hard --version 2024-06-01 \\
        --judges gpt-3.5-turbo-0125 gpt-4.1-mini [--model_response_dir DIR] [--models_to_eval M ...]

Reads the judged files both judges left in each model folder (no judge is called),
prints each model's scores by both, their difference with a paired bootstrap 95%
interval, how often the judges agree item by item, and the rank correlation of their
orderings of the models; writes ``<DIR>/judge_agreement.json``. The work is
`mix_eval.scoring.agreement.judge_agreement`.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.folders import AGREEMENT_FILE


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.compare_judges",
                         "Compare two judges' judged files of the same responses (no judge call): scores, "
                         f"item agreement, rank correlation; writes {AGREEMENT_FILE}.")
    flags.add_compare_judges_flags(p)
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return run_command(lambda: _compare(ns), verbose=ns.verbose, log_dir=ns.model_response_dir,
                       saved="Nothing was lost", context=f"compare_judges {ns.judges[0]} {ns.judges[1]}")


def _compare(ns: argparse.Namespace) -> None:
    from mix_eval.scoring.agreement import format_agreement, judge_agreement, write_judge_agreement

    agreement = judge_agreement(ns.model_response_dir, ns.benchmark, ns.version, ns.judges, ns.models_to_eval)
    path = write_judge_agreement(ns.model_response_dir, agreement)
    print(format_agreement(agreement))
    print(f"Written: {path}")


if __name__ == "__main__":
    run_process(main)
