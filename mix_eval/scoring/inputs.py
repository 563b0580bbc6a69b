"""Finding the model folders of a run, and reading and checking their files for scoring."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from mix_eval.data import MULTIPLE_CHOICE, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.judges.protocol import FREE_FORM, MULTI_CHOICE
from mix_eval.prompts.evaluation_prompts import (
    FIVE_SHOT_PREFIX_FREEFORM,
    FIVE_SHOT_PREFIX_MULTIPLECHOICE,
)
from mix_eval.responses import check_safe_name, model_version_dir, response_path
from mix_eval.settings import ScoringSettings

logger = logging.getLogger("mix_eval")


# Response files are checked line by line before anything is judged or written: a bad
# line is one error naming the file, the line and the id; what scoring can go on with
# (a repeated line, items without a response) is a warning with a count.

_ID_IN_RAW = re.compile(rb'"id"\s*:\s*"?([^",}\s]{1,64})')


@dataclass
class BenchmarkSplit:
    """The benchmark items of one split, to check response files against."""

    source: Path
    items: dict[str, dict[str, Any]]


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(lineno: int, rid: Any = None) -> str:
    return f"line {lineno}" + ("" if rid is None else f" (id {str(rid)!r})")


def _raw_id(raw: bytes) -> Optional[str]:
    match = _ID_IN_RAW.search(raw)
    return match.group(1).decode("utf-8", "replace") if match else None


def _line_problem(record: Any, problem_type: str) -> Optional[str]:
    """What is wrong with one response line for scoring, or None."""
    if not isinstance(record, dict):
        return f"is a JSON {type(record).__name__}, not an object"
    required = ["id", "prompt", "target", "benchmark_name", "response"]
    if problem_type == MULTIPLE_CHOICE:
        required.append("options")
    missing = [k for k in required if k not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    rid = record["id"]
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or str(rid) == "":
        return f"has the id {_shown(rid)}, not a string"
    response = record["response"]
    if response is None:
        return ("has a null response (the model gave no answer for it): delete the line and rerun "
                "evaluate to generate it again")
    if not isinstance(response, str):
        return f"has the response {_shown(response)}, not text"
    if not isinstance(record["prompt"], str):
        return f"has the prompt {_shown(record['prompt'])}, not text"
    if not isinstance(record["benchmark_name"], str) or not record["benchmark_name"]:
        return f"has the benchmark_name {_shown(record['benchmark_name'])}, not a name"
    target = record["target"]
    if problem_type == MULTIPLE_CHOICE:
        options = record["options"]
        if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
            return f"has the options {_shown(options)}, not a list of option texts"
        if len(options) > 26:
            return f"has {len(options)} options, more than the 26 letters A-Z"
        if not (isinstance(target, list) and len(target) == 1 and isinstance(target[0], int)
                and not isinstance(target[0], bool)):
            return f"has the target {_shown(target)}; a multiple-choice target is one option index, like [2]"
        if not 0 <= target[0] < len(options):
            return f"has the target {_shown(target)}, outside its {len(options)} options"
    elif not isinstance(target, list) or not target or not all(isinstance(t, str) for t in target):
        return f"has the target {_shown(target)}; a free-form target is a list of answer texts"
    return None


def _first_and_count(path: Path, problems: list[str], what: str = "bad line") -> str:
    text = f"{path}, {problems[0]}"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more {what}(s) in the file)"
    return text


def _read_checked_lines(path: Path, line_problem: Callable[[Any], Optional[str]], *,
                        cut_last_line: Optional[str] = None,
                        ) -> tuple[list[dict[str, Any]], dict[str, int], list[tuple[int, str, dict[str, Any]]]]:
    """The JSON lines of ``path``: (the first line of each id, id -> its line number,
    (line number, id, line) of each repeat). Every line that is not JSON, or for which
    ``line_problem`` says what is wrong, is collected; any of them is one `MixEvalError`
    naming the file, the first bad line and its id, and how many more there are.
    ``cut_last_line`` is the message for a last line that is not JSON and has no
    newline after it (a write that was cut off)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MixEvalError(f"{path}: cannot be read ({e.strerror})") from None
    raw_lines = data.split(b"\n")
    problems: list[str] = []
    records: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    repeats: list[tuple[int, str, dict[str, Any]]] = []
    for lineno, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except UnicodeDecodeError:
            problems.append(f"{_where(lineno, _raw_id(raw))}: not UTF-8 text")
            continue
        except json.JSONDecodeError as e:
            cut = cut_last_line is not None and lineno == len(raw_lines)
            problems.append(f"{_where(lineno, _raw_id(raw))}: "
                            + (cut_last_line if cut else f"not valid JSON ({e.msg})"))
            continue
        problem = line_problem(record)
        if problem:
            rid = record.get("id") if isinstance(record, dict) else None
            problems.append(f"{_where(lineno, rid if isinstance(rid, (str, int)) else None)}: {problem}")
            continue
        rid = str(record["id"])
        if rid in first_line:
            repeats.append((lineno, rid, record))
            continue
        first_line[rid] = lineno
        records.append(record)
    if problems:
        raise MixEvalError(_first_and_count(path, problems))
    return records, first_line, repeats


