"""An imported run (`mix_eval.integrations.imported.ImportedRun`) written as this package's
response folder, so that compute_metrics, the report, the explorer, bundle, calibrate and
compare_judges read it as they read a folder ``evaluate`` made."""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Optional

from mix_eval.data import DEFAULT_DATA_PATH, load_split, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    folder_lock, journal_path, judged_file_name, model_version_dir, response_path, status_path,
)
from mix_eval.integrations.imported import ImportedRun
from mix_eval.integrations.verdicts import RULE, judge_identity, judged_lines, rule_judged_lines
from mix_eval.manifest import record_import
from mix_eval.responses import COMPLETE, IN_PROGRESS, check_safe_name, response_line, write_status
from mix_eval.settings import JudgeSettings
from mix_eval.system.files import write_text_atomic

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def folder_name_for(model: str) -> str:
    """The folder a framework's model name gets by default: ``openai/gpt-4o`` -> ``openai_gpt-4o``."""
    return _UNSAFE.sub("_", model).strip("._") or "imported"


def _ordered_lines(run: ImportedRun, split_name: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's lines of a split, checked against the packaged items, in the packaged order."""
    lines = run.responses.get(split_name) or []
    known = {item["id"] for item in items}
    by_id: dict[str, dict[str, Any]] = {}
    for line in lines:
        item_id = str(line.get("id"))
        if item_id not in known:
            raise MixEvalError(f"{run.source or run.framework}: {split_name} holds item id {item_id!r}, which "
                               f"{run.benchmark} {run.version} does not have: the run was made from other data")
        if "response" not in line or not isinstance(line["response"], str):
            raise MixEvalError(f"{run.source or run.framework}: {split_name} item {item_id} has no response text")
        if item_id in by_id:
            raise MixEvalError(f"{run.source or run.framework}: {split_name} holds item id {item_id!r} twice")
        by_id[item_id] = line
    return [by_id[item["id"]] for item in items if item["id"] in by_id]


def _judged_file(vdir: Path, kind: Any, judge: str, lines: list[dict[str, Any]],
                 verdicts: dict[str, Any]) -> str:
    """Write a split's judged file from the verdicts the run holds; return its name."""
    if judge == RULE:
        settings = JudgeSettings(**{kind.parser_flag: RULE})
        judged = rule_judged_lines(kind, lines)
    else:
        settings = JudgeSettings(freeform_judge=judge, multichoice_judge=judge)
        missing = [line["id"] for line in lines if line["id"] not in verdicts]
        if missing:
            raise MixEvalError(f"the {kind.problem_type} verdicts of {judge} lack {len(missing)} answered item(s) "
                               f"(e.g. id {missing[0]}): import without verdicts and score with compute_metrics")
        replies = {item_id: list(v.get("replies") or [v.get("judge_response")]) for item_id, v in verdicts.items()}
        identity, _ = judge_identity(judge)
        path = vdir / judged_file_name(settings, kind)
        judged = judged_lines(kind, lines, judge, replies, journal=journal_path(path), identity=identity)
    name = judged_file_name(settings, kind)
    write_text_atomic(vdir / name, "".join(json.dumps(line) + "\n" for line in judged))
    return name


def write_imported_run(run: ImportedRun, output_dir: str | os.PathLike, *, output_name: Optional[str] = None,
                       data_path: Optional[str] = None) -> Path:
    """Write ``run`` as this package's response folder
    ``<output_dir>/<name>/<benchmark>/<version>/``: the response and status files of each
    split it answered (lines in the packaged order), its judged files (with their journals,
    so ``compute_metrics`` with the same judge replays them and calls nobody) when the run
    holds verdicts, and ``run_manifest.json`` with an ``imported`` section. A folder that
    already holds responses is refused. Returns the folder."""
    name = check_safe_name("--output_name", output_name or folder_name_for(run.model))
    vdir = model_version_dir(output_dir, name, run.benchmark, run.version)
    splits = splits_for(run.benchmark)
    unknown = sorted(set(run.responses) - {s.name for s in splits})
    if unknown:
        raise MixEvalError(f"{run.source or run.framework}: splits {unknown} are not {run.benchmark}'s")
    vdir.mkdir(parents=True, exist_ok=True)
    with folder_lock(vdir):
        taken = [p.name for s in splits for p in (response_path(vdir, name, s.name),) if p.exists()]
        if taken:
            raise MixEvalError(f"{vdir} already holds {', '.join(taken)}: give --output_name another name, or "
                               "move that folder away")
        written: list[str] = []
        for split in splits:
            if split.name not in run.responses:
                continue
            items = load_split(data_path, run.version, split)
            lines = _ordered_lines(run, split.name, items)
            write_text_atomic(response_path(vdir, name, split.name), "".join(response_line(x) for x in lines))
            args = {"model_name": run.model, "benchmark": run.benchmark, "version": run.version,
                    "data_path": data_path or DEFAULT_DATA_PATH, "output_dir": str(output_dir), "output_name": name,
                    "max_new_tokens": run.settings.get("max_tokens"), "limit": None, "split": split.name,
                    "imported_from": run.framework, "framework_version": run.framework_version}
            write_status(status_path(vdir, split.name), args, batch_id=0, time_elapsed=0.0,
                         state=COMPLETE if len(lines) == len(items) else IN_PROGRESS)
            if len(lines) < len(items):
                logger.warning("%s: %d of %d items answered in %s; the others are missing (check_eval_complete "
                               "will say so)", split.name, len(lines), len(items), run.source or run.framework)
            judged = run.judged.get(split.name)
            if judged and lines:
                written.append(_judged_file(vdir, split.kind, str(judged["judge"]), lines,
                                            dict(judged.get("verdicts") or {})))
        if not any(s.name in run.responses for s in splits):
            raise MixEvalError(f"{run.source or run.framework}: the run holds no answered item of {run.benchmark}")
        record_import(vdir, name, run.benchmark, run.version, {
            "framework": run.framework, "framework_version": run.framework_version, "model": run.model,
            "settings": dict(run.settings), "source": Path(run.source).name if run.source else None,
            "judged_files": written,
        }, data_path=data_path)
    return vdir


def score_command(run: ImportedRun, vdir: Path, data_path: Optional[str] = None) -> str:
    """The ``compute_metrics`` command that scores a folder written by `write_imported_run`:
    with the run's own judges (their replies are in the judged files: no call) when it holds
    verdicts, else with the defaults."""
    import shlex

    output_dir, name = vdir.parent.parent.parent, vdir.parent.parent.name
    words = ["python", "-m", "mix_eval.compute_metrics", "--benchmark", run.benchmark, "--version", run.version,
             "--model_response_dir", str(output_dir), "--models_to_eval", name]
    for split in splits_for(run.benchmark):
        judged = run.judged.get(split.name)
        if not judged:
            continue
        if judged["judge"] == RULE:
            words += [f"--{split.kind.parser_flag}", RULE]
        else:
            words += [f"--{split.kind.judge_flag}", str(judged["judge"])]
    if data_path:
        words += ["--data_path", data_path]
    return " ".join(shlex.quote(w) for w in words)
