"""Scoring a run: judge each model's responses, then write what the reference writes.

For each model folder ``<dir>/<model>/<benchmark>/<version>/`` both response files are
judged (an LLM judge, or the rule parsers) and the judged files
(``judge_results_{ff,mp}_model_judge_<judge>.jsonl`` or ``judge_results_{ff,mp}_rule.jsonl``),
``score.json``, ``score_intervals.json`` and ``judge_report.json`` are written (and, for
MixEval, the model's derived MixEval-Hard folder: `mix_eval.scoring.derive`); then
``<dir>/score.json`` for all models of the run. Every model folder is locked and every
response file checked before the first judgment, and nothing is written before a model's
two splits are judged, so a run that fails overwrites no judged file or score (the
judgments it paid for are in the journal, and the rerun reuses them).
"""
from __future__ import annotations

import contextlib
import errno
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from mix_eval.data import splits_for
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    JUDGE_REPORT_FILE,
    SCORE_FILE,
    folder_lock,
    journal_path,
    judged_file_name,
    model_version_dir,
    write_json,
)
from mix_eval.judges.factory import JudgeFactory, check_judge_config
from mix_eval.judges.report import JudgeReport, report_dict
from mix_eval.judges.runner import judge_records
from mix_eval.judges.summary import judge_summary_lines
from mix_eval.scoring import aggregate, rules
from mix_eval.manifest import record_scoring
from mix_eval.scoring.derive import HARD, SOURCE, derive_hard
from mix_eval.scoring.inputs import (
    BenchmarkSplit,
    ModelInputs,
    benchmark_split,
    find_models,
    read_judged_file,
    read_model_inputs,
)
from mix_eval.scoring.scores import model_scores, write_judged_files, write_scores
from mix_eval.scoring.table import format_table
from mix_eval.settings import JudgeSettings, ScoringSettings
from mix_eval.splits import SplitKind
from mix_eval.system.files import FolderBusyError

logger = logging.getLogger("mix_eval")

Scores = dict[str, dict[str, float]]


@dataclass
class ModelScores:
    model: str
    scores: dict[str, float]
    reports: dict[str, JudgeReport] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    judged: dict[SplitKind, list[dict[str, Any]]] = field(default_factory=dict)


def judge_split(judge: JudgeSettings, inputs: ModelInputs, kind: SplitKind,
                judges: JudgeFactory) -> tuple[list[dict[str, Any]], Optional[JudgeReport]]:
    """Judge one split's responses (or read its judged file). Only the journal is written."""
    parser = judge.parser(kind)
    judged_path = inputs.vdir / judged_file_name(judge, kind)
    if judge.compute_score_from_judged_file:
        return read_judged_file(judged_path, kind, parser), None
    records = inputs.responses[kind]
    if parser == "rule":
        judge_fn = rules.judge_file_multichoice_rule if kind.is_multichoice else rules.judge_file_freeform_rule
        return judge_fn(records, extract_base=inputs.extract_base), None
    journal = journal_path(judged_path)
    resolved = judges.resolved(kind)
    return judge_records(
        records, kind, resolved.name, lambda: judges.get(kind), journal,
        extract_base=inputs.extract_base, previous_judged_file=judged_path, price=resolved.price,
        mode=judge.judge_mode, identity=resolved.identity, request=resolved.record(),
    )


Judged = tuple[list[dict[str, Any]], Optional[JudgeReport]]


