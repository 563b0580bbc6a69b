"""Judging a response file: the reference's rounds, with every judgment journaled.

The reference sends every unjudged item to the judge, keeps those whose reply holds a
valid verdict, and sends the rest again, for up to 10 rounds; what is still unjudged
then gets a random verdict. Judged lines are ordered by the round that judged them.
This module does the same, and on top of it:

* each reply is appended to a journal as soon as it arrives, so a killed or crashed
  run replays what it paid for instead of asking again;
* a reply is reused only for the very same request (a digest of judge and messages);
* replies in an existing judged file are reused the same way (files made elsewhere);
* random verdicts come from a seeded generator, drawn in a fixed order, so a resumed
  run ends with the same scores as an uninterrupted one;
* how many items were blocked or fell back to random is counted and reported;
* a round in which the judge refuses more than half of the requests (HTTP 400) stops
  the run with `JudgeRefusedError`, quoting the server: a judge that refuses the
  requests must not turn into placeholder verdicts;
* a round in which the judge answers nothing at all stops the run with
  `JudgeUnavailableError`, unless the judge still answers a request it answered
  before (then the failing requests are retried in the next rounds, as in the
  reference): a judge that is down must not turn into random scores.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from mix_eval.folders import SCORE_FILE
from mix_eval.judges.judge import (
    BLOCKED,
    ERROR,
    OK,
    Judge,
    JudgeRefusedError,
    JudgeUnavailableError,
)
from mix_eval.judges.journal import RETRACTED, Journal, journal_entries
from mix_eval.judges.protocol import (
    judge_messages,
    judged_response,
    messages_digest,
    option_letters,
    verdict,
)
from mix_eval.judges.report import JudgeReport
from mix_eval.llm.pricing import Price
from mix_eval.records.jsonl import Mode, read_jsonl
from mix_eval.records.schema import keyed_line_problem
from mix_eval.splits import SplitKind
from mix_eval.system.interrupt import STOP

logger = logging.getLogger(__name__)

# Beside the loop: names that modules outside judges/ import from here (their homes:
# judges.report, judges.journal, judges.backend).
__all__ = ["MAX_ROUNDS", "RANDOM_SEED", "judge_records", "journal_entries",
           "OK", "BLOCKED", "ERROR", "RETRACTED", "JudgeRefusedError", "JudgeUnavailableError"]

MAX_ROUNDS = 10
RANDOM_SEED = 42


@dataclass
class _Item:
    record: dict[str, Any]
    response: str
    messages: list[dict[str, str]]
    digest: str
    last_reply: Optional[str] = None
    outcomes: dict[int, tuple[str, Optional[str]]] = field(default_factory=dict)


def _previous_replies(judged_file: Optional[Path], kind: SplitKind, identity: str,
                      extract_base: bool) -> dict[str, tuple[str, str]]:
    """id -> (digest, reply) of valid verdicts in an existing judged file; lines that
    cannot be reused are skipped (their items are judged again)."""
    found: dict[str, tuple[str, str]] = {}
    if judged_file is None:
        return found
    try:
        content = read_jsonl(judged_file, Mode.TOLERANT, check=keyed_line_problem)
    except OSError:
        return found
    for line in content.lines:
        rec = line.record
        try:
            reply = rec.get("judge_response")
            if verdict(kind, reply) is None:
                continue
            msgs = judge_messages(rec, kind, judged_response(rec, kind, extract_base))
            found[str(rec["id"])] = (messages_digest(msgs, identity), reply)
        except (ValueError, KeyError, TypeError):
            continue
    return found


def judge_records(
    records: list[dict[str, Any]],
    kind: SplitKind,
    judge: str,
    get_judge: Callable[[], Judge],
    journal_path: Path,
    *,
    extract_base: bool = False,
    previous_judged_file: Optional[Path] = None,
    max_rounds: int = MAX_ROUNDS,
    seed: int = RANDOM_SEED,
    price: Optional[Price] = None,
    mode: str = "live",
    identity: Optional[str] = None,
    request: Optional[Mapping[str, Any]] = None,
) -> tuple[list[dict[str, Any]], JudgeReport]:
    """Judge response lines the reference's way; return judged lines and a report.

    ``get_judge`` is called only if some request has no saved reply, so a rerun over
    finished work makes no call and loads no judge model. ``price`` (the judge's live
    price per million tokens, None: unknown) gives the report its cost; ``mode`` is the
    report's mode when no reply records its own. ``identity`` (default: the judge's name)
    is what request digests are made of beside the messages (a reasoning judge's effort
    is part of it); ``request`` is how the judge is asked, for the report (a backend that
    changed its request style on the way reports its own ``request``).
    """
    report = JudgeReport(split=kind, judge=judge, items=len(records), price=price, default_mode=mode,
                         request=dict(request or {}))
    identity = identity or judge
    items = []
    for record in records:
        response = judged_response(record, kind, extract_base)
        messages = judge_messages(record, kind, response)
        items.append(_Item(dict(record), response, messages, messages_digest(messages, identity)))
    # A judged file does not say at which reasoning effort it was made: only the journal does.
    previous = _previous_replies(previous_judged_file, kind, identity, extract_base) if identity == judge else {}
    journal = Journal(journal_path)
    backend: Optional[Judge] = None
    rng = random.Random(seed)
    judged: list[tuple[_Item, Any]] = []
    remaining = items
    try:
        for round_no in range(1, max_rounds + 1):
            report.rounds = round_no
            by_key = _replay(remaining, round_no, journal, previous, report)
            if by_key:
                if backend is None:
                    backend = get_judge()
                to_ask = [(key, item.messages) for key, item in by_key.items()]

                def on_result(key: str, outcome: str, reply: Optional[str], usage: Optional[Mapping[str, Any]] = None,
                              _round: int = round_no, _mode: str = backend.mode) -> None:
                    item = by_key[key]
                    report.tally(journal.add(key, _round, item.digest, outcome, reply, mode=_mode, usage=usage))
                    item.outcomes[_round] = (outcome, reply)
                    report.judge_calls += 1

                logger.info("%s judge round %d: %d requests to %s", kind.problem_type, round_no, len(to_ask), judge)
                backend.complete(to_ask, on_result, round_no=round_no)
                journal.sync()
                STOP.check()  # after a first Ctrl-C: the replies in hand are saved
                if not any(by_key[key].outcomes.get(round_no, (ERROR, None))[0] != ERROR for key, _ in to_ask):
                    _check_judge_answers(backend, judge, kind, round_no, to_ask, by_key, judged, journal, report)
                _check_refusals(judge, kind, round_no, to_ask, by_key, journal)
            remaining = _settle(remaining, round_no, kind, rng, judged, report)
            if not remaining:
                break
    finally:
        journal.close()
        if backend is not None and backend.request is not None:
            report.request = backend.request.as_dict()  # the style that worked, when the backend had to switch
    if remaining:
        logger.warning(
            "%s: %d of %d items still had no valid verdict after %d rounds; they get a random "
            "verdict, as in the reference", kind.problem_type, len(remaining), len(items), max_rounds,
        )
    for item in remaining:
        report.random_fallback += 1
        if kind is SplitKind.FREE_FORM:
            judged.append((item, round(rng.random(), 1)))
        else:
            judged.append((item, rng.choice(option_letters(item.record))))
    return [_judged_line(item, kind, value, extract_base) for item, value in judged], report


def _replay(remaining: list[_Item], round_no: int, journal: Journal, previous: Mapping[str, tuple[str, str]],
            report: JudgeReport) -> dict[str, _Item]:
    """Give each item the round's saved reply (the journal's, else in round 1 the earlier
    judged file's); return the items still to ask, by key, in order."""
    to_ask: dict[str, _Item] = {}
    for item in remaining:
        key = str(item.record["id"])
        saved = journal.get(key, round_no, item.digest)
        if saved is not None and saved.get("outcome") == RETRACTED:
            saved = None  # a round cut short because the judge was down: ask again
        if saved is None and round_no == 1 and key in previous and previous[key][0] == item.digest:
            journal.add(key, 1, item.digest, OK, previous[key][1])
            saved = journal.get(key, 1, item.digest)
        if saved is not None:
            item.outcomes[round_no] = (saved["outcome"], saved.get("reply"))
            report.reused += 1
            report.tally(saved)
        else:
            to_ask[key] = item
    return to_ask


