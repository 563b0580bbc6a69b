"""The journal of a judged file: every judge reply appended as it arrives, one JSON line
per (item, round), so a killed or crashed run replays what it paid for instead of
asking again. A reply is keyed by a digest of its request: it is reused only for the
very same request."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from mix_eval.records.jsonl import Mode, cut_torn_tail, read_jsonl
from mix_eval.records.schema import journal_entry_problem

logger = logging.getLogger(__name__)

__all__ = ["RETRACTED", "Journal", "journal_entries"]

RETRACTED = "retracted"  # journal only: a failed round taken back (the judge was down)


def journal_entries(path: Path) -> Optional[dict[str, list[dict[str, Any]]]]:
    """id -> its journal entries in file order, read without touching the file (a reader
    that is not the judging run: no torn tail is cut); None when there is no journal."""
    if not path.is_file():
        return None
    entries: dict[str, list[dict[str, Any]]] = {}
    for line in read_jsonl(path, Mode.TOLERANT, check=journal_entry_problem).lines:
        entries.setdefault(str(line.record["id"]), []).append(line.record)
    return entries


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
