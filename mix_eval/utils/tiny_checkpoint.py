"""`python -m mix_eval.utils.tiny_checkpoint OUT_DIR`: build a tiny random Llama-style
checkpoint (`mix_eval.models.tiny`) for trying the suite without a GPU."""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from mix_eval.cli.flags import new_parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mix_eval.models.tiny import CHAT_TEMPLATE, build_tiny_checkpoint

    p = new_parser("python -m mix_eval.utils.tiny_checkpoint", "Build a tiny random Llama-style checkpoint, for "
                   "trying the suite without a GPU.")
    p.add_argument("out_dir", help="folder to write the checkpoint to")
    p.add_argument("--no_chat_template", action="store_true", help="a base model: no chat template")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    path = build_tiny_checkpoint(a.out_dir, seed=a.seed, chat_template=None if a.no_chat_template else CHAT_TEMPLATE)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
