"""MixEval as lm-evaluation-harness tasks: `mixeval` and `mixeval_hard` (groups), each of
a free-form and a multiple-choice task, configured by the YAML files in ``tasks/`` (package
data) and by the functions here, which those files name (through ``tasks/utils.py``).

What a model is asked is this package's: the documents are the packaged items as
`mix_eval.data.load_split` reads them (``formated_input`` made by
`mix_eval.prompts.format_input`), and ``doc_to_text`` is that text alone, so with
``--apply_chat_template`` the one user message equals what an ``openai_compatible`` model
sends (`mix_eval.models.base_api.APIModelBase.get_messages`: no system message, the
formatted input as the user turn). The stopping is that model's: 1536 new tokens, no stop
strings.

Judging stays this package's, after the run: lm-eval's ``--log_samples`` output is read
back (`mix_eval.integrations.lm_eval_import`) into a response folder that
`compute_metrics` judges with the journaled, rate-limit-aware judge. The tasks' own metric,
``rule_parser_score``, is the rule parsers (`mix_eval.scoring.rules`) aggregated as
`score.json` aggregates a split, for a quick look without a judge; it is not the
leaderboard's model-judged score.

lm_eval is imported only here, and only when a function below needs it.
"""
from __future__ import annotations

import logging
import random
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from packaging.requirements import Requirement

from mix_eval.data import KNOWN_VERSIONS, load_split, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.integrations.framework_check import REQUIREMENTS
from mix_eval.scoring.aggregate import OVERALL, item_scores_rule, split_scores
from mix_eval.scoring.rules import RANDOM_SEED, judge_file_freeform_rule, judge_file_multichoice_rule
from mix_eval.splits import SplitKind

logger = logging.getLogger(__name__)

# The lm-evaluation-harness versions these tasks and the reader of its logs were tested on.
REQUIREMENT = REQUIREMENTS["lm-eval"]
PINNED = REQUIREMENT.split("]", 1)[-1]  # ">=0.4.12,<0.5", as written
INSTALL = f"pip install -e '.[lm-eval]' (or pip install '{REQUIREMENT}')"
FRAMEWORK = "lm_eval"

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
# The benchmark version a task reads unless --metadata names another (the newest published).
DEFAULT_VERSION = KNOWN_VERSIONS[-1]
VERSION_KEY = "mixeval_version"
RULE_METRIC = "rule_parser_score"


# ---------------------------------------------------------------- the framework


def in_pinned_range(version: str) -> bool:
    """Whether an lm-eval version is one these tasks were tested on."""
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return Requirement(REQUIREMENT).specifier.contains(parsed, prereleases=True)


def check_version(version: str, where: str = "installed") -> str:
    """``version`` when it is in the pinned range, else a `MixEvalError` naming it."""
    if not in_pinned_range(version):
        raise MixEvalError(f"lm-evaluation-harness {version} ({where}) is outside the range mix_eval's tasks were "
                           f"tested on (lm-eval{PINNED}): {INSTALL}")
    return version


def lm_eval_version() -> str:
    """The installed lm-evaluation-harness version; one `MixEvalError` naming the pip install
    when it is missing, or naming the version when it is outside the pinned range."""
    try:
        import lm_eval
    except ImportError:
        raise MixEvalError(f"lm-evaluation-harness is not installed: {INSTALL}") from None
    return check_version(str(getattr(lm_eval, "__version__", "unknown")))


def include_path() -> Path:
    """The folder to give lm-eval's ``--include_path`` (the installed version checked first)."""
    lm_eval_version()
    return TASKS_DIR


def task_manager(**kwargs: Any) -> Any:
    """An lm-eval ``TaskManager`` that knows `mixeval` and `mixeval_hard`, for
    ``lm_eval.simple_evaluate(..., task_manager=task_manager())``."""
    lm_eval_version()
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), **kwargs)


# ---------------------------------------------------------------- the documents


def _kind(problem_type: str) -> SplitKind:
    try:
        return SplitKind(problem_type)
    except ValueError:
        raise MixEvalError(f"lm-eval task configuration: kind {problem_type!r} is neither "
                           f"{SplitKind.FREE_FORM.value!r} nor {SplitKind.MULTIPLE_CHOICE.value!r}") from None


def split_of(benchmark: str, problem_type: str) -> Any:
    """The `mix_eval.data.Split` of a benchmark and a kind (``free-form``, ``multiple-choice``)."""
    kind = _kind(problem_type)
    return next(s for s in splits_for(benchmark) if s.kind is kind)


def split_named(name: str) -> Any:
    """The `mix_eval.data.Split` called ``name`` (``close_freeform_hard``...)."""
    for benchmark in ("mixeval", "mixeval_hard"):
        for split in splits_for(benchmark):
            if split.name == name:
                return split
    raise MixEvalError(f"{name!r} is not a split of MixEval or MixEval-Hard")


@lru_cache(maxsize=None)
def packaged_items(version: str, split_name: str) -> tuple[dict[str, Any], ...]:
    """A split's packaged items, in data order (read once per process)."""
    return tuple(load_split(None, version, split_named(split_name)))


def load_docs(benchmark: str, kind: str, **metadata: Any) -> Any:
    """The task's dataset (lm-eval's ``custom_dataset``): one ``test`` split of the packaged
    items, in data order; each document holds the item's id, the benchmark version and split,
    its sub-benchmark and the formatted input. The version is ``--metadata
    '{"mixeval_version": "2024-06-01"}'`` (default: the newest)."""
    lm_eval_version()
    import datasets

    version = str(metadata.get(VERSION_KEY) or DEFAULT_VERSION)
    split = split_of(benchmark, kind)
    docs = [{"id": item["id"], VERSION_KEY: version, "split": split.name, "benchmark_name": item["benchmark_name"],
             "formated_input": item["formated_input"]} for item in packaged_items(version, split.name)]
    logger.info("%s %s: %d items of version %s", benchmark, split.name, len(docs), version)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def doc_to_text(doc: dict[str, Any]) -> str:
    """What the model is asked: the formatted input, as an ``openai_compatible`` model's
    one user message holds it."""
    return doc["formated_input"]


# ---------------------------------------------------------------- the quick look


def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, list[str]]:
    """Each item's entry for `rule_parser_score`: which item (version, split, id) and its response."""
    return {RULE_METRIC: [doc[VERSION_KEY], doc["split"], doc["id"], results[0]]}


def rule_parser_score(entries: Iterable[Sequence[str]]) -> float:
    """A split's rule-parser score, as ``compute_metrics --free_form_parser rule
    --multi_choice_parser rule`` gives it for these responses in the packaged order: the
    rule verdicts (multiple-choice fallbacks drawn from one seed-42 stream in that order),
    the split's overall mean rounded to 3 decimals (`split_scores`)."""
    entries = list(entries)
    if not entries:
        return 0.0
    versions = {(e[0], e[1]) for e in entries}
    if len(versions) != 1:
        raise MixEvalError(f"one lm-eval task holds responses of several MixEval splits: {sorted(versions)}")
    version, split_name = versions.pop()
    responses = {e[2]: e[3] for e in entries}
    records = [{**item, "response": responses[item["id"]]}
               for item in packaged_items(version, split_name) if item["id"] in responses]
    if split_named(split_name).is_multichoice:
        judged = judge_file_multichoice_rule(records, rng=random.Random(RANDOM_SEED))
    else:
        judged = judge_file_freeform_rule(records)
    return split_scores(item_scores_rule(judged))[OVERALL]
