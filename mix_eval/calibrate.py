"""`python -m mix_eval.calibrate`: how far a judge moves MixEval's numbers from the leaderboard's.

Usage::

    python -m mix_eval.calibrate --freeform_judge J --multichoice_judge J \\
        [--api_base_url URL] [--judge_mode {live,batch}] [--api_parallel_num N] \\
        [--judge_price INPUT,OUTPUT] [--output_dir DIR]

Judges the reference responses that ship with mix_eval (gemma-1.1-7b-instruct and
llama-3-8b-instruct, MixEval 2024-06-01, 4000 items each) with the judge, derives their
MixEval-Hard, and writes ``<DIR>/calibration.json``: each model's scores beside its
leaderboard row (judged by gpt-3.5-turbo-0125), and the mean shift. The estimated cost
is printed before the first judge call; judgments are journaled (a rerun makes none).
DIR defaults to the judge's folder under the user's cache (``calibration/<judge>``),
where the report looks for it. The work is `mix_eval.calibration.run.calibrate`.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.folders import CALIBRATION_FILE


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.calibrate",
                         "Judge the shipped reference responses with a judge and compare its scores with the "
                         f"leaderboard's ({CALIBRATION_FILE}).")
    flags.add_judge_flags(p, leave_out=flags.SCORING_CHOICE_FLAGS)
    flags.add_backend_flag(p)
    p.add_argument("--output_dir", type=str, default=None,
                   help=f"Folder for the responses, judgments and {CALIBRATION_FILE} (default: the user's cache, "
                        "calibration/<judge>, where the report finds it).")
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return run_command(lambda: _calibrate(ns), verbose=ns.verbose, log_dir=_log_dir(ns),
                       saved="Judgments made so far are saved", context="calibrate")


def _calibrate(ns: argparse.Namespace) -> object:
    from mix_eval.calibration.run import calibrate

    return calibrate(flags.calibration_settings(ns))


def _log_dir(ns: argparse.Namespace) -> str:
    """The output folder, where error.log goes (the calibrations' folder when the flags cannot work)."""
    from mix_eval.calibration.record import root_dir
    from mix_eval.calibration.run import output_dir
    from mix_eval.errors import MixEvalError

    try:
        return str(output_dir(flags.calibration_settings(ns)))
    except MixEvalError:
        return ns.output_dir or str(root_dir())


if __name__ == "__main__":
    run_process(main)
