"""`python -m mix_eval.demo`: a whole MixEval run, offline, on embedded defaults.

    python -m mix_eval.demo [--output_dir DIR] [--benchmark B] [--version V] [--limit N]

It needs no key, no GPU and no download: the benchmark shipped inside the package, a
tiny random Llama-style checkpoint the suite builds on first use (and keeps in a
cache folder), and the rule parsers instead of an LLM judge. It is the same code as
``python -m mix_eval.evaluate`` (generation, resumable response files, scoring,
score table), so it proves a machine's set-up in about a minute. The tiny model's
answers are noise: its scores say nothing about any real model.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
from pathlib import Path
from typing import Optional, Sequence

from mix_eval import evaluate
from mix_eval.cli.flags import new_parser, positive_int, run_settings
from mix_eval.cli.process import run_command, run_process, setup_logging
from mix_eval.data import BENCHMARKS, KNOWN_VERSIONS
from mix_eval.folders import SCORE_FILE
from mix_eval.system.cache import cache_dir

logger = logging.getLogger("mix_eval")

DEMO_MODEL_NAME = "local_chat"
# Bump when the checkpoint the demo builds changes, so an old cached one is not reused.
CHECKPOINT_NAME = "tiny-random-chat-v1"
# The files that make a checkpoint usable; a folder without them is rebuilt.
CHECKPOINT_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def is_complete(checkpoint: Path) -> bool:
    return all((checkpoint / f).is_file() for f in CHECKPOINT_FILES)


def demo_checkpoint(cache: Optional[Path] = None) -> Path:
    """The demo's tiny checkpoint, built on first use.

    It is built in a temporary folder beside its final place and renamed into place
    when complete, so a build killed half-way is never mistaken for a checkpoint.
    """
    from mix_eval.models.tiny import build_tiny_checkpoint

    target = (cache or cache_dir()) / CHECKPOINT_NAME
    if is_complete(target):
        return target
    if target.exists():
        logger.warning("rebuilding the incomplete demo checkpoint at %s", target)
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f".{CHECKPOINT_NAME}.tmp-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    logger.info("building the demo's tiny random checkpoint (once) at %s", target)
    build_tiny_checkpoint(building)
    try:
        os.replace(building, target)
    except OSError:  # another demo finished the same build first: use its copy
        shutil.rmtree(building, ignore_errors=True)
        if not is_complete(target):
            raise
    return target


def build_parser() -> argparse.ArgumentParser:
    p = new_parser("python -m mix_eval.demo",
                   "A whole MixEval run offline: packaged data, a tiny random model, rule parsers.")
    p.add_argument("--output_dir", default="mix_eval_demo",
                   help=f"Where responses, judged files and {SCORE_FILE} go (default: ./mix_eval_demo).")
    p.add_argument("--benchmark", default="mixeval_hard", choices=list(BENCHMARKS))
    p.add_argument("--version", default=KNOWN_VERSIONS[-1], choices=list(KNOWN_VERSIONS))
    p.add_argument("--limit", type=positive_int, default=None, help="Only the first N items of each split.")
    p.add_argument("--cache_dir", default=None,
                   help="Where the tiny checkpoint is kept (default: $MIX_EVAL_CACHE or ~/.cache/mix_eval).")
    p.add_argument("--verbose", action="store_true")
    return p


def evaluate_argv(checkpoint: Path, demo: argparse.Namespace) -> list[str]:
    """The `python -m mix_eval.evaluate` flags the demo runs with."""
    argv = [
        "--model_name", DEMO_MODEL_NAME, "--model_path", str(checkpoint),
        "--benchmark", demo.benchmark, "--version", demo.version,
        "--batch_size", "20", "--max_new_tokens", "16",
        "--free_form_parser", "rule", "--multi_choice_parser", "rule",
        "--output_dir", demo.output_dir,
    ]
    if demo.limit:
        argv += ["--limit", str(demo.limit)]
    if demo.verbose:
        argv.append("--verbose")
    return argv


def main(argv: Optional[Sequence[str]] = None) -> int:
    demo = build_parser().parse_args(argv)
    setup_logging(demo.verbose)

    def work() -> None:
        checkpoint = demo_checkpoint(Path(demo.cache_dir).expanduser() if demo.cache_dir else None)
        flags = evaluate_argv(checkpoint, demo)
        logger.info("running: python -m mix_eval.evaluate %s", " ".join(flags))
        from mix_eval.pipeline import evaluate as evaluate_run

        evaluate_run(run_settings(evaluate.build_parser().parse_args(flags)))

    return run_command(work, log_dir=demo.output_dir, context="demo",
                       saved="Everything generated so far is saved")


if __name__ == "__main__":
    run_process(main)
