"""A model's response and judged files, read and checked before anything is scored.

A line that cannot be scored is one error naming the file, the line and the id (see
`mix_eval.records`); what scoring can go on with (a repeated line, items without a
response) is a warning with a count. Never imports torch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from mix_eval.data import (
    Split,
    is_default_data_path,
    read_split_file,
    resolve_data_path,
    split_file,
    splits_for,
)
from mix_eval.errors import MixEvalError, ResumeError
from mix_eval.folders import model_version_dir, response_path, status_path
from mix_eval.prompts.evaluation_prompts import (
    FIVE_SHOT_PREFIX_FREEFORM,
    FIVE_SHOT_PREFIX_MULTIPLECHOICE,
)
from mix_eval.records.jsonl import Line, Mode, first_of_each_id, read_jsonl, where
from mix_eval.records.schema import judged_line_problem, response_line_problem
from mix_eval.responses import check_safe_name, read_status
from mix_eval.settings import ScoringSettings
from mix_eval.splits import SplitKind

logger = logging.getLogger(__name__)

# Fields of a response line that must equal the benchmark item's.
_SAME_AS_DATA = ("prompt", "target", "options")


@dataclass
class BenchmarkSplit:
    """The benchmark items of one split, to check response files against."""

    source: Path
    items: dict[str, dict[str, Any]]


def read_response_file(path: Path, kind: SplitKind, benchmark: Optional[BenchmarkSplit] = None,
                       *, limit: Optional[int] = None, warnings: Optional[list[str]] = None) -> list[dict[str, Any]]:
    """The lines of a response file, checked; the first line of each id.

    A line that cannot be scored (not JSON, a missing or malformed field, a null
    response), an id the benchmark does not have, or a line whose question differs
    from the benchmark's is a `MixEvalError` naming the file, the line and the id.
    Repeated ids and benchmark items without a response are warnings with a count.
    ``benchmark`` (when the data is at hand) is what the lines are checked against;
    ``limit`` is the ``--limit`` of the run that made the file, if any. Warnings go to
    ``warnings`` when given (to be shown once every file is checked), else to the log.
    """
    notes: list[str] = [] if warnings is None else warnings
    content = read_jsonl(
        path, Mode.STRICT, check=lambda record: response_line_problem(record, kind),
        torn_line="an incomplete last line (the run writing the file was interrupted); "
                  "rerun evaluate to finish the file")
    firsts, repeats = first_of_each_id(content.lines)
    if not firsts:
        raise MixEvalError(f"{path}: no responses")
    if benchmark is not None:
        _check_against_benchmark(path, firsts, benchmark, limit, notes)
    if repeats:
        notes.append(_repeats_note(path, firsts, repeats))
    if warnings is None:
        for note in notes:
            logger.warning("%s", note)
    return [line.record for line in firsts]


def _repeats_note(path: Path, firsts: list[Line], repeats: list[Line]) -> str:
    first = {str(line.record["id"]): line for line in firsts}
    rid = str(repeats[0].record["id"])
    differing = sum(1 for line in repeats
                    if line.record.get("response") != first[str(line.record["id"])].record.get("response"))
    return (
        f"{path}: {len(repeats)} repeated line(s) ignored; the first line of each id is scored (line "
        f"{repeats[0].number} repeats id {rid!r} of line {first[rid].number}"
        + (f"; {differing} of them with another response)" if differing else ")")
    )


def _check_against_benchmark(path: Path, lines: list[Line], benchmark: BenchmarkSplit,
                             limit: Optional[int], notes: list[str]) -> None:
    items = benchmark.items
    foreign = [line for line in lines if str(line.record["id"]) not in items]
    if foreign:
        raise MixEvalError(
            f"{path}, {where(foreign[0].number, str(foreign[0].record['id']))}: the benchmark has no item with "
            f"this id ({len(foreign)} line(s) of the file have ids that are not in {benchmark.source}). The file "
            "was made from other data: check --benchmark and --version, or remove those lines"
        )
    changed = []
    for line in lines:
        item = items[str(line.record["id"])]
        fields = [k for k in _SAME_AS_DATA if k in item and line.record.get(k) != item[k]]
        if fields:
            changed.append((line, fields))
    if changed:
        line, fields = changed[0]
        raise MixEvalError(
            f"{path}, {where(line.number, str(line.record['id']))}: its {' and '.join(fields)} differ(s) from the "
            f"item in {benchmark.source} ({len(changed)} line(s) differ). The responses were made from other data "
            "(another --version?); score them with the data that made them"
        )
    missing = len(items) - len(lines)
    if missing > 0:
        why = f" (the run that made it had --limit {limit})" if limit else "; rerun evaluate to complete it"
        notes.append(
            f"{path}: {missing} of the {len(items)} benchmark items have no response{why}. The scores "
            f"cover the {len(lines)} items present"
        )


def read_judged_file(path: Path, kind: SplitKind = SplitKind.FREE_FORM, parser: str = "model") -> list[dict[str, Any]]:
    """The lines of a judged file, checked like response files (see `read_response_file`)."""
    if not path.exists():
        raise MixEvalError(
            f"judged file not found: {path}. Run without --compute_score_from_judged_file to judge the responses."
        )
    content = read_jsonl(path, Mode.STRICT, check=lambda record: judged_line_problem(record, kind, parser))
    firsts, repeats = first_of_each_id(content.lines)
    if not firsts:
        raise MixEvalError(f"{path}: no judged lines")
    if repeats:
        logger.warning("%s: %d repeated line(s) ignored; the first line of each id is scored", path, len(repeats))
    return [line.record for line in firsts]


def benchmark_split(data_path: Optional[str], version: str, split: Split) -> Optional[BenchmarkSplit]:
    """The benchmark items of a split to check response files against, when the data is
    at hand; None when the default data path has none."""
    root = resolve_data_path(data_path, version)
    path = split_file(root, version, split)
    if not path.is_file():
        if not is_default_data_path(data_path):
            raise MixEvalError(
                f"--data_path {data_path}: no benchmark data at {path}; point --data_path at the folder that "
                f"holds mixeval-{version}/ (or leave it out to skip checking the ids)"
            )
        logger.info("no benchmark data at %s: the response files are not checked against it (see --data_path)",
                    path.parent.parent)
        return None
    items = read_split_file(path, split)
    return BenchmarkSplit(path, {item["id"]: item for item in items})


def run_limit(vdir: Path, split_name: str) -> Optional[int]:
    """The --limit of the run that made a split's responses, from its status file."""
    try:
        limit = (read_status(status_path(vdir, split_name)) or {}).get("args", {}).get("limit")
        return int(limit) if limit else None
    except (OSError, ResumeError, ValueError, TypeError, AttributeError):
        return None


