"""The benchmark data: where it lives, how it is checked, and how it becomes items.

Layout under ``--data_path`` (the reference's)::

    mixeval-<version>/mixeval/free-form.json
    mixeval-<version>/mixeval/multiple-choice.json
    mixeval-<version>/mixeval-hard/free-form.json
    mixeval-<version>/mixeval-hard/multiple-choice.json

Each file is a JSON object keyed by item id. Both published versions ship inside the
package (``mix_eval/data/``). When a version is not on disk, the Hugging Face Hub
dataset ``MixEval/MixEval`` is fetched, identified by content (the Hub does not name
versions) and stored in this layout: under ``--data_path`` when one is given, else in
the user's cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from mix_eval.errors import DataError
from mix_eval.prompts import format_input
from mix_eval.records.schema import item_problem
from mix_eval.splits import SplitKind
from mix_eval.system.cache import cache_dir
from mix_eval.system.files import write_json_atomic

logger = logging.getLogger(__name__)

BENCHMARKS = ("mixeval", "mixeval_hard")
KNOWN_VERSIONS = ("2024-06-01", "2024-08-11")
DEFAULT_DATA_PATH = "mix_eval/data/"
HUB_DATASET = "MixEval/MixEval"



@dataclass(frozen=True)
class Split:
    """One of the four generation splits and where its data lives."""

    benchmark: str  # "mixeval" | "mixeval_hard"
    kind: SplitKind
    folder: str  # data folder: "mixeval" | "mixeval-hard"
    default_size: int  # the size check_eval_complete expects by default
    hub_config: str  # the Hub dataset's configuration: "MixEval" | "MixEval_Hard"

    @property
    def name(self) -> str:
        """e.g. "close_freeform_hard"; names response and status files."""
        return self.kind.split_name(self.benchmark)

    @property
    def problem_type(self) -> str:
        return self.kind.problem_type

    @property
    def file_name(self) -> str:
        return self.kind.file_name

    @property
    def hub_split(self) -> str:
        return self.kind.label

    @property
    def is_multichoice(self) -> bool:
        return self.kind.is_multichoice


def _pair(benchmark: str, folder: str, default_size: int, hub_config: str) -> tuple[Split, Split]:
    ff, mp = (Split(benchmark, kind, folder, default_size, hub_config) for kind in SplitKind)
    return ff, mp


SPLITS: dict[str, tuple[Split, Split]] = {
    "mixeval": _pair("mixeval", "mixeval", 2000, "MixEval"),
    "mixeval_hard": _pair("mixeval_hard", "mixeval-hard", 500, "MixEval_Hard"),
}

# Content fingerprints of the published versions (see `fingerprint`), used to tell
# which version a Hub download is. Computed from the reference data files.
VERSION_FINGERPRINTS: dict[str, dict[str, str]] = {
    "2024-06-01": {
        "close_freeform": "de46d6286def53c6",
        "close_multichoice": "899e643f6018955c",
        "close_freeform_hard": "2651b335e8ce670d",
        "close_multichoice_hard": "82ec8d25ab47940a",
    },
    "2024-08-11": {
        "close_freeform": "d027547a5b7663ac",
        "close_multichoice": "de02d2756c78315b",
        "close_freeform_hard": "df7d00ecab6634e3",
        "close_multichoice_hard": "4a81c76634ab810e",
    },
}


def splits_for(benchmark: str) -> tuple[Split, Split]:
    """The (free-form, multiple-choice) splits of a benchmark, in generation order."""
    try:
        return SPLITS[benchmark]
    except KeyError:
        raise DataError(
            f"unknown benchmark {benchmark!r}: use --benchmark mixeval or --benchmark mixeval_hard"
        ) from None


PACKAGE_DATA = Path(__file__).resolve().parent / "data"


def is_default_data_path(data_path: Optional[str]) -> bool:
    """Whether ``--data_path`` was left at (or set to) the reference's default."""
    return data_path is None or str(data_path).rstrip("/") == DEFAULT_DATA_PATH.rstrip("/")


