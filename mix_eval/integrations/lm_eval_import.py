"""lm-evaluation-harness's ``--log_samples`` output read back as an `ImportedRun`.

lm-eval writes, per run, ``results_<date>.json`` and one ``samples_<task>_<date>.jsonl`` per
task into ``<output_path>/<model>/``. The samples of mix_eval's tasks (`mixeval_*`,
`mixeval_hard_*`) hold each document (the item's id, benchmark version and split) and the
model's response; the responses become response lines of this package's format, each the
packaged item's own fields plus ``response``, in the packaged order, so `compute_metrics`
judges them as it judges its own runs. No lm_eval import: the logs are JSON.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Union
from urllib.parse import urlsplit

from mix_eval.errors import MixEvalError
from mix_eval.integrations.imported import ImportedRun
from mix_eval.integrations.lm_eval import FRAMEWORK, VERSION_KEY, check_version, packaged_items, split_named
from mix_eval.records.jsonl import Mode, read_jsonl, where

logger = logging.getLogger(__name__)

# mix_eval's lm-eval tasks: task name -> (benchmark, split name)
TASKS = {
    "mixeval_freeform": ("mixeval", "close_freeform"),
    "mixeval_multichoice": ("mixeval", "close_multichoice"),
    "mixeval_hard_freeform": ("mixeval_hard", "close_freeform_hard"),
    "mixeval_hard_multichoice": ("mixeval_hard", "close_multichoice_hard"),
}
_RESULTS = re.compile(r"^(?P<stem>.+)_(?P<date>[^_]+)\.json$")
_SAMPLES = re.compile(r"^samples_(?P<task>.+)_(?P<date>[^_]+)\.jsonl$")
# model_args that may hold a secret: never copied into the run's settings
_SECRET_WORDS = ("key", "token", "secret", "password", "auth", "header")


def read_lm_eval_samples(path: Union[str, Path], *, benchmark: Optional[str] = None) -> ImportedRun:
    """The MixEval run that lm-eval logged under ``path``: its output folder (``--output_path``),
    the model's folder in it, or one ``results_<date>.json``. A folder holding several runs
    gives the newest; one holding several models, or a run of both benchmarks without
    ``benchmark``, is an error saying what to name."""
    results_file = _results_file(Path(path))
    results = _read_results(results_file)
    framework_version = check_version(str(results.get("lm_eval_version", "unknown")),
                                      f"which wrote {results_file}")
    date = _RESULTS.match(results_file.name).group("date")  # type: ignore[union-attr]
    samples = {m.group("task"): f for f in sorted(results_file.parent.glob(f"samples_*_{date}.jsonl"))
               if (m := _SAMPLES.match(f.name)) and m.group("task") in TASKS}
    if not samples:
        raise MixEvalError(f"{results_file.parent} holds no samples of mix_eval's tasks ({', '.join(TASKS)}) from "
                           f"the run of {results_file.name}: run lm-eval with --log_samples and --tasks mixeval or "
                           "mixeval_hard")
    benchmarks = sorted({TASKS[t][0] for t in samples})
    if benchmark is None:
        if len(benchmarks) > 1:
            raise MixEvalError(f"{results_file} is a run of both {' and '.join(benchmarks)}: import one at a time "
                               "(name the benchmark)")
        benchmark = benchmarks[0]
    elif benchmark not in benchmarks:
        raise MixEvalError(f"{results_file} holds no {benchmark} samples, only {', '.join(benchmarks)}")

    responses: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, Path] = {}
    for task, file in samples.items():
        if TASKS[task][0] != benchmark:
            continue
        split_name = TASKS[task][1]
        version, lines = _read_samples(file, split_name)
        versions.setdefault(version, file)
        responses[split_name] = _response_lines(file, version, split_name, lines)
    if len(versions) > 1:
        shown = ", ".join(f"{v} ({f.name})" for v, f in versions.items())
        raise MixEvalError(f"{results_file.parent}: the samples of one run are of several benchmark versions: {shown}")
    settings = _settings(results, [t for t in samples if TASKS[t][0] == benchmark])
    if not settings["chat_template_applied"]:
        logger.warning("%s: lm-eval ran without --apply_chat_template, so the model was given the formatted input "
                       "as plain text: not the prompt this package gives a chat model (one user message) nor a "
                       "base model (five examples first)", results_file)
    return ImportedRun(
        framework=FRAMEWORK, framework_version=framework_version, model=_model_name(results), benchmark=benchmark,
        version=next(iter(versions)), responses=responses,
        settings=settings, source=str(results_file),
    )


# ---------------------------------------------------------------- files


def _results_file(path: Path) -> Path:
    if path.is_file():
        if not _RESULTS.match(path.name):
            raise MixEvalError(f"{path} is not lm-eval's results_<date>.json: give lm-eval's --output_path folder")
        return path
    if not path.is_dir():
        raise MixEvalError(f"{path} does not exist: give lm-eval's --output_path folder (run with --log_samples)")
    found = sorted(path.glob("results_*.json")) or sorted(path.glob("*/results_*.json"))
    if not found:
        raise MixEvalError(f"{path} holds no results_*.json of lm-eval (in it or in a model folder under it): give "
                           "the --output_path of an lm-eval run with --log_samples")
    folders = sorted({f.parent for f in found})
    if len(folders) > 1:
        raise MixEvalError(f"{path} holds the runs of several models ({', '.join(f.name for f in folders)}): give "
                           "one model's folder")
    newest = max(found, key=lambda f: f.name)
    if len(found) > 1:
        logger.info("%s holds %d lm-eval runs; importing the newest, %s", path, len(found), newest.name)
    return newest


def _read_results(path: Path) -> dict[str, Any]:
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise MixEvalError(f"{path}: not valid JSON (line {e.lineno}: {e.msg}); lm-eval's results file is "
                           "damaged, rerun the evaluation") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MixEvalError(f"{path}: cannot be read ({e})") from None
    if not isinstance(results, dict):
        raise MixEvalError(f"{path}: not an lm-eval results file (a JSON object)")
    return results


def _sample_problem(record: Any) -> Optional[str]:
    """What makes a line no sample of a mix_eval task (None: it is one)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    doc = record.get("doc")
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not isinstance(doc.get(VERSION_KEY), str):
        return f"no doc with the item's id and {VERSION_KEY}: not a sample of mix_eval's lm-eval tasks"
    resps = record.get("resps")
    if not (isinstance(resps, list) and resps and isinstance(resps[0], list) and resps[0]
            and isinstance(resps[0][0], str)):
        return "no response (resps) in the sample"
    return None


