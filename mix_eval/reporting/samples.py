"""Every item of a response folder with every judge's verdict: the data of the answers
explorer (``samples.html``, rendered by `mix_eval.reporting.samples_page`).

A score says how a model did; the items say why. For each scored folder the report
covers, each item of both splits is gathered with its question, options, gold
answer(s) and response, and, from every judged file beside them (every judge and the
rule parsers, not only the one ``score.json`` rests on), the item's score, the judge's
reply and two flags read from the judge's journal: a random verdict (the judge never
gave a valid one in any round) and a blocked item (its last round was refused by the
API). Items whose judges score them differently are marked as a disagreement. A model
that thought has its thinking beside each answer (shortened in the middle when a run's
thinking would make the page large: `THINKING_BUDGET`) and its answers cut off while
thinking flagged.

Nothing here fails the report: a file that cannot be read, or lines that are not what a
response or judged line must be, are left out and named in the page's notes. Every
value is data for the page's script, which shows it as text; `samples_page` embeds it
so that no value can end the script element. Never imports torch.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from mix_eval.data import splits_for
from mix_eval.folders import (
    SAMPLES_FILE,
    JudgedFileName,
    journal_path,
    judge_in_file_name,
    judged_files as named_judged_files,
    response_path,
)
from mix_eval.judges.protocol import verdict
from mix_eval.judges.runner import BLOCKED, OK, RETRACTED, journal_entries
from mix_eval.records.jsonl import Mode, first_of_each_id, read_jsonl
from mix_eval.records.schema import judged_line_problem, response_line_problem
from mix_eval.reporting.collect import ScoredRun
from mix_eval.scoring.aggregate import item_scores
from mix_eval.splits import SplitKind
from mix_eval.system.files import write_text_atomic
from mix_eval.thinking import CUT_OFF_KEY, REASONING_KEY, REASONING_TOKENS_KEY, cut_off_advice, is_cut_off

logger = logging.getLogger(__name__)

RULE = "rule"  # the rule parsers, listed among the judges under this name

# Flags of an item and of a verdict (bits).
RANDOM_VERDICT = 1
BLOCKED_ITEM = 2
JUDGES_DISAGREE = 4
CUT_OFF = 8  # the answer was cut off while thinking (`mix_eval.thinking.is_cut_off`)

# The characters of thinking a page holds in all (about a byte each in the page): a run's
# thinking can be tens of kB per answer, so when the whole would pass this, each answer's
# thinking keeps its beginning and its end (where it stopped), at least THINKING_KEPT.
THINKING_BUDGET = 4_000_000
THINKING_KEPT = 1_000

# The position of each field in an item's row of the page's data (rows are arrays, so
# that 10,000 items do not repeat 12 key names each); the page's script reads the same
# order from ``fields``.
ITEM_FIELDS = ("run", "split", "id", "benchmark_name", "context", "prompt", "options", "target", "response",
               "response_extracted", "verdicts", "flags", "thinking")
# An item's thinking, when its model thought (else null): the thinking's text (-1 when the
# API hid it) and its reasoning tokens (null when not counted).
THINKING_FIELDS = ("text", "tokens")
# A verdict: its judge (index), the item's score (0 to 1, as score.json counts it), the
# judge's answer (free-form score, chosen letter, or the rule parser's reading), its
# reply, its flags.
VERDICT_FIELDS = ("judge", "score", "answer", "reply", "flags")


class _Strings:
    """A table of the texts, each stored once: a MixEval-Hard item repeats its MixEval
    twin's question, two models share their questions, judges repeat phrasings."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, text: Optional[str]) -> int:
        """The index of ``text`` in the table (-1 for None)."""
        if text is None:
            return -1
        text = str(text)
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.table)
            self.table.append(text)
        return found


@dataclass
class JudgedFile:
    path: Path
    name: JudgedFileName

    @property
    def judge(self) -> str:
        """The judge as the explorer names it: the model judge, or ``rule``."""
        return self.name.judge if self.name.parser == "model" else RULE


@dataclass
class Verdict:
    judge: str
    score: float  # the item's score as score.json counts it: 0 to 1
    answer: Optional[str]  # free-form: the judge's score; multiple-choice: the letter; rule: what it read
    reply: Optional[str]  # the judge's reply (None for the rule parsers)
    flags: int = 0  # RANDOM_VERDICT | BLOCKED_ITEM


@dataclass
class Item:
    record: dict[str, Any]
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def thought(self) -> bool:
        """Whether the model thought (the line carries any of the thinking keys)."""
        return any(key in self.record for key in (REASONING_KEY, REASONING_TOKENS_KEY, CUT_OFF_KEY))

    @property
    def flags(self) -> int:
        flags = CUT_OFF if is_cut_off(self.record) else 0
        for v in self.verdicts:
            flags |= v.flags
        if len({v.score for v in self.verdicts}) > 1:
            flags |= JUDGES_DISAGREE
        return flags


