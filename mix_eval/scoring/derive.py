"""MixEval-Hard from a MixEval run, with no generation and no judge call.

MixEval-Hard's items are MixEval items (`mix_eval.subset` says which), and the
leaderboard's Hard scores were taken from each model's MixEval results. So once a
model's MixEval responses are judged, its ``mixeval_hard/<version>/`` folder is written
from them in the layout of a Hard run: the response files (Hard's ids and file names;
the formatted input is the MixEval line's, which is what a Hard run stores for the
same item), status files marked complete, the judged files (the MixEval judgments of
the same responses), ``score.json`` by the usual aggregation, ``score_intervals.json``,
``judge_report.json`` (when the MixEval folder has one; counts for the Hard items, no
judge call) and ``derived_from.json``, which records the origin and marks the folder.

A Hard folder without ``derived_from.json`` is a separate Hard run: it is never
touched. A derived one is written again at each scoring of the MixEval run (the mark
first, then each file atomically, so a crash leaves a folder still marked derived).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

from mix_eval.data import (
    Split,
    read_split_file,
    resolve_data_path,
    split_file,
    splits_for,
)
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    DERIVED_FROM_FILE,
    JUDGE_REPORT_FILE,
    LOCK_FILE,
    derived_from,
    folder_lock,
    journal_path,
    judged_file_name,
    model_version_dir,
    read_json_object,
    response_path,
    status_path,
    write_json,
)
from mix_eval.judges.protocol import verdict
from mix_eval.judges.report import JudgeReport
from mix_eval.judges.runner import BLOCKED, OK, journal_entries
from mix_eval.responses import COMPLETE, read_status, response_line, write_status
from mix_eval.scoring.inputs import read_response_file
from mix_eval.scoring.scores import model_scores, write_judged_files, write_scores
from mix_eval.settings import ScoringSettings
from mix_eval.splits import SplitKind
from mix_eval.subset import Matching, item_content, match_hard_items
from mix_eval.system.files import FolderBusyError, write_text_atomic

logger = logging.getLogger("mix_eval")

SOURCE = "mixeval"
HARD = "mixeval_hard"


@dataclass
class DerivedHard:
    """What was written for one model."""

    vdir: Path
    scores: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    origin: dict[str, Any]


def derive_hard(settings: ScoringSettings, model: str, source: Path,
                responses: Mapping[SplitKind, list[dict[str, Any]]],
                judged: Mapping[SplitKind, list[dict[str, Any]]]) -> Optional[DerivedHard]:
    """Write the model's MixEval-Hard folder from its scored MixEval folder ``source``.

    ``responses`` and ``judged`` are the lines just scored (an empty response list is
    read from ``source``). None, with one message, when there is nothing to write: a
    separate Hard run is in the way, the data or some item is missing.
    """
    version = settings.data.version
    target = model_version_dir(settings.model_response_dir, model, HARD, version)
    if _separate_run(model, target):
        return None
    data = _data(settings.data.data_path, version)
    if data is None:
        return None
    matchings: dict[SplitKind, Matching] = {}
    for kind, (mixeval_items, hard_items) in data.items():
        matchings[kind] = match_hard_items(mixeval_items, hard_items)
        if matchings[kind].unmatched:
            unmatched = matchings[kind].unmatched
            logger.warning("%s: %d MixEval-Hard %s item(s) of version %s (e.g. id %r) equal no MixEval item; no "
                           "MixEval-Hard derived. Run --benchmark mixeval_hard to score them", model, len(unmatched),
                           kind.problem_type, version, unmatched[0])
            return None
    lines: dict[SplitKind, list[dict[str, Any]]] = {}
    judged_lines: dict[SplitKind, list[dict[str, Any]]] = {}
    for kind, (_, hard_items) in data.items():
        made = _hard_lines(model, source, kind, matchings[kind], hard_items, responses.get(kind), judged[kind])
        if made is None:
            return None
        lines[kind], judged_lines[kind] = made
    for kind, m in matchings.items():
        logger.info("%s: MixEval-Hard %s: %d items matched by id, %d by content", model, kind.problem_type,
                    m.by_id, m.by_content)
    origin = {
        "benchmark": SOURCE, "version": version,
        "source": os.path.relpath(source, settings.model_response_dir),
        "matched_by_id": {kind.label: matchings[kind].by_id for kind in SplitKind},
        "matched_by_content": {kind.label: matchings[kind].by_content for kind in SplitKind},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    scores, intervals = model_scores(settings.judge, judged_lines)
    report = _judge_report(settings, source, matchings, judged_lines)
    try:
        with folder_lock(target):
            if _separate_run(model, target):  # again, now that no run can start writing there
                return None
            _write(settings, model, source, target, origin, lines, judged_lines, scores, intervals, report)
    except FolderBusyError as e:
        logger.warning("%s: another mix_eval run (pid %s) is writing to %s; no MixEval-Hard derived (rescore the "
                       "MixEval run once it is done to derive it)", model, e, target)
        return None
    return DerivedHard(target, scores, intervals, origin)


def _separate_run(model: str, target: Path) -> bool:
    """Whether ``target`` holds files of a MixEval-Hard run of its own (said once, at info level)."""
    if not target.is_dir() or derived_from(target) is not None:
        return False
    if not any(p.name != LOCK_FILE for p in target.iterdir()):
        return False
    logger.info("%s: %s holds a separate MixEval-Hard run; it is left as it is (no MixEval-Hard derived from the "
                "MixEval run)", model, target)
    return True


def _data(data_path: Optional[str], version: str) -> Optional[dict[SplitKind, tuple[list, list]]]:
    """Each kind's MixEval and MixEval-Hard items, when the data of the version is at hand."""
    root = resolve_data_path(data_path, version)
    data = {}
    for source_split, hard_split in zip(splits_for(SOURCE), splits_for(HARD)):
        paths = (split_file(root, version, source_split), split_file(root, version, hard_split))
        missing = [p for p in paths if not p.is_file()]
        if missing:
            logger.info("no benchmark data at %s: no MixEval-Hard derived from the MixEval run", missing[0])
            return None
        data[source_split.kind] = (read_split_file(paths[0], source_split), read_split_file(paths[1], hard_split))
    return data


