"""``calibration.json``: a judge's scores of the reference responses beside the
leaderboard's, where it is kept, and how it is read back (by the report).

On the leaderboard's scale (``score.json`` × 100, one decimal)::

    {"judge": "gpt-4.1-mini",
     "judges": {"free_form": "gpt-4.1-mini", "multiple_choice": "gpt-4.1-mini"},
     "created": "2026-11-02T10:00:00+00:00", "benchmark": "mixeval", "version": "2024-06-01",
     "leaderboard": "<which leaderboard>", "leaderboard_judge": "gpt-3.5-turbo-0125",
     "models": {"gemma_11_7b_instruct": {"MixEval": {"leaderboard": 69.6, "judge": 70.3, "delta": 0.7},
                                         "MixEval-Hard": {...}, "TriviaQA": {...}, ...}, ...},
     "mean_delta": {"MixEval": 0.5, "MixEval-Hard": -1.2, ...}}

Columns are the leaderboard's names; ``delta`` is judge − leaderboard. A calibration is
kept by default in the user's cache, one folder per judge (`default_dir`), where the
report finds it for a run judged by the same judge(s).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from mix_eval.calibration.references import REFERENCE_BENCHMARK, REFERENCE_MODELS, REFERENCE_VERSION
from mix_eval.errors import MixEvalError
from mix_eval.folders import CALIBRATION_FILE, judge_in_file_name, read_json
from mix_eval.leaderboard import COLUMNS, OVERALL_COLUMN, SOURCE, load_table, percent
from mix_eval.settings import DEFAULT_JUDGE
from mix_eval.splits import SplitKind
from mix_eval.system.cache import cache_dir

CACHE_FOLDER = "calibration"  # under the user's cache: one folder per judge


def judge_label(judges: Mapping[SplitKind, str]) -> str:
    """The judge's name, or ``A (free-form) + B (multiple-choice)`` when the splits have two."""
    ff, mp = judges[SplitKind.FREE_FORM], judges[SplitKind.MULTIPLE_CHOICE]
    if ff == mp:
        return ff
    return f"{ff} ({SplitKind.FREE_FORM.problem_type}) + {mp} ({SplitKind.MULTIPLE_CHOICE.problem_type})"


def judge_slug(judges: Mapping[SplitKind, str], effort: Optional[str] = None) -> str:
    """One path component naming the judge(s): ``gpt-4.1-mini``, ``org_model``, ``a__b``;
    ``gpt-5-mini@high`` for a reasoning effort asked for (not the judge's lowest, its default)."""
    names = dict.fromkeys(judges[kind] for kind in SplitKind)
    slug = "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "_" for name in names)
    return f"{slug}@{effort}" if effort else slug


def root_dir() -> Path:
    """The folder of the calibrations kept in the user's cache."""
    return cache_dir() / CACHE_FOLDER


def default_dir(judges: Mapping[SplitKind, str], effort: Optional[str] = None) -> Path:
    """Where the calibration of these judges (at ``--judge_reasoning_effort`` ``effort``) is
    kept unless told otherwise."""
    return root_dir() / judge_slug(judges, effort)


def _row(model: str) -> Any:
    name = REFERENCE_MODELS[model]
    return next(r for r in load_table("chat") if r.model == name)


