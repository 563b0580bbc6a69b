"""`python -m mix_eval.compare_judges`: two judges' judged files of the same responses.

Two judges judge three model folders (the reference's gemma MixEval-Hard responses, cut
to different lengths) through the real `compute_metrics` against the loopback server;
the second judge answers differently on a hash-chosen fifth of the requests. Every
figure of ``judge_agreement.json`` is then checked against values computed here, by
plain code, from the two judges' judged files.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import (
    JUDGE_KEY, REPO, clear_api_settings, flip_verdict, gold_letter, judge_reply, judged_score, judges_by_model,
    make_responses, read_jsonl, run_module,
)
from fake_openai_server import FakeOpenAIServer

from mix_eval.compare_judges import main as compare_main
from mix_eval.errors import MixEvalError
from mix_eval.scoring.agreement import (
    cohen_kappa, format_agreement, judge_agreement, kendall_tau_b, write_judge_agreement,
)
from mix_eval.scoring.intervals import paired_delta_intervals

BENCHMARK, VERSION = "mixeval_hard", "2024-06-01"
JUDGE_A = "gpt-4.1-mini"
JUDGE_B = "acme/judge-b"  # a '/' in the name: its files say acme_judge-b
FILE_B = "acme_judge-b"
# Three model folders: the gemma responses, the first n lines of each split.
MODELS = {"model_long": 160, "model_mid": 110, "model_short": 70}
VERBOSE = " (verbose)"  # appended to model_short's answers
HERE = {"PYTHONPATH": str(REPO)}  # this checkout's package, from another working folder


ASKED_AGAIN: set[str] = set()  # judge B's requests answered without a verdict the first time


def judge_b(body: dict) -> str:
    """conftest's deterministic judge (judge A) but on about a fifth of the requests
    (chosen by a hash of the messages): a tenth get the other verdict (`flip_verdict`), a
    tenth a half score (free-form) or the option A (multiple-choice). Another tenth get no
    verdict the first time they are asked (by any model folder), so they are judged in
    round 2 and B's judged files of the first folder list the items in another order than A's."""
    reply = judge_reply(body)
    digest = hashlib.md5(json.dumps(body["messages"]).encode()).hexdigest()
    pick = int(digest, 16) % 10
    if pick == 2 and digest not in ASKED_AGAIN:
        ASKED_AGAIN.add(digest)
        return "I cannot tell."
    free_form = "correctness score" in reply
    if free_form and VERBOSE in body["messages"][-1]["content"] and pick >= 3:
        return reply[:-7] + "[[0.0]]"  # B is harsher on one model's answers: the models' ranks move
    if pick == 0:
        return flip_verdict(reply)
    if pick == 1:
        return reply[:-7] + "[[0.5]]" if free_form else reply[:-5] + "[[A]]"
    return reply


two_judges = judges_by_model({JUDGE_A: judge_reply, JUDGE_B: judge_b})


SCORE_JSON: dict[tuple[str, str], dict] = {}  # (judge, model) -> the score.json its compute_metrics run wrote


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> Path:
    """The response folder after both judges' compute_metrics runs (each run's
    score.json kept in SCORE_JSON)."""
    ASKED_AGAIN.clear()  # a second session in the same interpreter (mutmut's) starts afresh
    work = tmp_path_factory.mktemp("compare")
    root = work / "responses"
    for model, n in MODELS.items():
        make_responses(root, model, BENCHMARK, n)
    for path in vdir(root, "model_short").glob("*.jsonl"):
        lines = [{**x, "response": x["response"] + VERBOSE} for x in read_jsonl(path)]
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with FakeOpenAIServer(reply=two_judges, api_key=JUDGE_KEY) as server, pytest.MonkeyPatch.context() as mp:
        clear_api_settings(mp, work)
        mp.setenv("MODEL_PARSER_API", JUDGE_KEY)
        for judge in (JUDGE_A, JUDGE_B):
            proc = run_module("mix_eval.compute_metrics", "--benchmark", BENCHMARK, "--version", VERSION,
                              "--model_response_dir", str(root), "--api_base_url", server.base_url,
                              "--api_parallel_num", "16", "--freeform_judge", judge, "--multichoice_judge", judge,
                              cwd=work, env=HERE)
            assert proc.returncode == 0, proc.stderr
            assert {r.body["model"] for r in server.chat_requests()} >= {judge}
            for model in MODELS:
                SCORE_JSON[(judge, model)] = json.loads((vdir(root, model) / "score.json").read_text())
        assert len(server.chat_requests()) == 2 * 2 * sum(MODELS.values()) + len(ASKED_AGAIN) > 0
    return root


def vdir(root: Path, model: str) -> Path:
    return root / model / BENCHMARK / VERSION


def judged_lines(root: Path, model: str, judge_file: str, tag: str) -> list[dict]:
    return read_jsonl(vdir(root, model) / f"judge_results_{tag}_model_judge_{judge_file}.jsonl")


# ---------------------------------------------------------------- figures by hand


def scores_by_hand(ff: list[dict], mp: list[dict]) -> dict[str, float]:
    """score.json: per split, each benchmark's and the split's mean rounded to 3 decimals;
    the two splits weighted by their item counts."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for lines in (ff, mp):
        groups: dict[str, list[float]] = defaultdict(list)
        for line in lines:
            groups["overall"].append(judged_score(line))
            groups[line["benchmark_name"]].append(judged_score(line))
        for key, values in groups.items():
            totals[key][0] += round(sum(values) / len(values), 3) * len(values)
            totals[key][1] += len(values)
    return {key: total / count for key, (total, count) in totals.items()}