@dataclass
class SplitItems:
    """One split of one scored folder: its items in file order, and what was left out."""

    run: ScoredRun
    kind: SplitKind
    items: dict[str, Item]
    judges: list[str]
    notes: list[str] = field(default_factory=list)


def judged_files(vdir: Path) -> list[JudgedFile]:
    """The judged files of a folder, by name (every judge and parser that scored it)."""
    return [JudgedFile(path, name) for path, name in named_judged_files(vdir)]


def _read_lines(path: Path, check: Callable[[Any], Optional[str]], notes: list[str]) -> list[dict[str, Any]]:
    """The first line of each id that passes ``check``; what is left out, as a note."""
    try:
        content = read_jsonl(path, Mode.TOLERANT, check=check)
    except OSError as e:
        notes.append(f"{path}: not read ({e.strerror or e})")
        return []
    firsts, _ = first_of_each_id(content.lines)
    left_out = len(content.bad) + (1 if content.torn_tail else 0)
    if left_out:
        first = content.bad[0].where() + f": {content.bad[0].problem}" if content.bad else "the last line is cut off"
        notes.append(f"{path}: {left_out} line(s) left out ({first})")
    return [line.record for line in firsts]


def _flags(kind: SplitKind, line: dict[str, Any], entries: Optional[list[dict[str, Any]]]) -> int:
    """Random and blocked, from the item's journal entries (in file order): blocked when
    its last round was refused; random when no round gave a valid verdict (a reply
    without one, or no reply at all). Only the entries of the request the judged line
    answers count (those with the digest of its first round: a rerun after the
    responses changed leaves older requests' later rounds behind). Without journal
    entries, a judged line whose reply holds no verdict got a random one (the runner
    keeps the last reply, which had none); blocked cannot be told."""
    entries = [e for e in entries or () if e.get("outcome") != RETRACTED]  # a round taken back was asked again
    first = [e for e in entries if str(e.get("round")) == "1"]
    if first:
        entries = [e for e in entries if e.get("digest") == first[-1].get("digest")]
    if not entries:
        return RANDOM_VERDICT if verdict(kind, line.get("judge_response")) is None else 0
    last = max(enumerate(entries), key=lambda pair: (int(pair[1]["round"]), pair[0]))[1]  # a round's latest
    if last.get("outcome") == BLOCKED:
        return BLOCKED_ITEM
    valid = any(e.get("outcome") == OK and verdict(kind, e.get("reply")) is not None for e in entries)
    return 0 if valid else RANDOM_VERDICT


def _answer(kind: SplitKind, parser: str, line: dict[str, Any]) -> Optional[str]:
    if parser == RULE:
        parsed = line.get("parsed_result")
        return None if parsed is None else (parsed if isinstance(parsed, str) else _shown(parsed))
    value = line.get("judge_option") if kind.is_multichoice else line.get("judge_score")
    return None if value is None else str(value)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def read_split(run: ScoredRun, kind: SplitKind, files: Iterable[JudgedFile]) -> SplitItems:
    """The items of one split of a scored folder, with every judged file's verdicts."""
    split = next(s for s in splits_for(run.benchmark) if s.kind is kind)
    notes: list[str] = []
    items: dict[str, Item] = {}
    path = response_path(run.vdir, run.model, split.name)
    if path.is_file():
        for record in _read_lines(path, lambda r: response_line_problem(r, kind), notes):
            items[str(record["id"])] = Item(record)
    judges = []
    for judged in files:
        if judged.name.kind is not kind:
            continue
        parser = judged.name.parser
        lines = _read_lines(judged.path, lambda r, p=parser: judged_line_problem(r, kind, p), notes)
        journal = journal_entries(journal_path(judged.path)) if parser == "model" else None
        judges.append(judged.judge)
        for line in lines:
            rid = str(line["id"])
            item = items.get(rid)
            if item is None:  # no response file (or not this line): a judged line holds the item too
                if response_line_problem(line, kind) is not None:
                    continue
                item = items[rid] = Item(line)
            try:
                score = float(item_scores(kind, parser, [line])[0][1])
            except (ValueError, TypeError, KeyError, IndexError):
                continue
            flags = 0 if parser == RULE else _flags(kind, line, (journal or {}).get(rid))
            reply = None if parser == RULE else line.get("judge_response")
            if "response_extracted" in line and "response_extracted" not in item.record:
                item.record["response_extracted"] = line["response_extracted"]
            item.verdicts.append(Verdict(judged.judge, score, _answer(kind, parser, line),
                                         None if reply is None else str(reply), flags))
    return SplitItems(run, kind, items, judges, notes)


def scored_judge(run: ScoredRun, kind: SplitKind) -> Optional[str]:
    """The judge ``score.json`` rests on for a split (the report's: the newest judged file)."""
    judging = next((s for s in run.splits if s.kind is kind), None)
    if judging is None or judging.parser is None:
        return None
    return RULE if judging.parser == RULE else judge_in_file_name(str(judging.judge))