def _read_samples(path: Path, split_name: str) -> tuple[str, list[tuple[int, dict[str, Any], str]]]:
    """(benchmark version, [(line number, document, response)]) of one samples file."""
    lines = read_jsonl(path, Mode.STRICT, check=_sample_problem).lines
    if not lines:
        raise MixEvalError(f"{path}: holds no samples")
    versions = {line.record["doc"][VERSION_KEY] for line in lines}
    if len(versions) > 1:
        raise MixEvalError(f"{path}: samples of several benchmark versions ({', '.join(sorted(versions))})")
    for line in lines:
        split = line.record["doc"].get("split")
        if split != split_name:
            raise MixEvalError(f"{path}, {where(line.number, line.record['doc']['id'])}: a sample of {split!r}, "
                               f"in the file of {split_name!r}")
    return versions.pop(), [(line.number, line.record["doc"], line.record["resps"][0][0]) for line in lines]


def _response_lines(path: Path, version: str, split_name: str,
                    lines: list[tuple[int, dict[str, Any], str]]) -> list[dict[str, Any]]:
    """The response lines of a split: packaged items with their responses, in the packaged order.
    Each sample's prompt must be the packaged item's (else the log was made from other data)."""
    items = {item["id"]: item for item in packaged_items(version, split_name)}
    by_id: dict[str, str] = {}
    for number, doc, response in lines:
        item_id = doc["id"]
        if item_id not in items:
            raise MixEvalError(f"{path}, {where(number, item_id)}: no such item in {split_named(split_name).benchmark} "
                               f"{version} ({split_name}); the log was made from other data")
        if doc.get("formated_input") != items[item_id]["formated_input"]:
            raise MixEvalError(f"{path}, {where(number, item_id)}: the prompt logged is not this package's for the "
                               f"item ({split_name}, {version}); the log was made from other data or other prompts")
        if item_id in by_id:
            raise MixEvalError(f"{path}, {where(number, item_id)}: a second sample of the same item")
        by_id[item_id] = response
    empty = sum(1 for r in by_id.values() if not r.strip())
    if empty:
        logger.warning("%s: %d of %d responses are empty (lm-eval writes an empty text where the API returned "
                       "none)", path.name, empty, len(by_id))
    return [{**item, "response": by_id[item_id]} for item_id, item in items.items() if item_id in by_id]


# ---------------------------------------------------------------- what the run recorded


def _model_name(results: Mapping[str, Any]) -> str:
    name = results.get("model_name")
    if isinstance(name, str) and name:
        return name
    args = _model_args(results)
    return str(args.get("model") or args.get("pretrained") or "unknown")


def _model_args(results: Mapping[str, Any]) -> dict[str, Any]:
    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    args = config.get("model_args")
    if isinstance(args, str):  # "pretrained=x,base_url=y" (older lm-eval, or as typed)
        args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
    return dict(args) if isinstance(args, dict) else {}


def _public_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """model_args without secrets; URLs cut to their host."""
    kept: dict[str, Any] = {}
    for key, value in args.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            continue
        if isinstance(value, str) and "://" in value:
            value = urlsplit(value).hostname or ""
        kept[key] = value
    return kept


def _settings(results: Mapping[str, Any], tasks: list[str]) -> dict[str, Any]:
    """The generation settings lm-eval recorded: the model, its arguments, each task's
    generation arguments (the task's, as the run overrode them), the prompt handling."""
    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    configs = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    overrides = config.get("gen_kwargs") if isinstance(config.get("gen_kwargs"), dict) else {}
    generation = {}
    for task in tasks:
        task_config = configs.get(task) if isinstance(configs.get(task), dict) else {}
        generation[task] = {**(task_config.get("generation_kwargs") or {}), **overrides}
    return {
        "model_source": results.get("model_source") or config.get("model"),
        "model_args": _public_args(_model_args(results)),
        "generation_kwargs": generation,
        "limit": config.get("limit"),
        "system_instruction": results.get("system_instruction"),
        "chat_template_applied": results.get("chat_template") is not None,
        "chat_template_sha": results.get("chat_template_sha"),
        "seed": config.get("random_seed"),
    }