def tau_b_by_hand(x: list[float], y: list[float]) -> float:
    n = len(x)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    s = sum(sign(x[i] - x[j]) * sign(y[i] - y[j]) for i, j in pairs)
    untied_x = sum(1 for i, j in pairs if x[i] != x[j])
    untied_y = sum(1 for i, j in pairs if y[i] != y[j])
    return s / math.sqrt(untied_x * untied_y)


@pytest.mark.slow
def test_every_figure_matches_the_judged_files(judged, tmp_path):
    proc = run_module("mix_eval.compare_judges", "--model_response_dir", str(judged), "--benchmark", BENCHMARK,
                      "--version", VERSION, "--judges", JUDGE_A, JUDGE_B, cwd=tmp_path, env=HERE)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((judged / "judge_agreement.json").read_text())
    assert [k for k in result if k != "rank_correlation"] == ["baseline", "other", "benchmark", "version", "models"]
    assert (result["baseline"], result["other"], result["benchmark"], result["version"]) == (
        JUDGE_A, JUDGE_B, BENCHMARK, VERSION)
    assert list(result["models"]) == sorted(MODELS)
    overall = {}
    reordered = 0  # models whose two judges' files list the items in different orders
    for model, n in MODELS.items():
        got = result["models"][model]
        ff_a, mp_a = (judged_lines(judged, model, JUDGE_A, tag) for tag in ("ff", "mp"))
        ff_b, mp_b = (judged_lines(judged, model, FILE_B, tag) for tag in ("ff", "mp"))
        assert len(ff_a) == len(ff_b) == len(mp_a) == len(mp_b) == n
        reordered += [x["id"] for x in ff_a + mp_a] != [x["id"] for x in ff_b + mp_b]
        a, b = scores_by_hand(ff_a, mp_a), scores_by_hand(ff_b, mp_b)
        assert got["overall"]["baseline"] == pytest.approx(a["overall"], abs=1e-12)
        assert got["overall"]["other"] == pytest.approx(b["overall"], abs=1e-12)
        assert got["overall"]["delta"] == pytest.approx(b["overall"] - a["overall"], abs=1e-12)
        low, high = got["overall"]["ci95"]
        assert low <= got["overall"]["delta"] <= high and low < high
        assert set(got["benchmarks"]) == set(a) - {"overall"}
        for key, figures in got["benchmarks"].items():
            assert figures == pytest.approx({"baseline": a[key], "other": b[key], "delta": b[key] - a[key]},
                                            abs=1e-12)
        # free-form, matched by id
        score_b = {x["id"]: x["judge_score"] for x in ff_b}
        diffs = [abs(x["judge_score"] - score_b[x["id"]]) for x in ff_a]
        assert got["free_form"] == pytest.approx({"items": n, "mean_abs_diff": sum(diffs) / n,
                                                  "exact_agreement": sum(d == 0 for d in diffs) / n}, abs=1e-12)
        assert 0 < got["free_form"]["mean_abs_diff"] and got["free_form"]["exact_agreement"] < 1
        # multiple-choice: right/wrong alike, and Cohen's kappa
        right_b = {x["id"]: judged_score(x) for x in mp_b}
        pairs = [(judged_score(x), right_b[x["id"]]) for x in mp_a]
        observed = sum(p == q for p, q in pairs) / n
        share_a, share_b = sum(p for p, _ in pairs) / n, sum(q for _, q in pairs) / n
        chance = share_a * share_b + (1 - share_a) * (1 - share_b)
        assert got["multiple_choice"] == pytest.approx(
            {"items": n, "agreement": observed, "kappa": (observed - chance) / (1 - chance)}, abs=1e-12)
        assert 0 < got["multiple_choice"]["kappa"] < 1 and observed < 1
        overall[model] = (a["overall"], b["overall"])
    assert reordered  # so the items are matched by id, not by line
    x, y = [overall[m][0] for m in result["models"]], [overall[m][1] for m in result["models"]]
    assert result["rank_correlation"] == pytest.approx({"kendall_tau": tau_b_by_hand(x, y), "models": 3})
    assert -1 < result["rank_correlation"]["kendall_tau"] < 1  # the judges order the models differently
    # the printed table
    assert f"{JUDGE_B} against {JUDGE_A}" in proc.stdout and "Kendall's tau-b" in proc.stdout
    for model, m in result["models"].items():
        rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in proc.stdout.splitlines()]
        row = next(cells for cells in rows if cells and cells[0] == model)
        assert row[1:4] == [f"{m['overall']['baseline']:.3f}", f"{m['overall']['other']:.3f}",
                            f"{m['overall']['delta']:+.3f}"]
    assert f"Written: {judged / 'judge_agreement.json'}" in proc.stdout


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_scores_are_each_judges_score_json(judged):
    result = judge_agreement(str(judged), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    for model in MODELS:
        got = result["models"][model]
        for side, judge in (("baseline", JUDGE_A), ("other", JUDGE_B)):
            scores = SCORE_JSON[(judge, model)]
            assert got["overall"][side] == scores["overall"]
            assert list(got["benchmarks"]) == [k for k in scores if k != "overall"]
            assert all(got["benchmarks"][k][side] == scores[k] for k in got["benchmarks"])
    # swapped, the deltas change sign and the interval mirrors
    swapped = judge_agreement(str(judged), BENCHMARK, VERSION, (JUDGE_B, JUDGE_A))
    for model in MODELS:
        one, other = result["models"][model]["overall"], swapped["models"][model]["overall"]
        assert other["delta"] == pytest.approx(-one["delta"], abs=1e-12)
        assert other["ci95"] == pytest.approx([-one["ci95"][1], -one["ci95"][0]], abs=1e-9)


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_two_models_have_no_rank_correlation(judged, tmp_path):
    result = judge_agreement(str(judged), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B),
                             models_to_eval=["model_long", "model_short"])
    assert list(result["models"]) == ["model_long", "model_short"] and result["rank_correlation"] is None
    # found without --models_to_eval: a folder judged by neither judge is left out
    root = copy_models(judged, tmp_path / "r", "model_long", "model_short")
    make_responses(root, "not_judged", BENCHMARK, 5)
    again = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    assert again == result


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_judgments_of_different_responses_are_compared_with_a_warning(judged, tmp_path, caplog):
    root = copy_models(judged, tmp_path / "r", "model_short")
    path = vdir(root, "model_short") / f"judge_results_ff_model_judge_{FILE_B}.jsonl"
    lines = read_jsonl(path)
    lines[4]["response"] += " (regenerated)"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with caplog.at_level("WARNING"):
        got = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    assert got["models"]["model_short"]["free_form"]["items"] == MODELS["model_short"]
    assert f"1 of the {MODELS['model_short']} free_form items were judged on different responses" in caplog.text
    assert repr(lines[4]["id"]) in caplog.text


