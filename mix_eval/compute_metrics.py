"""`python -m mix_eval.compute_metrics`: score response files.

Usage (the reference's flags)::

    python -m mix_eval.compute_metrics --benchmark mixeval --version 2024-06-01 \\
        [--model_response_dir DIR] [--models_to_eval M ...] \\
        [--free_form_parser {model,rule}] [--multi_choice_parser {model,rule}] \\
        [--freeform_judge J] [--multichoice_judge J] [--judge_model_id HF_ID] \\
        [--api_base_url URL] [--api_parallel_num N] [--extract_base_model_response] \\
        [--compute_score_from_judged_file] [--data_path DIR]

For each model folder ``<dir>/<model>/<benchmark>/<version>/`` it judges both
response files (an LLM judge, or the rule parsers), writes the judged files
(``judge_results_{ff,mp}_model_judge_<judge>.jsonl`` or ``judge_results_{ff,mp}_rule.jsonl``)
and ``score.json``, then ``<dir>/score.json`` for all models of the run, and prints a
table per model. Judgments are journaled as they arrive: a rerun pays for none twice.
Response files are checked first (against the benchmark data when it is at hand): a
line that cannot be scored is one error naming the file, the line and the id, and a
run that fails overwrites no judged file or score.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from mix_eval.data import BENCHMARKS, MULTIPLE_CHOICE, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.judges.protocol import FREE_FORM, MULTI_CHOICE
from mix_eval.judges.runner import JudgeReport, judge_records, report_dict, report_lines
from mix_eval.prompts.evaluation_prompts import (
    FIVE_SHOT_PREFIX_FREEFORM,
    FIVE_SHOT_PREFIX_MULTIPLECHOICE,
)
from mix_eval.responses import check_safe_name, model_version_dir, response_path
from mix_eval.scoring import aggregate, rules
from mix_eval.utils.cli import exit_process, run_command, setup_logging
from mix_eval.utils.files import (
    FolderBusyError,
    exclusive_lock,
    write_text_atomic,
)

logger = logging.getLogger("mix_eval")

DEFAULT_JUDGE = "gpt-3.5-turbo-0125"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mix_eval.compute_metrics",
                                description="Score MixEval response files.")
    p.add_argument("--benchmark", type=str, required=True, choices=list(BENCHMARKS))
    p.add_argument("--version", type=str, required=True)
    p.add_argument("--model_response_dir", type=str, default="mix_eval/data/model_responses/",
                   help="Folder of model folders.")
    p.add_argument("--models_to_eval", nargs="+", default=None,
                   help="Model folders to score (default: every one found).")
    p.add_argument("--free_form_parser", type=str, default="model", choices=["model", "rule"])
    p.add_argument("--multi_choice_parser", type=str, default="model", choices=["model", "rule"])
    p.add_argument("--freeform_judge", type=str, default=DEFAULT_JUDGE)
    p.add_argument("--multichoice_judge", type=str, default=DEFAULT_JUDGE)
    p.add_argument("--judge_model_id", type=str, default=None,
                   help="A local Hugging Face model as the judge, instead of an API.")
    p.add_argument("--batch_size_judge", type=int, default=1, help="Batch size of a local judge.")
    p.add_argument("--max_gpu_memory_judge", type=str, default=None, help="Memory per GPU for a local judge.")
    p.add_argument("--api_base_url", type=str, default=None, help="Base URL of an OpenAI-compatible judge API.")
    p.add_argument("--api_parallel_num", type=int, default=100, help="Judge API requests in flight at most.")
    p.add_argument("--extract_base_model_response", action="store_true",
                   help="Cut base models' run-on output before judging.")
    p.add_argument("--compute_score_from_judged_file", action="store_true",
                   help="Score from existing judged files, without calling a judge.")
    p.add_argument("--data_path", type=str, default=None,
                   help="Folder holding mixeval-<version>/, to check the response files against the benchmark "
                        "(default: mix_eval/data/ when it is there; else the ids are not checked).")
    p.add_argument("--verbose", action="store_true")
    return p


# ---------------------------------------------------------------- configuration


def judge_name(args: argparse.Namespace, kind: str) -> str:
    """The judge as named in judged file names: the local model, or the API judge."""
    if getattr(args, "judge_model_id", None):
        return args.judge_model_id
    return args.freeform_judge if kind == FREE_FORM else args.multichoice_judge


def judged_file_name(args: argparse.Namespace, kind: str) -> str:
    parser = args.free_form_parser if kind == FREE_FORM else args.multi_choice_parser
    if parser == "rule":
        return f"judge_results_{kind}_rule.jsonl"
    return f"judge_results_{kind}_model_judge_{judge_name(args, kind).replace('/', '_')}.jsonl"


def uses_model_judge(args: argparse.Namespace) -> bool:
    return "model" in (args.free_form_parser, args.multi_choice_parser) and not args.compute_score_from_judged_file


def check_scoring_config(args: argparse.Namespace) -> None:
    """Stop before anything is generated or judged when the judge could not run."""
    if not uses_model_judge(args):
        return
    if getattr(args, "judge_model_id", None):
        from mix_eval.models.factory import check_model_path

        check_model_path("--judge_model_id", args.judge_model_id)
        return
    from mix_eval.judges.api import judge_client_config

    for kind in (FREE_FORM, MULTI_CHOICE):
        judge_client_config(args, judge_name(args, kind))


# ---------------------------------------------------------------- inputs


def find_models(args: argparse.Namespace) -> list[str]:
    """The model folders to score; unregistered ones are scored too (with a note)."""
    from mix_eval.api.registry import available_model_names

    root = Path(args.model_response_dir)
    check_safe_name("--version", args.version)
    if args.models_to_eval:
        models = [check_safe_name("--models_to_eval", m) for m in args.models_to_eval]
    else:
        if not root.is_dir():
            raise MixEvalError(f"--model_response_dir {root} does not exist")
        models = sorted(p.name for p in root.iterdir() if (p / args.benchmark / args.version).is_dir())
        if not models:
            raise MixEvalError(
                f"no model folder under {root} holds {args.benchmark}/{args.version}; check "
                "--model_response_dir, --benchmark and --version"
            )
    known = set(available_model_names())
    for model in models:
        if model not in known:
            logger.info("%s is not a registered model name; scoring its response files anyway", model)
    return models


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


def benchmark_split(args: argparse.Namespace, split: Any) -> Optional[BenchmarkSplit]:
    """The benchmark items to check response files against, when the data is at hand."""
    from mix_eval.data import (
        is_default_data_path,
        read_split_file,
        resolve_data_path,
        split_file,
    )

    given = getattr(args, "data_path", None)
    root = resolve_data_path(given, args.version)
    path = split_file(root, args.version, split)
    if not path.is_file():
        if not is_default_data_path(given):
            raise MixEvalError(
                f"--data_path {given}: no benchmark data at {path}; point --data_path at the folder that "
                f"holds mixeval-{args.version}/ (or leave it out to skip checking the ids)"
            )
        logger.info("no benchmark data at %s: the response files are not checked against it (see --data_path)",
                    path.parent.parent)
        return None
    items = read_split_file(path, split)
    return BenchmarkSplit(path, {item["id"]: item for item in items})


def _run_limit(vdir: Path, split_name: str) -> Optional[int]:
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


# ---------------------------------------------------------------- judges


class JudgeFactory:
    """Builds judge backends lazily, once per run (a local judge loads once)."""

    def __init__(self, args: argparse.Namespace, progress: bool = True):
        self.args = args
        self.progress = progress
        self._backends: dict[str, Any] = {}

    def get(self, kind: str) -> Any:
        name = judge_name(self.args, kind)
        if name not in self._backends:
            if self.args.judge_model_id:
                from mix_eval.judges.local import LocalJudge

                logger.info("loading the local judge %s", name)
                self._backends[name] = LocalJudge(
                    name, batch_size=self.args.batch_size_judge, max_gpu_memory=self.args.max_gpu_memory_judge,
                )
            else:
                from mix_eval.judges.api import ApiJudge, judge_client_config

                self._backends[name] = ApiJudge(judge_client_config(self.args, name), progress=self.progress)
        return self._backends[name]

    def close(self) -> None:
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        self._backends.clear()


# ---------------------------------------------------------------- scoring


@dataclass
class ModelScores:
    model: str
    scores: dict[str, float]
    split_scores: dict[str, dict[str, Any]]
    reports: dict[str, JudgeReport] = field(default_factory=dict)


def _item_scores(kind: str, parser: str, judged: list[dict[str, Any]]) -> list[tuple[str, float]]:
    if parser == "rule":
        return aggregate.item_scores_rule(judged)
    if kind == FREE_FORM:
        return aggregate.item_scores_freeform_model(judged)
    return aggregate.item_scores_multichoice_model(judged)


@dataclass
class ModelInputs:
    """A model folder's response files, read and checked before anything is judged."""

    model: str
    vdir: Path
    responses: dict[str, list[dict[str, Any]]]
    extract_base: bool
    warnings: list[str] = field(default_factory=list)