def shorten_thinking(text: str, keep: int) -> str:
    """``text`` when at most ``keep`` characters, else its first and last parts with a
    line in the middle that says how much was left out and where the whole is."""
    if len(text) <= keep:
        return text
    head = keep * 2 // 5
    tail = keep - head
    return (f"{text[:head]}\n\n[... {len(text) - keep:,} characters of the thinking left out here, to keep the page "
            f"small; the whole is in the response file ...]\n\n{text[-tail:]}")


def thinking_limit(texts: Iterable[str], budget: int = THINKING_BUDGET) -> Optional[int]:
    """The characters each answer's thinking keeps, so that all of it stays near
    ``budget`` (None: all of it fits)."""
    lengths = sorted(len(t) for t in texts)
    if sum(lengths) <= budget:
        return None
    # the largest cut that fits: short texts are kept whole, the rest share what is left
    left, count = budget, len(lengths)
    for length in lengths:
        share = left // count
        if length > share:
            return max(THINKING_KEPT, share)
        left -= length
        count -= 1
    return None


def explorer_data(runs: list[ScoredRun], root: str) -> dict[str, Any]:
    """The page's data: the runs, the judges, a table of texts and one row per item."""
    strings = _Strings()
    judges: dict[str, int] = {}
    rows: list[list[Any]] = []
    notes: list[str] = []
    run_rows = []
    splits: list[tuple[int, int, SplitItems]] = []
    for run_index, run in enumerate(runs):
        files = judged_files(run.vdir)
        scored = []
        for kind_index, kind in enumerate(SplitKind):
            split = read_split(run, kind, files)
            notes.extend(split.notes)
            for name in split.judges:
                judges.setdefault(name, len(judges))
            best = scored_judge(run, kind)
            scored.append(judges.get(best, -1) if best is not None else -1)
            splits.append((run_index, kind_index, split))
        run_rows.append({"model": run.model, "benchmark": run.benchmark, "version": run.version, "scored": scored})
    keep = thinking_limit(str(item.record[REASONING_KEY]) for _, _, split in splits for item in split.items.values()
                          if item.record.get(REASONING_KEY) is not None)
    for run_index, kind_index, split in splits:
        for rid, item in split.items.items():
            rows.append(_row(run_index, kind_index, split.kind, rid, item, judges, strings, keep))
    data = {
        "root": root,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "fields": {"item": list(ITEM_FIELDS), "verdict": list(VERDICT_FIELDS), "thinking": list(THINKING_FIELDS)},
        "splits": [{"tag": k.tag, "label": k.problem_type} for k in SplitKind],
        "runs": run_rows,
        "judges": list(judges),
        "rule": RULE,
        "flags": {"random": RANDOM_VERDICT, "blocked": BLOCKED_ITEM, "disagree": JUDGES_DISAGREE, "cut_off": CUT_OFF},
        "notes": notes,
        "strings": strings.table,
        "items": rows,
    }
    if any(row[-1] is not None for row in rows):  # a model thought: the fix the page gives for a cut-off answer
        data["thinking"] = {"advice": cut_off_advice()}
    return data


def _thinking(item: Item, strings: _Strings, keep: Optional[int]) -> Optional[list[Any]]:
    record = item.record
    if not item.thought:
        return None
    text = record.get(REASONING_KEY)
    text = None if text is None else str(text)
    if text is not None and keep is not None:
        text = shorten_thinking(text, keep)
    tokens = record.get(REASONING_TOKENS_KEY)
    tokens = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None
    return [strings.add(text), tokens]


def _row(run_index: int, kind_index: int, kind: SplitKind, rid: str, item: Item, judges: dict[str, int],
         strings: _Strings, keep: Optional[int] = None) -> list[Any]:
    record = item.record
    if kind.is_multichoice:
        options: Any = [strings.add(o) for o in record["options"]]
        target: Any = record["target"][0]
    else:
        options = None
        target = [strings.add(t) for t in record["target"]]
    verdicts = [[judges[v.judge], v.score, strings.add(v.answer), strings.add(v.reply), v.flags]
                for v in item.verdicts]
    context = record.get("context")
    row = [run_index, kind_index, rid, strings.add(record["benchmark_name"]),
           strings.add(context if isinstance(context, str) and context else None), strings.add(record["prompt"]),
           options, target, strings.add(record["response"]), strings.add(record.get("response_extracted")),
           verdicts, item.flags, _thinking(item, strings, keep)]
    assert len(row) == len(ITEM_FIELDS)
    return row


def write_samples(runs: list[ScoredRun], root: Path) -> Path:
    """Write ``<root>/samples.html`` (atomically): the explorer of these scored folders."""
    from mix_eval.reporting import samples_page

    path = Path(root) / SAMPLES_FILE
    data = explorer_data(runs, str(root))
    for note in data["notes"]:
        logger.warning("answers explorer: %s", note)
    write_text_atomic(path, samples_page.render(data))
    return path
