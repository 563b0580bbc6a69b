"""What the report knows about each scored folder, read from the files a run leaves.

A scored folder is ``<dir>/<model>/<benchmark>/<version>/`` holding ``score.json``.
Beside it the report reads, when present: ``score_intervals.json`` (confidence
intervals), ``judge_report.json`` (judge health), ``derived_from.json`` (a MixEval-Hard
folder derived from the MixEval run), the status files (the run's flags and time) and
the judged files (which parser and judge made the scores: the newest judged file of
each split), and the response files (how many answers were cut off while thinking, the
model's tokens and their cost: `mix_eval.scoring.answer_stats`). Only ``score.json`` is
required; a malformed optional file is a warning,
and the page says what it could not read. For a run judged by a model judge, the
calibration of that judge (``calibration.json``, `mix_eval.calibration.record`) is looked
up too: the one given to the report, else the one kept in the user's cache.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from mix_eval.calibration.record import Calibration, find as find_calibration, load as load_calibration
from mix_eval.data import BENCHMARKS, KNOWN_VERSIONS, PACKAGE_DATA, split_file, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    DERIVED_FROM_FILE,
    INTERVALS_FILE,
    JUDGE_REPORT_FILE,
    SCORE_FILE,
    judge_in_file_name,
    judged_files,
    model_version_dir,
    read_json,
    response_path,
    status_path,
)
from mix_eval.prompts.evaluation_prompts import FIVE_SHOT_PREFIX_FREEFORM, FIVE_SHOT_PREFIX_MULTIPLECHOICE
from mix_eval.responses import read_status
from mix_eval.scoring.aggregate import OVERALL
from mix_eval.scoring.answer_stats import AnswerStats, ModelCost, model_cost, read_answer_stats
from mix_eval.settings import DEFAULT_JUDGE, ReportSettings
from mix_eval.splits import SplitKind

logger = logging.getLogger(__name__)



@dataclass
class ShownInterval:
    low: float
    high: float


@dataclass
class SplitJudging:
    """How one split was scored, and how healthy its judging was."""

    kind: SplitKind
    parser: Optional[str] = None  # "model", "rule", or None when no judged file is found
    judge: Optional[str] = None  # the judge model (model parser)
    items: Optional[int] = None  # lines of the judged file
    expected: Optional[int] = None  # items of the benchmark split (the shipped versions)
    report: dict[str, Any] = field(default_factory=dict)  # its judge_report.json entry, when current
    answers: Optional[AnswerStats] = None  # the model's answers, from the response file (None: no file)
    cost: Optional[ModelCost] = None  # what an API model's answers cost (None: not an API model, no tokens)


@dataclass
class RunFacts:
    """What the status files say about the run that generated the responses."""

    args: dict[str, Any]
    time_elapsed: Optional[float]  # seconds, both splits
    generated: Optional[str]  # when the last status file was written (UTC)
    complete: bool
    split_status: dict[str, dict[str, Any]] = field(default_factory=dict)  # each split's status file, by split name

    @property
    def limit(self) -> Optional[int]:
        limit = self.args.get("limit")
        return int(limit) if isinstance(limit, int) and limit > 0 else None


@dataclass
class ScoredRun:
    """One scored folder and everything the report shows about it."""

    model: str  # the folder's name
    benchmark: str
    version: str
    vdir: Path
    scores: dict[str, float]
    scored: str  # when score.json was written (UTC)
    intervals: dict[str, ShownInterval] = field(default_factory=dict)
    interval_meta: dict[str, Any] = field(default_factory=dict)
    splits: list[SplitJudging] = field(default_factory=list)
    facts: Optional[RunFacts] = None
    derived_from: Optional[dict[str, Any]] = None
    kind: Optional[str] = None  # "chat" or "base" (the leaderboard table), None when unknown
    notes: list[str] = field(default_factory=list)  # optional files that could not be read
    calibration: Optional[Calibration] = None  # the calibration of the run's judge(s), when one exists

    @property
    def overall(self) -> float:
        return self.scores[OVERALL]

    @property
    def judges(self) -> Optional[dict[SplitKind, str]]:
        """The model judge of each split, when both splits were judged by one."""
        if not self.splits or any(s.parser != "model" or not s.judge for s in self.splits):
            return None
        return {s.kind: str(s.judge) for s in self.splits}

    @property
    def parts(self) -> dict[str, float]:
        """The per-benchmark scores (every key but ``overall``)."""
        return {k: v for k, v in self.scores.items() if k != OVERALL}


def _utc(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def read_scores(path: Path) -> dict[str, float]:
    """A per-model ``score.json``: ``{"overall": x, "<benchmark>": y, ...}``, checked."""
    try:
        raw = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MixEvalError(f"{path}: not a readable score file ({e}); rescore with compute_metrics") from None
    if not isinstance(raw, dict) or not isinstance(raw.get(OVERALL), (int, float)):
        raise MixEvalError(f"{path}: not a model's {SCORE_FILE} (no numeric \"overall\"); rescore with compute_metrics")
    bad = [k for k, v in raw.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
    if bad:
        raise MixEvalError(f"{path}: the score of {bad[0]!r} is not a number; rescore with compute_metrics")
    return {str(k): float(v) for k, v in raw.items()}


def _optional_json(path: Path, notes: list[str]) -> Optional[Any]:
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        logger.warning("%s: unreadable (%s); the report leaves it out", path, e)
        notes.append(f"{path.name} could not be read ({e})")
        return None


def _read_intervals(run: ScoredRun) -> None:
    raw = _optional_json(run.vdir / INTERVALS_FILE, run.notes)
    if raw is None:
        return
    try:
        for key, entry in raw["scores"].items():
            low, high = float(entry["low"]), float(entry["high"])
            if key in run.scores:
                run.intervals[str(key)] = ShownInterval(low, high)
        run.interval_meta = {k: raw[k] for k in ("confidence", "method", "resamples", "seed") if k in raw}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        run.intervals.clear()
        run.notes.append(f"{INTERVALS_FILE} is not in the expected format ({type(e).__name__}: {e})")
        logger.warning("%s: not in the expected format; the report leaves the intervals out", run.vdir / INTERVALS_FILE)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


@lru_cache(maxsize=None)
def _benchmark_size(version: str, benchmark: str, kind: SplitKind) -> Optional[int]:
    """Items of a split of a shipped version (None for other versions)."""
    if version not in KNOWN_VERSIONS:
        return None
    split = next(s for s in splits_for(benchmark) if s.kind is kind)
    try:
        return len(read_json(split_file(PACKAGE_DATA, version, split)))
    except (OSError, ValueError):
        return None


def _read_judging(run: ScoredRun) -> None:
    """Per split: the newest judged file says the parser and judge; judge_report.json's
    entry counts when its judge is that file's."""
    report = _optional_json(run.vdir / JUDGE_REPORT_FILE, run.notes)
    report = report if isinstance(report, dict) else {}
    for kind in SplitKind:
        judging = SplitJudging(kind, expected=_benchmark_size(run.version, run.benchmark, kind))
        candidates = []
        for path, parts in judged_files(run.vdir):
            if parts.kind is kind:
                candidates.append((path.stat().st_mtime, path, parts))
        if candidates:
            _, path, parts = max(candidates, key=lambda c: (c[0], c[1].name))
            judging.items = _count_lines(path)
            judging.parser = parts.parser
            if parts.parser == "model":
                judging.judge = parts.judge
                entry = report.get(kind.label)
                if isinstance(entry, dict) and judge_in_file_name(str(entry.get("judge", ""))) == parts.judge:
                    judging.judge = str(entry["judge"])
                    judging.report = entry
        run.splits.append(judging)