def _settle(remaining: list[_Item], round_no: int, kind: SplitKind, rng: random.Random,
            judged: list[tuple[_Item, Any]], report: JudgeReport) -> list[_Item]:
    """The round's verdicts, added to ``judged`` (a blocked item gets the reference's
    placeholder); return the items still without one."""
    still = []
    for item in remaining:
        outcome, reply = item.outcomes.get(round_no, (ERROR, None))
        item.last_reply = reply
        if outcome == BLOCKED:
            report.blocked += 1
            if kind is SplitKind.FREE_FORM:
                item.last_reply = "[[0.0]]"
                judged.append((item, 0.0))
            else:
                letter = rng.choice(option_letters(item.record))
                item.last_reply = f"[[{letter}]]"
                judged.append((item, letter))
            continue
        value = verdict(kind, reply) if outcome == OK else None
        if value is None:
            if outcome == OK:
                report.invalid_replies += 1
            still.append(item)
        else:
            judged.append((item, value))
    return still


def _check_judge_answers(backend: Judge, judge: str, kind: SplitKind, round_no: int,
                         to_ask: list[tuple[str, Any]], by_key: dict[str, _Item], judged: list[tuple[_Item, Any]],
                         journal: Journal, report: JudgeReport) -> None:
    """A whole round got no reply at all. Is the judge down, or are these requests the
    problem? Ask again one request the judge answered before: if it answers, the run goes
    on (the failed requests are asked again next round, as in the reference); if it does
    not, or nothing was ever answered, stop: random verdicts for everything would be a
    silent random score. The round's failures are then retracted from the journal, so
    the rerun asks this round again, as if the outage had never happened."""
    asked = len(to_ask)
    known_good = next((item for item, _ in judged if item.outcomes and item.outcomes[max(item.outcomes)][0] == OK), None)
    if known_good is not None:
        got: dict[str, str] = {}
        if backend.mode == "batch":
            # A batch that ran to its end (the Batch API stops the run when batches do not)
            # shows the judge is up; a probe would cost another batch's wait, hours maybe.
            got["probe"] = OK
        else:
            backend.complete([("probe", known_good.messages)],
                             lambda key, outcome, reply, usage=None: got.setdefault(key, outcome), round_no=0)
            report.judge_calls += 1
        if got.get("probe") == OK:
            logger.warning("%s: none of the %d request(s) of round %d got a reply, though the judge answers "
                           "others; they are asked again next round", kind.problem_type, asked, round_no)
            return
    for key, _ in to_ask:
        journal.add(key, round_no, by_key[key].digest, RETRACTED, None)
    journal.sync()
    saved = sum(1 for e in journal.entries.values() if e.get("outcome") == OK)
    raise JudgeUnavailableError(
        f"the judge {judge} answered none of the {asked} {kind.problem_type} request(s) of round {round_no}"
        f"{' (nor a request it had answered before)' if known_good is not None else ''}: its API looks down, "
        f"unreachable or broken (see the warnings above). Nothing was scored; the {saved} judgment(s) "
        "received so far are saved. Rerun the same command once the judge answers."
    )