def resolve_data_path(data_path: Optional[str], version: Optional[str] = None) -> Path:
    """The data folder to use.

    An explicit ``--data_path`` is taken as given. The reference's default,
    ``mix_eval/data/``, is relative to its repository; here it means the first of these
    that holds ``mixeval-<version>/``: ``./mix_eval/data`` (a user's own copy wins), the
    benchmark shipped inside the package, and the versions fetched from the Hub into the
    user's cache (``mix_eval.system.cache``). A version found in none of them is fetched
    into the cache. So the default works from any directory, a working directory whose
    ``mix_eval/data`` holds only run outputs (the default ``--output_dir`` lives there)
    does not hide the shipped data, and nothing is ever written into the package.
    """
    if not is_default_data_path(data_path):
        return Path(str(data_path)).expanduser()
    local = Path(DEFAULT_DATA_PATH)
    if version is None:
        return local if local.is_dir() else PACKAGE_DATA
    fetched = hub_cache_dir()
    for root in (local, PACKAGE_DATA, fetched):
        if (root / f"mixeval-{version}").is_dir():
            return root
    return fetched


def hub_cache_dir() -> Path:
    """Where versions fetched from the Hub for the default --data_path are kept."""
    return cache_dir() / "data"


def split_file(data_path: Path, version: str, split: Split) -> Path:
    return data_path / f"mixeval-{version}" / split.folder / split.file_name


# ---------------------------------------------------------------- validation


def parse_items(raw: Any, source: str, split: Split) -> list[dict[str, Any]]:
    """Check a split's JSON object and return its items with `id` and `formated_input`.

    The order is the file's; the key order of each item is the reference's (item
    fields, then ``formated_input``, then ``id``), so response lines match its files.
    """
    if not isinstance(raw, dict):
        raise DataError(
            f"{source}: expected a JSON object keyed by item id, found a {type(raw).__name__}"
        )
    problems = []
    items = []
    for item_id, item in raw.items():
        problem = item_problem(item, split.kind)
        if problem:
            problems.append(f"item id {item_id!r} {problem}")
            continue
        record = dict(item)
        record["formated_input"] = format_input(record)
        record["id"] = str(item_id)
        items.append(record)
    if problems:
        shown = "; ".join(problems[:10])
        more = f"; ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(
            f"{source}: {len(problems)} malformed item(s): {shown}{more}. "
            "Fix or re-download the data file (see --data_path)."
        )
    if not items:
        raise DataError(f"{source}: the file holds no items")
    return items


