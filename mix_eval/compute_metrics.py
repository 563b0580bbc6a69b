"""`python -m mix_eval.compute_metrics`: score response files.

Usage (the reference's flags)::

    python -m mix_eval.compute_metrics --benchmark mixeval --version 2024-06-01 \\
        [--model_response_dir DIR] [--models_to_eval M ...] \\
        [--free_form_parser {model,rule}] [--multi_choice_parser {model,rule}] \\
        [--freeform_judge J] [--multichoice_judge J] [--judge_model_id HF_ID] \\
        [--api_base_url URL] [--api_parallel_num N] [--extract_base_model_response] \\
        [--compute_score_from_judged_file] [--data_path DIR]

Judgments are journaled as they arrive: a rerun pays for none twice. Response files
are checked first (against the benchmark data): a line that cannot be scored is one
error naming the file, the line and the id. The work is `mix_eval.scoring.run.score`;
then `report.html` and `report.md` are written in the response folder (`mix_eval.reporting`).
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.settings import ScoringSettings


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.compute_metrics", "Score MixEval response files.")
    flags.add_data_flags(p, with_limit=False)
    g = p.add_argument_group("models")
    g.add_argument("--model_response_dir", type=str, default=ScoringSettings.model_response_dir,
                   help="Folder of model folders.")
    g.add_argument("--models_to_eval", nargs="+", default=None,
                   help="Model folders to score (default: every one found).")
    flags.add_judge_flags(p)
    flags.add_backend_flag(p)
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return run_command(lambda: _score(ns), verbose=ns.verbose, log_dir=ns.model_response_dir,
                       saved="Judgments made so far are saved",
                       context=f"compute_metrics, benchmark {ns.benchmark}, version {ns.version}")


def _score(ns: argparse.Namespace) -> object:
    from mix_eval.reporting import report_after_scoring
    from mix_eval.scoring.run import score

    scores = score(flags.scoring_settings(ns))
    report_after_scoring(ns.model_response_dir)
    return scores


if __name__ == "__main__":
    run_process(main)
