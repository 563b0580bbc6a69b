"""Length-sorted batches: what the generation loop and a local judge hand a model."""
from __future__ import annotations


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    Similar lengths waste little padding; longest first makes an out-of-memory batch
    fail at once rather than hours in.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