# ---------------------------------------------------------------- errors


def copy_models(judged: Path, dst: Path, *models: str) -> Path:
    for model in models:
        shutil.copytree(judged / model, dst / model)
    return dst


def compare(root: Path, *extra: str) -> list[str]:
    return ["--model_response_dir", str(root), "--benchmark", BENCHMARK, "--version", VERSION,
            "--judges", JUDGE_A, JUDGE_B, *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mix_eval: Error: "), err
    return err[0]


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_a_missing_judged_file_names_it_and_the_command_that_makes_it(judged, tmp_path, capsys):
    root = copy_models(judged, tmp_path / "r", "model_mid", "model_short")
    missing = vdir(root, "model_short") / f"judge_results_mp_model_judge_{FILE_B}.jsonl"
    missing.unlink()
    assert compare_main(compare(root)) == 2
    line = one_error_line(capsys)
    assert str(missing) in line
    assert (f"python -m mix_eval.compute_metrics --benchmark {BENCHMARK} --version {VERSION} --model_response_dir "
            f"{root} --models_to_eval model_short --freeform_judge {JUDGE_B} --multichoice_judge {JUDGE_B}") in line
    assert not (root / "judge_agreement.json").exists()


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_files_covering_different_ids_are_refused(judged, tmp_path, capsys):
    root = copy_models(judged, tmp_path / "r", "model_mid")
    path = vdir(root, "model_mid") / f"judge_results_ff_model_judge_{FILE_B}.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-3]))
    assert compare_main(compare(root)) == 2
    line = one_error_line(capsys)
    assert f"{path} covers {MODELS['model_mid'] - 3} ids" in line and f"{MODELS['model_mid']}, 3 of them" in line


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_no_models_found(judged, tmp_path, capsys):
    assert compare_main(compare(tmp_path / "nothing")) == 2
    assert "does not exist" in one_error_line(capsys)
    (tmp_path / "empty").mkdir()
    assert compare_main(compare(tmp_path / "empty")) == 2
    assert "no model folder" in one_error_line(capsys)
    # folders with responses but judged by neither judge
    make_responses(tmp_path / "unjudged", "some_model", BENCHMARK, 5)
    assert compare_main(compare(tmp_path / "unjudged")) == 2
    line = one_error_line(capsys)
    assert f"holds judged files of {JUDGE_A} or {JUDGE_B}" in line
    # the same judge twice, or two names for the same files
    assert compare_main(["--model_response_dir", str(judged), "--benchmark", BENCHMARK, "--version", VERSION,
                         "--judges", JUDGE_B, FILE_B]) == 2
    assert "same files" in one_error_line(capsys)


# ---------------------------------------------------------------- edge cases


@pytest.mark.slow  # on the module's two compute_metrics runs
def test_kappa_when_both_judges_call_every_item_the_same_way(judged, tmp_path):
    root = copy_models(judged, tmp_path / "r", "model_short")
    for judge_file in (JUDGE_A, FILE_B):  # every multiple-choice item judged right by both
        path = vdir(root, "model_short") / f"judge_results_mp_model_judge_{judge_file}.jsonl"
        lines = [{**x, "judge_option": gold_letter(x)} for x in read_jsonl(path)]
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    got = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))["models"]["model_short"]
    assert got["multiple_choice"] == {"items": MODELS["model_short"], "agreement": 1.0, "kappa": 1.0}
    # the function's cases: chance agreement 1, complete disagreement, chance level
    assert cohen_kappa([(0, 0)] * 4) == 1.0 and cohen_kappa([(1, 1)] * 4) == 1.0
    assert cohen_kappa([(1, 0)] * 4) == 0.0
    assert cohen_kappa([(1, 0), (0, 1)]) == -1.0
    assert cohen_kappa([(1, 1), (1, 0), (0, 1), (0, 0)]) == 0.0


