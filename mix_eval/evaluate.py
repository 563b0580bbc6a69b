"""`python -m mix_eval.evaluate`: generate a model's responses, then score them.

Usage (the reference's flags)::

    python -m mix_eval.evaluate --model_name local_chat --model_path PATH \\
        --benchmark mixeval_hard --version 2024-06-01 --batch_size 20 \\
        [--data_path DIR] [--output_dir DIR] [--inference_only] ...

Beyond the reference: ``--max_new_tokens N``, ``--limit N`` (first N items of each
split, a smoke run), ``--dtype``. Every long phase resumes: rerun the same command
after any interruption.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from mix_eval.data import BENCHMARKS, DEFAULT_DATA_PATH, load_split, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.generation import SplitOutcome, generate_split
from mix_eval.responses import check_safe_name, model_version_dir
from mix_eval.utils.cli import exit_process, quiet_transformers, run_command, setup_logging
from mix_eval.utils.files import FolderBusyError, exclusive_lock

logger = logging.getLogger("mix_eval")

DEFAULT_OUTPUT_DIR = "mix_eval/data/model_responses"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mix_eval.evaluate",
        description="Evaluate a model on MixEval: generate responses (resumable), then score them.",
    )
    p.add_argument("--model_name", type=str, required=True,
                   help="Model to evaluate (python -m mix_eval.models lists them).")
    p.add_argument("--model_path", type=str, default=None,
                   help="Local checkpoint folder (or Hub id) for local_chat / local_base.")
    p.add_argument("--judge_model_id", type=str, default=None,
                   help="A local Hugging Face model to use as the judge instead of an API.")
    p.add_argument("--model_systemprompt", type=str, default=None,
                   help="System message for local_chat (and other chat models).")
    p.add_argument("--benchmark", type=str, required=True, choices=list(BENCHMARKS),
                   help="Benchmark to evaluate.")
    p.add_argument("--version", type=str, required=True,
                   help="Benchmark version, e.g. 2024-06-01 or 2024-08-11.")
    p.add_argument("--batch_size", type=int, required=True,
                   help="Generation batch size (parallel calls for API models).")
    p.add_argument("--batch_size_judge", type=int, default=1, help="Batch size of a local judge model.")
    p.add_argument("--max_gpu_memory", type=str, default=None,
                   help="Memory per GPU for the weights, e.g. 60GiB (default: 85%% of free memory).")
    p.add_argument("--max_gpu_memory_judge", type=str, default=None,
                   help="Memory per GPU for a local judge's weights.")
    p.add_argument("--api_parallel_num", type=int, default=100,
                   help="Judge API requests in flight at most.")
    p.add_argument("--api_base_url", type=str, default=None,
                   help="Base URL of an OpenAI-compatible judge API.")
    p.add_argument("--data_path", type=str, default=DEFAULT_DATA_PATH,
                   help="Folder holding mixeval-<version>/ (fetched from the Hugging Face Hub when missing).")
    p.add_argument("--output_dir", type=str, default=DEFAULT_OUTPUT_DIR, help="Where responses are written.")
    p.add_argument("--inference_only", action="store_true", help="Generate responses only; do not score.")
    p.add_argument("--verbose", action="store_true", help="Print more.")
    p.add_argument("--free_form_parser", type=str, default="model", choices=["model", "rule"],
                   help="Free-form scoring: an LLM judge (model) or string rules (rule).")
    p.add_argument("--multi_choice_parser", type=str, default="model", choices=["model", "rule"],
                   help="Multiple-choice scoring: an LLM judge (model) or string rules (rule).")
    p.add_argument("--multichoice_judge", type=str, default="gpt-3.5-turbo-0125",
                   help="Judge model for multiple-choice.")
    p.add_argument("--freeform_judge", type=str, default="gpt-3.5-turbo-0125", help="Judge model for free-form.")
    p.add_argument("--extract_base_model_response", action="store_true",
                   help="Cut base models' run-on output before judging.")
    p.add_argument("--compute_score_from_judged_file", action="store_true",
                   help="Score from existing judged files, without calling a judge.")
    # beyond the reference
    p.add_argument("--max_new_tokens", type=positive_int, default=None,
                   help="Override the model's max new tokens (512 chat, 399 base, 1536 API).")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="Only the first N items of each split (smoke runs; reported as incomplete).")
    p.add_argument("--dtype", type=str, default=None, choices=["auto", "float32", "bfloat16", "float16"],
                   help="Weights dtype (default: the model's on GPU, float32 on CPU).")
    p.add_argument("--output_name", type=str, default=None,
                   help="Name of the output folder and files (default: --model_name).")
    p.add_argument("--model_module", type=str, action="append", default=None,
                   help="A Python file or module whose @register_model classes to load (repeatable).")
    p.add_argument("--model_base_url", type=str, default=None,
                   help="openai_compatible: the server's base URL, e.g. http://localhost:8000/v1.")
    p.add_argument("--model_id", type=str, default=None,
                   help="openai_compatible: the model name the server serves.")
    p.add_argument("--model_api_key_env", type=_env_var_name, default=None,
                   help="openai_compatible: the environment variable holding the server's key (if any).")
    p.add_argument("--model_gen_kwargs", type=str, default=None,
                   help='openai_compatible: extra request parameters as JSON, e.g. \'{"temperature": 0}\'.')
    return p


def _env_var_name(text: str) -> str:
    """An environment variable's name; never echo the value (it may be a key given by mistake)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(
            "expected the NAME of an environment variable that holds the key (like MY_SERVER_KEY), "
            "not the key itself"
        )
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


