"""Bootstrap confidence intervals: seeded, around the score, narrower with more items,
weighted as score.json's overall is, and written beside score.json."""
from __future__ import annotations

import json
import random
import statistics
import time

import numpy as np
import pytest

from conftest import make_responses

from mix_eval.compute_metrics import main as compute_main
from mix_eval.scoring.aggregate import score_json_for_model, split_scores
from mix_eval.scoring.intervals import bootstrap_intervals, intervals_json, paired_delta_intervals

VERSION = "2024-06-01"


def items(name: str, right: int, n: int) -> list[tuple[str, float]]:
    return [(name, 1.0)] * right + [(name, 0.0)] * (n - right)


def scores_of(ff, mp):
    return score_json_for_model(split_scores(ff), split_scores(mp))


def test_interval_holds_the_score_and_is_seeded():
    rng = random.Random(1)
    ff = [(rng.choice(["DROP", "MATH", "BBH"]), rng.choice([0.0, 0.3, 0.7, 1.0])) for _ in range(700)]
    mp = [(rng.choice(["MMLU", "DROP", "ARC"]), float(rng.random() < 0.6)) for _ in range(300)]
    scores = scores_of(ff, mp)
    intervals = bootstrap_intervals([ff, mp])
    assert list(intervals) == list(scores)
    for key, value in scores.items():
        low, high = intervals[key]
        assert low <= value <= high and low < high, key
    assert bootstrap_intervals([ff, mp]) == intervals
    assert bootstrap_intervals([ff, mp], seed=7) != intervals


def test_more_items_narrow_the_interval():
    small = bootstrap_intervals([items("MMLU", 60, 100), []])["overall"]
    large = bootstrap_intervals([items("MMLU", 960, 1600), []])["overall"]
    assert small[0] < 0.6 < small[1] and large[0] < 0.6 < large[1]
    assert (large[1] - large[0]) < (small[1] - small[0]) / 2  # about 1/4 with 16 times the items


def test_overall_is_weighted_as_score_json_weighs_it():
    # one benchmark: the overall is that benchmark, resample for resample
    one = bootstrap_intervals([items("DROP", 30, 80), []])
    assert one["overall"] == one["DROP"]
    # both splits of one benchmark: the overall and the benchmark are the same combination
    both = bootstrap_intervals([items("AGIEval", 10, 40), items("AGIEval", 70, 100)])
    assert both["overall"] == both["AGIEval"]
    # a split all right and a split all wrong: no spread within either, so the overall is
    # exactly the count-weighted mean of the splits (1 * 30 + 0 * 90) / 120, never their plain mean
    assert scores_of(items("BBH", 30, 30), items("MMLU", 0, 90))["overall"] == 0.25
    assert bootstrap_intervals([items("BBH", 30, 30), items("MMLU", 0, 90)])["overall"] == (0.25, 0.25)


def test_strata_are_the_benchmarks_of_each_split():
    """One split of two benchmarks, one all right and one all wrong: a resample draws each
    benchmark's items from that benchmark only, so every resample of the split is the same
    and the overall interval is exactly the point. Strata that ignored the benchmark would
    draw the split's 40 right and 60 wrong items in other proportions, and spread."""
    split = items("BBH", 40, 40) + items("MMLU", 0, 60)
    assert scores_of(split, [])["overall"] == 0.4
    intervals = bootstrap_intervals([split, []])
    assert intervals == {"overall": (0.4, 0.4), "BBH": (1.0, 1.0), "MMLU": (0.0, 0.0)}
    # the same with the benchmarks' items interleaved, and beside a second split
    mixed = [x for pair in zip(items("BBH", 40, 40), items("MMLU", 0, 40)) for x in pair] + items("MMLU", 0, 20)
    both = bootstrap_intervals([mixed, items("DROP", 30, 50)])
    assert both["overall"][0] < both["overall"][1]  # DROP spreads ...
    assert bootstrap_intervals([mixed, items("DROP", 50, 50)])["overall"] == (0.6, 0.6)  # ... unless it is all right