def test_kendall_tau_b_with_ties():
    assert kendall_tau_b([1, 2, 3], [1, 2, 3]) == 1.0 and kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1.0
    assert kendall_tau_b([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(tau_b_by_hand([1, 2, 2, 3], [1, 3, 2, 4]))
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None


def test_paired_interval_resamples_the_same_items_for_both_judges():
    # equal judges differ by nothing on any resample (drawn apart, they would not)
    items = [[("X", 1.0, 1.0), ("X", 0.0, 0.0), ("Y", 1.0, 1.0)], [("Z", 0.0, 0.0), ("Z", 1.0, 1.0)]]
    assert set(paired_delta_intervals(items).values()) == {(0.0, 0.0)}
    opposite = [[(name, 0.0, 1.0) for name, _, _ in split] for split in items]
    assert set(paired_delta_intervals(opposite).values()) == {(1.0, 1.0)}


# ---------------------------------------------------------------- the printed tables and the written file


def agreement_of_two_models() -> dict:
    """A judge_agreement.json object made by hand: every figure differs from its
    neighbours, so a figure printed in another's cell shows."""
    return {
        "baseline": "judge-a", "other": "judge-b", "benchmark": BENCHMARK, "version": VERSION,
        "models": {
            "m1": {"overall": {"baseline": 0.25, "other": 0.3125, "delta": 0.0625, "ci95": [0.0104, 0.1206]},
                   "free_form": {"items": 4, "mean_abs_diff": 0.125, "exact_agreement": 0.75},
                   "multiple_choice": {"items": 3, "agreement": 2 / 3, "kappa": 0.4},
                   "benchmarks": {"DROP": {"baseline": 0.5, "other": 0.25, "delta": -0.25},
                                  "MMLU": {"baseline": 0.0, "other": 0.375, "delta": 0.375}}},
            "m2": {"overall": {"baseline": 0.9, "other": 0.8, "delta": -0.1, "ci95": [-0.2, 0.0]},
                   "free_form": {"items": 12, "mean_abs_diff": 0.0, "exact_agreement": 1.0},
                   "multiple_choice": {"items": 10, "agreement": 0.9, "kappa": -0.0526},
                   "benchmarks": {"GSM8k": {"baseline": 0.9, "other": 0.8, "delta": -0.1}}}},
        "rank_correlation": None,
    }


TWO_MODELS_PRINTED = """\
judge-b against judge-a on mixeval_hard 2024-06-01 (score.json's scale; delta = other - baseline)
+-------+---------+---------+--------+-----------------+----------+----------------+----------+----------+----------+----------+
| model | judge-a | judge-b | delta  | 95% CI of delta | ff items | ff mean |diff| | ff equal | mc items | mc agree | mc kappa |
+-------+---------+---------+--------+-----------------+----------+----------------+----------+----------+----------+----------+
|   m1  |  0.250  |  0.312  | +0.062 |  [0.010, 0.121] |    4     |     0.125      |  0.750   |    3     |  0.667   |  0.400   |
|   m2  |  0.900  |  0.800  | -0.100 | [-0.200, 0.000] |    12    |     0.000      |  1.000   |    10    |  0.900   |  -0.053  |
+-------+---------+---------+--------+-----------------+----------+----------------+----------+----------+----------+----------+
m1, per benchmark:
+-----------+---------+---------+--------+
| benchmark | judge-a | judge-b | delta  |
+-----------+---------+---------+--------+
|    DROP   |  0.500  |  0.250  | -0.250 |
|    MMLU   |  0.000  |  0.375  | +0.375 |
+-----------+---------+---------+--------+
m2, per benchmark:
+-----------+---------+---------+--------+
| benchmark | judge-a | judge-b | delta  |
+-----------+---------+---------+--------+
|   GSM8k   |  0.900  |  0.800  | -0.100 |
+-----------+---------+---------+--------+
Rank correlation: needs 3 or more models (2 compared)"""


def test_format_agreement_prints_every_figure_in_its_cell():
    """The printed tables, whole: the title, one row per model (signed delta, interval,
    both splits' figures), each model's benchmarks, and the rank line of two models."""
    assert format_agreement(agreement_of_two_models()) == TWO_MODELS_PRINTED


def test_format_agreement_rank_line_of_three_or_more_models():
    """The last line says tau-b at 3 decimals, or that one judge ties every model."""
    agreement = agreement_of_two_models()
    agreement["models"]["m3"] = agreement["models"]["m2"]
    agreement["rank_correlation"] = {"kendall_tau": -1 / 3, "models": 3}
    printed = format_agreement(agreement)
    assert printed.splitlines()[-1] == "Rank correlation of the 3 models (Kendall's tau-b): -0.333"
    assert printed.splitlines()[6].startswith("|   m3  |  0.900  |  0.800  | -0.100 |")
    agreement["rank_correlation"] = {"kendall_tau": None, "models": 3}
    assert format_agreement(agreement).splitlines()[-1] == (
        "Rank correlation of the 3 models: undefined (one judge ties them all)")


def test_write_judge_agreement_writes_judge_agreement_json(tmp_path):
    """The object goes, whole, to <model_response_dir>/judge_agreement.json (returned)."""
    agreement = agreement_of_two_models()
    path = write_judge_agreement(str(tmp_path), agreement)
    assert path == tmp_path / "judge_agreement.json"
    assert json.loads(path.read_text()) == agreement
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judge_agreement.json"]


def write_judged(root: Path, model: str, judge_file: str, tag: str, lines: list[dict]) -> Path:
    path = vdir(root, model) / f"judge_results_{tag}_model_judge_{judge_file}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


FF_LINES = [{"id": str(i), "benchmark_name": "DROP", "judge_score": 0.5, "response": "r"} for i in range(3)]
MP_LINES = [{"id": str(i), "benchmark_name": "MMLU", "judge_option": "A", "target": [0], "response": "A"}
            for i in range(3)]


@pytest.mark.parametrize("missing_tag, label", [("mp", "multiple_choice"), ("ff", "free_form")])
def test_a_missing_judged_file_is_named_with_the_command_that_makes_it(tmp_path, missing_tag, label):
    """Judged files made by hand, one of the other judge's missing: the error names that
    file, the model, the split, the judge, and the compute_metrics run that judges it."""
    root = tmp_path / "responses"
    for judge_file in (JUDGE_A, FILE_B):
        for tag, lines in (("ff", FF_LINES), ("mp", MP_LINES)):
            if (judge_file, tag) != (FILE_B, missing_tag):
                write_judged(root, "m1", judge_file, tag, lines)
    missing = vdir(root, "m1") / f"judge_results_{missing_tag}_model_judge_{FILE_B}.jsonl"
    with pytest.raises(MixEvalError) as caught:
        judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    assert str(caught.value) == (
        f"{missing} is missing: m1 has no {label} judgments of {JUDGE_B}; make them with python -m "
        f"mix_eval.compute_metrics --benchmark {BENCHMARK} --version {VERSION} --model_response_dir {root} "
        f"--models_to_eval m1 --freeform_judge {JUDGE_B} --multichoice_judge {JUDGE_B}")
    # with the file there, the two judges agree on everything
    write_judged(root, "m1", FILE_B, missing_tag, FF_LINES if missing_tag == "ff" else MP_LINES)
    got = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))["models"]["m1"]
    assert got["free_form"] == {"items": 3, "mean_abs_diff": 0.0, "exact_agreement": 1.0}
    assert got["multiple_choice"] == {"items": 3, "agreement": 1.0, "kappa": 1.0}


