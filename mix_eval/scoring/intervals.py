"""95% confidence intervals of a model's scores: a seeded, stratified bootstrap over items.

Each resample draws, with replacement, as many items as each (split, benchmark) stratum
holds from that stratum, then computes every score exactly as `score.json`'s: per split
the mean of each benchmark and of the split, rounded to 3 decimals, then the two splits
weighted by their item counts (`mix_eval.scoring.aggregate`). Strata keep their sizes,
so the weights of the real scores are the weights of every resample. The interval is
the 2.5th and 97.5th percentile of the resampled scores, on score.json's scale.

Two judges of the same responses are compared the same way (`paired_delta_intervals`):
each resample draws the same items for both judges and the interval is that of the
difference of their scores (``python -m mix_eval.compare_judges``).

Written as ``score_intervals.json`` beside ``score.json``::

    {"confidence": 0.95, "method": "bootstrap", "resamples": 1000, "seed": 42,
     "scores": {"overall": {"score": 0.538, "low": 0.52, "high": 0.556}, ...}}
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from mix_eval.scoring.aggregate import OVERALL

__all__ = ["CONFIDENCE", "RESAMPLES", "SEED", "bootstrap_intervals", "paired_delta_intervals",
           "intervals_json"]

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 42

Interval = tuple[float, float]


def bootstrap_intervals(splits: Sequence[Sequence[tuple[str, float]]], *, resamples: int = RESAMPLES,
                        seed: int = SEED, confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """``{key: (low, high)}`` for every key of the score.json the splits make.

    ``splits`` holds each split's ``(benchmark_name, item score)`` pairs (an empty split
    is skipped). The same inputs and seed give the same intervals.
    """
    columns = [[(name, (value,)) for name, value in items] for items in splits]
    resampled = _resampled_scores(columns, resamples, seed)
    return {key: _percentile_interval(values[0], confidence) for key, values in resampled.items()}


def paired_delta_intervals(splits: Sequence[Sequence[tuple[str, float, float]]], *, resamples: int = RESAMPLES,
                           seed: int = SEED, confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """``{key: (low, high)}`` of the difference second minus first of two score.json's.

    ``splits`` holds each split's ``(benchmark_name, first score, second score)`` of the
    same items (two judges of the same responses): each resample draws the same items for
    both, computes both score.json's, and takes their difference, so what the two share
    (which items were drawn) cancels out. The first column alone gives exactly
    `bootstrap_intervals` of the first scores' resamples.
    """
    columns = [[(name, (first, second)) for name, first, second in items] for items in splits]
    resampled = _resampled_scores(columns, resamples, seed)
    return {key: _percentile_interval(values[1] - values[0], confidence) for key, values in resampled.items()}


def _resampled_scores(splits: Sequence[Sequence[tuple[str, tuple[float, ...]]]], resamples: int,
                      seed: int) -> dict[str, Any]:
    """For every score.json key, each column's resampled values: ``{key: [array(resamples), ...]}``.

    Items carry one score per column (one per judge); every column is resampled with the
    same draws.
    """
    import numpy as np  # a dependency of the package; imported here to keep imports cheap

    rng = np.random.default_rng(seed)
    totals: dict[str, list[Any]] = {}  # key -> per column, sum over splits of count * resampled split score
    counts: dict[str, int] = {}
    for items in splits:
        if not items:
            continue
        width = len(items[0][1])
        strata: dict[str, list[tuple[float, ...]]] = {}
        for name, values in items:
            strata.setdefault(name, []).append(values)
        split_sums = [np.zeros(resamples) for _ in range(width)]
        means: dict[str, list[Any]] = {}
        for name, rows in strata.items():
            picks = rng.integers(0, len(rows), size=(resamples, len(rows)))
            means[name] = []
            for column in range(width):
                x = np.asarray([float(row[column]) for row in rows])
                sums = x[picks].sum(axis=1)
                split_sums[column] += sums
                means[name].append(sums / len(rows))
        n_split = len(items)
        means = {OVERALL: [total / n_split for total in split_sums], **means}
        sizes = {OVERALL: n_split, **{name: len(rows) for name, rows in strata.items()}}
        for key, columns in means.items():
            weighted = [np.round(mean, 3) * sizes[key] for mean in columns]
            totals[key] = [before + now for before, now in zip(totals.get(key, [0] * width), weighted)]
            counts[key] = counts.get(key, 0) + sizes[key]
    return {key: [total / counts[key] for total in columns] for key, columns in totals.items()}


def _percentile_interval(values: Any, confidence: float) -> Interval:
    import numpy as np

    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def intervals_json(scores: Mapping[str, float], intervals: Mapping[str, Interval], *,
                   resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The ``score_intervals.json`` object: score.json's keys, each score with its interval."""
    return {
        "confidence": confidence, "method": "bootstrap", "resamples": resamples, "seed": seed,
        "scores": {key: {"score": value, "low": intervals[key][0], "high": intervals[key][1]}
                   for key, value in scores.items() if key in intervals},
    }
