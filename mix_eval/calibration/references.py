"""The reference responses that ship with mix_eval: gemma-1.1-7b-instruct and
llama-3-8b-instruct on MixEval 2024-06-01, as the reference suite generated them.

A response line is a benchmark item (its fields, ``formated_input`` and ``id``, all made
from the packaged data) plus ``response``. So only what the data cannot give is shipped:
per response file, its ids in the file's order with their responses, one
``{"id", "response"}`` line each, gzipped (``reference_responses/``), and the line count
and SHA-256 of the reference's file (``manifest.json``). `rebuild_lines` makes the file
again and checks it against that digest, so a rebuilt file is the reference's byte for
byte or an error, never a near copy. `pack` made the shipped files from the reference's.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Optional

from mix_eval.data import PACKAGE_DATA, Split, load_split, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.folders import model_version_dir, response_path, status_path
from mix_eval.responses import COMPLETE, response_line, write_status
from mix_eval.settings import DataSettings, ModelSettings, OutputSettings, RunSettings
from mix_eval.system.files import write_json_atomic, write_text_atomic

REFERENCE_BENCHMARK = "mixeval"
REFERENCE_VERSION = "2024-06-01"
# The models whose responses ship, by registered name, and their rows in the leaderboard's chat table.
REFERENCE_MODELS = {"gemma_11_7b_instruct": "Gemma-1.1-7B-IT", "llama_3_8b_instruct": "LLaMA-3-8B-Instruct"}
PACKED = Path(__file__).resolve().parent / "reference_responses"
MANIFEST = PACKED / "manifest.json"


def reference_splits() -> tuple[Split, Split]:
    return splits_for(REFERENCE_BENCHMARK)


def packed_path(model: str, split: Split) -> Path:
    return PACKED / f"{model}_{split.name}.jsonl.gz"


def _items(split: Split) -> dict[str, dict[str, Any]]:
    """The split's items by id, with ``formated_input`` and ``id``, from the packaged data."""
    return {item["id"]: item for item in load_split(PACKAGE_DATA, REFERENCE_VERSION, split)}


def _line(item: dict[str, Any], response: Any) -> str:
    record = dict(item)
    record["response"] = response
    return response_line(record)


def _digest(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
    return h.hexdigest()


def _manifest() -> dict[str, Any]:
    with open(MANIFEST, encoding="utf-8") as f:
        return json.load(f)


def rebuild_lines(model: str, split: Split) -> list[str]:
    """The lines of the reference's response file of ``model`` for ``split``, as it wrote them."""
    if model not in REFERENCE_MODELS:
        raise MixEvalError(f"no reference responses of {model!r} ship with mix_eval; they are of "
                           f"{', '.join(REFERENCE_MODELS)}")
    items = _items(split)
    with gzip.open(packed_path(model, split), "rt", encoding="utf-8") as f:
        packed = [json.loads(text) for text in f]
    lines = [_line(items[entry["id"]], entry["response"]) for entry in packed]
    expected = _manifest()["files"][response_path(Path(), model, split.name).name]
    if len(lines) != expected["lines"] or _digest(lines) != expected["sha256"]:
        raise MixEvalError(f"the reference responses of {model} ({split.name}) rebuilt from "
                           f"{packed_path(model, split)} differ from the reference's file: the package or its "
                           "benchmark data is damaged; reinstall mix_eval")
    return lines


def status_args(model: str, output_dir: str | os.PathLike, split: Split) -> dict[str, Any]:
    """A status file's ``args`` for a reference response file: those of an `evaluate` run
    of the model into ``output_dir`` (the reference's other settings are not known)."""
    run = RunSettings(model=ModelSettings(model), data=DataSettings(REFERENCE_BENCHMARK, REFERENCE_VERSION),
                      output=OutputSettings(output_dir=str(output_dir)))
    return {**run.flags(), "split": split.name}


def write_reference_responses(output_dir: str | os.PathLike, model: str) -> Path:
    """``<output_dir>/<model>/mixeval/2024-06-01/``: both response files and their status
    files (complete), a folder `compute_metrics` scores like any run's. A response file
    already there and equal is left untouched. Returns the folder."""
    vdir = model_version_dir(output_dir, model, REFERENCE_BENCHMARK, REFERENCE_VERSION)
    vdir.mkdir(parents=True, exist_ok=True)
    for split in reference_splits():
        text = "".join(rebuild_lines(model, split))
        path = response_path(vdir, model, split.name)
        if not (path.is_file() and path.read_bytes() == text.encode("utf-8")):
            write_text_atomic(path, text)
        write_status(status_path(vdir, split.name), status_args(model, output_dir, split),
                     batch_id=0, time_elapsed=0.0, state=COMPLETE)
    return vdir


def pack(source_dir: str | os.PathLike, model: str) -> None:
    """Make the shipped files of ``model`` from the reference's response folder
    (``<source_dir>/<model>_<split>.jsonl``): how ``reference_responses/`` was made.
    Refuses a file whose lines are not its benchmark items plus a response."""
    manifest = _manifest() if MANIFEST.is_file() else {
        "source": "the reference suite's responses (MixEval authors' code) of these models to MixEval "
                  f"{REFERENCE_VERSION}; per file: its line count and the SHA-256 of its bytes",
        "files": {}}
    for split in reference_splits():
        source = response_path(Path(source_dir), model, split.name)
        items = _items(split)
        with open(source, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        packed = []
        for number, text in enumerate(lines, start=1):
            record = json.loads(text)
            item: Optional[dict[str, Any]] = items.get(str(record.get("id")))
            if item is None or _line(item, record.get("response")) != text:
                raise MixEvalError(f"{source}, line {number}: not a benchmark item plus its response")
            packed.append(json.dumps({"id": record["id"], "response": record["response"]}) + "\n")
        PACKED.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
            gz.write("".join(packed).encode("utf-8"))
        packed_path(model, split).write_bytes(buffer.getvalue())
        manifest["files"][source.name] = {"lines": len(lines), "sha256": _digest(lines)}
    write_json_atomic(MANIFEST, manifest)