def build(judges: Mapping[SplitKind, str], scores: Mapping[str, Mapping[str, Mapping[str, float]]],
          created: str, efforts: Optional[Mapping[SplitKind, Optional[str]]] = None) -> dict[str, Any]:
    """The calibration record from ``scores[model][benchmark]`` (each a ``score.json``);
    ``efforts``: each split's reasoning effort, as its judge_report.json says."""
    models: dict[str, dict[str, dict[str, float]]] = {}
    for model in REFERENCE_MODELS:
        row, entries = _row(model), {}
        for benchmark, title in OVERALL_COLUMN.items():
            judged = scores[model][benchmark]
            pairs = [(title, row.overall(benchmark), judged["overall"])]
            pairs += [(column, row.columns.get(column), judged.get(key)) for column, key in COLUMNS[benchmark].items()]
            for column, published, value in pairs:
                if published is not None and value is not None:
                    entries[column] = {"leaderboard": published, "judge": percent(value),
                                       "delta": round(percent(value) - published, 1)}
        models[model] = entries
    columns = list(dict.fromkeys(c for entries in models.values() for c in entries))
    mean_delta = {}
    for column in columns:
        deltas = [entries[column]["delta"] for entries in models.values() if column in entries]
        mean_delta[column] = round(sum(deltas) / len(deltas), 2)
    return {
        "judge": judge_label(judges),
        "judges": {kind.label: judges[kind] for kind in SplitKind},
        "reasoning_effort": {kind.label: (efforts or {}).get(kind) for kind in SplitKind},
        "created": created,
        "benchmark": REFERENCE_BENCHMARK,
        "version": REFERENCE_VERSION,
        "leaderboard": SOURCE,
        "leaderboard_judge": DEFAULT_JUDGE,
        "models": models,
        "mean_delta": mean_delta,
    }


def format_table(record: Mapping[str, Any]) -> str:
    """The record as a plain table: a row per model and column, then the mean shifts."""
    judge = str(record["judge"])
    header = ["model", "column", f"leaderboard ({record.get('leaderboard_judge', DEFAULT_JUDGE)})", judge, "delta"]
    rows = [[model, column, f"{e['leaderboard']:.1f}", f"{e['judge']:.1f}", f"{e['delta']:+.1f}"]
            for model, entries in record["models"].items() for column, e in entries.items()]
    rows += [["mean shift", column, "", "", f"{delta:+.2f}"] for column, delta in record["mean_delta"].items()]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class Calibration:
    """A calibration as the report uses it."""

    path: Path
    judge: str
    judges: dict[str, str]  # by split label
    created: str  # ISO date and time
    mean_delta: dict[str, float]  # by leaderboard column
    efforts: dict[str, Optional[str]] = field(default_factory=dict)  # reasoning effort by split label

    @property
    def date(self) -> str:
        return self.created[:10]

    def matches(self, judges: Mapping[SplitKind, str],
                efforts: Optional[Mapping[SplitKind, Optional[str]]] = None) -> bool:
        """Whether it measured these judges (the same judge on each split; a judged file's
        name spells a local judge's ``org/name`` as ``org_name``), at the same reasoning
        effort where both say one."""
        same_effort = all(self.efforts.get(kind.label) in (None, effort)
                          for kind, effort in (efforts or {}).items() if effort is not None)
        return same_effort and all(
            judge_in_file_name(str(self.judges.get(kind.label))) == judge_in_file_name(judges[kind]) for kind in SplitKind)


def load(path: str | Path) -> Calibration:
    """A ``calibration.json``, checked enough to be shown."""
    path = Path(path)
    try:
        raw = read_json(path)
        judges = {str(k): str(v) for k, v in raw["judges"].items()}
        mean = {str(k): float(v) for k, v in raw["mean_delta"].items()}
        efforts = {str(k): (str(v) if v is not None else None) for k, v in (raw.get("reasoning_effort") or {}).items()}
        return Calibration(path, str(raw["judge"]), judges, str(raw["created"]), mean, efforts)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise MixEvalError(f"{path}: not a readable {CALIBRATION_FILE} ({type(e).__name__}: {e}); run "
                           "python -m mix_eval.calibrate again to write it") from None


def find(judges: Mapping[SplitKind, str], explicit: Optional[str | Path] = None,
         efforts: Optional[Mapping[SplitKind, Optional[str]]] = None) -> Optional[Calibration]:
    """The calibration of these judges (at these reasoning efforts, where known):
    ``explicit`` (a file that must exist) when it measured them, else the one in their
    default folder, else None."""
    if explicit is not None:
        calibration = load(explicit)
        if calibration.matches(judges, efforts):
            return calibration
    for effort in [None, *dict.fromkeys(e for e in (efforts or {}).values() if e)]:
        path = default_dir(judges, effort) / CALIBRATION_FILE
        if path.is_file():
            calibration = load(path)
            if calibration.matches(judges, efforts):
                return calibration
    return None
