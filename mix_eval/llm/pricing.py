"""What judge calls cost: the known judges' list prices per million tokens, and the Batch API discount.

A cost is reported only when the price is known (from `mix_eval.llm.known_judges` or
given by the user with ``--judge_price``); an unknown price gives tokens only, never a
made-up figure.
"""
from __future__ import annotations

from typing import Optional

from mix_eval.llm.known_judges import BATCH_DISCOUNT, KNOWN_JUDGES, Price

__all__ = ["BATCH_DISCOUNT", "Price", "cost_usd", "price_for"]


def price_for(model: str, given: Optional[Price] = None) -> Optional[Price]:
    """The live price of ``model``: ``given`` (the user's), else the known one, else None."""
    if given is not None:
        return (float(given[0]), float(given[1]))
    judge = KNOWN_JUDGES.get(model)
    return judge.price if judge is not None else None


def cost_usd(prompt_tokens: int, completion_tokens: int, price: Price, *, batch: bool = False) -> float:
    """Dollars for these tokens at ``price`` (live), halved for the Batch API."""
    dollars = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
    return dollars * BATCH_DISCOUNT if batch else dollars
