"""Judged lines and ``score.json`` scores from verdicts another framework already holds.

An Inspect run judged with MixEval's scorer has, per item, the judge's replies in the
order it asked (again while a reply held no verdict, up to the reference's 10 rounds).
Those replies go through the package's own rounds (`mix_eval.judges.runner.judge_records`)
as the answers of a judge that only replays them, so the judged lines, their order, the
blocked and random fallbacks and the journal are exactly those of ``compute_metrics``;
the rule parsers are the package's (`mix_eval.scoring.rules`), run over the split in the
packaged order so their random draws are the reference's. Scores then aggregate as
``score.json`` does (`mix_eval.scoring.scores.score_json`). Nothing here asks a judge."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from mix_eval.judges.judge import ERROR, OK
from mix_eval.judges.runner import MAX_ROUNDS, judge_records
from mix_eval.scoring import aggregate, rules
from mix_eval.scoring.scores import score_json
from mix_eval.splits import SplitKind
from mix_eval.system.logs import quieter

__all__ = ["ReplayJudge", "judged_lines", "rule_judged_lines", "scores_of", "item_value", "judge_identity"]

RULE = "rule"


class ReplayJudge:
    """A `mix_eval.judges.judge.Judge` that asks nobody: round r of an item gets the
    r-th reply recorded for it, no reply at all (asked again next round) past the last."""

    mode = "live"
    request = None

    def __init__(self, name: str, replies: Mapping[str, Sequence[Optional[str]]]):
        self.name = name
        self.replies = replies

    def complete(self, requests: list[tuple[str, list[dict[str, str]]]], on_result: Callable[..., None], *,
                 round_no: int = 1) -> None:
        for key, _ in requests:
            recorded = self.replies.get(key, ())
            if 0 < round_no <= len(recorded) and recorded[round_no - 1] is not None:
                on_result(key, OK, recorded[round_no - 1])
            else:
                on_result(key, ERROR, None)


def rule_judged_lines(kind: SplitKind, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule parser's judged lines of a split's response lines (packaged order)."""
    judge = rules.judge_file_multichoice_rule if kind.is_multichoice else rules.judge_file_freeform_rule
    return judge(lines)


def judge_identity(judge: str) -> tuple[str, dict[str, Any]]:
    """How this package asks the API judge ``judge`` (`mix_eval.judges.request`): the
    identity its request digests are made of, and the reply budget and reasoning effort
    (``max_tokens``, ``reasoning_effort``) another framework should ask it with."""
    from mix_eval.judges.request import judge_request
    from mix_eval.settings import JudgeSettings

    request = judge_request(JudgeSettings(freeform_judge=judge, multichoice_judge=judge), SplitKind.FREE_FORM)
    config: dict[str, Any] = {"max_tokens": request.chat.max_tokens}
    if request.reasoning_effort is not None:
        config["reasoning_effort"] = request.reasoning_effort
    return request.identity, config


def judged_lines(kind: SplitKind, lines: list[dict[str, Any]], judge: str,
                 replies: Mapping[str, Sequence[Optional[str]]], journal: Optional[Path] = None,
                 identity: Optional[str] = None) -> list[dict[str, Any]]:
    """A model judge's judged lines of a split's response lines (packaged order) from the
    replies it gave (by item id, in the order asked), as `judge_records` makes them.
    ``journal``: where the judged file's journal goes (a rerun of ``compute_metrics`` with
    this judge then replays it: no judge call); None: a temporary one. ``identity``: the
    judge's request identity (`judge_identity`; default its name)."""
    if len(replies) and max(len(r) for r in replies.values()) > MAX_ROUNDS:
        raise ValueError(f"more than {MAX_ROUNDS} judge replies recorded for one item")

    def run(path: Path) -> list[dict[str, Any]]:
        with quieter(judge_records.__module__):
            out, _ = judge_records(lines, kind, judge, lambda: ReplayJudge(judge, replies), path,
                                    identity=identity)
        return out

    if journal is not None:
        return run(journal)
    with tempfile.TemporaryDirectory(prefix="mix_eval_replay_") as tmp:
        return run(Path(tmp) / "journal.jsonl")


def item_value(kind: SplitKind, parser: str, judged_line: Mapping[str, Any]) -> float:
    """One judged line's score, as ``score.json`` counts it."""
    return aggregate.item_scores(kind, parser, [judged_line])[0][1]


def scores_of(judged: Mapping[SplitKind, list[dict[str, Any]]], parsers: Mapping[SplitKind, str]) -> dict[str, float]:
    """``score.json``'s scores of both splits' judged lines (a split left out counts as empty)."""
    items = {kind: aggregate.item_scores(kind, parsers.get(kind, RULE), judged.get(kind, [])) for kind in SplitKind}
    return score_json(items)
