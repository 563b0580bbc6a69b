"""Whether response folders are complete: the logic of ``check_eval_complete``.

A folder is complete when its status says so (and the run had no ``--limit``) and its
response file holds as many lines as the split has items. The problem lines and the
closing line are the reference's, word for word.

A response file with answers cut off while thinking (the model's token budget ran out
before its answer began) is listed after them, as a warning with the fix, counted from the
file itself: "<file>: N of M answers cut off while thinking". It does not make the check
fail: each such item has its line (an empty answer, scored wrong, which is what the model
did with that budget), the folder is complete, and the fix is a new run with another
budget into another folder, never more lines in this one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from mix_eval.data import (
    Split,
    read_split_file,
    resolve_data_path,
    split_file,
    splits_for,
)
from mix_eval.errors import MixEvalError
from mix_eval.folders import model_version_dir, response_path, status_path
from mix_eval.records.jsonl import Mode, read_jsonl
from mix_eval.responses import COMPLETE, read_status
from mix_eval.scoring.answer_stats import read_answer_stats
from mix_eval.thinking import cut_off_advice, cut_off_line

CLOSING_LINE = "Above lines are problematic directories. No lines above means all entries are valid. "
CUT_OFF_PREFIX = "Warning: "  # a cut-off line is a warning, below the closing line


@dataclass
class FolderCheck:
    folder: str
    exists: bool
    status_complete: bool = False
    responses_complete: bool = False
    note: str = ""
    response_file: Optional[Path] = None
    cut_off: int = 0  # answers of the response file cut off while thinking
    answers: int = 0  # answers of the response file (the first line of each id)

    @property
    def ok(self) -> bool:
        return self.exists and self.status_complete and self.responses_complete

    def message(self) -> str:
        if not self.exists:
            return f"Directory {self.folder} does not exist."
        return (
            f"Directory {self.folder} has issues. Please check the log file inside. "
            f"The check result: [Status complete: {self.status_complete}], "
            f"[Responses file complete: {self.responses_complete}], "
            f"[No error in log file: True].{self.note}"
        )

    def cut_off_message(self) -> str:
        """"Warning: <file>: N of M answers cut off while thinking (...)", with the fix."""
        return (f"{CUT_OFF_PREFIX}{self.response_file}: {cut_off_line(self.cut_off, self.answers)} (no answer after "
                f"the thinking; scored as an empty answer). To fix: {cut_off_advice()}.")


def check_folder(folder: str, model_name: str, split: Split, expected: int) -> FolderCheck:
    """Check one model's folder for one split."""
    if not os.path.isdir(folder):
        return FolderCheck(folder, exists=False)
    result = FolderCheck(folder, exists=True)
    folder_path = Path(folder)
    spath = status_path(folder_path, split.name)
    try:
        status = read_status(spath)
        if status is not None:
            result.status_complete = status["status"]["status"] == COMPLETE
            limit = (status.get("args") or {}).get("limit")
            if limit:
                result.status_complete = False
                result.note = f" (made with --limit {limit}: a smoke run, not a full evaluation)"
    except (MixEvalError, OSError, KeyError, TypeError, AttributeError):
        result.note = f" ({spath.name} is unreadable)"
    rpath = response_path(folder_path, model_name, split.name)
    if rpath.exists():
        n = read_jsonl(rpath, Mode.TOLERANT).line_count  # every line with text, as the reference counts
        result.responses_complete = n == expected
        if n != expected and not result.note:
            result.note = f" ({n} responses, {expected} expected)"
        stats = read_answer_stats(rpath)
        if stats is not None:
            result.response_file, result.cut_off, result.answers = rpath, stats.cut_off, stats.answers
    return result


def size_flag(split: Split) -> str:
    """The flag (dest) of a split's expected size: close_freeform_hard -> n_closefreeform_hard."""
    return "n_" + split.name.replace("close_", "close", 1)


def expected_sizes(benchmark: str, version: str, data_path: Optional[str],
                   given: Mapping[str, Optional[int]]) -> dict[str, int]:
    """Split name -> expected size: from ``given`` (by `size_flag`), else from the benchmark
    data, else the reference's defaults."""
    sizes = {}
    for split in splits_for(benchmark):
        flag = given.get(size_flag(split))
        if flag is not None:
            sizes[split.name] = flag
            continue
        local = split_file(resolve_data_path(data_path, version), version, split)
        try:
            sizes[split.name] = len(read_split_file(local, split)) if local.is_file() else split.default_size
        except MixEvalError:
            sizes[split.name] = split.default_size
    return sizes


def check_folders(response_dir: str, benchmark: str, version: str, model_groups: Sequence[Sequence[str]],
                  sizes: Mapping[str, int]) -> list[FolderCheck]:
    """Every folder's check, for each group of models in turn (the reference: base
    models, then chat models), split by split; ``none`` names no model."""
    checks: list[FolderCheck] = []
    for models in model_groups:
        models = [m for m in models if m.lower() != "none"]
        for split in splits_for(benchmark):
            for model in models:
                folder = str(model_version_dir(response_dir, model, benchmark, version))
                checks.append(check_folder(folder, model, split, sizes[split.name]))
    return checks


def check_results(response_dir: str, benchmark: str, version: str, model_groups: Sequence[Sequence[str]],
                  sizes: Mapping[str, int]) -> list[FolderCheck]:
    """The folders with a problem (`check_folders` that are not ok)."""
    return [c for c in check_folders(response_dir, benchmark, version, model_groups, sizes) if not c.ok]


def problem_lines(problems: Sequence[FolderCheck]) -> list[str]:
    """One line per problem folder, then the closing line."""
    return [c.message() for c in problems] + [CLOSING_LINE]


def cut_off_lines(checks: Sequence[FolderCheck]) -> list[str]:
    """One warning per response file with answers cut off while thinking (none: no line)."""
    return [c.cut_off_message() for c in checks if c.cut_off]


def append_report(out_path: str, lines: Sequence[str]) -> None:
    """Append the lines to ``--out_path`` (its folder made if needed), as the reference does."""
    out_dir = os.path.dirname(out_path)
    try:
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
        with open(out_path, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    except OSError as e:  # a folder of that name, a file where a folder should be, a full disk
        raise MixEvalError(f"--out_path {out_path}: cannot be written ({e.strerror or e}: {e.filename}); give a "
                           "file in a folder you can write") from None