def test_a_thousand_resamples_of_four_thousand_items_are_fast():
    rng = random.Random(0)
    names = ["TriviaQA", "DROP", "MMLU", "HellaSwag", "GSM8k", "BBH", "AGIEval", "BoolQ"]
    ff = [(rng.choice(names), round(rng.random(), 1)) for _ in range(2000)]
    mp = [(rng.choice(names), float(rng.random() < 0.5)) for _ in range(2000)]
    bootstrap_intervals([ff[:10], mp[:10]])  # numpy imported
    start = time.process_time()  # this process's CPU time: other work on the machine does not count
    bootstrap_intervals([ff, mp], resamples=1000)
    assert time.process_time() - start < 2.0


def test_score_intervals_json_beside_score_json_and_in_the_table(tmp_path, capsys):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard")
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    scores = json.loads((vdir / "score.json").read_text())
    written = json.loads((vdir / "score_intervals.json").read_text())
    assert {k: written[k] for k in ("confidence", "method", "resamples", "seed")} == {
        "confidence": 0.95, "method": "bootstrap", "resamples": 1000, "seed": 42}
    assert list(written["scores"]) == list(scores)
    for key, value in scores.items():
        entry = written["scores"][key]
        assert entry["score"] == value and entry["low"] <= value <= entry["high"]
    out = capsys.readouterr().out
    low, high = written["scores"]["overall"]["low"], written["scores"]["overall"]["high"]
    assert "95% CI" in out and f"[{low:.3f}, {high:.3f}]" in out
    assert 0.24 < low < 0.279 < high < 0.32  # the reference's own gemma MixEval-Hard rule score, 0.279


def test_intervals_json_holds_each_score_with_its_interval_and_the_method():
    """score_intervals.json: the method's settings (defaults: 0.95, 1000 resamples, seed 42)
    and each score.json key that has an interval, with its low and high in that order."""
    scores = {"overall": 0.5, "DROP": 0.25, "MMLU": 0.75}
    intervals = {"overall": (0.4, 0.6), "DROP": (0.125, 0.375)}  # no interval for MMLU: left out
    expected_scores = {"overall": {"score": 0.5, "low": 0.4, "high": 0.6},
                       "DROP": {"score": 0.25, "low": 0.125, "high": 0.375}}
    assert intervals_json(scores, intervals) == {
        "confidence": 0.95, "method": "bootstrap", "resamples": 1000, "seed": 42, "scores": expected_scores}
    assert list(intervals_json(scores, intervals)["scores"]) == ["overall", "DROP"]  # score.json's order
    assert intervals_json(scores, intervals, resamples=200, seed=7, confidence=0.9) == {
        "confidence": 0.9, "method": "bootstrap", "resamples": 200, "seed": 7, "scores": expected_scores}


# ---------------------------------------------------------------- every figure, resample by resample


def resampled_score_jsons(splits, resamples: int, seed: int) -> list[list[dict[str, float]]]:
    """By hand, per resample and per column: the score.json (`score_json_for_model` of
    `split_scores`) of the items drawn. The draws are numpy's `default_rng(seed)`: each
    split in turn (an empty one draws nothing), each of its benchmarks in the order they
    first appear, `integers(0, n, size=(resamples, n))` for a benchmark of n items."""
    rng = np.random.default_rng(seed)
    drawn = []
    for items in splits:
        strata: dict[str, list[tuple[float, ...]]] = {}
        for name, *values in items:
            strata.setdefault(name, []).append(tuple(values))
        drawn.append([(name, rows, rng.integers(0, len(rows), size=(resamples, len(rows))))
                      for name, rows in strata.items()])
    width = len(next(items for items in splits if items)[0]) - 1
    return [[score_json_for_model(*(split_scores([(name, rows[p][column]) for name, rows, picks in strata
                                                  for p in picks[r]]) for strata in drawn))
             for column in range(width)] for r in range(resamples)]


