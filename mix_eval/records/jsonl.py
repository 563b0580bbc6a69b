"""The one reader of JSON-lines files (response files, judged files, journals).

Two modes, because two kinds of caller need different things:

* ``TOLERANT`` (resuming, journals, reusing replies): read what can be read. The text
  after the last newline is what a kill leaves in the middle of an append; it is not
  read but reported (`JsonlContent.torn_tail`), for `cut_torn_tail`. Unreadable lines
  are skipped and reported (`JsonlContent.bad`); the caller decides what they mean.
* ``STRICT`` (scoring): every line counts, the last one included. Every line that is not
  JSON, or that ``check`` finds wrong, is collected; any of them is one `MixEvalError`
  naming the file, the first bad line and its id, and how many more there are.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

from mix_eval.errors import MixEvalError

_ID_IN_RAW = re.compile(rb'"id"\s*:\s*"?([^",}\s]{1,64})')


class Mode(Enum):
    TOLERANT = "tolerant"
    STRICT = "strict"


@dataclass(frozen=True)
class Line:
    """One parsed line: its 1-based number in the file and its JSON value."""

    number: int
    record: Any


@dataclass(frozen=True)
class BadLine:
    """A line that cannot be used: its number, its id when one can be made out, and why."""

    number: int
    id: Optional[str]
    problem: str

    def where(self) -> str:
        return where(self.number, self.id)


@dataclass
class JsonlContent:
    """What a JSONL file holds."""

    path: Path
    lines: list[Line] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)  # tolerant mode: lines skipped
    torn_tail: int = 0  # tolerant mode: bytes after the last newline, not read
    line_count: int = 0  # lines with text, readable or not, the torn tail included


def where(lineno: int, rid: Any = None) -> str:
    """A line as errors name it: ``line 3 (id '12')``."""
    return f"line {lineno}" + ("" if rid is None else f" (id {str(rid)!r})")


def first_and_count(path: Path, problems: list[str], what: str = "bad line") -> str:
    """One message for many problems of a file: the first, and how many more."""
    text = f"{path}, {problems[0]}"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more {what}(s) in the file)"
    return text


def _raw_id(raw: bytes) -> Optional[str]:
    match = _ID_IN_RAW.search(raw)
    return match.group(1).decode("utf-8", "replace") if match else None


def _record_id(record: Any) -> Optional[Any]:
    rid = record.get("id") if isinstance(record, dict) else None
    return rid if isinstance(rid, (str, int)) else None


def read_jsonl(path: Path, mode: Mode, *, check: Optional[Callable[[Any], Optional[str]]] = None,
               torn_line: Optional[str] = None) -> JsonlContent:
    """Read ``path`` line by line (see the module docstring for the modes).

    ``check`` says what is wrong with a parsed line, or None; in tolerant mode a line it
    rejects is skipped like an unreadable one. ``torn_line`` (strict mode) is the message
    for a last line that is not JSON and has no newline after it: a write cut off.
    A missing file is empty in tolerant mode, an error in strict mode.
    """
    path = Path(path)
    strict = mode is Mode.STRICT
    content = JsonlContent(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        if strict:
            raise MixEvalError(f"{path}: cannot be read ({e.strerror})") from None
        if isinstance(e, FileNotFoundError):
            return content
        raise
    end = len(data) if strict else data.rfind(b"\n") + 1
    content.torn_tail = len(data) - end
    if data[end:].strip():
        content.line_count += 1
    raw_lines = data[:end].split(b"\n")
    for lineno, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        content.line_count += 1
        try:
            record = json.loads(raw)
        except UnicodeDecodeError:
            content.bad.append(BadLine(lineno, _raw_id(raw), "not UTF-8 text"))
            continue
        except RecursionError:
            content.bad.append(BadLine(lineno, _raw_id(raw), "JSON nested too deeply to be read"))
            continue
        except json.JSONDecodeError as e:
            cut = torn_line is not None and lineno == len(raw_lines)
            content.bad.append(BadLine(lineno, _raw_id(raw), torn_line if cut else f"not valid JSON ({e.msg})"))
            continue
        problem = check(record) if check is not None else None
        if problem:
            content.bad.append(BadLine(lineno, _record_id(record), problem))
            continue
        content.lines.append(Line(lineno, record))
    if strict and content.bad:
        raise MixEvalError(first_and_count(path, [f"{b.where()}: {b.problem}" for b in content.bad]))
    return content


def cut_torn_tail(content: JsonlContent) -> None:
    """Cut the torn last line off the file, so the next append starts a line of its own."""
    if not content.torn_tail:
        return
    with open(content.path, "r+b") as f:
        f.truncate(os.path.getsize(content.path) - content.torn_tail)
        f.flush()
        os.fsync(f.fileno())
    content.torn_tail = 0


def first_of_each_id(lines: list[Line]) -> tuple[list[Line], list[Line]]:
    """The first line of each id, and the later lines that repeat an id, in file order.

    Every line must be a JSON object with an ``id`` (see `mix_eval.records.schema`).
    """
    seen: set[str] = set()
    firsts: list[Line] = []
    repeats: list[Line] = []
    for line in lines:
        rid = str(line.record["id"])
        (repeats if rid in seen else firsts).append(line)
        seen.add(rid)
    return firsts, repeats