@dataclass
class RunResult:
    outcomes: list[SplitOutcome]
    version_dir: str


def set_seed(seed: int = 42) -> None:
    """The reference seeds every generator with 42 before a run."""
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _status_args(args: argparse.Namespace, split_name: str) -> dict[str, Any]:
    """The `args` of a status file: every flag, plus the split (as the reference)."""
    status_args = dict(vars(args))
    status_args["split"] = split_name
    return status_args


def generate(args: argparse.Namespace, *, show_progress: bool = True) -> RunResult:
    """Generate (or resume) both splits of the benchmark for one model."""
    from mix_eval.api.registry import get_model, load_model_modules

    check_safe_name("--version", args.version)
    load_model_modules(args.model_module or [])
    model_cls = get_model(args.model_name)  # unknown names fail before any work
    name = output_name(args)
    version_dir = model_version_dir(args.output_dir, name, args.benchmark, args.version)
    model_holder: dict[str, Any] = {}

    def load_model() -> Any:
        if "model" not in model_holder:
            logger.info("loading %s", args.model_name)
            started = time.time()
            import torch  # noqa: F401  (seeded below)

            if not args.verbose:
                quiet_transformers()
            set_seed()
            model_holder["model"] = model_cls(args)
            logger.info("loaded %s in %.1f s", args.model_name, time.time() - started)
        return model_holder["model"]

    # Both splits are loaded and checked before anything is generated: bad data must
    # not surface hours into a run.
    splits = [
        (split, load_split(args.data_path, args.version, split, limit=args.limit))
        for split in splits_for(args.benchmark)
    ]
    outcomes = []
    lock = version_dir / ".mix_eval.lock"
    try:
        with exclusive_lock(lock):
            for split, items in splits:
                logger.info("%s: %d items", split.name, len(items))
                outcomes.append(
                    generate_split(
                        load_model, items, split, version_dir, name,
                        _status_args(args, split.name), args.batch_size, show_progress=show_progress,
                    )
                )
    except FolderBusyError as e:
        raise MixEvalError(
            f"another mix_eval run (pid {e}) is writing to {version_dir}; two runs on one folder "
            "would mix their lines. Wait for it to finish or stop it, then rerun to resume."
        ) from None
    finally:
        model = model_holder.pop("model", None)
        if model is not None:
            model.close()
    return RunResult(outcomes, str(version_dir))


def output_name(args: argparse.Namespace) -> str:
    """The output folder's name: --output_name, else --model_name; never a path."""
    if getattr(args, "output_name", None):
        return check_safe_name("--output_name", args.output_name)
    return check_safe_name("--model_name", args.model_name)








def run(args: argparse.Namespace) -> RunResult:
    """Everything `python -m mix_eval.evaluate` does, callable from Python."""
    if not args.inference_only:
        from mix_eval.compute_metrics import check_scoring_config

        check_scoring_config(args)  # fail before spending GPU hours
    result = generate(args, show_progress=True)
    for o in result.outcomes:
        state = "already complete" if o.skipped else f"{o.generated} generated"
        print(f"{o.split}: {o.total} responses ({state}); {o.time_elapsed / 60:.2f} min -> {o.response_file}")
    failed = sum(o.failed for o in result.outcomes)
    if failed:
        raise MixEvalError(
            f"{failed} item(s) got no response from the model's API (see the warnings above); everything "
            "else is saved. Rerun the same command to retry just those items."
        )
    if not args.inference_only:
        from mix_eval.compute_metrics import compute_metrics_p

        compute_metrics_p(args)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return run_command(
        lambda: run(args), log_dir=args.output_dir, saved="Everything generated so far is saved",
        context=f"model {args.model_name}, benchmark {args.benchmark}, version {args.version}",
    )


if __name__ == "__main__":
    exit_process(main())
