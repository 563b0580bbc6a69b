"""`python -m mix_eval.utils.check_eval_complete`: find unfinished response folders.

Usage (the reference's flags)::

    python -m mix_eval.utils.check_eval_complete --benchmark mixeval --version 2024-06-01 \\
        --chat_models_to_check gemma_11_7b_instruct local_chat --base_models_to_check none \\
        [--model_response_dir DIR] [--out_path FILE]

Appends one line per problem folder (status not complete, or a response count that
differs from the expected size) to ``--out_path``, then a closing line; the same
lines are printed. A run made with ``--limit`` is never complete. Exit status 1
when a folder has a problem.

Below the closing line, one warning per response file whose model's answers were cut off
while thinking ("Warning: <file>: N of M answers cut off while thinking ...", and the fix),
counted from the file. A warning does not change the exit status: those items are
answered (wrongly), and only a new run with a larger budget changes them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from mix_eval.cli.flags import add_data_flags, new_parser
from mix_eval.errors import MixEvalError
from mix_eval.scoring.completeness import (
    CLOSING_LINE,
    append_report,
    check_folders,
    cut_off_lines,
    expected_sizes,
    problem_lines,
)

__all__ = ["CLOSING_LINE", "build_parser", "main"]

_SIZE_FLAGS = (("n_closefreeform", 2000), ("n_closemultichoice", 2000),
               ("n_closefreeform_hard", 500), ("n_closemultichoice_hard", 500))


def build_parser() -> argparse.ArgumentParser:
    p = new_parser("python -m mix_eval.utils.check_eval_complete", "Check that response folders are complete.")
    add_data_flags(p, with_limit=False)
    p.add_argument("--base_models_to_check", nargs="+", required=True,
                   help="Base models to check ('none' for no model).")
    p.add_argument("--chat_models_to_check", nargs="+", required=True,
                   help="Chat and API models to check ('none' for no model).")
    for name, size in _SIZE_FLAGS:
        p.add_argument(f"--{name}", type=int, default=None,
                       help=f"Expected size of the split (default: the data's size when found, else {size}).")
    p.add_argument("--model_response_dir", type=str, default="mix_eval/data/model_responses")
    p.add_argument("--out_path", type=str, default="mix_eval/data/model_responses/eval_checks.log")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check, append the report to --out_path and print it; 1 when a folder has a problem."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="mix_eval: %(message)s")
    try:
        sizes = expected_sizes(args.benchmark, args.version, args.data_path,
                               {name: getattr(args, name) for name, _ in _SIZE_FLAGS})
        checks = check_folders(args.model_response_dir, args.benchmark, args.version,
                               (args.base_models_to_check, args.chat_models_to_check), sizes)
        problems = [c for c in checks if not c.ok]
        lines = problem_lines(problems) + cut_off_lines(checks)
        append_report(args.out_path, lines)
    except MixEvalError as e:
        print(f"mix_eval: Error: {e}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