def read_model_inputs(args: argparse.Namespace, model: str,
                      data: dict[str, Optional[BenchmarkSplit]]) -> Optional[ModelInputs]:
    """Read and check one model's response files; None (with a warning) when one is missing."""
    vdir = model_version_dir(args.model_response_dir, model, args.benchmark, args.version)
    responses: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    for kind, split in zip((FREE_FORM, MULTI_CHOICE), splits_for(args.benchmark)):
        if args.compute_score_from_judged_file:
            responses[kind] = []
            continue
        path = response_path(vdir, model, split.name)
        if not path.exists():
            logger.warning("%s: no response file %s; skipping this model", model, path)
            return None
        responses[kind] = read_response_file(path, split.problem_type, data.get(kind),
                                             limit=_run_limit(vdir, split.name), warnings=warnings)
    some = responses[FREE_FORM] or responses[MULTI_CHOICE]
    extract_base = bool(args.extract_base_model_response) and bool(some) and is_base_model(model, some)
    return ModelInputs(model, vdir, responses, extract_base, warnings)


def judge_split(args: argparse.Namespace, inputs: ModelInputs, kind: str,
                judges: JudgeFactory) -> tuple[list[dict[str, Any]], Optional[JudgeReport]]:
    """Judge one split's responses (or read its judged file). Only the journal is written."""
    parser = args.free_form_parser if kind == FREE_FORM else args.multi_choice_parser
    judged_path = inputs.vdir / judged_file_name(args, kind)
    if args.compute_score_from_judged_file:
        return read_judged_file(judged_path, kind, parser), None
    records = inputs.responses[kind]
    if parser == "rule":
        judge_fn = rules.judge_file_freeform_rule if kind == FREE_FORM else rules.judge_file_multichoice_rule
        return judge_fn(records, extract_base=inputs.extract_base), None
    name = judge_name(args, kind)
    journal = inputs.vdir / f".journal_{judged_path.stem}.jsonl"
    return judge_records(
        records, kind, name, lambda: judges.get(kind), journal,
        extract_base=inputs.extract_base, previous_judged_file=judged_path,
    )