def read_response_file(path: Path, problem_type: str, benchmark: Optional[BenchmarkSplit] = None,
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
    records, first_line, repeats = _read_checked_lines(
        path, lambda record: _line_problem(record, problem_type),
        cut_last_line="an incomplete last line (the run writing the file was interrupted); "
                      "rerun evaluate to finish the file")
    if not records:
        raise MixEvalError(f"{path}: no responses")
    if benchmark is not None:
        _check_against_benchmark(path, records, first_line, benchmark, limit, notes)
    if repeats:
        lineno, rid, _ = repeats[0]
        first_record = {str(r["id"]): r for r in records}
        differing = sum(1 for _, rid_, r in repeats
                        if r.get("response") != first_record[rid_].get("response"))
        notes.append(
            f"{path}: {len(repeats)} repeated line(s) ignored; the first line of each id is scored (line "
            f"{lineno} repeats id {rid!r} of line {first_line[rid]}"
            + (f"; {differing} of them with another response)" if differing else ")")
        )
    if warnings is None:
        for note in notes:
            logger.warning("%s", note)
    return records


_SAME_AS_DATA = ("prompt", "target", "options")


def _check_against_benchmark(path: Path, records: list[dict[str, Any]], first_line: dict[str, int],
                             benchmark: BenchmarkSplit, limit: Optional[int], notes: list[str]) -> None:
    items = benchmark.items
    foreign = [r for r in records if str(r["id"]) not in items]
    if foreign:
        rid = str(foreign[0]["id"])
        raise MixEvalError(
            f"{path}, {_where(first_line[rid], rid)}: the benchmark has no item with this id "
            f"({len(foreign)} line(s) of the file have ids that are not in {benchmark.source}). The file was "
            "made from other data: check --benchmark and --version, or remove those lines"
        )
    changed = []
    for r in records:
        item = items[str(r["id"])]
        fields = [k for k in _SAME_AS_DATA if k in item and r.get(k) != item[k]]
        if fields:
            changed.append((r, fields))
    if changed:
        r, fields = changed[0]
        rid = str(r["id"])
        raise MixEvalError(
            f"{path}, {_where(first_line[rid], rid)}: its {' and '.join(fields)} differ(s) from the item in "
            f"{benchmark.source} ({len(changed)} line(s) differ). The responses were made from other data "
            "(another --version?); score them with the data that made them"
        )
    missing = len(items) - len(records)
    if missing > 0:
        why = f" (the run that made it had --limit {limit})" if limit else "; rerun evaluate to complete it"
        notes.append(
            f"{path}: {missing} of the {len(items)} benchmark items have no response{why}. The scores "
            f"cover the {len(records)} items present"
        )


def benchmark_split(data_path: Optional[str], version: str, split: Any) -> Optional[BenchmarkSplit]:
    """The benchmark items to check response files against, when the data is at hand."""
    from mix_eval.data import (
        is_default_data_path,
        read_split_file,
        resolve_data_path,
        split_file,
    )

    given = data_path
    root = resolve_data_path(given, version)
    path = split_file(root, version, split)
    if not path.is_file():
        if not is_default_data_path(given):
            raise MixEvalError(
                f"--data_path {given}: no benchmark data at {path}; point --data_path at the folder that "
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
        with open(vdir / f"status_{split_name}.json", encoding="utf-8") as f:
            limit = json.load(f).get("args", {}).get("limit")
        return int(limit) if limit else None
    except (OSError, ValueError, TypeError, AttributeError):
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


def _judged_line_problem(record: Any, kind: str, parser: str) -> Optional[str]:
    if not isinstance(record, dict):
        return f"is a JSON {type(record).__name__}, not an object"
    needed = ["id", "benchmark_name"]
    if parser == "rule":
        needed.append("eval_result")
    elif kind == FREE_FORM:
        needed.append("judge_score")
    else:
        needed += ["judge_option", "target"]
    missing = [k for k in needed if k not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    if not isinstance(record["benchmark_name"], str) or not record["benchmark_name"]:
        return f"has the benchmark_name {_shown(record['benchmark_name'])}, not a name"
    if parser != "rule" and kind == FREE_FORM:
        score = record["judge_score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
            return f"has the judge_score {_shown(score)}, not a number from 0 to 1"
    elif parser != "rule":
        target = record["target"]
        if not (isinstance(target, list) and len(target) == 1 and isinstance(target[0], int)
                and not isinstance(target[0], bool)):
            return f"has the target {_shown(target)}; a multiple-choice target is one option index, like [2]"
        if not isinstance(record["judge_option"], str):
            return f"has the judge_option {_shown(record['judge_option'])}, not a letter"
    return None


def read_judged_file(path: Path, kind: str = FREE_FORM, parser: str = "model") -> list[dict[str, Any]]:
    """The lines of a judged file, checked like response files (see `read_response_file`)."""
    if not path.exists():
        raise MixEvalError(
            f"judged file not found: {path}. Run without --compute_score_from_judged_file to judge the responses."
        )
    records, _, repeats = _read_checked_lines(path, lambda record: _judged_line_problem(record, kind, parser))
    if not records:
        raise MixEvalError(f"{path}: no judged lines")
    if repeats:
        logger.warning("%s: %d repeated line(s) ignored; the first line of each id is scored", path, len(repeats))
    return records




# ---------------------------------------------------------------- a run's model folders


def find_models(settings: ScoringSettings) -> list[str]:
    """The model folders to score; unregistered ones are scored too (with a note)."""
    from mix_eval.api.registry import available_model_names

    root = Path(settings.model_response_dir)
    benchmark, version = settings.data.benchmark, settings.data.version
    check_safe_name("--version", version)
    if settings.models_to_eval:
        models = [check_safe_name("--models_to_eval", m) for m in settings.models_to_eval]
    else:
        if not root.is_dir():
            raise MixEvalError(f"--model_response_dir {root} does not exist")
        models = sorted(p.name for p in root.iterdir() if (p / benchmark / version).is_dir())
        if not models:
            raise MixEvalError(
                f"no model folder under {root} holds {benchmark}/{version}; check "
                "--model_response_dir, --benchmark and --version"
            )
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
    responses: dict[str, list[dict[str, Any]]]
    extract_base: bool
    warnings: list[str] = field(default_factory=list)


def read_model_inputs(settings: ScoringSettings, model: str,
                      data: dict[str, Optional[BenchmarkSplit]]) -> Optional[ModelInputs]:
    """Read and check one model's response files; None (with a warning) when one is missing."""
    vdir = model_version_dir(settings.model_response_dir, model, settings.data.benchmark, settings.data.version)
    from_judged = settings.judge.compute_score_from_judged_file
    responses: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    for kind, split in zip((FREE_FORM, MULTI_CHOICE), splits_for(settings.data.benchmark)):
        if from_judged:
            responses[kind] = []
            continue
        path = response_path(vdir, model, split.name)
        if not path.exists():
            logger.warning("%s: no response file %s; skipping this model", model, path)
            return None
        responses[kind] = read_response_file(path, split.problem_type, data.get(kind),
                                             limit=run_limit(vdir, split.name), warnings=warnings)
    some = responses[FREE_FORM] or responses[MULTI_CHOICE]
    extract_base = settings.judge.extract_base_model_response and bool(some) and is_base_model(model, some)
    return ModelInputs(model, vdir, responses, extract_base, warnings)
