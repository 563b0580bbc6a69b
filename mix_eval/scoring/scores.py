"""A model's scores from its judged lines, and the files that hold them.

A scored folder and a MixEval-Hard folder derived from one (`mix_eval.scoring.derive`)
get their ``score.json`` (the reference's format), ``score_intervals.json`` and judged
files computed and written the same way, here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from mix_eval.folders import INTERVALS_FILE, SCORE_FILE, judged_file_name, write_json
from mix_eval.scoring import aggregate
from mix_eval.scoring.intervals import Interval, bootstrap_intervals, intervals_json
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind
from mix_eval.system.files import write_text_atomic


ItemScores = dict[SplitKind, list[tuple[str, float]]]


def item_scores(judge: JudgeSettings, judged: Mapping[SplitKind, list[dict[str, Any]]]) -> ItemScores:
    """Each split's ``(benchmark_name, score)`` of its judged lines, in their order."""
    return {kind: aggregate.item_scores(kind, judge.parser(kind), judged[kind]) for kind in SplitKind}


def score_json(items: ItemScores) -> dict[str, float]:
    """``score.json``'s scores of both splits' item scores."""
    return aggregate.score_json_for_model(aggregate.split_scores(items[SplitKind.FREE_FORM]),
                                          aggregate.split_scores(items[SplitKind.MULTIPLE_CHOICE]))


def model_scores(judge: JudgeSettings, judged: Mapping[SplitKind, list[dict[str, Any]]]
                 ) -> tuple[dict[str, float], dict[str, Interval]]:
    """``score.json``'s scores of both splits' judged lines, and their intervals."""
    items = item_scores(judge, judged)
    return score_json(items), bootstrap_intervals([items[kind] for kind in SplitKind])


def write_judged_files(vdir: Path, judge: JudgeSettings, judged: Mapping[SplitKind, list[dict[str, Any]]]) -> None:
    """Each split's judged lines, under the judged file name of its parser and judge."""
    for kind in SplitKind:
        text = "".join(json.dumps(line) + "\n" for line in judged[kind])
        write_text_atomic(vdir / judged_file_name(judge, kind), text)


def write_scores(vdir: Path, scores: Mapping[str, float], intervals: Mapping[str, Interval]) -> None:
    """``score.json`` and ``score_intervals.json`` beside it."""
    write_json(vdir / SCORE_FILE, scores)
    write_json(vdir / INTERVALS_FILE, intervals_json(scores, intervals))