# ---------------------------------------------------------------- every figure of small hand-made folders


def ff_line(item_id: str, benchmark: str, score: float) -> dict:
    return {"id": item_id, "benchmark_name": benchmark, "judge_score": score, "response": f"answer {item_id}"}


def mp_line(item_id: str, benchmark: str, right: bool) -> dict:
    """Target option C; judged C when right, else A."""
    return {"id": item_id, "benchmark_name": benchmark, "judge_option": "C" if right else "A", "target": [2],
            "response": f"answer {item_id}"}


# model m1, as (id, benchmark, judge A's verdict, judge B's) in judge A's file order; judge B's
# file lists the items in reverse. Ids in numeric order: 2, 9, 10, 11 and 3, 4, 5, 6, 12.
M1_FF = [("10", "DROP", 1.0, 0.0), ("9", "DROP", 0.5, 0.5), ("2", "BBH", 0.0, 0.5), ("11", "BBH", 1.0, 1.0)]
M1_MP = [("3", "MMLU", True, True), ("12", "MMLU", False, True), ("4", "ARC", True, True),
         ("5", "ARC", False, False), ("6", "ARC", True, False)]


def make_two_judges(root: Path, model: str, ff: list[tuple], mp: list[tuple]) -> None:
    """Both judges' judged files of one model folder, B's lines in reverse order."""
    for judge_file, column, order in ((JUDGE_A, 2, 1), (FILE_B, 3, -1)):
        write_judged(root, model, judge_file, "ff", [ff_line(x[0], x[1], x[column]) for x in ff][::order])
        write_judged(root, model, judge_file, "mp", [mp_line(x[0], x[1], x[column]) for x in mp][::order])