def score_model(args: argparse.Namespace, inputs: ModelInputs, judges: JudgeFactory) -> ModelScores:
    """Judge both splits, then write the judged files, ``score.json`` and ``judge_report.json``.

    Nothing is written before both splits are judged and scored, so a run that fails
    leaves the files of the last good run as they were (the judgments it paid for are
    in the journal, and the rerun reuses them).
    """
    judged: dict[str, list[dict[str, Any]]] = {}
    split_scores: dict[str, dict[str, Any]] = {}
    reports: dict[str, JudgeReport] = {}
    for kind in (FREE_FORM, MULTI_CHOICE):
        parser = args.free_form_parser if kind == FREE_FORM else args.multi_choice_parser
        judged[kind], report = judge_split(args, inputs, kind, judges)
        split_scores[kind] = aggregate.split_scores(_item_scores(kind, parser, judged[kind]))
        if report is not None:
            reports[kind] = report
    scores = aggregate.score_json_for_model(split_scores[FREE_FORM], split_scores[MULTI_CHOICE])
    if not args.compute_score_from_judged_file:
        for kind in (FREE_FORM, MULTI_CHOICE):
            write_text_atomic(inputs.vdir / judged_file_name(args, kind),
                              "".join(json.dumps(line) + "\n" for line in judged[kind]))
    write_text_atomic(inputs.vdir / "score.json", json.dumps(scores, indent=4) + "\n")
    if reports:
        write_text_atomic(inputs.vdir / "judge_report.json", json.dumps(report_dict(
            {"free_form" if k == FREE_FORM else "multiple_choice": r for k, r in reports.items()}), indent=4))
    return ModelScores(inputs.model, scores, split_scores, reports)


