"""`python -m mix_eval.compute_metrics`: score response files.

Usage (the reference's flags)::

    python -m mix_eval.compute_metrics --benchmark mixeval --version 2024-06-01 \\
        [--model_response_dir DIR] [--models_to_eval M ...] \\
        [--free_form_parser {model,rule}] [--multi_choice_parser {model,rule}] \\
        [--freeform_judge J] [--multichoice_judge J] [--judge_model_id HF_ID] \\
        [--api_base_url URL] [--api_parallel_num N] [--extract_base_model_response] \\
        [--compute_score_from_judged_file]

For each model folder ``<dir>/<model>/<benchmark>/<version>/`` it judges both
response files (an LLM judge, or the rule parsers), writes the judged files
(``judge_results_{ff,mp}_model_judge_<judge>.jsonl`` or ``judge_results_{ff,mp}_rule.jsonl``)
and ``score.json``, then ``<dir>/score.json`` for all models of the run, and prints a
table per model. Judgments are journaled as they arrive: a rerun pays for none twice.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from mix_eval.data import BENCHMARKS, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.judges.protocol import FREE_FORM, MULTI_CHOICE
from mix_eval.judges.runner import JudgeReport, judge_records, report_dict, report_lines
from mix_eval.prompts.evaluation_prompts import (
    FIVE_SHOT_PREFIX_FREEFORM,
    FIVE_SHOT_PREFIX_MULTIPLECHOICE,
)
from mix_eval.responses import check_safe_name, model_version_dir, response_path
from mix_eval.scoring import aggregate, rules
from mix_eval.utils.files import (
    FolderBusyError,
    exclusive_lock,
    write_json_atomic,
    write_text_atomic,
)
from mix_eval.utils.interrupt import graceful_interrupts

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


def read_response_file(path: Path, problem_type: str) -> list[dict[str, Any]]:
    """The lines of a response file, checked: one clear error naming file, line and id."""
    required = ["id", "prompt", "target", "benchmark_name", "response"]
    if problem_type == "multiple-choice":
        required.append("options")
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise MixEvalError(f"{path}, line {lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise MixEvalError(f"{path}, line {lineno}: not a JSON object")
            missing = [k for k in required if k not in record]
            if missing:
                raise MixEvalError(
                    f"{path}, line {lineno} (id {record.get('id')!r}): lacks {', '.join(missing)}"
                )
            if not isinstance(record["response"], str):
                raise MixEvalError(
                    f"{path}, line {lineno} (id {record['id']!r}): the response is "
                    f"{json.dumps(record['response'])}, not text; regenerate it (rerun evaluate)"
                )
            records.append(record)
    if not records:
        raise MixEvalError(f"{path}: no responses")
    return records


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


def read_judged_file(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise MixEvalError(
            f"judged file not found: {path}. Run without --compute_score_from_judged_file to judge the responses."
        )
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise MixEvalError(f"{path}, line {lineno}: not valid JSON ({e.msg})") from None
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


def score_split(args: argparse.Namespace, model: str, vdir: Path, kind: str, records: list[dict[str, Any]],
                extract_base: bool, judges: JudgeFactory) -> tuple[list[dict[str, Any]], Optional[JudgeReport]]:
    """Judge one split's responses (or read its judged file); write the judged file."""
    parser = args.free_form_parser if kind == FREE_FORM else args.multi_choice_parser
    judged_path = vdir / judged_file_name(args, kind)
    if args.compute_score_from_judged_file:
        return read_judged_file(judged_path), None
    report = None
    if parser == "rule":
        judge_fn = rules.judge_file_freeform_rule if kind == FREE_FORM else rules.judge_file_multichoice_rule
        judged = judge_fn(records, extract_base=extract_base)
    else:
        name = judge_name(args, kind)
        journal = vdir / f".journal_{judged_path.stem}.jsonl"
        judged, report = judge_records(
            records, kind, name, lambda: judges.get(kind), journal,
            extract_base=extract_base, previous_judged_file=judged_path,
        )
    write_text_atomic(judged_path, "".join(json.dumps(line) + "\n" for line in judged))
    return judged, report


def score_model(args: argparse.Namespace, model: str, judges: JudgeFactory) -> Optional[ModelScores]:
    """Score one model folder; None when one of its response files is missing."""
    vdir = model_version_dir(args.model_response_dir, model, args.benchmark, args.version)
    ff_split, mp_split = splits_for(args.benchmark)
    inputs = {}
    for kind, split in ((FREE_FORM, ff_split), (MULTI_CHOICE, mp_split)):
        path = response_path(vdir, model, split.name)
        if args.compute_score_from_judged_file:
            inputs[kind] = []
            continue
        if not path.exists():
            logger.warning("%s: no response file %s; skipping this model", model, path)
            return None
        inputs[kind] = read_response_file(path, split.problem_type)
    extract_base = bool(args.extract_base_model_response) and bool(inputs[FREE_FORM] or inputs[MULTI_CHOICE]) \
        and is_base_model(model, inputs[FREE_FORM] or inputs[MULTI_CHOICE])
    split_scores: dict[str, dict[str, Any]] = {}
    reports: dict[str, JudgeReport] = {}
    try:
        with exclusive_lock(vdir / ".mix_eval.lock"):
            for kind in (FREE_FORM, MULTI_CHOICE):
                parser = args.free_form_parser if kind == FREE_FORM else args.multi_choice_parser
                judged, report = score_split(args, model, vdir, kind, inputs[kind], extract_base, judges)
                split_scores[kind] = aggregate.split_scores(_item_scores(kind, parser, judged))
                if report is not None:
                    reports[kind] = report
            scores = aggregate.score_json_for_model(split_scores[FREE_FORM], split_scores[MULTI_CHOICE])
            write_text_atomic(vdir / "score.json", json.dumps(scores, indent=4) + "\n")
            if reports:
                write_json_atomic(vdir / "judge_report.json", report_dict(
                    {"free_form" if k == FREE_FORM else "multiple_choice": r for k, r in reports.items()}))
    except FolderBusyError as e:
        raise MixEvalError(
            f"another mix_eval run (pid {e}) is writing to {vdir}; wait for it to finish, then rerun"
        ) from None
    return ModelScores(model, scores, split_scores, reports)


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
    """Score every model of the run; write score files; return {model: scores}."""
    models = find_models(args)
    check_scoring_config(args)
    judges = JudgeFactory(args, progress=progress)
    results: dict[str, dict[str, float]] = {}
    try:
        for model in models:
            scored = score_model(args, model, judges)
            if scored is None:
                continue
            results[model] = scored.scores
            print(f"{model} ({args.benchmark} {args.version}):")
            print(format_table(scored.scores))
            for line in report_lines(scored.reports.values()):
                print(line)
    finally:
        judges.close()
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
    from mix_eval.evaluate import log_error, setup_logging

    setup_logging(args.verbose)
    try:
        with graceful_interrupts():
            compute_metric(args)
    except MixEvalError as e:
        log_error(f"Error: {e} (compute_metrics, benchmark {args.benchmark}, version {args.version})",
                  args.model_response_dir)
        print(f"mix_eval: Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmix_eval: interrupted. Judgments made so far are saved; rerun the same command to resume.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