def percentile_interval(values: list[float], confidence: float) -> tuple[float, float]:
    """The (1 - confidence) / 2 and (1 + confidence) / 2 quantiles, linearly interpolated
    between order statistics (`statistics.quantiles`' inclusive method, numpy's default)."""
    cuts = round(2 / (1 - confidence))  # 40 for 0.95: the first and last cut points
    points = statistics.quantiles(values, n=cuts, method="inclusive")
    return points[0], points[-1]


# Free-form: two benchmarks (3 and 4 items of 0, 0.5 or 1); multiple-choice: AGIEval again
# (so its score combines both splits) and MMLU. Means of 3, 4, 6, 7, 9 items: rounding to 3
# decimals moves most of them.
FF = [("DROP", 0.0), ("AGIEval", 1.0), ("DROP", 0.5), ("AGIEval", 0.0), ("DROP", 1.0), ("AGIEval", 0.5),
      ("AGIEval", 1.0)]
MP = [("AGIEval", 1.0), ("MMLU", 0.0), ("AGIEval", 0.0), ("AGIEval", 1.0), ("MMLU", 1.0), ("AGIEval", 1.0),
      ("MMLU", 1.0), ("AGIEval", 0.0), ("AGIEval", 1.0)]


def test_bootstrap_intervals_are_the_percentiles_of_the_resampled_score_json():
    """Each interval is the 2.5th and 97.5th percentile of score.json's value of that key
    over the seeded resamples: per split each benchmark's and the split's mean of the
    drawn items rounded to 3 decimals, the splits weighted by their counts. Checked figure
    for figure, with the defaults (1000 resamples, seed 42, 95%) and with others."""
    for kwargs, (resamples, seed, confidence) in (({}, (1000, 42, 0.95)),
                                                  ({"resamples": 150, "seed": 5, "confidence": 0.9},
                                                   (150, 5, 0.9))):
        by_hand = resampled_score_jsons([FF, MP], resamples, seed)
        got = bootstrap_intervals([FF, MP], **kwargs)
        assert list(got) == ["overall", "DROP", "AGIEval", "MMLU"]
        for key, interval in got.items():
            expected = percentile_interval([scores[0][key] for scores in by_hand], confidence)
            assert interval == pytest.approx(expected, abs=1e-12), (kwargs, key)
            assert interval[0] < interval[1]
    # an empty first split draws nothing: the second split's figures alone
    one = bootstrap_intervals([[], MP], resamples=150, seed=5)
    by_hand = resampled_score_jsons([[], MP], 150, 5)
    assert list(one) == ["overall", "AGIEval", "MMLU"]
    for key, interval in one.items():
        assert interval == pytest.approx(percentile_interval([s[0][key] for s in by_hand], 0.95), abs=1e-12)
    assert bootstrap_intervals([[], [("ARC", 1.0)]]) == {"overall": (1.0, 1.0), "ARC": (1.0, 1.0)}


def test_paired_delta_intervals_are_the_percentiles_of_the_resampled_differences():
    """Both judges' scores of the same drawn items: the interval of second minus first,
    figure for figure, by default and with other settings."""
    second = {("DROP", 1): 1.0, ("AGIEval", 3): 1.0, ("MMLU", 1): 0.0, ("AGIEval", 7): 1.0}  # where B differs
    splits = [[(name, a, second.get((name, i), a)) for i, (name, a) in enumerate(split)] for split in (FF, MP)]
    for kwargs, (resamples, seed, confidence) in (({}, (1000, 42, 0.95)),
                                                  ({"resamples": 150, "seed": 5, "confidence": 0.9},
                                                   (150, 5, 0.9))):
        by_hand = resampled_score_jsons(splits, resamples, seed)
        got = paired_delta_intervals(splits, **kwargs)
        assert list(got) == ["overall", "DROP", "AGIEval", "MMLU"]
        for key, interval in got.items():
            expected = percentile_interval([b[key] - a[key] for a, b in by_hand], confidence)
            assert interval == pytest.approx(expected, abs=1e-12), (kwargs, key)
        assert got["overall"][0] < got["overall"][1]
