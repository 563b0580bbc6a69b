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

import datetime as dt
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol

from mix_eval.errors import MixEvalError
from mix_eval.folders import SCORE_FILE
from mix_eval.llm.pricing import Price, cost_usd
from mix_eval.judges.protocol import (
    judge_messages,
    judged_response,
    messages_digest,
    option_letters,
    verdict,
)
from mix_eval.records.jsonl import Mode, cut_torn_tail, read_jsonl
from mix_eval.records.schema import journal_entry_problem, keyed_line_problem
from mix_eval.splits import SplitKind
from mix_eval.utils.interrupt import STOP

logger = logging.getLogger(__name__)

MAX_ROUNDS = 10
RANDOM_SEED = 42

OK = "ok"
BLOCKED = "blocked"
ERROR = "error"
RETRACTED = "retracted"  # journal only: a failed round taken back (the judge was down)


class JudgeUnavailableError(MixEvalError):
    """A whole round of judge requests got no answer at all: the judge is down.

    Random verdicts for every item (the reference's fallback) would be a silent
    random score, so the run stops instead; the journal keeps what was judged."""


class JudgeRefusedError(MixEvalError):
    """The judge refused (HTTP 400) the first requests of a round, or most of them: a
    judge that cannot take the requests, not a few blocked items. Nothing is scored."""


def journal_entries(path: Path) -> Optional[dict[str, list[dict[str, Any]]]]:
    """id -> its journal entries in file order, read without touching the file (a reader
    that is not the judging run: no torn tail is cut); None when there is no journal."""
    if not path.is_file():
        return None
    entries: dict[str, list[dict[str, Any]]] = {}
    for line in read_jsonl(path, Mode.TOLERANT, check=journal_entry_problem).lines:
        entries.setdefault(str(line.record["id"]), []).append(line.record)
    return entries

ResultCallback = Callable[..., None]  # (key, outcome, reply, usage=None)


class JudgeBackend(Protocol):
    """Answers judge requests. ``on_result(key, outcome, reply, usage=None)`` is called as
    each one finishes: outcome ``ok`` (reply is the text), ``blocked`` (the API refused the
    request as bad, repeatedly; reply is the server's reason) or ``error`` (no reply); ``usage`` is the reply's
    ``{"prompt_tokens", "completion_tokens"}`` when the API reported it. Fatal problems (a
    bad key) raise instead. ``round_no`` says which round asks (0: a probe), so a backend
    that keeps requests across runs (the Batch API) tells a round's requests from the same
    messages asked again in a later round. ``mode`` is ``live`` or ``batch``."""

    name: str
    mode: str

    def complete(
        self,
        requests: list[tuple[str, list[dict[str, str]]]],
        on_result: ResultCallback,
        *,
        round_no: int = 1,
    ) -> None: ...


# judge_report.json's counts of a split, in their order
REPORT_COUNTS = ("judge", "items", "judge_calls", "reused", "rounds", "blocked", "random_fallback", "invalid_replies")


@dataclass
class JudgeReport:
    """What judging one file took and how reliable its verdicts are."""

    split: SplitKind
    judge: str
    items: int = 0
    judge_calls: int = 0  # requests answered by the backend in this run
    reused: int = 0  # replies replayed from the journal or an earlier judged file
    rounds: int = 0
    blocked: int = 0
    random_fallback: int = 0
    invalid_replies: int = 0  # replies without a valid verdict (retried)
    # Not in as_dict's first keys: tokens of the replies behind the file, by the mode that
    # bought them; the live price (None: unknown); the mode when no reply says its own.
    tokens: dict[str, list[int]] = field(default_factory=dict)
    price: Optional[Price] = None
    default_mode: str = "live"
    request: dict[str, Any] = field(default_factory=dict)  # how the judge was asked (provider, style, params)
    calls: list[str] = field(default_factory=list)  # first and last call times (UTC) of the replies behind it

    def tally(self, entry: Mapping[str, Any]) -> None:
        """Count the tokens and the mode of one journal entry the judged file rests on."""
        at = entry.get("at")
        if isinstance(at, str):
            self.calls = [min(self.calls[0], at), max(self.calls[1], at)] if self.calls else [at, at]
        mode = entry.get("mode")
        if mode not in ("live", "batch"):
            return
        usage = entry.get("usage") or {}
        counts = self.tokens.setdefault(mode, [0, 0])
        counts[0] += _tokens(usage.get("prompt_tokens"))
        counts[1] += _tokens(usage.get("completion_tokens"))

    @property
    def judge_mode(self) -> str:
        modes = sorted(self.tokens)
        if not modes:
            return self.default_mode
        return modes[0] if len(modes) == 1 else "mixed"

    @property
    def prompt_tokens(self) -> int:
        return sum(c[0] for c in self.tokens.values())

    @property
    def completion_tokens(self) -> int:
        return sum(c[1] for c in self.tokens.values())

    @property
    def cost_usd(self) -> Optional[float]:
        """Dollars for the tokens at the judge's price (halved for batch), None when unknown."""
        if self.price is None:
            return None
        return round(sum(cost_usd(p, c, self.price, batch=mode == "batch") for mode, (p, c) in self.tokens.items()),
                     10)

    def counts(self) -> dict[str, Any]:
        """The split by its judged-file tag (``ff``, ``mp``) and the counts: all that a derived
        folder's judge_report.json holds (no call was made for it; a count its source cannot
        tell is None)."""
        return {"split": self.split.tag, **{name: getattr(self, name) for name in REPORT_COUNTS}}

    def as_dict(self) -> dict[str, Any]:
        """As judge_report.json holds it: the counts, then the mode, tokens, cost and request."""
        return {**self.counts(), "judge_mode": self.judge_mode,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd, **self.request,
                "first_call": self.calls[0] if self.calls else None,
                "last_call": self.calls[1] if self.calls else None}


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass
class _Item:
    record: dict[str, Any]
    response: str
    messages: list[dict[str, str]]
    digest: str
    last_reply: Optional[str] = None
    outcomes: dict[int, tuple[str, Optional[str]]] = field(default_factory=dict)