def judge_together(judge: JudgeSettings, models: list[ModelInputs],
                   judges: JudgeFactory) -> dict[tuple[str, SplitKind], Judged]:
    """Batch mode: judge every model's splits at once, one thread each, so that the
    requests of a round of all of them go into the same batch(es)."""
    jobs = [(inputs, kind) for inputs in models for kind in SplitKind if judge.parser(kind) == "model"]
    done: dict[tuple[str, SplitKind], Judged] = {}
    errors: list[BaseException] = []
    backends = {kind: judges.get(kind) for kind in {kind for _, kind in jobs}}

    def work(inputs: ModelInputs, kind: SplitKind) -> None:
        try:
            done[(inputs.model, kind)] = judge_split(judge, inputs, kind, judges)
        except BaseException as e:  # noqa: BLE001 - raised in the caller's thread
            errors.append(e)
        finally:
            backends[kind].leave()

    for _, kind in jobs:
        backends[kind].enroll()  # every job counted before any batch goes out
    threads = [threading.Thread(target=work, args=job, daemon=True, name=f"judge-{job[0].model}-{job[1].tag}")
               for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    if errors:
        raise next((e for e in errors if not isinstance(e, KeyboardInterrupt)), errors[0])
    return done


def score_model(judge: JudgeSettings, inputs: ModelInputs, judges: JudgeFactory,
                judged_before: Optional[dict[tuple[str, SplitKind], Judged]] = None) -> ModelScores:
    """Judge both splits (or take ``judged_before``'s), then write the judged files,
    ``score.json``, ``score_intervals.json`` and ``judge_report.json``."""
    judged: dict[SplitKind, list[dict[str, Any]]] = {}
    reports: dict[SplitKind, JudgeReport] = {}
    for kind in SplitKind:
        if judged_before and (inputs.model, kind) in judged_before:
            judged[kind], report = judged_before[(inputs.model, kind)]
        else:
            judged[kind], report = judge_split(judge, inputs, kind, judges)
        if report is not None:
            reports[kind] = report
    scores, intervals = model_scores(judge, judged)
    if not judge.compute_score_from_judged_file:
        write_judged_files(inputs.vdir, judge, judged)
    write_scores(inputs.vdir, scores, intervals)
    if reports:
        write_json(inputs.vdir / JUDGE_REPORT_FILE, report_dict({k.label: r for k, r in reports.items()}))
    return ModelScores(inputs.model, scores, reports, intervals, judged)


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


def score(settings: ScoringSettings, *, progress: bool = True,
          echo: Callable[[str], Any] = print) -> Scores:
    """Score every model of the run; write the score files; return ``{model: scores}``.

    ``echo`` receives the printed summary (a table per model); pass ``lambda _: None``
    to keep quiet.
    """
    models = find_models(settings)
    check_judge_config(settings.judge)
    try:
        return _score_models(settings, models, progress, echo)
    except OSError as e:
        message = write_error_message(e)
        if message is None:
            raise
        raise MixEvalError(message) from None


def _benchmark_data(settings: ScoringSettings) -> dict[SplitKind, Optional[BenchmarkSplit]]:
    """The benchmark items to check response files against, when at hand."""
    if settings.judge.compute_score_from_judged_file:
        return {}
    data_path, version = settings.data.data_path, settings.data.version
    ff_split, mp_split = splits_for(settings.data.benchmark)
    ff = benchmark_split(data_path, version, ff_split)
    return {ff_split.kind: ff, mp_split.kind: benchmark_split(data_path, version, mp_split) if ff is not None else None}


def _lock_folder(stack: contextlib.ExitStack, vdir: Path) -> None:
    try:
        stack.enter_context(folder_lock(vdir))
    except FolderBusyError as e:
        raise MixEvalError(
            f"another mix_eval run (pid {e}) is writing to {vdir}; wait for it to finish, then rerun"
        ) from None


def _score_models(settings: ScoringSettings, models: list[str], progress: bool,
                  echo: Callable[[str], Any]) -> Scores:
    data = _benchmark_data(settings)
    benchmark, version = settings.data.benchmark, settings.data.version
    judges = JudgeFactory(settings.judge, progress=progress, run_dir=Path(settings.model_response_dir))
    results: Scores = {}
    with contextlib.ExitStack() as stack:
        stack.callback(judges.close)
        prepared = []
        for model in models:
            vdir = model_version_dir(settings.model_response_dir, model, benchmark, version)
            if not vdir.is_dir():
                logger.warning("%s: no folder %s; skipping this model", model, vdir)
                continue
            _lock_folder(stack, vdir)
            inputs = read_model_inputs(settings, model, data)
            if inputs is not None:
                prepared.append(inputs)
        for inputs in prepared:  # every file is good: now what scoring goes on with
            for warning in inputs.warnings:
                logger.warning("WARNING: %s", warning)
        together = None
        # batch mode: an API judge (the settings refuse it with a local one)
        if settings.judge.judge_mode == "batch" and settings.judge.uses_model_judge:
            together = judge_together(settings.judge, prepared, judges)
        for inputs in prepared:
            scored = score_model(settings.judge, inputs, judges, together)
            record_scoring(settings, inputs.model, inputs.vdir)
            results[inputs.model] = scored.scores
            echo(f"{inputs.model} ({benchmark} {version}):")
            echo(format_table(scored.scores, scored.intervals))
            for line in judge_summary_lines(scored.reports.values()):
                echo(line)
            if benchmark == SOURCE:
                derived = derive_hard(settings, inputs.model, inputs.vdir, inputs.responses, scored.judged)
                if derived is not None:
                    record_scoring(settings, inputs.model, derived.vdir, benchmark=HARD, source=inputs.vdir)
                    echo(f"{inputs.model} (mixeval_hard {version}, derived from the MixEval run with no judge call: "
                         f"{sum(derived.origin['matched_by_id'].values())} items matched by id, "
                         f"{sum(derived.origin['matched_by_content'].values())} by content) -> {derived.vdir}:")
                    echo(format_table(derived.scores, derived.intervals))
    if not results:
        raise MixEvalError(f"no model under {settings.model_response_dir} could be scored (see the messages above)")
    run_file = Path(settings.model_response_dir) / SCORE_FILE
    write_json(run_file, aggregate.score_json_for_run(results))
    echo(f"Saving the model scores to {run_file} ...")
    return results