def test_every_figure_of_hand_made_judged_files(tmp_path):
    """judge_agreement.json of three small folders, each figure computed here by hand:
    scores as score.json's, deltas, items matched by id, mean |diff|, exact agreement,
    right/wrong agreement, kappa, the paired interval over the items in numeric id order,
    and tau-b over exactly three models (the fewest that have one)."""
    root = tmp_path / "responses"
    make_two_judges(root, "m1", M1_FF, M1_MP)
    for model, a, b in (("m2", 1.0, 0.0), ("m3", 0.0, 1.0)):  # one judge calls every item right, the other wrong
        make_two_judges(root, model, [(i, name, a, b) for i, name, _, _ in M1_FF],
                        [(i, name, bool(a), bool(b)) for i, name, _, _ in M1_MP])
    got = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    assert [k for k in got] == ["baseline", "other", "benchmark", "version", "models", "rank_correlation"]
    assert (got["baseline"], got["other"], got["benchmark"], got["version"]) == (
        JUDGE_A, JUDGE_B, BENCHMARK, VERSION)
    assert list(got["models"]) == ["m1", "m2", "m3"]
    m1 = got["models"]["m1"]
    # A: free-form DROP 0.75, BBH 0.5 (4 items, 0.625); multiple-choice MMLU 0.5, ARC 0.667 (5 items, 0.6)
    # B: free-form DROP 0.25, BBH 0.75 (0.5); multiple-choice MMLU 1.0, ARC 0.333 (0.6)
    base = {"overall": (0.625 * 4 + 0.6 * 5) / 9, "DROP": 0.75, "BBH": 0.5, "MMLU": 0.5, "ARC": 0.667}
    other = {"overall": (0.5 * 4 + 0.6 * 5) / 9, "DROP": 0.25, "BBH": 0.75, "MMLU": 1.0, "ARC": 0.333}
    in_id_order = [[(b, float(x), float(y)) for _, b, x, y in sorted(split, key=lambda t: int(t[0]))]
                   for split in (M1_FF, M1_MP)]
    low, high = paired_delta_intervals(in_id_order)["overall"]
    assert list(m1["overall"]) == ["baseline", "other", "delta", "ci95"]
    assert m1["overall"]["ci95"] == [low, high] and low < high
    assert {k: v for k, v in m1["overall"].items() if k != "ci95"} == pytest.approx(
        {"baseline": base["overall"], "other": other["overall"], "delta": other["overall"] - base["overall"]},
        abs=1e-12)
    assert list(m1["benchmarks"]) == ["DROP", "BBH", "MMLU", "ARC"]
    assert m1["benchmarks"] == {  # each benchmark in one split: its 3-decimal mean, exactly
        k: {"baseline": base[k], "other": other[k], "delta": other[k] - base[k]} for k in base if k != "overall"}
    # free-form |diff|: 1, 0, 0.5, 0; multiple-choice right/wrong alike on 3 of 5, each judge right on 3:
    # chance agreement 0.6 * 0.6 + 0.4 * 0.4 = 0.52, kappa (0.6 - 0.52) / (1 - 0.52) = 1/6
    assert m1["free_form"] == {"items": 4, "mean_abs_diff": 0.375, "exact_agreement": 0.5}
    assert m1["multiple_choice"] == pytest.approx({"items": 5, "agreement": 0.6, "kappa": 1 / 6}, abs=1e-12)
    for model, a, b in (("m2", 1.0, 0.0), ("m3", 0.0, 1.0)):  # the judges disagree on every item
        m = got["models"][model]
        assert m["overall"] == {"baseline": a, "other": b, "delta": b - a, "ci95": [b - a, b - a]}
        assert m["free_form"] == {"items": 4, "mean_abs_diff": 1.0, "exact_agreement": 0.0}
        assert m["multiple_choice"] == {"items": 5, "agreement": 0.0, "kappa": 0.0}
    # A orders the models m2 > m1 > m3, B m3 > m1 > m2: every pair discordant
    assert got["rank_correlation"] == {"kendall_tau": -1.0, "models": 3}
    # the same folders named: the same object; two of them: no rank correlation
    assert judge_agreement(str(root), BENCHMARK, VERSION, [JUDGE_A, JUDGE_B], ["m1", "m2", "m3"]) == got
    two = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B), ["m3", "m1"])
    assert list(two["models"]) == ["m3", "m1"] and two["rank_correlation"] is None
    assert two["models"]["m1"] == m1


