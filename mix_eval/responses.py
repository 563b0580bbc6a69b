"""Response files and status files: their formats and crash-safe handling (their
names and places: `mix_eval.folders`).

A response line is the data item plus ``formated_input``, ``id`` and ``response``.
The status file is ``{"args": {...}, "status": {"batch_id", "time_elapsed",
"status"}}``.

The response file is the source of truth for what is done: lines are appended and
forced to disk one batch at a time, the status is replaced atomically after them,
and a torn last line left by a kill is dropped on the next start. So a kill at any
moment loses at most the batch in flight, and never duplicates an item.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from mix_eval.errors import MixEvalError, ResumeError
from mix_eval.folders import read_json, write_json
from mix_eval.records.jsonl import (
    JsonlContent,
    Mode,
    cut_torn_tail,
    first_of_each_id,
    read_jsonl,
)
from mix_eval.records.schema import keyed_line_problem
from mix_eval.system.files import write_text_atomic
from mix_eval.thinking import CUT_OFF_KEY, is_cut_off

logger = logging.getLogger(__name__)

IN_PROGRESS = "in progress"
COMPLETE = "complete"

# Arguments whose change changes the responses: a run may resume only when they are
# equal. Everything else (batch size, judge settings, paths, --limit) may change.
RESULT_ARGS = (
    "model_name",
    "model_path",
    "benchmark",
    "version",
    "split",
    "model_systemprompt",
    "max_new_tokens",
    "dtype",
    "model_id",
    "model_gen_kwargs",
    "backend",
    "reasoning_effort",
    "thinking_budget",
    "reasoning_tags",
    "chat_template_kwargs",
)
# Arguments a status file holds as text (or null), which readers use as names and paths.
STATUS_TEXT_ARGS = ("model_name", "model_path", "model_id", "model_base_url", "api_base_url", "benchmark", "version",
                    "split", "backend", "dtype", "model_mode", "data_path")
# What a status file written before an argument existed meant by it (absent: None).
RESULT_ARG_DEFAULTS = {"backend": "hf"}


def check_safe_name(flag: str, value: str) -> str:
    """A name that becomes one path component under the output folder, never a path."""
    if not value or value in (".", "..") or value.startswith(".") or any(c in value for c in "/\\\0:"):
        raise MixEvalError(
            f"{flag} {value!r} cannot be used in a path: use letters, digits, '-', '_' and '.', "
            "without slashes and not starting with a dot"
        )
    return value


# ---------------------------------------------------------------- response lines


@dataclass
class ResponseScan:
    """What a response file holds."""

    content: JsonlContent  # the lines as read, and a torn last line to cut
    records: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    thought: int = 0  # answers whose model thought (`mix_eval.thinking`)
    cut_off: int = 0  # answers cut off while thinking

    @property
    def ids(self) -> list[str]:
        return [str(r["id"]) for r in self.records]


def scan_response_file(path: Path, *, keep_records: bool = True) -> ResponseScan:
    """Read a response file, tolerating only what a kill can leave: a torn last line.

    Any other damage (a bad line in the middle, a line without an id) is an error
    naming the file and line. Duplicate ids keep their first line.
    """
    content = read_jsonl(path, Mode.TOLERANT, check=keyed_line_problem)
    if content.bad:
        bad = content.bad[0]
        raise ResumeError(
            f"{path}, {bad.where()}: {bad.problem}. The file was changed by something other than "
            "mix_eval; fix or delete that line and rerun."
        )
    firsts, repeats = first_of_each_id(content.lines)
    records = [line.record if keep_records else {"id": str(line.record["id"])} for line in firsts]
    thought = sum(CUT_OFF_KEY in line.record for line in firsts)
    cut_off = sum(is_cut_off(line.record) for line in firsts)
    return ResponseScan(content, records, len(repeats), thought, cut_off)


def repair_response_file(scan: ResponseScan) -> None:
    """Drop a torn last line and duplicate lines, in place and atomically."""
    path = scan.content.path
    if scan.content.torn_tail:
        logger.warning(
            "%s: dropping an incomplete last line (%d bytes) left by an interrupted run",
            path, scan.content.torn_tail,
        )
        cut_torn_tail(scan.content)
    if scan.duplicates:
        logger.warning("%s: removing %d duplicate line(s)", path, scan.duplicates)
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in scan.records))
        scan.duplicates = 0


def response_line(record: Mapping[str, Any]) -> str:
    """One JSON line, encoded as the reference encodes it (ASCII, default separators)."""
    return json.dumps(record) + "\n"


# ---------------------------------------------------------------- status


def read_status(path: Path) -> Optional[dict[str, Any]]:
    if not path.exists():
        return None
    try:
        status = read_json(path)
    except ValueError as e:  # not UTF-8 or not JSON
        raise ResumeError(f"{path}: not valid JSON ({e}); delete it to start this split afresh") from None
    except OSError as e:  # a folder of that name, no permission
        raise ResumeError(f"{path}: cannot be read ({e.strerror or e}); delete it to start this split afresh") from None
    if not isinstance(status, dict) or not isinstance(status.get("status"), dict):
        raise ResumeError(f"{path}: not a status file (no `status` object); delete it to start afresh")
    args = status.get("args", {})
    if not isinstance(args, dict):
        raise ResumeError(f"{path}: not a status file (its `args` is not an object); delete it to start afresh")
    named = [key for key in STATUS_TEXT_ARGS if not isinstance(args.get(key), (str, type(None)))]
    if named:
        raise ResumeError(f"{path}: its args.{named[0]} is {args[named[0]]!r}, not text (a file mix_eval did not "
                          "write); delete it to start this split afresh")
    return status


def write_status(path: Path, args: Mapping[str, Any], *, batch_id: int, time_elapsed: float, state: str,
                 extra: Optional[Mapping[str, Any]] = None) -> None:
    """The status file; ``extra``: more keys of its ``status`` object (the counts of a
    model that thinks, `THINKING_STATUS_KEY`), written only when there are any."""
    write_json(
        path,
        {
            "args": dict(args),
            "status": {"batch_id": batch_id, "time_elapsed": time_elapsed, "status": state, **(extra or {})},
        },
    )


# The status object's record of what the Batch API sold for a split generated (in part)
# through it (--model_mode batch): {"batches": [ids], "replies": R, "prompt_tokens": P,
# "completion_tokens": C}.
BATCH_STATUS_KEY = "batch"

# The status object's counts of a model that thinks: {"answers": M, "with_thinking": T, "cut_off": N}.
THINKING_STATUS_KEY = "thinking"


def thinking_status(total: int, thought: int, cut_off: int) -> dict[str, Any]:
    """The status keys of a split whose model thought (none for one that did not)."""
    if not thought and not cut_off:
        return {}
    return {THINKING_STATUS_KEY: {"answers": total, "with_thinking": thought, "cut_off": cut_off}}


def _same(key: str, old: Any, new: Any) -> bool:
    if old == new:
        return True
    if key == "model_path" and old and new:
        return os.path.realpath(str(old)) == os.path.realpath(str(new))
    return False


def _shown(value: Any) -> str:
    return "(not given)" if value is None else shlex.quote(str(value))


def check_resumable(status: Mapping[str, Any], args: Mapping[str, Any], status_file: Path) -> None:
    """Refuse to mix responses made with different result-changing arguments."""
    old_args = status.get("args") or {}
    for key in RESULT_ARGS:
        old = old_args.get(key, RESULT_ARG_DEFAULTS.get(key))
        new = args.get(key, RESULT_ARG_DEFAULTS.get(key))
        if not _same(key, old, new):
            flag = f"--{key}"
            raise ResumeError(
                f"{status_file} was written with {flag} {_shown(old)}, but this run has {flag} "
                f"{_shown(new)}: responses made with both cannot share one file. To resume, rerun "
                f"with {flag} {_shown(old)}; to start afresh, delete or move {status_file.parent} "
                "(or pick another --output_dir)."
            )