def _check_refusals(judge: str, kind: SplitKind, round_no: int, to_ask: list[tuple[str, Any]],
                    by_key: dict[str, _Item], journal: Journal) -> None:
    """More than half of a round's requests refused (HTTP 400): the judge cannot take
    these requests, and their items would all get placeholder verdicts. Stop, quoting
    the server; the refusals are retracted from the journal, so a rerun asks again."""
    refused = [key for key, _ in to_ask if by_key[key].outcomes.get(round_no, (ERROR, None))[0] == BLOCKED]
    if len(refused) * 2 <= len(to_ask):
        return
    reasons = Counter(by_key[key].outcomes[round_no][1] or "no reason given" for key in refused)
    for key in refused:
        journal.add(key, round_no, by_key[key].digest, RETRACTED, None)
    journal.sync()
    raise JudgeRefusedError(
        f"the judge {judge} refused {len(refused)} of the {len(to_ask)} {kind.problem_type} request(s) of round "
        f"{round_no} (HTTP 400); the server said: \"{reasons.most_common(1)[0][0]}\". Nothing was scored and no "
        f"{SCORE_FILE} written; the judgments received so far are saved. Check that this model can serve as a "
        "judge (README: Judging after GPT-3.5)."
    )


def _judged_line(item: _Item, kind: SplitKind, value: Any, extract_base: bool) -> dict[str, Any]:
    line = dict(item.record)
    if extract_base:
        line["response_extracted"] = item.response
    line["judge_response"] = item.last_reply
    if kind is SplitKind.FREE_FORM:
        line["judge_score"] = value
    else:
        line["judge_option"] = value
    return line