def test_judged_files_that_cannot_be_compared_are_refused_in_full(tmp_path):
    """Each refusal's whole message: one judge named twice (or two names of the same
    files), no folder judged by either judge, files of different ids, an id of another
    benchmark in one file."""
    root = tmp_path / "responses"
    for judges in ((JUDGE_A, JUDGE_A), (JUDGE_B, FILE_B)):
        with pytest.raises(MixEvalError) as caught:
            judge_agreement(str(root), BENCHMARK, VERSION, judges)
        assert str(caught.value) == (f"--judges {judges[0]} {judges[1]}: the two judges' judged files are the same "
                                     "files; name two different judges")
    make_responses(root, "unjudged", BENCHMARK, 3)
    with pytest.raises(MixEvalError) as caught:
        judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    assert str(caught.value) == (
        f"no model folder under {root} holds judged files of {JUDGE_A} or {JUDGE_B} for {BENCHMARK}/{VERSION}; "
        "check --model_response_dir, --benchmark, --version and --judges")
    # one judge's file alone is enough for a folder to be compared (and its other files found missing)
    write_judged(root, "m1", FILE_B, "mp", [mp_line(i, b, True) for i, b, _, _ in M1_MP])
    with pytest.raises(MixEvalError, match=f"{JUDGE_A}.jsonl is missing: m1 has no free_form judgments"):
        judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    # B's free-form file lacks id 2 and has an id 7 A's has not
    make_two_judges(root, "m1", M1_FF, M1_MP)
    path_b = vdir(root, "m1") / f"judge_results_ff_model_judge_{FILE_B}.jsonl"
    lines = read_jsonl(path_b)
    path_b.write_text("".join(json.dumps(x) + "\n" for x in lines if x["id"] != "2")
                      + json.dumps(ff_line("7", "BBH", 0.5)) + "\n" + json.dumps(ff_line("8", "BBH", 0.5)) + "\n")
    path_a = vdir(root, "m1") / f"judge_results_ff_model_judge_{JUDGE_A}.jsonl"
    with pytest.raises(MixEvalError) as caught:
        judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B), ["m1"])
    assert str(caught.value) == (
        f"{path_b} covers 5 ids and {path_a.name} 4, 3 of them in only one of the two: the judges did not judge "
        "the same responses; judge the same response files with both")
    # the same ids, but two (ids 10 and 11, 10 first in id order) of another benchmark in B's file
    path_b.write_text("".join(json.dumps({**x, "benchmark_name": "MATH"} if x["id"] in ("10", "11") else x) + "\n"
                              for x in lines))
    with pytest.raises(MixEvalError) as caught:
        judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B), ["m1"])
    assert str(caught.value) == (
        f"{path_b}: id '10' is of another benchmark than in {path_a.name} (2 ids): the two judged files were made "
        "from different data")


