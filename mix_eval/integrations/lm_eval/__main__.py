"""`python -m mix_eval.integrations.lm_eval --path`: the folder of mix_eval's lm-evaluation-harness
tasks, for lm-eval's ``--include_path``::

    lm-eval run --model local-chat-completions --model_args model=M,base_url=URL/chat/completions \\
        --apply_chat_template --tasks mixeval_hard --log_samples --output_path lm_eval_out \\
        --include_path "$(python -m mix_eval.integrations.lm_eval --path)"

The installed lm-eval is checked first: missing, or outside the tested range, is one line
naming the pip install.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.integrations.lm_eval",
                         "MixEval's lm-evaluation-harness tasks (mixeval, mixeval_hard): print their folder "
                         "for lm-eval's --include_path.")
    p.add_argument("--path", action="store_true", required=True,
                   help="Print the folder of the task configurations (after checking the installed lm-eval).")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    build_parser().parse_args(argv)
    return run_command(_print_path, log_dir=None, saved="Nothing was written", context="lm_eval --path")


def _print_path() -> None:
    from mix_eval.integrations.lm_eval import include_path

    print(include_path())


if __name__ == "__main__":
    run_process(main)
