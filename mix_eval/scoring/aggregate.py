"""Aggregation of item scores into the reference's ``score.json`` structures.

Shapes (as written by the reference ``compute_metrics``):

* Split scores (one per split: free-form, multiple-choice), built by :func:`split_scores`::

      {"overall": 0.448, "<benchmark_name>": 0.5, ...,
       "number_samples": {"overall": 2000, "<benchmark_name>": 30, ...}}

  ``overall`` first, then benchmark names in the order they first appear in the file,
  then ``number_samples`` holding the item count of every key in the same order. Scores
  are means rounded to 3 decimals. (The reference omits ``number_samples`` for the
  multiple-choice rule parser and then crashes when combining; here it is always there.)

* Per-model ``score.json`` (``<model_response_dir>/<model>/<benchmark>/<version>/score.json``),
  built by :func:`combine` / :func:`score_json_for_model`: a flat object, no counts::

      {"overall": 0.538..., "<benchmark_name>": 0.61..., ...}

  each value the count-weighted mean of the two splits, not rounded again.

* Run-wide ``score.json`` (``<model_response_dir>/score.json``), built by
  :func:`score_json_for_run`: ``{"<model_name>": <per-model score.json>, ...}`` for the
  models of the run.

Both files are written as ``json.dumps(obj, indent=4) + "\\n"``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from mix_eval.splits import SplitKind

__all__ = [
    "NUMBER_SAMPLES",
    "OVERALL",
    "split_scores",
    "combine",
    "score_json_for_model",
    "score_json_for_run",
    "item_scores_rule",
    "item_scores_freeform_model",
    "item_scores_multichoice_model",
    "item_scores",
]

OVERALL = "overall"
NUMBER_SAMPLES = "number_samples"

SplitScores = dict[str, Any]


def split_scores(items: Iterable[tuple[str, float]]) -> SplitScores:
    """Per-benchmark and overall means (3 decimals) of one split, with item counts.

    ``items`` are ``(benchmark_name, score)`` pairs in file order. Sums are taken in that
    order and divided by the count, as the reference does, so roundings agree exactly.
    """
    grouped: dict[str, list[float]] = {}
    for benchmark_name, score in items:
        grouped.setdefault(OVERALL, []).append(score)
        grouped.setdefault(benchmark_name, []).append(score)
    result: SplitScores = {key: round(sum(values) / len(values), 3) for key, values in grouped.items()}
    result[NUMBER_SAMPLES] = {key: len(values) for key, values in grouped.items()}
    return result


def _score_keys(split: Mapping[str, Any]) -> list[str]:
    return [key for key in split if key != NUMBER_SAMPLES]


def combine(ff: Mapping[str, Any], mp: Mapping[str, Any]) -> dict[str, float]:
    """Merge free-form and multiple-choice split scores, weighting by item count.

    For every key of either split: ``ff * n_ff/(n_ff+n_mp) + mp * n_mp/(n_ff+n_mp)``, a key
    missing from one split counting there as score 0 with count 0. Not rounded again.
    Key order: ``overall``, then the free-form keys, then multiple-choice-only keys (the
    reference iterates over a set, so its order is arbitrary).
    """
    ff_counts: Mapping[str, int] = ff.get(NUMBER_SAMPLES, {})
    mp_counts: Mapping[str, int] = mp.get(NUMBER_SAMPLES, {})
    keys = [OVERALL] + [k for k in dict.fromkeys(_score_keys(ff) + _score_keys(mp)) if k != OVERALL]
    combined: dict[str, float] = {}
    for key in keys:
        if key not in ff and key not in mp:
            continue
        n_ff = ff_counts.get(key, 0)
        n_mp = mp_counts.get(key, 0)
        if (key in ff and n_ff == 0) or (key in mp and n_mp == 0):
            raise ValueError(f"split scores lack the sample count of {key!r}; build them with split_scores()")
        total = n_ff + n_mp
        combined[key] = ff.get(key, 0) * (n_ff / total) + mp.get(key, 0) * (n_mp / total)
    return combined


def score_json_for_model(ff: Mapping[str, Any], mp: Mapping[str, Any]) -> dict[str, float]:
    """The per-model ``score.json`` object: ``{"overall": x, "<benchmark_name>": y, ...}``
    (see the module docstring), from the two split score dicts of :func:`split_scores`."""
    return combine(ff, mp)


def score_json_for_run(per_model: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """The run-wide ``<model_response_dir>/score.json`` object: model name -> per-model
    ``score.json`` object, for the models scored in this run."""
    return {model: dict(scores) for model, scores in per_model.items()}


# ---------------------------------------------------------------------------
# Item scores of judged lines
# ---------------------------------------------------------------------------


def item_scores_rule(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """``(benchmark_name, 1 or 0)`` of rule-judged lines (``eval_result`` truthy or not)."""
    return [(r["benchmark_name"], 1 if r["eval_result"] else 0) for r in records]


def item_scores_freeform_model(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """``(benchmark_name, judge_score)`` of free-form lines judged by a model (0..1)."""
    return [(r["benchmark_name"], r["judge_score"]) for r in records]


def item_scores_multichoice_model(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """``(benchmark_name, 1 or 0)`` of multiple-choice lines judged by a model: 1 when
    ``judge_option`` is the letter of the target option."""
    scores: list[tuple[str, float]] = []
    for r in records:
        target = r["target"]
        if not (isinstance(target, list) and len(target) == 1):
            raise ValueError(f"multiple-choice target must be a one-element list, got {target!r}")
        gold = chr(ord("A") + target[0])
        scores.append((r["benchmark_name"], 1 if r["judge_option"] == gold else 0))
    return scores


def item_scores(kind: SplitKind, parser: str, records: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """``(benchmark_name, score)`` of a split's judged lines, by the parser that judged them."""
    if parser == "rule":
        return item_scores_rule(records)
    if kind is SplitKind.FREE_FORM:
        return item_scores_freeform_model(records)
    return item_scores_multichoice_model(records)
