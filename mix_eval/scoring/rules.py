"""Rule-based (string matching) parsers of MixEval, reproduced step by step.

These are the ``--free_form_parser rule`` / ``--multi_choice_parser rule`` judges of the
reference suite. They must give the reference's figures to the item, so every quirk that
changes a verdict is kept (each quirk is named where it is kept, and tested in
`tests/test_rule_parsers.py`).
Standard library only: this module is imported by scoring code that must start fast and
must not pull in torch.
"""

from __future__ import annotations

import random
import re
from typing import Any, Iterable, Union

from mix_eval.prompts import option_letters
from mix_eval.prompts.base_model import (
    extract_base_model_response_freeform,
    extract_base_model_response_multichoice,
    is_meaningful,
)

__all__ = [
    "is_meaningful",
    "extract_base_model_response_freeform",
    "extract_base_model_response_multichoice",
    "option_letters",
    "parse_multichoice_rule",
    "parse_freeform_rule",
    "normalize_answer",
    "extract_numbers",
    "eval_freeform_rule",
    "score_freeform_rule",
    "judge_file_freeform_rule",
    "judge_file_multichoice_rule",
    "RANDOM_SEED",
]

#: Seed of the random fallback of the multiple-choice rule parser (reference: 42).
RANDOM_SEED = 42

# ---------------------------------------------------------------------------
# Multiple-choice
# ---------------------------------------------------------------------------

# Characters stripped from both ends, one kind after another, in this order.
_MC_STRIP_CHARS = (",", ".", "!", "?", ";", ":", "'")

# Templates of an option letter standing alone, tried in this order for each letter.
_MC_PATTERNS = (
    " {} ", " {}\n", "\n{} ", "\n{}\n",
    " {}. ", " {}.\n", "\n{}. ", "\n{}.\n",
    "({})", "**{} ", " {}**", "**{}. ", " {}.**",
)


def _occurrences(text: str, sub: str) -> list[int]:
    """Start indexes of the non-overlapping occurrences of ``sub`` in ``text``
    (an empty ``sub`` matches at every position, as a regex search would)."""
    return [m.start() for m in re.finditer(re.escape(sub), text)]


def parse_multichoice_rule(
    response: str, options: list[str], rng: random.Random
) -> tuple[str, bool]:
    """Pick the option letter a response names; returns ``(letter, used_random)``.

    Steps 2-5 of the Appendix: strip punctuation, pad with spaces, look for a lone letter
    (13 templates), else (responses of more than 5 words) for an option's text, else draw
    a letter from ``rng``. The earliest match wins; on a tie the first found wins. The
    caller owns ``rng`` so that draws follow file order from a single seed-42 stream.
    """
    letters = option_letters(len(options))
    text = response
    for char in _MC_STRIP_CHARS:
        text = text.strip(char)
    text = f" {text} "

    candidates: list[tuple[str, int]] = []
    for letter in letters:
        for template in _MC_PATTERNS:
            candidates.extend((letter, i) for i in _occurrences(text, template.format(letter)))

    if not candidates and len(text.split()) > 5:
        lowered = text.lower()
        for letter, option in zip(letters, options):
            candidates.extend((letter, i) for i in _occurrences(lowered, option.lower()))

    if not candidates:
        return rng.choice(letters), True
    # min() keeps the first of equal start indexes, like the reference's argmin.
    return min(candidates, key=lambda c: c[1])[0], False


# ---------------------------------------------------------------------------
# Free-form
# ---------------------------------------------------------------------------

Prediction = Union[str, float]

_KEY_INDICATORS = (
    "could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ",
)
_TRIVIAL_KEYS = frozenset({":", ",", ".", "!", "?", ";", "'"})

_NUMBER_PATTERNS = (
    re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b"),  # 1,234,567
    re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+"),  # 1.5e10
    re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])"),  # 12, 3.4, .5
)


def _key_parts(response: str) -> list[str]:
    """Tails of the lines that follow an answer indicator ("is ", "answer ", ...).

    Per line the shortest tail is kept, with the reference's quirk that an empty tail
    found first is replaced by the next indicator's tail whatever its length, and that
    an empty final pick yields nothing. No line yields anything: the whole response.
    """
    text = response.strip().strip(".").lower()
    # The reference splits at r"\.\s(?=[A-Z])|\n" after lower-casing, so only at newlines.
    lines = text.split("\n")
    parts: list[str] = []
    for index, line in enumerate(lines):
        indicators: Iterable[str] = _KEY_INDICATORS
        if index == len(lines) - 1:
            indicators = (*_KEY_INDICATORS, "=")  # the last line may be a bare equation
        shortest: str | None = None
        for indicator in indicators:
            if indicator not in line:
                continue
            tail = line.split(indicator)[-1].strip()
            if not shortest or len(tail) < len(shortest):
                shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL_KEYS:
            parts.append(shortest)
    return parts or [text]


