"""Calibrating a judge: judge the shipped reference responses with it, as `compute_metrics`
would, and set the scores beside the two models' leaderboard rows.

From Python::

    from mix_eval.calibration.run import calibrate
    from mix_eval.settings import CalibrationSettings, JudgeSettings

    calibrate(CalibrationSettings(JudgeSettings(freeform_judge="gpt-4.1-mini", multichoice_judge="gpt-4.1-mini")))

The output folder is a normal response folder (``<model>/mixeval/2024-06-01/`` with
response and status files, then the judged files, ``score.json`` and the derived
MixEval-Hard folder), scored by `mix_eval.scoring.run.score`: judgments are journaled,
so a rerun makes no judge call. ``calibration.json`` is written last.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from mix_eval.calibration import cost, record
from mix_eval.calibration.references import (
    REFERENCE_BENCHMARK,
    REFERENCE_MODELS,
    REFERENCE_VERSION,
    reference_splits,
    write_reference_responses,
)
from mix_eval.data import BENCHMARKS, PACKAGE_DATA
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    CALIBRATION_FILE,
    JUDGE_REPORT_FILE,
    SCORE_FILE,
    model_version_dir,
    read_json,
    read_json_object,
    response_path,
    write_json,
)
from mix_eval.judges.factory import check_judge_config
from mix_eval.scoring.inputs import read_response_file
from mix_eval.scoring.run import score
from mix_eval.settings import CalibrationSettings, DataSettings, ScoringSettings
from mix_eval.splits import SplitKind

logger = logging.getLogger("mix_eval")


def output_dir(settings: CalibrationSettings) -> Path:
    """``--output_dir``, else the judge's folder in the user's cache."""
    if settings.output_dir:
        return Path(settings.output_dir)
    return record.default_dir({kind: settings.judge.judge(kind) for kind in SplitKind},
                              settings.judge.judge_reasoning_effort)


def calibrate(settings: CalibrationSettings, *, progress: bool = True,
              echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Judge the reference responses, write ``calibration.json`` and return it."""
    judge = settings.judge
    check_judge_config(judge)  # no key, no local judge: stop before writing anything
    root = output_dir(settings)
    judges = {kind: judge.judge(kind) for kind in SplitKind}
    lines: dict[SplitKind, list[list[dict[str, Any]]]] = {kind: [] for kind in SplitKind}
    for model in REFERENCE_MODELS:
        vdir = write_reference_responses(root, model)
        for split in reference_splits():
            lines[split.kind].append(read_response_file(response_path(vdir, model, split.name), split.kind))
    echo(f"Calibrating {record.judge_label(judges)} on the reference responses of {', '.join(REFERENCE_MODELS)} "
         f"(MixEval {REFERENCE_VERSION}) in {root}")
    for line in cost.describe(cost.estimate(judge, lines)):
        echo(line)
    scoring = ScoringSettings(data=DataSettings(REFERENCE_BENCHMARK, REFERENCE_VERSION, data_path=str(PACKAGE_DATA)),
                              judge=judge, model_response_dir=str(root), models_to_eval=tuple(REFERENCE_MODELS),
                              verbose=settings.verbose)
    score(scoring, progress=progress, echo=echo)
    scores = {model: {benchmark: _scores(root, model, benchmark) for benchmark in BENCHMARKS}
              for model in REFERENCE_MODELS}
    made = record.build(judges, scores, datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        _efforts(root))
    path = write_json(root / CALIBRATION_FILE, made)
    echo(f"{record.judge_label(judges)} against the leaderboard (× 100; delta = judge − leaderboard):")
    echo(record.format_table(made))
    echo(f"Saved {path}; the report of a run judged by {record.judge_label(judges)} shows this shift beside its rank "
         "(python -m mix_eval.report), and never adjusts a score.")
    return made


def _efforts(root: Path) -> dict[SplitKind, Optional[str]]:
    """Each split's reasoning effort, as the first reference model's judge_report.json says."""
    path = model_version_dir(root, next(iter(REFERENCE_MODELS)), REFERENCE_BENCHMARK, REFERENCE_VERSION)
    report = read_json_object(path / JUDGE_REPORT_FILE)
    return {kind: (report.get(kind.label) or {}).get("reasoning_effort") for kind in SplitKind}


def _scores(root: Path, model: str, benchmark: str) -> dict[str, float]:
    path = model_version_dir(root, model, benchmark, REFERENCE_VERSION) / SCORE_FILE
    try:
        return read_json(path)
    except (OSError, ValueError) as e:
        raise MixEvalError(f"{path}: no score of {model} on {benchmark} after scoring ({e}); see the messages "
                           "above") from None
