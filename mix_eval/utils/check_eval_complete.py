"""`python -m mix_eval.utils.check_eval_complete`: find unfinished response folders.

Usage (the reference's flags)::

    python -m mix_eval.utils.check_eval_complete --benchmark mixeval --version 2024-06-01 \\
        --chat_models_to_check gemma_11_7b_instruct local_chat --base_models_to_check none \\
        [--model_response_dir DIR] [--out_path FILE]

Appends one line per problem folder (status not complete, or a response count that
differs from the expected size) to ``--out_path``, then a closing line; the same
lines are printed. A run made with ``--limit`` is never complete. Exit status 1
when a folder has a problem.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from mix_eval.data import (
    BENCHMARKS,
    DEFAULT_DATA_PATH,
    Split,
    read_split_file,
    resolve_data_path,
    split_file,
    splits_for,
)
from mix_eval.errors import MixEvalError
from mix_eval.responses import COMPLETE, model_version_dir, response_path, status_path

logger = logging.getLogger(__name__)

CLOSING_LINE = "Above lines are problematic directories. No lines above means all entries are valid. "


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mix_eval.utils.check_eval_complete",
                                description="Check that response folders are complete.")
    p.add_argument("--benchmark", type=str, required=True, choices=list(BENCHMARKS))
    p.add_argument("--version", type=str, required=True)
    p.add_argument("--base_models_to_check", nargs="+", required=True,
                   help="Base models to check ('none' for no model).")
    p.add_argument("--chat_models_to_check", nargs="+", required=True,
                   help="Chat and API models to check ('none' for no model).")
    for name, size in (("n_closefreeform", 2000), ("n_closemultichoice", 2000),
                       ("n_closefreeform_hard", 500), ("n_closemultichoice_hard", 500)):
        p.add_argument(f"--{name}", type=int, default=None,
                       help=f"Expected size of the split (default: the data's size when found, else {size}).")
    p.add_argument("--model_response_dir", type=str, default="mix_eval/data/model_responses")
    p.add_argument("--out_path", type=str, default="mix_eval/data/model_responses/eval_checks.log")
    p.add_argument("--data_path", type=str, default=DEFAULT_DATA_PATH,
                   help="Benchmark data, used for the default expected sizes.")
    return p


@dataclass
class FolderCheck:
    folder: str
    exists: bool
    status_complete: bool = False
    responses_complete: bool = False
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.exists and self.status_complete and self.responses_complete

    def message(self) -> str:
        if not self.exists:
            return f"Directory {self.folder} does not exist."
        return (
            f"Directory {self.folder} has issues. Please check the log file inside. "
            f"The check result: [Status complete: {self.status_complete}], "
            f"[Responses file complete: {self.responses_complete}], "
            f"[No error in log file: True].{self.note}"
        )


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def check_folder(folder: str, model_name: str, split: Split, expected: int) -> FolderCheck:
    """Check one model's folder for one split."""
    if not os.path.isdir(folder):
        return FolderCheck(folder, exists=False)
    result = FolderCheck(folder, exists=True)
    folder_path = Path(folder)
    spath = status_path(folder_path, split.name)
    if spath.exists():
        try:
            with open(spath, encoding="utf-8") as f:
                status = json.load(f)
            result.status_complete = status["status"]["status"] == COMPLETE
            limit = (status.get("args") or {}).get("limit")
            if limit:
                result.status_complete = False
                result.note = f" (made with --limit {limit}: a smoke run, not a full evaluation)"
        except (OSError, ValueError, KeyError, TypeError):
            result.note = f" ({spath.name} is unreadable)"
    rpath = response_path(folder_path, model_name, split.name)
    if rpath.exists():
        n = _count_lines(rpath)
        result.responses_complete = n == expected
        if n != expected and not result.note:
            result.note = f" ({n} responses, {expected} expected)"
    return result


def expected_sizes(args: argparse.Namespace) -> dict[str, int]:
    """Sizes from the flags, else from the benchmark data, else the reference defaults."""
    sizes = {}
    for split in splits_for(args.benchmark):
        flag = getattr(args, size_flag(split), None)
        if flag is not None:
            sizes[split.name] = flag
            continue
        local = split_file(resolve_data_path(args.data_path, args.version), args.version, split)
        try:
            sizes[split.name] = len(read_split_file(local, split)) if local.is_file() else split.default_size
        except MixEvalError:
            sizes[split.name] = split.default_size
    return sizes


def size_flag(split: Split) -> str:
    """The flag (dest) of a split's expected size: close_freeform_hard -> n_closefreeform_hard."""
    return "n_" + split.name.replace("close_", "close", 1)


def check_results(args: argparse.Namespace) -> list[FolderCheck]:
    """Check every listed model; write problems and the closing line to --out_path."""
    groups = [
        [m for m in models if m.lower() != "none"]
        for models in (args.base_models_to_check, args.chat_models_to_check)
    ]
    sizes = expected_sizes(args)
    problems: list[FolderCheck] = []
    for models in groups:  # base models first, then chat models, as the reference
        for split in splits_for(args.benchmark):
            for model in models:
                folder = str(model_version_dir(args.model_response_dir, model, args.benchmark, args.version))
                check = check_folder(folder, model, split, sizes[split.name])
                if not check.ok:
                    problems.append(check)
    lines = [c.message() for c in problems] + [CLOSING_LINE]
    out_dir = os.path.dirname(args.out_path)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    with open(args.out_path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    for line in lines:
        print(line)
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="mix_eval: %(message)s")
    try:
        problems = check_results(args)
    except MixEvalError as e:
        print(f"mix_eval: Error: {e}", file=sys.stderr)
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
