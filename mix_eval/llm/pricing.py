"""What judge calls cost: known list prices per million tokens, and the Batch API discount.

A cost is reported only when the price is known (from this table or given by the user);
an unknown price gives tokens only, never a made-up figure.
"""
from __future__ import annotations

from typing import Mapping, Optional

__all__ = ["BATCH_DISCOUNT", "KNOWN_PRICES", "Price", "cost_usd", "price_for"]

Price = tuple[float, float]  # US dollars per million (input, output) tokens

# List prices of live calls; the Batch API charges half of them.
KNOWN_PRICES: Mapping[str, Price] = {
    "gpt-3.5-turbo-0125": (0.50, 1.50),
}
BATCH_DISCOUNT = 0.5


def price_for(model: str, given: Optional[Price] = None) -> Optional[Price]:
    """The live price of ``model``: ``given`` (the user's), else the known one, else None."""
    if given is not None:
        return (float(given[0]), float(given[1]))
    return KNOWN_PRICES.get(model)


def cost_usd(prompt_tokens: int, completion_tokens: int, price: Price, *, batch: bool = False) -> float:
    """Dollars for these tokens at ``price`` (live), halved for the Batch API."""
    dollars = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
    return dollars * BATCH_DISCOUNT if batch else dollars