def read_split_file(path: Path, split: Split) -> list[dict[str, Any]]:
    """Read and check one data file."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
            "the file may be truncated. Re-download it or point --data_path at a good copy."
        ) from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e})") from None
    return parse_items(raw, str(path), split)


# ---------------------------------------------------------------- loading


def load_split(
    data_path: Optional[str | os.PathLike],
    version: str,
    split: Split,
    *,
    limit: Optional[int] = None,
    fetch: Optional[Callable[[Split], list[dict[str, Any]]]] = None,
) -> list[dict[str, Any]]:
    """The items of a split, in data order, each with `formated_input` and `id`.

    ``limit`` keeps the first N items (smoke runs). Missing data is fetched from the
    Hub when possible (``fetch`` replaces the Hub download, for tests).
    """
    root = resolve_data_path(None if data_path is None else str(data_path), version)
    path = split_file(root, version, split)
    if not path.is_file():
        ensure_version(root, version, fetch=fetch)
    items = read_split_file(path, split)
    if limit is not None:
        items = items[:limit]
    return items


def ensure_version(
    root: Path,
    version: str,
    *,
    fetch: Optional[Callable[[Split], list[dict[str, Any]]]] = None,
) -> Path:
    """Make sure ``root/mixeval-<version>`` holds all four files, fetching them if needed."""
    vdir = root / f"mixeval-{version}"
    all_splits = [s for pair in SPLITS.values() for s in pair]
    missing = [s for s in all_splits if not split_file(root, version, s).is_file()]
    if not missing:
        return vdir
    # Name what is really absent: the version folder, or its first missing file.
    looked_at = split_file(root, version, missing[0]) if vdir.is_dir() else vdir
    logger.warning(
        "MixEval %s not found at %s; trying the Hugging Face Hub dataset %s",
        version, looked_at, HUB_DATASET,
    )
    try:
        fetched = {s: (fetch or fetch_from_hub)(s) for s in all_splits}
    except DataError:
        raise
    except Exception as e:  # offline, hub down, datasets missing: one clear message
        reason = " ".join(str(e).split())  # one line, whatever the library printed
        raise DataError(
            f"MixEval version {version} is not at {looked_at}, and the Hugging Face Hub "
            f"dataset {HUB_DATASET} could not be fetched ({type(e).__name__}: {reason}). "
            f"Point --data_path at the folder that contains mixeval-{version}/ "
            "(for example a local copy of the MixEval data), or connect to the internet. "
            f"The versions shipped with mix_eval are {', '.join(KNOWN_VERSIONS)}."
        ) from None
    detected = identify_version(fetched)
    target = detected or "hub"
    for s, items in fetched.items():
        out = split_file(root, target, s)
        if out.is_file():  # never overwrite a local copy
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, {str(i["_id"]): {k: v for k, v in i.items() if k != "_id"} for i in items})
    if target == version:  # also `--version hub` when the Hub matches no known version
        logger.warning("Loaded MixEval version %s from the Hub into %s", version, vdir)
        return vdir
    if detected:
        raise DataError(
            f"The Hugging Face Hub holds MixEval version {detected}, not {version}; it was "
            f"saved to {root / f'mixeval-{detected}'}. Rerun with --version {detected}, or point "
            f"--data_path at a local copy of version {version}."
        )
    raise DataError(
        f"The Hugging Face Hub copy of MixEval matches no known version "
        f"({', '.join(KNOWN_VERSIONS)}); it was saved to {root / 'mixeval-hub'}. Rerun with "
        f"--version hub to use it, or point --data_path at a local copy of version {version}."
    )


def fetch_from_hub(split: Split) -> list[dict[str, Any]]:
    """Download one split from the Hub; items carry their id as `_id`."""
    try:
        import datasets  # lazy: only this rarely used path needs it
    except ImportError:
        raise DataError(
            "Loading MixEval from the Hugging Face Hub needs the `datasets` package: "
            "pip install 'datasets>=2.14' (or point --data_path at a local copy)."
        ) from None
    rows = datasets.load_dataset(HUB_DATASET, split.hub_config, split=split.hub_split)
    items = []
    for n, row in enumerate(rows):
        item: dict[str, Any] = {
            "problem_type": row.get("problem_type") or split.problem_type,
            "context": row.get("context"),
            "prompt": row["prompt"],
        }
        if split.is_multichoice:
            item["options"] = list(row["options"])
            item["target"] = [int(t) for t in row["target"]]
        else:
            item["target"] = [str(t) for t in row["target"]]
        item["benchmark_name"] = row["benchmark_name"]
        item["_id"] = str(row["id"]) if row.get("id") is not None else str(n)
        items.append(item)
    return items


# ---------------------------------------------------------------- fingerprints


def fingerprint(items: Iterable[dict[str, Any]]) -> str:
    """A hash of a split's content that ignores ids, order and key order."""
    fields = ("problem_type", "context", "prompt", "options", "target", "benchmark_name")
    rows = sorted(
        json.dumps({k: item.get(k) for k in fields}, sort_keys=True, ensure_ascii=True)
        for item in items
    )
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()[:16]


def identify_version(by_split: dict[Split, list[dict[str, Any]]]) -> Optional[str]:
    """Which known version these four splits are, or None."""
    prints = {s.name: fingerprint(items) for s, items in by_split.items()}
    for version, known in VERSION_FINGERPRINTS.items():
        if known == prints:
            return version
    return None