def _hard_lines(model: str, source: Path, kind: SplitKind, matching: Matching, hard_items: list[dict[str, Any]],
                responses: Optional[list[dict[str, Any]]], judged: list[dict[str, Any]]
                ) -> Optional[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """The Hard response and judged lines (Hard's order), or None when the run lacks some."""
    source_split = next(s for s in splits_for(SOURCE) if s.kind is kind)
    if not responses:
        path = response_path(source, model, source_split.name)
        if not path.is_file():
            logger.info("%s: no response file %s: no MixEval-Hard derived", model, path)
            return None
        try:
            responses = read_response_file(path, kind)
        except MixEvalError as e:
            logger.warning("%s: no MixEval-Hard derived: %s", model, e)
            return None
    by_id = {str(r["id"]): r for r in responses}
    judged_by_id = {str(r["id"]): r for r in judged}
    lacking = [m for m in matching.matches if m.source_id not in by_id or m.source_id not in judged_by_id]
    if lacking:
        logger.info("%s: the MixEval run has no judged response to %d of the items MixEval-Hard %s takes from it "
                    "(e.g. id %r); no MixEval-Hard derived", model, len(lacking), kind.problem_type,
                    lacking[0].source_id)
        return None
    hard = {item["id"]: item for item in hard_items}
    lines, judged_lines = [], []
    for m in matching.matches:
        item = hard[m.hard_id]
        for line in (by_id[m.source_id], judged_by_id[m.source_id]):
            if item_content({k: line.get(k) for k in item}) != item_content(item):
                logger.warning("%s: the MixEval line of id %r in %s differs from the benchmark item; no MixEval-Hard "
                               "derived (score the responses with the data that made them)", model, m.source_id, source)
                return None
        lines.append(_with_id(by_id[m.source_id], m.hard_id))
        judged_lines.append(_with_id(judged_by_id[m.source_id], m.hard_id))
    return lines, judged_lines


def _with_id(line: Mapping[str, Any], new_id: str) -> dict[str, Any]:
    """The line under another id, its fields in the same order."""
    return {k: (new_id if k == "id" else v) for k, v in line.items()}


def _judge_report(settings: ScoringSettings, source: Path, matchings: Mapping[SplitKind, Matching],
                  judged: Mapping[SplitKind, list[dict[str, Any]]]) -> Optional[dict[str, Any]]:
    """The source's judge_report.json counted over the Hard items, none of them a new call.

    Blocked items and invalid replies come from the source's journal; without it, a
    count the source did not have at 0 cannot be split and is null."""
    source_report = read_json_object(source / JUDGE_REPORT_FILE)
    report = {}
    for kind in SplitKind:
        old = source_report.get(kind.label)
        if not isinstance(old, dict) or settings.judge.parser(kind) != "model":
            continue
        journal = journal_entries(journal_path(source / judged_file_name(settings.judge, kind)))
        new = JudgeReport(kind, old.get("judge", settings.judge.judge(kind)), items=len(judged[kind]), judge_calls=0,
                          reused=len(judged[kind]))
        if journal is None:
            new.rounds = old.get("rounds")
            new.blocked = 0 if old.get("blocked") == 0 else None
            new.invalid_replies = 0 if old.get("invalid_replies") == 0 else None
        else:
            entries = [journal.get(m.source_id, []) for m in matchings[kind].matches]
            new.rounds = max((int(e["round"]) for es in entries for e in es), default=0)
            new.blocked = sum(1 for es in entries if es and max(es, key=lambda e: int(e["round"])).get("outcome")
                              == BLOCKED)  # the item's last round decided it
            new.invalid_replies = sum(1 for es in entries for e in es
                                      if e.get("outcome") == OK and verdict(kind, e.get("reply")) is None)
        new.random_fallback = sum(1 for line in judged[kind] if verdict(kind, line.get("judge_response")) is None)
        report[kind.label] = new.counts()
    return report or None


def _write(settings: ScoringSettings, model: str, source: Path, target: Path, origin: dict[str, Any],
           lines: Mapping[SplitKind, list[dict[str, Any]]], judged: Mapping[SplitKind, list[dict[str, Any]]],
           scores: dict[str, float], intervals: dict[str, tuple[float, float]],
           report: Optional[dict[str, Any]]) -> None:
    write_json(target / DERIVED_FROM_FILE, origin)  # first: the folder is ours
    for source_split, hard_split in zip(splits_for(SOURCE), splits_for(HARD)):
        kind = hard_split.kind
        write_text_atomic(response_path(target, model, hard_split.name), "".join(map(response_line, lines[kind])))
        args = _status_args(source, source_split, hard_split, model, settings.data.version)
        write_status(status_path(target, hard_split.name), args, batch_id=0, time_elapsed=0.0, state=COMPLETE)
    write_judged_files(target, settings.judge, judged)
    write_scores(target, scores, intervals)
    if report is not None:
        write_json(target / JUDGE_REPORT_FILE, report)
    elif (target / JUDGE_REPORT_FILE).exists():  # left by an earlier derivation judged otherwise
        (target / JUDGE_REPORT_FILE).unlink()


def _status_args(source: Path, source_split: Split, hard_split: Split, model: str, version: str) -> dict[str, Any]:
    """The MixEval run's arguments, as a Hard run of the same model would have had them."""
    try:
        status = read_status(status_path(source, source_split.name)) or {}
    except MixEvalError:
        status = {}
    args = dict(status.get("args") or {"model_name": model})
    args.pop("limit", None)  # every Hard item is there
    args.update(benchmark=HARD, version=version, split=hard_split.name)
    return args
