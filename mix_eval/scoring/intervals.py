"""95% confidence intervals of a model's scores: a seeded, stratified bootstrap over items.

Each resample draws, with replacement, as many items as each (split, benchmark) stratum
holds from that stratum, then computes every score exactly as `score.json`'s: per split
the mean of each benchmark and of the split, rounded to 3 decimals, then the two splits
weighted by their item counts (`mix_eval.scoring.aggregate`). Strata keep their sizes,
so the weights of the real scores are the weights of every resample. The interval is
the 2.5th and 97.5th percentile of the resampled scores, on score.json's scale.

Written as ``score_intervals.json`` beside ``score.json``::

    {"confidence": 0.95, "method": "bootstrap", "resamples": 1000, "seed": 42,
     "scores": {"overall": {"score": 0.538, "low": 0.52, "high": 0.556}, ...}}
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from mix_eval.scoring.aggregate import OVERALL

__all__ = ["CONFIDENCE", "RESAMPLES", "SEED", "INTERVALS_FILE", "bootstrap_intervals", "intervals_json"]

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 42
INTERVALS_FILE = "score_intervals.json"

Interval = tuple[float, float]


def bootstrap_intervals(splits: Sequence[Sequence[tuple[str, float]]], *, resamples: int = RESAMPLES,
                        seed: int = SEED, confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """``{key: (low, high)}`` for every key of the score.json the splits make.

    ``splits`` holds each split's ``(benchmark_name, item score)`` pairs (an empty split
    is skipped). The same inputs and seed give the same intervals.
    """
    import numpy as np  # a dependency of the package; imported here to keep imports cheap

    rng = np.random.default_rng(seed)
    totals: dict[str, Any] = {}  # key -> sum over splits of count * resampled split score
    counts: dict[str, int] = {}
    for items in splits:
        if not items:
            continue
        strata: dict[str, list[float]] = {}
        for name, value in items:
            strata.setdefault(name, []).append(float(value))
        split_sum = np.zeros(resamples)
        means: dict[str, Any] = {}
        for name, values in strata.items():
            x = np.asarray(values)
            sums = x[rng.integers(0, len(x), size=(resamples, len(x)))].sum(axis=1)
            split_sum += sums
            means[name] = sums / len(x)
        n_split = len(items)
        means = {OVERALL: split_sum / n_split, **means}
        sizes = {OVERALL: n_split, **{name: len(values) for name, values in strata.items()}}
        for key, mean in means.items():
            totals[key] = totals.get(key, 0) + np.round(mean, 3) * sizes[key]
            counts[key] = counts.get(key, 0) + sizes[key]
    tail = (1 - confidence) / 2 * 100
    intervals = {}
    for key, total in totals.items():
        low, high = np.percentile(total / counts[key], [tail, 100 - tail])
        intervals[key] = (float(low), float(high))
    return intervals


def intervals_json(scores: Mapping[str, float], intervals: Mapping[str, Interval], *,
                   resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The ``score_intervals.json`` object: score.json's keys, each score with its interval."""
    return {
        "confidence": confidence, "method": "bootstrap", "resamples": resamples, "seed": seed,
        "scores": {key: {"score": value, "low": intervals[key][0], "high": intervals[key][1]}
                   for key, value in scores.items() if key in intervals},
    }
