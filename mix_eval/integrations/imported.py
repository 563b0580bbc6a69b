"""A run made by another framework (Inspect, lm-evaluation-harness), as this package
needs it to write a response folder of its own (`python -m mix_eval.import_run`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class ImportedRun:
    """What a framework's log holds of a MixEval run.

    ``responses``: per split file stem (``close_freeform_hard``, ``close_multichoice``...),
    the response lines in this package's format: the packaged item's own fields (as
    `mix_eval.data` loads them, ``id`` included) plus ``"response"``, in the packaged order.
    ``judged``: per split, the verdicts the log already holds (Inspect's scorer ran
    MixEval's judge or rule parser), keyed by item id: ``{"judge": name or "rule",
    "verdicts": {id: {"judge_response": text or None, "judge_score": float}}}``; empty when
    the log holds none."""

    framework: str  # "inspect" or "lm_eval"
    framework_version: str
    model: str  # the model as the framework named it
    benchmark: str  # "mixeval" or "mixeval_hard"
    version: str  # "2024-06-01" or "2024-08-11"
    responses: dict[str, list[dict[str, Any]]]
    settings: dict[str, Any] = field(default_factory=dict)  # the generation settings the framework recorded
    judged: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: Optional[str] = None  # the log file or folder it was read from
