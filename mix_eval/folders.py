"""The output folders: the name of every file a run leaves, and how they are read and written.

A run's folder (``--output_dir``, ``--model_response_dir``) holds a folder per model,
benchmark and version, and the files of the whole run::

    <root>/score.json                          every model's scores
    <root>/report.html, report.md, samples.html
    <root>/judge_agreement.json                compare_judges
    <root>/error.log                           the errors of the commands run on it
    <root>/.batch_journal_<judge>.jsonl        --judge_mode batch: its files and batches
    <root>/<model>/<benchmark>/<version>/      a model's folder:
        <model>_<split>.jsonl                  the responses
        status_<split>.json                    how far they are, and the flags that made them
        judge_results_<ff|mp>_rule.jsonl       the judged files: rule parser,
        judge_results_<ff|mp>_model_judge_<judge>.jsonl    or model judge
        .journal_<judged file stem>.jsonl      every reply of the judge behind a judged file
        .batch_journal_<split>.jsonl           --model_mode batch: the split's files, batches and replies
        score.json, score_intervals.json, judge_report.json, run_manifest.json
        derived_from.json                      a MixEval-Hard folder made from the MixEval one
        .mix_eval.lock                         held by the one run writing the folder

and a calibration's folder holds ``calibration.json``. Every such name is spelled here
and nowhere else in the package (``tests/test_folder_names.py`` checks it); what the
files hold is their modules' business, which read and write them with the helpers here.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mix_eval.splits import SplitKind
from mix_eval.system.files import exclusive_lock, write_text_atomic

if TYPE_CHECKING:
    from mix_eval.settings import JudgeSettings

# ---------------------------------------------------------------- a model's folder

SCORE_FILE = "score.json"  # also the run's: every model's scores
INTERVALS_FILE = "score_intervals.json"
JUDGE_REPORT_FILE = "judge_report.json"  # what judging took, and how reliable it was
MANIFEST_FILE = "run_manifest.json"
DERIVED_FROM_FILE = "derived_from.json"  # the mark (and origin) of a derived MixEval-Hard folder
LOCK_FILE = ".mix_eval.lock"

# ---------------------------------------------------------------- a run's folder

REPORT_HTML_FILE = "report.html"
REPORT_MARKDOWN_FILE = "report.md"
SAMPLES_FILE = "samples.html"
AGREEMENT_FILE = "judge_agreement.json"
ERROR_LOG = "error.log"

# ---------------------------------------------------------------- a calibration's folder

CALIBRATION_FILE = "calibration.json"

_STATUS_PREFIX = "status_"
_JUDGED_PREFIX = "judge_results_"
_JOURNAL_PREFIX = ".journal_"
_BATCH_JOURNAL_PREFIX = ".batch_journal_"
_JSONL = ".jsonl"
_JUDGED_FILE_GLOB = f"{_JUDGED_PREFIX}*{_JSONL}"
_JUDGED_FILE = re.compile(r"^%s(%s)_(?:(rule)|model_judge_(.+))%s$"
                          % (_JUDGED_PREFIX, "|".join(k.tag for k in SplitKind), re.escape(_JSONL)))
# written with a newline at the end, as the reference writes score.json; the others without
_ENDS_WITH_NEWLINE = frozenset({SCORE_FILE, INTERVALS_FILE, DERIVED_FROM_FILE})


def model_version_dir(output_dir: str | os.PathLike, model_name: str, benchmark: str, version: str) -> Path:
    """A model's folder: ``<output_dir>/<model>/<benchmark>/<version>``."""
    return Path(output_dir) / model_name / benchmark / version


def response_path(version_dir: Path, model_name: str, split_name: str) -> Path:
    return version_dir / f"{model_name}_{split_name}{_JSONL}"


def status_path(version_dir: Path, split_name: str) -> Path:
    return version_dir / f"{_STATUS_PREFIX}{split_name}.json"


def is_status_file(name: str) -> bool:
    return name.startswith(_STATUS_PREFIX) and name.endswith(".json")


def judge_in_file_name(judge: str) -> str:
    """A judge as file names spell it (a Hub id's ``/`` as ``_``)."""
    return judge.replace("/", "_")