def _read_facts(run: ScoredRun) -> None:
    statuses = []
    split_status: dict[str, dict[str, Any]] = {}
    for split in splits_for(run.benchmark):
        path = status_path(run.vdir, split.name)
        try:
            status = read_status(path)
        except MixEvalError as e:
            run.notes.append(str(e))
            continue
        if status is not None:
            statuses.append((path, status))
            split_status[split.name] = status
    if not statuses:
        return
    elapsed = [s["status"].get("time_elapsed") for _, s in statuses]
    newest = max((p for p, _ in statuses), key=lambda p: p.stat().st_mtime)
    args = dict(statuses[0][1].get("args") or {})
    run.facts = RunFacts(
        args=args,
        time_elapsed=sum(float(e) for e in elapsed) if all(isinstance(e, (int, float)) for e in elapsed) else None,
        generated=_utc(newest),
        complete=len(statuses) == 2 and all(s["status"].get("status") == "complete" for _, s in statuses),
        split_status=split_status,
    )


def _read_answers(run: ScoredRun) -> None:
    """Per split: the model's answers counted from its response file, and their cost."""
    for judging in run.splits:
        split = next(s for s in splits_for(run.benchmark) if s.kind is judging.kind)
        try:
            judging.answers = read_answer_stats(response_path(run.vdir, run.model, split.name))
        except OSError as e:
            run.notes.append(f"{split.name}'s response file could not be read ({e.strerror or e})")
            continue
        status = run.facts.split_status.get(split.name, {}) if run.facts else {}
        if judging.answers is not None:
            judging.cost = model_cost(judging.answers, status)


