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
from typing import Any, Optional, Sequence

from mix_eval.data import BENCHMARKS, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.judges.runner import JudgeReport, judge_records, report_dict, report_lines
from mix_eval.responses import check_safe_name, model_version_dir, response_path
from mix_eval.scoring import aggregate, rules
from mix_eval.scoring.inputs import BenchmarkSplit, benchmark_split, is_base_model, read_judged_file, read_response_file, run_limit as _run_limit  # noqa: E501
from mix_eval.splits import SplitKind
from mix_eval.utils.cli import exit_process, run_command, setup_logging
from mix_eval.utils.files import (
    FolderBusyError,
    exclusive_lock,
    write_text_atomic,
)

logger = logging.getLogger("mix_eval")

FREE_FORM, MULTI_CHOICE = SplitKind.FREE_FORM, SplitKind.MULTIPLE_CHOICE  # until scoring below uses SplitKind

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
        return f"judge_results_{kind.tag}_rule.jsonl"
    return f"judge_results_{kind.tag}_model_judge_{judge_name(args, kind).replace('/', '_')}.jsonl"


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
        responses[kind] = read_response_file(path, split.kind, data.get(kind),
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
        data[FREE_FORM] = benchmark_split(args.data_path, args.version, ff_split)
        data[MULTI_CHOICE] = benchmark_split(args.data_path, args.version, mp_split) if data[FREE_FORM] is not None else None
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