def judged_file_name(judge: JudgeSettings, kind: SplitKind) -> str:
    """The judged file of a kind of split: by parser, and by judge for the model parser."""
    if judge.parser(kind) == "rule":
        return f"{_JUDGED_PREFIX}{kind.tag}_rule{_JSONL}"
    return f"{_JUDGED_PREFIX}{kind.tag}_model_judge_{judge_in_file_name(judge.judge(kind))}{_JSONL}"


@dataclass(frozen=True)
class JudgedFileName:
    """What a judged file's name says (`judged_file_name` read back)."""

    kind: SplitKind
    parser: str  # "model" or "rule"
    judge: Optional[str]  # the judge as the name spells it (`judge_in_file_name`); None for the rule parser


def parse_judged_file_name(name: str) -> Optional[JudgedFileName]:
    """The split, parser and judge of a judged file's name; None for any other file."""
    match = _JUDGED_FILE.match(name)
    if not match:
        return None
    kind = next(k for k in SplitKind if k.tag == match.group(1))
    return JudgedFileName(kind, "rule", None) if match.group(2) else JudgedFileName(kind, "model", match.group(3))


def judged_files(version_dir: Path) -> list[tuple[Path, JudgedFileName]]:
    """The judged files of a folder (every parser and judge that scored it), by name."""
    found = []
    for path in sorted(Path(version_dir).glob(_JUDGED_FILE_GLOB)):
        name = parse_judged_file_name(path.name)
        if name is not None and path.is_file():
            found.append((path, name))
    return found


def journal_path(judged_file: Path) -> Path:
    """The journal of a judged file's replies, beside it."""
    return judged_file.parent / f"{_JOURNAL_PREFIX}{judged_file.stem}{_JSONL}"


def batch_journal_path(run_dir: Path, judge: str) -> Path:
    """The journal of the Batch API batches of ``judge``, in the run's folder (a batch
    carries the requests of every model of the run)."""
    return Path(run_dir) / f"{_BATCH_JOURNAL_PREFIX}{judge_in_file_name(judge)}{_JSONL}"


def model_batch_journal_path(version_dir: Path, split_name: str) -> Path:
    """The batch journal of a split generated through the Batch API (``--model_mode batch``)."""
    return Path(version_dir) / f"{_BATCH_JOURNAL_PREFIX}{split_name}{_JSONL}"


def lock_path(version_dir: Path) -> Path:
    return Path(version_dir) / LOCK_FILE


def folder_lock(version_dir: Path) -> contextlib.AbstractContextManager[None]:
    """The lock of a model's folder (`mix_eval.system.files.exclusive_lock`): one writer at a time."""
    return exclusive_lock(lock_path(version_dir))


# ---------------------------------------------------------------- reading and writing


def read_json(path: Path) -> Any:
    """A JSON file; OSError or ValueError (not UTF-8, not JSON) when it cannot be read."""
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except RecursionError:  # a value nested thousands deep: not a file mix_eval wrote
            raise ValueError(f"{path}: JSON nested too deeply to be read") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object file, read tolerantly: ``{}`` when it is absent, unreadable or not an object."""
    try:
        value = read_json(path)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_json(path: Path, obj: Any) -> Path:
    """``obj`` as the folders' JSON files hold it (indented by 4), atomically."""
    path = Path(path)
    write_text_atomic(path, json.dumps(obj, indent=4) + ("\n" if path.name in _ENDS_WITH_NEWLINE else ""))
    return path


def derived_from(version_dir: Path) -> Optional[dict[str, Any]]:
    """The origin recorded in a derived folder (an empty dict if unreadable); None if not derived."""
    path = Path(version_dir) / DERIVED_FROM_FILE
    if not path.is_file():
        return None
    return read_json_object(path)


def append_error_log(output_dir: str | os.PathLike, message: str) -> None:
    """Append a dated line to ``<output_dir>/error.log``, as the reference does (OSError when it cannot)."""
    os.makedirs(output_dir, exist_ok=True)
    with open(Path(output_dir) / ERROR_LOG, "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
