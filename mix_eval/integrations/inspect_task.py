"""MixEval and MixEval-Hard as Inspect tasks, scored by MixEval's own protocol.

``inspect eval mix_eval/mixeval_hard --model <any Inspect model>`` (``pip install -e
'.[inspect]'``; the entry point is `mix_eval.integrations.inspect_registry`). Each sample
is one packaged item, asked exactly as this package's API chat models ask it
(`mix_eval.models.base_api.chat_messages` of the item's formatted input, the same
1536-token budget as ``--model_name openai_compatible``); the answer is read as they read
it (thinking apart: `mix_eval.thinking.answer_from_chat`). The scorer is MixEval's: the
judge prompts and verdict rules of `mix_eval.judges.protocol`, asked of Inspect's model
role ``grader`` (``--model-role grader=<model>``; default the reference's judge), again
while a reply holds no verdict, up to the reference's 10 rounds; or the rule parsers
(``-T parser=rule``), which ask nobody. The metric rebuilds the judged lines from those
replies through the package's own rounds and aggregates them as ``score.json`` does
(`mix_eval.integrations.verdicts`), so it equals ``compute_metrics`` on the same answers.

Task arguments (``-T name=value``): ``version`` (default the newest packaged),
``split`` (``all``, ``free_form`` or ``multiple_choice``; ``ff``/``mp`` too), ``parser``
(``model`` or ``rule``), ``judge`` (the grader when no ``grader`` role is given),
``system_message``, ``max_tokens``, ``reasoning_tags``, ``data_path``.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Optional

from mix_eval.integrations.framework_check import REQUIREMENTS, require_framework

INSPECT_REQUIREMENT = REQUIREMENTS["inspect"]
INSPECT_VERSION = require_framework(INSPECT_REQUIREMENT, "inspect", "inspect_ai")

from inspect_ai import Task, task  # noqa: E402 - only once the version is known good
from inspect_ai.dataset import MemoryDataset, Sample  # noqa: E402
from inspect_ai.model import (  # noqa: E402
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    ContentReasoning,
    GenerateConfig,
    Model,
    ModelOutput,
    get_model,
)
from inspect_ai.scorer import Metric, SampleScore, Score, Target, metric, scorer  # noqa: E402
from inspect_ai.solver import TaskState, generate  # noqa: E402

from mix_eval.data import BENCHMARKS, KNOWN_VERSIONS, load_split, splits_for  # noqa: E402
from mix_eval.errors import MixEvalError  # noqa: E402
from mix_eval.integrations.verdicts import (  # noqa: E402
    RULE, item_value, judge_identity, judged_lines, rule_judged_lines, scores_of,
)
from mix_eval.judges.protocol import judge_messages, judged_response, verdict  # noqa: E402
from mix_eval.judges.runner import MAX_ROUNDS  # noqa: E402
from mix_eval.models.base_api import chat_messages  # noqa: E402
from mix_eval.models.spec import DEFAULT_MAX_NEW_TOKENS  # noqa: E402
from mix_eval.settings import DEFAULT_JUDGE, PARSERS  # noqa: E402
from mix_eval.splits import SplitKind  # noqa: E402
from mix_eval.thinking import Answer, answer_fields, answer_from_chat, parse_tags  # noqa: E402

logger = logging.getLogger(__name__)

__all__ = ["mixeval", "mixeval_hard", "mixeval_task", "mixeval_scorer", "mixeval_score", "answer_of",
           "INSPECT_REQUIREMENT", "INSPECT_VERSION", "TASK_METADATA_KEY", "DEFAULT_GRADER"]

TASK_METADATA_KEY = "mix_eval"  # the task's metadata: benchmark, version, split, parser
DEFAULT_GRADER = f"openai/{DEFAULT_JUDGE}"  # the reference's judge, when no grader role is given
ALL = "all"
VERDICT_KEY = {SplitKind.FREE_FORM: "judge_score", SplitKind.MULTIPLE_CHOICE: "judge_option"}  # in judged lines
_ROLES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


# ---------------------------------------------------------------- what is asked and answered


def inspect_messages(messages: list[dict[str, str]]) -> list[ChatMessage]:
    """The package's chat messages as Inspect's."""
    return [_ROLES[m["role"]](content=m["content"]) for m in messages]


class _Reply:
    """An Inspect model output as the package's chat result, for `answer_from_chat`."""

    def __init__(self, output: ModelOutput):
        message = output.choices[0].message if output.choices else None
        content = message.content if message is not None else ""
        thoughts = [c.reasoning for c in content if isinstance(c, ContentReasoning)] if not isinstance(content, str) else []
        self.text = output.completion
        self.reasoning = "\n\n".join(thoughts) if thoughts else None
        usage = output.usage
        self.usage = None
        self.reasoning_tokens = None
        if usage is not None:
            self.usage = SimpleNamespace(prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens)
            self.reasoning_tokens = usage.reasoning_tokens
        self.finish_reason = "length" if output.stop_reason == "max_tokens" else output.stop_reason