def is_base_model(model: str, records: list[dict[str, Any]]) -> bool:
    """Registered kind when known; else whether the inputs carry the five-shot prefix."""
    from mix_eval.models.catalog import get_spec

    spec = get_spec(model)
    if spec is not None:
        return spec.kind == "base"
    from mix_eval.api.registry import MODEL_REGISTRY

    if model in MODEL_REGISTRY:
        return getattr(MODEL_REGISTRY[model], "kind", "chat") == "base"
    first = records[0].get("formated_input", "")
    return first.startswith(FIVE_SHOT_PREFIX_FREEFORM[:200]) or first.startswith(FIVE_SHOT_PREFIX_MULTIPLECHOICE[:200])


# ---------------------------------------------------------------- a run's model folders


def model_folders(model_response_dir: str, benchmark: str, version: str,
                  models_to_eval: Optional[Sequence[str]] = None) -> list[str]:
    """The model folders a command works on: ``models_to_eval`` when given, else every
    folder holding ``<benchmark>/<version>`` (none is an error naming the flags)."""
    root = Path(model_response_dir)
    check_safe_name("--version", version)
    if models_to_eval:
        return [check_safe_name("--models_to_eval", m) for m in models_to_eval]
    if not root.is_dir():
        raise MixEvalError(f"--model_response_dir {root} does not exist")
    models = sorted(p.name for p in root.iterdir() if (p / benchmark / version).is_dir())
    if not models:
        raise MixEvalError(
            f"no model folder under {root} holds {benchmark}/{version}; check "
            "--model_response_dir, --benchmark and --version"
        )
    return models


def find_models(settings: ScoringSettings) -> list[str]:
    """The model folders to score; unregistered ones are scored too (with a note), and
    the folder `evaluate` just wrote needs no note."""
    from mix_eval.api.registry import available_model_names

    models = model_folders(settings.model_response_dir, settings.data.benchmark, settings.data.version,
                           settings.models_to_eval)
    known = set(available_model_names())
    for model in models:
        if model not in known and model != settings.this_run:
            logger.info("%s is not a registered model name; scoring its response files anyway", model)
    return models


@dataclass
class ModelInputs:
    """A model folder's response files, read and checked before anything is judged."""

    model: str
    vdir: Path
    responses: dict[SplitKind, list[dict[str, Any]]]
    extract_base: bool
    warnings: list[str] = field(default_factory=list)


def read_model_inputs(settings: ScoringSettings, model: str,
                      data: Mapping[SplitKind, Optional[BenchmarkSplit]]) -> Optional[ModelInputs]:
    """Read and check one model's response files; None (with a warning) when one is missing."""
    vdir = model_version_dir(settings.model_response_dir, model, settings.data.benchmark, settings.data.version)
    responses: dict[SplitKind, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    for split in splits_for(settings.data.benchmark):
        if settings.judge.compute_score_from_judged_file:
            responses[split.kind] = []
            continue
        path = response_path(vdir, model, split.name)
        if not path.exists():
            logger.warning("%s: no response file %s; skipping this model", model, path)
            return None
        responses[split.kind] = read_response_file(path, split.kind, data.get(split.kind),
                                                   limit=run_limit(vdir, split.name), warnings=warnings)
    some = next((lines for lines in responses.values() if lines), [])
    extract_base = settings.judge.extract_base_model_response and bool(some) and is_base_model(model, some)
    return ModelInputs(model, vdir, responses, extract_base, warnings)
