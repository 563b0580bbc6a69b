"""Turning a benchmark item into the exact text a model is asked.

The formatted input (`formated_input` in response files, spelling included) is part
of the benchmark: it must equal the reference suite's byte for byte. The protocol
strings themselves live in :mod:`mix_eval.prompts.evaluation_prompts`.
"""
from __future__ import annotations

from typing import Any, Mapping

from mix_eval.prompts.evaluation_prompts import (
    FIVE_SHOT_PREFIX_FREEFORM,
    FIVE_SHOT_PREFIX_MULTIPLECHOICE,
    FREE_FORM_DEFAULT_INSTRUCTION,
    FREE_FORM_INSTRUCTION_BY_BENCHMARK,
    MULTI_CHOICE_INSTRUCTION,
)
from mix_eval.splits import SplitKind

__all__ = [
    "OPTION_LETTERS",
    "option_letters",
    "has_context",
    "format_options",
    "construct_prompt_freeform",
    "construct_prompt_multichoice",
    "format_input",
    "five_shot_input",
]

OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def option_letters(n_options: int) -> list[str]:
    """``A``, ``B``, ... one letter per option, as the reference labels them (at most 26)."""
    return list(OPTION_LETTERS[:n_options])


def has_context(context: Any) -> bool:
    """Whether an item's context counts as present (null, 'none', 'null' and blanks don't)."""
    if context is None:
        return False
    text = str(context)
    if text.lower() in ("none", "null"):
        return False
    return text.strip() != ""


def format_options(options: list[str]) -> str:
    """Options one per line as `A. <option>`."""
    if len(options) > len(OPTION_LETTERS):
        raise ValueError(f"{len(options)} options; at most {len(OPTION_LETTERS)} can be lettered")
    return "\n".join(f"{OPTION_LETTERS[i]}. {opt}" for i, opt in enumerate(options))


def construct_prompt_multichoice(item: Mapping[str, Any]) -> str:
    """`[<context>\\n]<prompt>\\n<options>\\n<instruction>`."""
    text = f"{item['prompt']}\n{format_options(item['options'])}\n{MULTI_CHOICE_INSTRUCTION}"
    if has_context(item.get("context")):
        text = f"{item['context']}\n{text}"
    return text


def construct_prompt_freeform(item: Mapping[str, Any]) -> str:
    """`Question: [<context>\\n]<prompt>\\n<instruction>`; the instruction depends on the benchmark."""
    benchmark = item["benchmark_name"]
    if benchmark == "QuAc":
        # The reference refuses QuAC items: their answers need dialogue history.
        raise ValueError("benchmark QuAc is not supported in free-form prompts")
    instruction = FREE_FORM_INSTRUCTION_BY_BENCHMARK.get(benchmark, FREE_FORM_DEFAULT_INSTRUCTION)
    text = f"{item['prompt']}\n{instruction}"
    if has_context(item.get("context")):
        text = f"{item['context']}\n{text}"
    return f"Question: {text}"


def format_input(item: Mapping[str, Any]) -> str:
    """The formatted input of any item, chosen by its `problem_type`."""
    if item["problem_type"] == SplitKind.MULTIPLE_CHOICE.problem_type:
        return construct_prompt_multichoice(item)
    return construct_prompt_freeform(item)


def five_shot_input(formatted_input: str, problem_type: str) -> str:
    """A base model's input: five-shot prefix + formatted input + newline."""
    prefix = (
        FIVE_SHOT_PREFIX_MULTIPLECHOICE
        if problem_type == SplitKind.MULTIPLE_CHOICE.problem_type
        else FIVE_SHOT_PREFIX_FREEFORM
    )
    return prefix + formatted_input + "\n"
