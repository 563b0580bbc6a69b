"""Bootstrap confidence intervals: seeded, around the score, narrower with more items,
weighted as score.json's overall is, and written beside score.json."""
from __future__ import annotations

import json
import random
import time

from conftest import make_responses

from mix_eval.compute_metrics import main as compute_main
from mix_eval.scoring.aggregate import score_json_for_model, split_scores
from mix_eval.scoring.intervals import bootstrap_intervals, intervals_json

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
