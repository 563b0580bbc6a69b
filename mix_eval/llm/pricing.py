"""What API calls cost: the known models' list prices per million tokens, and the Batch API discount.

A cost is reported only when the price is known (from `mix_eval.llm.known_judges`, or
given by the user: ``--judge_price`` for a judge, ``--model_price`` for the model under
evaluation); an unknown price gives tokens only, never a made-up figure.
"""
from __future__ import annotations

from typing import Any, Optional

from mix_eval.llm.known_judges import BATCH_DISCOUNT, KNOWN_JUDGES, Price

__all__ = ["BATCH_DISCOUNT", "GIVEN", "KNOWN", "Price", "cost_usd", "price_for", "priced"]

GIVEN = "given"  # where a price came from: the user's flag
KNOWN = "known"  # the known models' table


def price_for(model: str, given: Optional[Price] = None) -> Optional[Price]:
    """The live price of ``model``: ``given`` (the user's), else the known one, else None."""
    return priced(model, given)[0]


def priced(model: Optional[str], given: Any = None) -> tuple[Optional[Price], Optional[str]]:
    """The live price of ``model`` and where it came from (`GIVEN` or `KNOWN`); (None, None)
    when neither the user nor the table knows it. ``given`` may be as a status file holds
    ``--model_price`` (a list of two numbers); anything else is no price."""
    if given is not None:
        try:
            price = (float(given[0]), float(given[1]))
        except (TypeError, ValueError, IndexError, KeyError):
            price = None
        if price is not None and len(given) == 2 and min(price) >= 0:
            return price, GIVEN
    judge = KNOWN_JUDGES.get(model) if model else None
    if judge is not None and judge.price is not None:
        return judge.price, KNOWN
    return None, None


def cost_usd(prompt_tokens: int, completion_tokens: int, price: Price, *, batch: bool = False) -> float:
    """Dollars for these tokens at ``price`` (live), halved for the Batch API."""
    dollars = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
    return dollars * BATCH_DISCOUNT if batch else dollars