def answer_of(output: ModelOutput, reasoning_tags: Optional[str] = None) -> Answer:
    """The answer in an Inspect model output, read as this package reads an API reply."""
    return answer_from_chat(_Reply(output), parse_tags(reasoning_tags))


def split_kinds(split: str) -> tuple[SplitKind, ...]:
    """The kinds of split a ``-T split=`` value names."""
    if split == ALL:
        return tuple(SplitKind)
    for kind in SplitKind:
        if split in (kind.tag, kind.label, kind.problem_type, kind.split_stem, kind.name.lower()):
            return (kind,)
    raise MixEvalError(f"-T split={split}: choose all, free_form (ff) or multiple_choice (mp)")


@lru_cache(maxsize=8)
def _items(data_path: Optional[str], version: str, benchmark: str, kind: SplitKind) -> tuple[dict[str, Any], ...]:
    split = next(s for s in splits_for(benchmark) if s.kind is kind)
    return tuple(load_split(data_path, version, split))


@lru_cache(maxsize=8)
def _by_id(data_path: Optional[str], version: str, benchmark: str, kind: SplitKind) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in _items(data_path, version, benchmark, kind)}


def packaged_items(benchmark: str, version: str, kind: SplitKind, data_path: Optional[str] = None
                   ) -> list[dict[str, Any]]:
    """A split's items as `mix_eval.data` loads them (a copy each), in the packaged order."""
    return [dict(item) for item in _items(data_path, version, benchmark, kind)]


def _sample_id(split_name: str, item_id: str) -> str:
    return f"{split_name}:{item_id}"


def _dataset(benchmark: str, version: str, kinds: tuple[SplitKind, ...], system_message: Optional[str],
             data_path: Optional[str]) -> MemoryDataset:
    system = {"role": "system", "content": system_message} if system_message else None
    samples = []
    for split in splits_for(benchmark):
        if split.kind not in kinds:
            continue
        for item in packaged_items(benchmark, version, split.kind, data_path):
            if split.kind.is_multichoice:
                target: Any = chr(ord("A") + item["target"][0])
            else:
                target = list(item["target"])
            samples.append(Sample(
                input=inspect_messages(chat_messages(item["formated_input"], system)),
                target=target, id=_sample_id(split.name, item["id"]),
                choices=list(item["options"]) if split.kind.is_multichoice else None,
                metadata={"split": split.name, "kind": split.kind.label, "item_id": item["id"],
                          "benchmark_name": item["benchmark_name"]},
            ))
    return MemoryDataset(samples, name=f"{benchmark}-{version}")


# ---------------------------------------------------------------- scoring


def _grader_name(model: Model) -> str:
    """The judge's name as judged files and digests name it: the served model's id."""
    service_name = getattr(model.api, "service_model_name", None)
    return service_name() if callable(service_name) else model.name