def model_kind(run: ScoredRun) -> Optional[str]:
    """The leaderboard table a model belongs to: ``chat`` (chat and API models) or
    ``base``; from the catalog by the run's --model_name, else from its inputs (a base
    model's carry the five-shot prefix); None when neither is at hand."""
    from mix_eval.models.catalog import get_spec

    name = (run.facts.args.get("model_name") if run.facts else None) or run.model
    spec = get_spec(str(name))
    if spec is not None:
        return "base" if spec.kind == "base" else "chat"
    split = splits_for(run.benchmark)[0]
    path = response_path(run.vdir, run.model, split.name)
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            first = json.loads(f.readline()).get("formated_input", "")
    except (OSError, ValueError, AttributeError):
        return None
    prefixes = (FIVE_SHOT_PREFIX_FREEFORM[:200], FIVE_SHOT_PREFIX_MULTIPLECHOICE[:200])
    return "base" if isinstance(first, str) and first.startswith(prefixes) else "chat"


def _read_derived(run: ScoredRun) -> None:
    raw = _optional_json(run.vdir / DERIVED_FROM_FILE, run.notes)
    if raw is not None:
        run.derived_from = raw if isinstance(raw, dict) else {}


def _read_calibration(run: ScoredRun, explicit: Optional[str]) -> None:
    judges = run.judges
    if judges is None:
        return
    try:
        efforts = {s.kind: s.report.get("reasoning_effort") for s in run.splits}
        run.calibration = find_calibration(judges, explicit, efforts)
    except MixEvalError as e:
        logger.warning("%s", e)
        run.notes.append(str(e))


def read_run(root: Path, model: str, benchmark: str, version: str,
             calibration: Optional[str] = None) -> ScoredRun:
    """Everything the report shows about one scored folder (``calibration``: a
    ``calibration.json`` to use for a run judged by its judge, before the cache's)."""
    vdir = model_version_dir(root, model, benchmark, version)
    score_file = vdir / SCORE_FILE
    run = ScoredRun(model, benchmark, version, vdir, read_scores(score_file), _utc(score_file))
    _read_intervals(run)
    _read_judging(run)
    _read_facts(run)
    _read_answers(run)
    _read_derived(run)
    _read_calibration(run, calibration)
    run.kind = model_kind(run)
    return run


def collect(settings: ReportSettings) -> list[ScoredRun]:
    """Every scored folder under the response directory that the settings select, by
    model, then benchmark (MixEval first), then version."""
    root = Path(settings.model_response_dir)
    if not root.is_dir():
        raise MixEvalError(f"--model_response_dir {root} does not exist")
    if settings.models_to_eval:
        models = list(settings.models_to_eval)
        missing = [m for m in models if not (root / m).is_dir()]
        if missing:
            raise MixEvalError(f"--models_to_eval {missing[0]}: no folder {root / missing[0]}")
    else:
        models = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if settings.calibration:
        load_calibration(settings.calibration)  # a file given but unreadable stops the report
    benchmarks = [settings.benchmark] if settings.benchmark else list(BENCHMARKS)
    runs = []
    for model in models:
        for benchmark in benchmarks:
            bdir = root / model / benchmark
            if not bdir.is_dir():
                continue
            for vdir in sorted(bdir.iterdir()):
                if settings.version and vdir.name != settings.version:
                    continue
                if (vdir / SCORE_FILE).is_file():
                    runs.append(read_run(root, model, benchmark, vdir.name, settings.calibration))
    _one_kind_per_model(runs)
    if not runs:
        what = " ".join(x for x in (settings.benchmark, settings.version) if x)
        raise MixEvalError(
            f"no {SCORE_FILE}{' of ' + what if what else ''} under {root}/<model>/<benchmark>/<version>/: score the "
            "responses first (python -m mix_eval.compute_metrics), or check --model_response_dir, --benchmark, "
            "--version and --models_to_eval"
        )
    return runs


def _one_kind_per_model(runs: list[ScoredRun]) -> None:
    """A model folder holds one model: a kind found in one of its runs (a status file,
    its inputs) holds for its runs that show none (a derived folder, a copied score)."""
    kinds: dict[str, set[str]] = {}
    for run in runs:
        if run.kind:
            kinds.setdefault(run.model, set()).add(run.kind)
    for run in runs:
        known = kinds.get(run.model, set())
        if run.kind is None and len(known) == 1:
            run.kind = next(iter(known))


def is_default_judge(judge: Optional[str]) -> bool:
    return judge == DEFAULT_JUDGE