def extract_numbers(text: str) -> list[str]:
    """Every number written in ``text``: comma-grouped, then scientific, then plain."""
    found: list[str] = []
    for pattern in _NUMBER_PATTERNS:
        found.extend(pattern.findall(text))
    return found


def _as_number(text: str) -> float | None:
    """The value of ``text`` with commas removed when Python's ``float`` reads it."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def normalize_answer(text: str) -> list[Prediction]:
    """Normalised forms of an answer or prediction.

    Numbers become floats rounded to 2 decimals; other text is lower-cased, and a single
    character ``c`` becomes ``" c"`` and ``"c "`` so it only matches as a separate word.
    """
    text = text.strip()
    value = _as_number(text)
    if value is not None:
        return [round(value, 2)]
    text = text.lower()
    if len(text) == 1:
        return [" " + text, text + " "]
    return [text]


def _dedupe(values: Iterable[Prediction]) -> list[Prediction]:
    """Drop duplicates (``==``/hash equality, as a set would) keeping first-seen order."""
    return list(dict.fromkeys(values))


def parse_freeform_rule(response: str) -> list[Prediction]:
    """Normalised predictions of a free-form response: key parts and the numbers in them."""
    parts = _key_parts(response)
    raw: list[str] = list(parts)
    for part in parts:
        raw.extend(extract_numbers(part))
    normalized: list[Prediction] = []
    for item in raw:
        normalized.extend(normalize_answer(item))
    return _dedupe(normalized)


def eval_freeform_rule(targets: list[str], predictions: list[Prediction]) -> bool:
    """Right when a text prediction contains a text gold answer, or a number prediction
    equals a gold number (both sides normalised)."""
    gold: list[Prediction] = []
    for target in targets:
        gold.extend(normalize_answer(target))
    gold_text = [g for g in gold if isinstance(g, str)]
    for pred in predictions:
        if isinstance(pred, str):
            if any(g in pred for g in gold_text):
                return True
        elif pred in gold:
            return True
    return False


def score_freeform_rule(response: str, targets: list[str]) -> bool:
    """Rule verdict of one free-form response against its accepted answers."""
    return eval_freeform_rule(targets, parse_freeform_rule(response))


# ---------------------------------------------------------------------------
# Whole response files
# ---------------------------------------------------------------------------


def judge_file_freeform_rule(
    records: list[dict[str, Any]], extract_base: bool = False
) -> list[dict[str, Any]]:
    """Rule-judge free-form response lines (the lines of ``judge_results_ff_rule.jsonl``).

    Each output line is a copy of the input line plus, as in the reference,
    ``parsed_result`` (the normalised predictions: strings and floats) and
    ``eval_result`` (a bool). ``extract_base`` applies the base-model cut first.
    """
    judged: list[dict[str, Any]] = []
    for record in records:
        targets = record["target"]
        if not isinstance(targets, list):
            raise ValueError(f"free-form target must be a list, got {targets!r} (id {record.get('id')})")
        response = record["response"]
        if extract_base:
            response = extract_base_model_response_freeform(response)
        predictions = parse_freeform_rule(response)
        judged.append({**record, "parsed_result": predictions,
                       "eval_result": eval_freeform_rule(targets, predictions)})
    return judged


def judge_file_multichoice_rule(
    records: list[dict[str, Any]],
    extract_base: bool = False,
    rng: random.Random | None = None,
) -> list[dict[str, Any]]:
    """Rule-judge multiple-choice response lines (the lines of ``judge_results_mp_rule.jsonl``).

    Each output line is a copy of the input line plus ``parsed_result`` (the chosen letter)
    and ``eval_result`` (a bool: the letter is the target's). Random fallbacks are drawn
    in file order from ``rng``, by default a fresh ``random.Random(42)``, which gives the
    reference's draws for one response file.
    """
    if rng is None:
        rng = random.Random(RANDOM_SEED)
    judged: list[dict[str, Any]] = []
    for record in records:
        options = record["options"]
        target = record["target"]
        if not (isinstance(target, list) and len(target) == 1):
            raise ValueError(f"multiple-choice target must be a one-element list, got {target!r} (id {record.get('id')})")
        response = record["response"]
        if extract_base:
            response = extract_base_model_response_multichoice(response)
        letter, _ = parse_multichoice_rule(response, options, rng)
        gold = option_letters(len(options))[target[0]]
        judged.append({**record, "parsed_result": letter, "eval_result": letter == gold})
    return judged
