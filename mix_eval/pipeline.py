"""A whole run: generate a model's responses (resumable), then score them.

The only module that knows both halves: generation (`mix_eval.generation`) and
scoring (`mix_eval.scoring.run`). `python -m mix_eval.evaluate` is a shell over
`evaluate`; from Python::

    from mix_eval.pipeline import evaluate
    from mix_eval.settings import DataSettings, GenerationSettings, ModelSettings, RunSettings

    evaluate(RunSettings(
        model=ModelSettings("local_chat", model_path="my-checkpoint",
                            generation=GenerationSettings(batch_size=16)),
        data=DataSettings("mixeval_hard", "2024-06-01"),
    ))
"""
from __future__ import annotations

import logging
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mix_eval.data import load_split, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.folders import DERIVED_FROM_FILE, derived_from, folder_lock, model_version_dir
from mix_eval.generation import SplitOutcome, generate_split
from mix_eval.manifest import record_generation
from mix_eval.responses import check_safe_name
from mix_eval.settings import RunSettings
from mix_eval.system.files import FolderBusyError
from mix_eval.thinking import cut_off_advice

logger = logging.getLogger("mix_eval")


@dataclass
class RunResult:
    outcomes: list[SplitOutcome]
    version_dir: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # {name: score.json}, when scored


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


def output_name(settings: RunSettings) -> str:
    """The output folder's name: --output_name, else --model_name; never a path."""
    return check_safe_name("--output_name" if settings.output.output_name else "--model_name", settings.name)


def refuse_derived_folder(version_dir: Path) -> None:
    """A folder derived from a MixEval run (`mix_eval.scoring.derive`) is no place for a run's responses."""
    origin = derived_from(version_dir)
    if origin is None:
        return
    source = origin.get("source") or "its MixEval folder"
    raise MixEvalError(
        f"{version_dir} was derived from the MixEval run {source} (see its {DERIVED_FROM_FILE}); a MixEval-Hard run "
        "would mix its responses into it. Remove the folder or use another --output_dir to run MixEval-Hard "
        "separately"
    )


def generate(settings: RunSettings, *, show_progress: bool = True) -> RunResult:
    """Generate (or resume) both splits of the benchmark for one model."""
    from mix_eval.api.registry import get_model, load_model_modules
    from mix_eval.models.factory import check_backend, check_model_flags

    model_settings, data = settings.model, settings.data
    check_safe_name("--version", data.version)
    load_model_modules(list(model_settings.model_module))
    model_cls = get_model(model_settings.model_name)  # unknown names fail before any work
    check_backend(model_settings.model_name, model_cls, model_settings.backend)
    check_model_flags(model_settings.model_name, model_cls, model_settings)
    name = output_name(settings)
    version_dir = model_version_dir(settings.output.output_dir, name, data.benchmark, data.version)
    refuse_derived_folder(version_dir)
    model_holder: dict[str, Any] = {}

    def load_model() -> Any:
        if "model" not in model_holder:
            logger.info("loading %s", model_settings.model_name)
            started = time.time()
            import torch  # noqa: F401  (seeded below)

            if not settings.verbose:
                from mix_eval.models.base import quiet_transformers

                quiet_transformers()
            set_seed()
            model_holder["model"] = model_cls(model_settings)
            logger.info("loaded %s in %.1f s", model_settings.model_name, time.time() - started)
        return model_holder["model"]

    # Both splits are loaded and checked before anything is generated: bad data must
    # not surface hours into a run.
    splits = [(split, load_split(data.data_path, data.version, split, limit=data.limit))
              for split in splits_for(data.benchmark)]
    flags = settings.flags()
    outcomes = []
    try:
        with folder_lock(version_dir):
            for split, items in splits:
                logger.info("%s: %d items", split.name, len(items))
                outcomes.append(generate_split(
                    load_model, items, split, version_dir, name, {**flags, "split": split.name},
                    settings.generation.batch_size, show_progress=show_progress,
                ))
    except FolderBusyError as e:
        raise MixEvalError(
            f"another mix_eval run (pid {e}) is writing to {version_dir}; two runs on one folder "
            "would mix their lines. Wait for it to finish or stop it, then rerun to resume."
        ) from None
    finally:
        model = model_holder.pop("model", None)
        if model is not None:
            model.close()
    record_generation(version_dir, name, data.benchmark, data.version, data_path=data.data_path,
                      generated=model is not None)
    return RunResult(outcomes, str(version_dir))


def cut_off_lines(outcomes: list[SplitOutcome]) -> list[str]:
    """What generation ends with when answers were cut off while thinking: a line per
    split that has any, then the fix."""
    lines = [f"{o.split}: {o.cut_off} of {o.answers} answers were cut off while thinking (no answer after the "
             "thinking)" for o in outcomes if o.cut_off]
    if lines:
        lines.append(f"To give them room: {cut_off_advice()}.")
    return lines


def evaluate(settings: RunSettings, *, echo: Callable[[str], Any] = print) -> RunResult:
    """Generate, then (unless ``inference_only``) score and write the report: everything
    `python -m mix_eval.evaluate` does."""
    if not settings.output.inference_only:
        from mix_eval.judges.factory import check_judge_config

        check_judge_config(settings.judge)  # fail before spending GPU hours
    result = generate(settings, show_progress=True)
    for o in result.outcomes:
        state = "already complete" if o.skipped else f"{o.generated} generated"
        echo(f"{o.split}: {o.total} responses ({state}); {o.time_elapsed / 60:.2f} min -> {o.response_file}")
    for line in cut_off_lines(result.outcomes):
        echo(line)
    failed = sum(o.failed for o in result.outcomes)
    if failed:
        raise MixEvalError(
            f"{failed} item(s) got no response from the model's API (see the warnings above); everything "
            "else is saved. Rerun the same command to retry just those items."
        )
    if not settings.output.inference_only:
        from mix_eval.reporting import report_after_scoring
        from mix_eval.scoring.run import score

        result.scores = score(settings.scoring(), echo=echo)
        report_after_scoring(settings.output.output_dir, echo=echo)
    return result
