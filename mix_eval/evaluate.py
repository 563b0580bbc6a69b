"""`python -m mix_eval.evaluate`: generate a model's responses, then score them.

Usage (the reference's flags)::

    python -m mix_eval.evaluate --model_name local_chat --model_path PATH \\
        --benchmark mixeval_hard --version 2024-06-01 --batch_size 20 \\
        [--data_path DIR] [--output_dir DIR] [--inference_only] ...

Beyond the reference: ``--max_new_tokens N``, ``--limit N`` (first N items of each
split, a smoke run), ``--dtype``, ``--output_name``, ``--model_module`` and the
``openai_compatible`` flags. Every long phase resumes: rerun the same command after
any interruption. The work is `mix_eval.pipeline.evaluate`.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.settings import OutputSettings


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.evaluate",
                         "Evaluate a model on MixEval: generate responses (resumable), then score them.")
    flags.add_model_flags(p)
    flags.add_generation_flags(p)
    flags.add_data_flags(p, with_limit=True)
    flags.add_judge_flags(p)
    g = p.add_argument_group("output")
    g.add_argument("--output_dir", type=str, default=OutputSettings.output_dir, help="Where responses are written.")
    g.add_argument("--output_name", type=str, default=OutputSettings.output_name,
                   help="Name of the output folder and files (default: --model_name).")
    g.add_argument("--inference_only", action="store_true", help="Generate responses only; do not score.")
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return run_command(lambda: _evaluate(ns), verbose=ns.verbose, log_dir=ns.output_dir,
                       saved="Everything generated so far is saved",
                       context=f"model {ns.model_name}, benchmark {ns.benchmark}, version {ns.version}")


def _evaluate(ns: argparse.Namespace) -> object:
    from mix_eval.pipeline import evaluate

    return evaluate(flags.run_settings(ns))


if __name__ == "__main__":
    run_process(main)