@metric
def mixeval_score(benchmark: str, version: str, data_path: Optional[str] = None) -> Metric:
    """``score.json``'s scores (overall, then each benchmark) of the scored samples: their
    judged lines rebuilt in the packaged order through the package's own rounds (or rule
    parsers), aggregated as ``compute_metrics`` does."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        by_kind: dict[SplitKind, dict[str, Score]] = {}
        for s in scores:
            meta = s.score.metadata or {}
            kind = SplitKind.MULTIPLE_CHOICE if meta.get("kind") == SplitKind.MULTIPLE_CHOICE.label \
                else SplitKind.FREE_FORM
            by_kind.setdefault(kind, {})[str(meta["item_id"])] = s.score
        judged: dict[SplitKind, list[dict[str, Any]]] = {}
        parsers: dict[SplitKind, str] = {}
        for kind, got in by_kind.items():
            lines = [{**item, "response": got[item["id"]].answer or ""}
                     for item in packaged_items(benchmark, version, kind, data_path) if item["id"] in got]
            first = next(iter(got.values())).metadata or {}
            parsers[kind] = first.get("parser", RULE)
            if parsers[kind] == RULE:
                judged[kind] = rule_judged_lines(kind, lines)
            else:
                judge = str(first["judge"])
                replies = {item_id: list((score.metadata or {}).get("replies") or []) for item_id, score in got.items()}
                judged[kind] = judged_lines(kind, lines, judge, replies, identity=first.get("identity"))
        return scores_of(judged, parsers)

    return compute


@scorer(metrics=[])  # the metric is given by the task, with its data
def mixeval_scorer(benchmark: str, version: str, parser: str = "model", judge: str = DEFAULT_GRADER,
                   reasoning_tags: Optional[str] = None, data_path: Optional[str] = None) -> Any:
    """MixEval's verdict of one sample: the rule parser's, or the grader's (asked again
    while its reply holds no verdict, up to 10 times, as the reference's rounds do)."""
    if parser not in PARSERS:
        raise MixEvalError(f"-T parser={parser}: choose model or rule")

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata
        kind = SplitKind.MULTIPLE_CHOICE if meta["kind"] == SplitKind.MULTIPLE_CHOICE.label else SplitKind.FREE_FORM
        item = _by_id(data_path, version, benchmark, kind)[meta["item_id"]]
        answer = answer_of(state.output, reasoning_tags)
        line = {**item, **answer_fields(answer)}
        common = {"split": meta["split"], "kind": kind.label, "item_id": item["id"], "parser": parser}
        if parser == RULE:
            judged = rule_judged_lines(kind, [line])[0]
            return Score(value=item_value(kind, RULE, judged), answer=answer.text,
                         explanation=f"rule parser: {judged['parsed_result']!r}", metadata=common)
        grader = get_model(role="grader", default=judge)
        name = _grader_name(grader)
        identity, config = judge_identity(name)
        messages = inspect_messages(judge_messages(line, kind, judged_response(line, kind, False)))
        replies: list[Optional[str]] = []
        for _ in range(MAX_ROUNDS):
            output = await grader.generate(messages, config=GenerateConfig(**config))
            replies.append(output.completion)
            if verdict(kind, output.completion) is not None:
                break
        found = verdict(kind, replies[-1])
        if found is None:  # no verdict in 10 replies: the reference's random one (the metric draws it in order)
            judged = judged_lines(kind, [line], name, {item["id"]: replies}, identity=identity)[0]
        else:
            judged = {**line, "judge_response": replies[-1], VERDICT_KEY[kind]: found}
        return Score(value=item_value(kind, "model", judged), answer=answer.text, explanation=judged["judge_response"],
                     metadata={**common, "judge": name, "identity": identity, "replies": replies,
                               "verdict": judged[VERDICT_KEY[kind]]})

    return score


def mixeval_task(benchmark: str, version: str = KNOWN_VERSIONS[-1], split: str = ALL, parser: str = "model",
                 judge: str = DEFAULT_GRADER, system_message: Optional[str] = None,
                 max_tokens: int = DEFAULT_MAX_NEW_TOKENS["api"], reasoning_tags: Optional[str] = None,
                 data_path: Optional[str] = None) -> Task:
    """The Inspect task of a benchmark (``mixeval`` or ``mixeval_hard``)."""
    if benchmark not in BENCHMARKS:
        raise MixEvalError(f"unknown benchmark {benchmark!r}: {', '.join(BENCHMARKS)}")
    if parser not in PARSERS:
        raise MixEvalError(f"-T parser={parser}: choose model or rule")
    parse_tags(reasoning_tags)
    kinds = split_kinds(split)
    return Task(
        dataset=_dataset(benchmark, version, kinds, system_message, data_path),
        solver=generate(),
        scorer=mixeval_scorer(benchmark, version, parser, judge, reasoning_tags, data_path),
        metrics=[mixeval_score(benchmark, version, data_path)],
        config=GenerateConfig(max_tokens=max_tokens),
        metadata={TASK_METADATA_KEY: {"benchmark": benchmark, "version": version, "split": split, "parser": parser,
                                      "reasoning_tags": reasoning_tags, "system_message": system_message,
                                      "max_tokens": max_tokens, "data_path": data_path}},
        version=1,
    )


@task
def mixeval_hard(version: str = KNOWN_VERSIONS[-1], split: str = ALL, parser: str = "model",
                 judge: str = DEFAULT_GRADER, system_message: Optional[str] = None,
                 max_tokens: int = DEFAULT_MAX_NEW_TOKENS["api"], reasoning_tags: Optional[str] = None,
                 data_path: Optional[str] = None) -> Task:
    """MixEval-Hard (1000 items: 500 free-form, 500 multiple-choice), scored by MixEval's protocol."""
    return mixeval_task("mixeval_hard", version, split, parser, judge, system_message, max_tokens, reasoning_tags,
                        data_path)


@task
def mixeval(version: str = KNOWN_VERSIONS[-1], split: str = ALL, parser: str = "model",
            judge: str = DEFAULT_GRADER, system_message: Optional[str] = None,
            max_tokens: int = DEFAULT_MAX_NEW_TOKENS["api"], reasoning_tags: Optional[str] = None,
            data_path: Optional[str] = None) -> Task:
    """MixEval (about 4000 items: 2000 free-form, 2000 multiple-choice), scored by MixEval's protocol."""
    return mixeval_task("mixeval", version, split, parser, judge, system_message, max_tokens, reasoning_tags,
                        data_path)
