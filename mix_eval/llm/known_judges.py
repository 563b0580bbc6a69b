"""Judges as data: the LLM judges mix_eval knows, with their price, shutdown and request style
(the families below also give an evaluated API model named by its id its provider and style).

MixEval's scores are defined by its judge, ``gpt-3.5-turbo-0125``, which OpenAI shut
down on 2026-10-23. Every judge named here is a fact with a source and a date, so a
user can see what a judge costs, whether it is still served, and how it must be asked:

* ``classic``: ``max_tokens`` and any temperature (the reference's request);
* ``reasoning`` (gpt-5*, o-series): ``max_completion_tokens`` instead of ``max_tokens``,
  no temperature but 1, a ``reasoning_effort``; hidden reasoning tokens are billed as
  output.

A model not in the table is matched by its family (the prefixes below); an unknown
model is asked in the classic style, and in the other once if the server refuses the
style's parameters (`mix_eval.llm.refusals`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from mix_eval.llm.providers import OPENAI
from mix_eval.llm.request import CLASSIC, REASONING

__all__ = [
    "BATCH_DISCOUNT", "CHECKED", "CLASSIC", "KNOWN_JUDGES", "REASONING", "SOURCES", "KnownJudge", "Price",
    "batch_price", "family_of", "known_judge", "provider_of",
]

Price = tuple[float, float]  # US dollars per million (input, output) tokens

BATCH_DISCOUNT = 0.5  # the Batch API charges half the live price

CHECKED = "2026-12-06"  # the date the table below was last checked against its sources
SOURCES = {
    "deprecations": "OpenAI, platform.openai.com/docs/deprecations: entry of 2026-04-22, "
                    "'Legacy GPT model snapshots' (gpt-3.5-turbo-0125 shut down on 2026-10-23, substitute "
                    "gpt-4.1-mini); gpt-4o-mini-2024-07-18 shutdown 2027-01-14",
    "pricing": "OpenAI, platform.openai.com/docs/pricing: list prices per million tokens as published in 2026; "
               "the Batch API is half",
    "reasoning": "OpenAI's API answers to reasoning models (gpt-5*, o-series): HTTP 400 unsupported_parameter "
                 "for max_tokens, unsupported_value for a temperature other than 1",
}


@dataclass(frozen=True)
class KnownJudge:
    """One judge model: who serves it, its live price, when it is shut down, how to ask it."""

    model: str
    provider: str = OPENAI
    price: Optional[Price] = None  # live, per million (input, output) tokens; None: not known
    shutdown: Optional[dt.date] = None  # announced shutdown date
    substitute: Optional[str] = None  # the replacement the provider names
    style: str = CLASSIC
    lowest_effort: Optional[str] = None  # reasoning: the cheapest reasoning_effort it takes

    def retired(self, today: Optional[dt.date] = None) -> bool:
        """Whether its announced shutdown date has come (the endpoint still has the last word)."""
        return self.shutdown is not None and (today or dt.date.today()) >= self.shutdown

    @property
    def batch_price(self) -> Optional[Price]:
        return batch_price(self.price) if self.price is not None else None


_SHUTDOWN_35 = dt.date(2026, 10, 23)

KNOWN_JUDGES: dict[str, KnownJudge] = {j.model: j for j in (
    KnownJudge("gpt-3.5-turbo-0125", price=(0.50, 1.50), shutdown=_SHUTDOWN_35, substitute="gpt-4.1-mini"),
    KnownJudge("gpt-3.5-turbo", price=(0.50, 1.50), shutdown=_SHUTDOWN_35, substitute="gpt-4.1-mini"),
    KnownJudge("gpt-4o-mini-2024-07-18", price=(0.15, 0.60), shutdown=dt.date(2027, 1, 14),
               substitute="gpt-4.1-mini"),
    KnownJudge("gpt-4.1-mini", price=(0.40, 1.60)),
    KnownJudge("gpt-4.1-nano", price=(0.10, 0.40)),
    KnownJudge("gpt-5-mini", price=(0.25, 2.00), style=REASONING, lowest_effort="minimal"),
    KnownJudge("gpt-5-nano", price=(0.05, 0.40), style=REASONING, lowest_effort="minimal"),
)}

# Families of models not listed one by one: (name prefix, provider, style, lowest effort).
_FAMILIES = (
    ("gpt-5", OPENAI, REASONING, "minimal"),
    ("o1", OPENAI, REASONING, "low"),
    ("o3", OPENAI, REASONING, "low"),
    ("o4", OPENAI, REASONING, "low"),
    ("claude-", "anthropic", CLASSIC, None),
    ("gemini-", "gemini", CLASSIC, None),
)


def batch_price(price: Price) -> Price:
    return (price[0] * BATCH_DISCOUNT, price[1] * BATCH_DISCOUNT)


def known_judge(model: str) -> Optional[KnownJudge]:
    """The table's entry for ``model``, else one made from its family, else None."""
    if model in KNOWN_JUDGES:
        return KNOWN_JUDGES[model]
    family = family_of(model)
    if family is None:
        return None
    _, provider, style, effort = family
    return KnownJudge(model, provider=provider, style=style, lowest_effort=effort)


def family_of(model: str) -> Optional[tuple[str, str, str, Optional[str]]]:
    for family in _FAMILIES:
        prefix = family[0]
        if model.startswith(prefix) and (prefix.endswith("-") or model[len(prefix):len(prefix) + 1] in ("", "-", ".")):
            return family
    return None


def provider_of(model: str) -> str:
    """``openai`` (any OpenAI-compatible API), ``anthropic`` or ``gemini``, by the model's name."""
    judge = known_judge(model)
    return judge.provider if judge is not None else OPENAI
