"""An Inspect log of `mix_eval.integrations.inspect_task` read as an `ImportedRun`: each
sample's answer (read from its model output as the task's scorer read it) on its packaged
item, and, when MixEval's scorer ran, its verdicts (the grader's replies in the order it
asked them, or the rule parser's), so the folder written from it is judged already."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

from mix_eval.errors import MixEvalError
from mix_eval.integrations.imported import ImportedRun
from mix_eval.integrations.inspect_task import TASK_METADATA_KEY, answer_of, packaged_items  # checks the version
from mix_eval.integrations.verdicts import RULE
from mix_eval.splits import SplitKind
from mix_eval.thinking import answer_fields

from inspect_ai.log import EvalLog, read_eval_log  # noqa: E402 - after the version check above

__all__ = ["read_inspect_log", "imported_from_log"]

FRAMEWORK = "inspect"
SCORER = "mixeval_scorer"
_SECRET = re.compile(r"key|secret|password|passwd|auth|credential|token$|cookie|header", re.IGNORECASE)


def read_inspect_log(path: str | Path) -> ImportedRun:
    """The run an Inspect log file (``.eval`` or ``.json``) holds."""
    try:
        log = read_eval_log(str(path))
    except FileNotFoundError:
        raise MixEvalError(f"{path}: no such Inspect log (inspect view lists the logs; they are under ./logs "
                           "by default)") from None
    except Exception as e:  # noqa: BLE001 - Inspect raises many kinds for a file that is not a log
        raise MixEvalError(f"{path}: not an Inspect log Inspect can read ({type(e).__name__}: {e})") from None
    return imported_from_log(log, str(path))


def _settings(log: EvalLog) -> dict[str, Any]:
    """The generation settings Inspect recorded: the task's and the run's generate config,
    the task arguments, the model's arguments (none whose name could hold a credential)."""
    spec = log.eval
    task_config = spec.task_args
    generate = spec.model_generate_config.model_dump(exclude_none=True)
    meta = (spec.metadata or {}).get(TASK_METADATA_KEY) or {}
    settings: dict[str, Any] = {
        "max_tokens": generate.get("max_tokens", meta.get("max_tokens")),
        "generate_config": generate,
        "task_args": dict(task_config),
        "model_args": {k: v for k, v in (spec.model_args or {}).items() if not _SECRET.search(str(k))},
        "model_base_url_host": _host(spec.model_base_url),
        "model_roles": {role: getattr(config, "model", str(config)) for role, config in (spec.model_roles or {}).items()},
        "task": spec.task, "task_version": spec.task_version, "eval_id": spec.eval_id, "created": spec.created,
        "status": log.status,
    }
    return settings


def _host(url: Optional[str]) -> Optional[str]:
    from mix_eval.manifest import endpoint_host

    return endpoint_host(url)


def _task_metadata(log: EvalLog, source: str) -> dict[str, Any]:
    meta = (log.eval.metadata or {}).get(TASK_METADATA_KEY)
    if not isinstance(meta, dict) or meta.get("benchmark") not in ("mixeval", "mixeval_hard"):
        raise MixEvalError(f"{source}: a log of Inspect task {log.eval.task!r}, not of mix_eval/mixeval or "
                           "mix_eval/mixeval_hard: only those logs can be imported")
    return meta


def imported_from_log(log: EvalLog, source: str) -> ImportedRun:
    """An `ImportedRun` of a read Inspect log."""
    meta = _task_metadata(log, source)
    benchmark, version = meta["benchmark"], meta["version"]
    if not log.samples:
        raise MixEvalError(f"{source}: the log holds no samples (was it written with --no-log-samples, or "
                           "read with header_only?); rerun the eval with samples logged")
    tags = meta.get("reasoning_tags")
    answered: dict[str, dict[str, Any]] = {}
    verdicts: dict[str, dict[str, Any]] = {}
    judges: dict[str, str] = {}
    for sample in log.samples:
        if sample.error is not None or sample.output is None or not sample.output.choices:
            continue  # no answer: left out, as this package leaves out an item the API did not answer
        split, item_id = sample.metadata["split"], str(sample.metadata["item_id"])
        answered.setdefault(split, {})[item_id] = answer_fields(answer_of(sample.output, tags))
        score = (sample.scores or {}).get(SCORER)
        if score is None or score.metadata is None:
            continue
        judge = RULE if score.metadata.get("parser") == RULE else str(score.metadata["judge"])
        judges.setdefault(split, judge)
        verdicts.setdefault(split, {})[item_id] = {
            "judge_response": score.explanation if judge != RULE else None,
            "judge_score": float(score.value) if isinstance(score.value, (int, float)) else None,
            "replies": list(score.metadata.get("replies") or []),
        }
    responses: dict[str, list[dict[str, Any]]] = {}
    judged: dict[str, dict[str, Any]] = {}
    for kind in SplitKind:
        split_name = kind.split_name(benchmark)
        got = answered.get(split_name)
        if not got:
            continue
        items = packaged_items(benchmark, version, kind, meta.get("data_path"))
        responses[split_name] = [{**item, **got[item["id"]]} for item in items if item["id"] in got]
        if split_name in verdicts and len(verdicts[split_name]) == len(got):
            judged[split_name] = {"judge": judges[split_name], "verdicts": verdicts[split_name]}
    return ImportedRun(
        framework=FRAMEWORK, framework_version=str(log.eval.packages.get("inspect_ai", "unknown")),
        model=log.eval.model, benchmark=benchmark, version=version, responses=responses,
        settings=_settings(log), judged=judged, source=source,
    )