def _lock_folder(stack: contextlib.ExitStack, vdir: Path) -> None:
    try:
        stack.enter_context(exclusive_lock(vdir / ".mix_eval.lock"))
    except FolderBusyError as e:
        raise MixEvalError(
            f"another mix_eval run (pid {e}) is writing to {vdir}; wait for it to finish, then rerun"
        ) from None


_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def write_error_message(e: OSError) -> Optional[str]:
    """A clear message for a file that could not be written (disk full, file-size limit,
    permissions), or None for other OS errors."""
    if e.errno not in _WRITE_ERRNOS:
        return None
    where = "a file"
    if e.filename:
        name = Path(e.filename)
        where = str(name.with_name(re.sub(r"^\.(.+)\.tmp-\d+$", r"\1", name.name)))
    return (
        f"cannot write {where}: {e.strerror}. Free some space (or fix the permissions), then rerun the "
        "same command: the judgments made so far are saved and will not be asked for again"
    )


def format_table(scores: dict[str, float]) -> str:
    """A two-column table (Split, Score), boxed like the reference's PrettyTable."""
    rows = [(str(k), str(v)) for k, v in scores.items()]
    w1 = max([len("Split")] + [len(r[0]) for r in rows]) + 2
    w2 = max([len("Score")] + [len(r[1]) for r in rows]) + 2
    rule = f"+{'-' * w1}+{'-' * w2}+"
    lines = [rule, f"|{'Split'.center(w1)}|{'Score'.center(w2)}|", rule]
    lines += [f"|{a.center(w1)}|{b.center(w2)}|" for a, b in rows]
    lines.append(rule)
    return "\n".join(lines)


def compute_metric(args: argparse.Namespace, *, progress: bool = True) -> dict[str, dict[str, float]]:
    """Score every model of the run; write score files; return {model: scores}.

    Every model folder is locked and every response file checked before the first
    judgment: a bad file stops the run before anything is paid for or overwritten.
    """
    models = find_models(args)
    check_scoring_config(args)
    try:
        return _score_models(args, models, progress)
    except OSError as e:
        message = write_error_message(e)
        if message is None:
            raise
        raise MixEvalError(message) from None


def _score_models(args: argparse.Namespace, models: list[str], progress: bool) -> dict[str, dict[str, float]]:
    data: dict[str, Optional[BenchmarkSplit]] = {}
    if not args.compute_score_from_judged_file:
        ff_split, mp_split = splits_for(args.benchmark)
        data[FREE_FORM] = benchmark_split(args, ff_split)
        data[MULTI_CHOICE] = benchmark_split(args, mp_split) if data[FREE_FORM] is not None else None
    judges = JudgeFactory(args, progress=progress)
    results: dict[str, dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(judges.close)
        prepared = []
        for model in models:
            vdir = model_version_dir(args.model_response_dir, model, args.benchmark, args.version)
            if not vdir.is_dir():
                logger.warning("%s: no folder %s; skipping this model", model, vdir)
                continue
            _lock_folder(stack, vdir)
            inputs = read_model_inputs(args, model, data)
            if inputs is not None:
                prepared.append(inputs)
        for inputs in prepared:  # every file is good: now what scoring goes on with
            for warning in inputs.warnings:
                logger.warning("WARNING: %s", warning)
        for inputs in prepared:
            scored = score_model(args, inputs, judges)
            results[inputs.model] = scored.scores
            print(f"{inputs.model} ({args.benchmark} {args.version}):")
            print(format_table(scored.scores))
            for line in report_lines(scored.reports.values()):
                print(line)
    if not results:
        raise MixEvalError(f"no model under {args.model_response_dir} could be scored (see the messages above)")
    run_file = Path(args.model_response_dir) / "score.json"
    write_text_atomic(run_file, json.dumps(aggregate.score_json_for_run(results), indent=4) + "\n")
    print(f"Saving the model scores to {run_file} ...")
    return results


def compute_metrics_p(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Scoring as `evaluate` runs it: the model just generated, in its output folder."""
    from mix_eval.evaluate import output_name

    scoring_args = argparse.Namespace(**vars(args))
    scoring_args.model_response_dir = args.output_dir
    scoring_args.models_to_eval = [output_name(args)]
    return compute_metric(scoring_args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return run_command(
        lambda: compute_metric(args), log_dir=args.model_response_dir, saved="Judgments made so far are saved",
        context=f"compute_metrics, benchmark {args.benchmark}, version {args.version}",
    )


if __name__ == "__main__":
    exit_process(main())
