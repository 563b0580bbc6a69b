"""The judge protocol: messages built from an item, and verdicts read from replies.

Exactly the reference's: the templates of `mix_eval.prompts.evaluation_prompts`, the
item's `prompt` (not the formatted input) as the question, gold answers joined as
``<answer 1> a; <answer 2> b``, options as ``A. x\\nB. y``; a free-form verdict is the
first ``[[number]]`` (else the first ``[number]``) between 0 and 1, a multiple-choice
verdict the first ``[[L]]`` (else ``[L]``), one capital letter.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Mapping, Optional

from mix_eval.prompts import format_options
from mix_eval.prompts import option_letters as _letters
from mix_eval.prompts.base_model import (
    extract_base_model_response_freeform,
    extract_base_model_response_multichoice,
)
from mix_eval.prompts.evaluation_prompts import (
    JUDGE_MESSAGES_FREEFORM,
    JUDGE_MESSAGES_MULTICHOICE,
)
from mix_eval.splits import SplitKind

_SCORE_DOUBLE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SCORE_SINGLE = re.compile(r"\[(\d+\.?\d*)\]")
_OPTION_DOUBLE = re.compile(r"\[\[([A-Z])\]\]")
_OPTION_SINGLE = re.compile(r"\[([A-Z])\]")


def _fill(template: tuple[Mapping[str, str], ...], values: Mapping[str, str]) -> list[dict[str, str]]:
    messages = []
    for message in template:
        content = message["content"]
        for key, value in values.items():
            content = content.replace("{{" + key + "}}", value)
        messages.append({"role": message["role"], "content": content})
    return messages


def gold_answers_text(targets: list[str]) -> str:
    return "; ".join(f"<answer {i + 1}> {answer}" for i, answer in enumerate(targets))


def judged_response(record: Mapping[str, Any], kind: SplitKind, extract_base: bool) -> str:
    """The response text the judge sees (base models' run-on output cut when asked)."""
    response = record["response"]
    if not extract_base:
        return response
    if kind is SplitKind.FREE_FORM:
        return extract_base_model_response_freeform(response)
    return extract_base_model_response_multichoice(response)


def judge_messages(record: Mapping[str, Any], kind: SplitKind, response: str) -> list[dict[str, str]]:
    """The chat messages asking the judge about one response line."""
    if kind is SplitKind.FREE_FORM:
        return _fill(JUDGE_MESSAGES_FREEFORM, {
            "PROMPT": record["prompt"],
            "GOLD_ANSWERS": gold_answers_text(record["target"]),
            "RESPONSE": response,
        })
    return _fill(JUDGE_MESSAGES_MULTICHOICE, {
        "PROMPT": record["prompt"],
        "OPTIONS": format_options(record["options"]),
        "RESPONSE": response,
    })


def messages_digest(messages: list[dict[str, str]], judge: str) -> str:
    """Identifies a judge request, so a saved reply is reused only for the same request."""
    blob = json.dumps([judge, messages], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def score_from_reply(reply: Optional[str]) -> Optional[float]:
    """A free-form verdict: the first [[x]] (else [x]) when 0 <= x <= 1, else None."""
    if reply is None:
        return None
    match = _SCORE_DOUBLE.search(reply) or _SCORE_SINGLE.search(reply)
    if not match:
        return None
    try:
        score = float(match.group(1))
    except ValueError:
        return None
    return score if 0 <= score <= 1 else None


def option_from_reply(reply: Optional[str]) -> Optional[str]:
    """A multiple-choice verdict: the letter of the first [[L]] (else [L]), else None."""
    if reply is None:
        return None
    match = _OPTION_DOUBLE.search(reply) or _OPTION_SINGLE.search(reply)
    return match.group(1) if match else None


def verdict(kind: SplitKind, reply: Optional[str]) -> Optional[Any]:
    return score_from_reply(reply) if kind is SplitKind.FREE_FORM else option_from_reply(reply)


def option_letters(record: Mapping[str, Any]) -> list[str]:
    """The letters of a multiple-choice line's options."""
    return _letters(len(record["options"]))