class Journal:
    """Append-only record of judge replies: one JSON line per (item, round)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[tuple[str, int], dict[str, Any]] = {}
        self._file = None
        self._broken = False  # a write failed (disk full): what is buffered is lost, not retried
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        content = read_jsonl(self.path, Mode.TOLERANT, check=journal_entry_problem)
        cut_torn_tail(content)  # a torn last line from a kill: drop it
        for bad in content.bad:
            logger.warning("%s, %s: skipping an unreadable journal line (%s)", self.path, bad.where(), bad.problem)
        for line in content.lines:
            entry = line.record
            self.entries[(str(entry["id"]), int(entry["round"]))] = entry

    def get(self, item_id: str, round_no: int, digest: str) -> Optional[dict[str, Any]]:
        entry = self.entries.get((item_id, round_no))
        if entry is not None and entry.get("digest") == digest:
            return entry
        return None

    def add(self, item_id: str, round_no: int, digest: str, outcome: str, reply: Optional[str], *,
            mode: Optional[str] = None, usage: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
        """Append one reply; ``mode`` (live, batch) and ``usage`` (its tokens) when known."""
        entry: dict[str, Any] = {"id": item_id, "round": round_no, "digest": digest, "outcome": outcome,
                                 "reply": reply,
                                 "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        if mode is not None:
            entry["mode"] = mode
        if usage:
            entry["usage"] = {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")}
        self.entries[(item_id, round_no)] = entry
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()  # in the OS's hands: survives a kill of this process
        except OSError as e:
            raise self._failed(e) from None
        return entry

    def _failed(self, e: OSError) -> OSError:
        """The error of a failed write, naming the journal (a torn line it left is dropped on load)."""
        self._broken = True
        return OSError(e.errno, e.strerror, str(self.path))

    def sync(self) -> None:
        if self._file is not None and not self._broken:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as e:
                raise self._failed(e) from None

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self.sync()
        finally:
            f, self._file = self._file, None
            try:
                f.close()
            except OSError:
                if not self._broken:
                    raise


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
    get_backend: Callable[[], JudgeBackend],
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

    ``get_backend`` is called only if some request has no saved reply, so a rerun over
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
    backend: Optional[JudgeBackend] = None
    rng = random.Random(seed)
    judged: list[tuple[_Item, Any]] = []
    remaining = items
    try:
        for round_no in range(1, max_rounds + 1):
            report.rounds = round_no
            by_key = {}
            to_ask = []
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
                    by_key[key] = item
                    to_ask.append((key, item.messages))
            if to_ask:
                if backend is None:
                    backend = get_backend()

                def on_result(key: str, outcome: str, reply: Optional[str], usage: Optional[Mapping[str, Any]] = None,
                              _round: int = round_no, _mode: str = getattr(backend, "mode", "live")) -> None:
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
            remaining = still
            if not remaining:
                break
    finally:
        journal.close()
        asked = getattr(backend, "request", None)
        if asked is not None and hasattr(asked, "as_dict"):
            report.request = asked.as_dict()  # the style that worked, when the backend had to switch
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


def _check_judge_answers(backend: JudgeBackend, judge: str, kind: SplitKind, round_no: int,
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
        if getattr(backend, "mode", "live") == "batch":
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


def report_lines(reports: Iterable[JudgeReport]) -> list[str]:
    """Human-readable summary; loud when verdicts were not really judged."""
    lines = []
    for r in reports:
        text = (
            f"{r.split.problem_type} judge {r.judge}: {r.items} items, {r.judge_calls} judge calls, "
            f"{r.reused} replies reused, {r.rounds} round(s)"
        )
        if r.prompt_tokens or r.completion_tokens or r.cost_usd is not None:
            text += f"; {r.prompt_tokens} prompt + {r.completion_tokens} completion tokens ({r.judge_mode})"
            text += f", ${r.cost_usd:.4f}" if r.cost_usd is not None else ", cost unknown (give --judge_price)"
        if r.blocked or r.random_fallback:
            text += (
                f"; WARNING: {r.blocked} blocked by the API and {r.random_fallback} never judged "
                "(given a random verdict)"
            )
        lines.append(text)
    return lines


def report_dict(reports: Mapping[str, JudgeReport]) -> dict[str, Any]:
    return {name: r.as_dict() for name, r in reports.items()}