def test_kappa_and_tau_b_at_their_smallest_inputs():
    """Kappa of no items is an error; of one item, complete agreement (1.0). Tau-b of
    fewer than two things, or of two tied in one ordering, is None; of two, +1 or -1."""
    with pytest.raises(ValueError, match="^kappa of no items$"):
        cohen_kappa([])
    assert cohen_kappa([(1, 1)]) == cohen_kappa([(0, 0)]) == 1.0
    assert cohen_kappa([(1, 1), (1, 1), (0, 1)]) == 0.0  # B says 1 throughout: no agreement beyond chance
    assert cohen_kappa([(1, 1), (0, 0), (0, 1)]) == 0.4  # observed 2/3, chance (2 + 2) / 9: (6 - 4) / (9 - 4)
    assert kendall_tau_b([], []) is None and kendall_tau_b([0.5], [0.2]) is None
    assert kendall_tau_b([0.1, 0.2], [0.3, 0.4]) == 1.0 and kendall_tau_b([0.1, 0.2], [0.4, 0.3]) == -1.0
    assert kendall_tau_b([0.1, 0.1], [0.3, 0.4]) is None and kendall_tau_b([0.1, 0.2], [0.3, 0.3]) is None
    # 3 things, 1 pair tied in x: concordant 2, discordant 0, sqrt((3 - 1) * 3)
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == 2 / math.sqrt(6)


def test_items_judged_on_different_responses_are_compared_with_a_warning(tmp_path, caplog):
    """Both files of the same ids, two multiple-choice items of which B judged another
    response: compared all the same, with one warning naming the model, the count, the
    split and the first such id (in id order)."""
    root = tmp_path / "responses"
    make_two_judges(root, "m1", M1_FF, M1_MP)
    path_b = vdir(root, "m1") / f"judge_results_mp_model_judge_{FILE_B}.jsonl"
    path_b.write_text("".join(json.dumps({**x, "response": "regenerated"} if x["id"] in ("12", "4") else x) + "\n"
                              for x in read_jsonl(path_b)))
    with caplog.at_level("WARNING", logger="mix_eval.scoring.agreement"):
        got = judge_agreement(str(root), BENCHMARK, VERSION, (JUDGE_A, JUDGE_B))
    assert got["models"]["m1"]["multiple_choice"]["items"] == 5
    assert [r.getMessage() for r in caplog.records if r.name == "mix_eval.scoring.agreement"] == [
        "m1: 2 of the 5 multiple_choice items were judged on different responses by the two judges (e.g. id '4'); "
        "their figures mix the judges' and the responses' differences"]
