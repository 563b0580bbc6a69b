"""Cutting a base model's run-on output back to its answer.

The five-shot prompts (`mix_eval.prompts.evaluation_prompts`) make a base model go on
writing new questions after its answer; the reference cuts that off before judging,
for the rule parsers and the model judge alike. Standard library only.
"""
from __future__ import annotations

import re

__all__ = ["is_meaningful", "extract_base_model_response_freeform", "extract_base_model_response_multichoice"]

# Letters/digits in the Unicode blocks the reference accepts as "meaningful" text:
# ASCII digits and letters, Latin-1 / Latin Extended-A/B, Greek, Cyrillic (+ supplement),
# Glagolitic, Cyrillic Extended-B, Hangul syllables, CJK unified ideographs.
_MEANINGFUL = re.compile(
    "[\u0030-\u0039\u0041-\u005A\u0061-\u007A\u00C0-\u00FF\u0100-\u017F\u0180-\u024F"
    "\u0370-\u03FF\u0400-\u04FF\u0500-\u052F\u2C00-\u2C5F\uA640-\uA69F\uAC00-\uD7AF"
    "\u4E00-\u9FFF]"
)


def is_meaningful(text: str) -> bool:
    """True when ``text`` holds at least one character of the reference's letter/digit ranges."""
    return _MEANINGFUL.search(text) is not None


def _cut_or_keep(response: str, separator: str) -> str:
    head = response.split(separator)[0]
    return head if is_meaningful(head) else response


def extract_base_model_response_freeform(response: str) -> str:
    """Base models keep writing new few-shot questions: keep the text before the first
    ``\\n\\n\\nQuestion`` (the whole response when that part has no letter or digit)."""
    return _cut_or_keep(response, "\n\n\nQuestion")


def extract_base_model_response_multichoice(response: str) -> str:
    """Base-model cut for multiple-choice: the text before the first blank line
    (``\\n\\n``), or the whole response when that part has no letter or digit."""
    return _cut_or_keep(response, "\n\n")

