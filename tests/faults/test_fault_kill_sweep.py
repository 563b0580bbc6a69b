"""SIGKILL and SIGINT at random moments of generation and of judging.

Each sweep is a chain of runs on one output folder: every run is sent its signal when
the run's progress (response lines, then journaled judgments) reaches a random target,
plus a random delay of up to 25 ms; then a last run goes to the end. The final folder
must hold every item exactly once with the very same responses, judgments and scores
as an uninterrupted run (greedy tiny model, deterministic loopback judge).

Kill points come from `random.Random(seed)`; the seed is printed and part of every
failure message. Replay a sweep with MIX_EVAL_KILL_SEED=<seed> (and -k to pick the test;
the seed replaces every sweep's default).

Kill points: the reduced sweep (not marked slow) 6 in `evaluate` (3 in generation, 3 in
its judging phase) and 6 in `compute_metrics` judging; the slow sweep 4 more in
`evaluate` (2 + 2) and 6 more in `compute_metrics`. 22 in all, both signals. One more
sweep of 6 kills in `compute_metrics` uses a judge that never gives some items a valid
verdict, so that their random verdicts (drawn after the 10 rounds) must survive resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import (
    EVAL_LIMIT,
    EVAL_SPLITS,
    FF_JUDGED,
    JUDGE_KEY,
    MP_JUDGED,
    VERSION,
    FakeOpenAIServer,
    Kill,
    by_id,
    clean_evaluate,
    count_lines,
    evaluate_cmd,
    evaluate_state,
    judge_reply,
    judged_answer,
    make_responses,
    read_jsonl,
    results_of,
    run_and_kill,
    subprocess_env,
)

LIMIT = EVAL_LIMIT
JUDGE_PARALLEL = 4  # --api_parallel_num of evaluate_cmd
SPLITS = EVAL_SPLITS
JOURNALS = (f".journal_{FF_JUDGED[:-6]}.jsonl", f".journal_{MP_JUDGED[:-6]}.jsonl")


def seed_for(default: int) -> int:
    """The sweep's seed: MIX_EVAL_KILL_SEED when set, else the sweep's default."""
    given = os.environ.get("MIX_EVAL_KILL_SEED")
    seed = int(given) if given else default
    print(f"kill sweep seed {seed} (rerun with MIX_EVAL_KILL_SEED={seed})")
    return seed


def plan(rng: random.Random, targets: list[tuple[str, int]]) -> list[Kill]:
    """Kills at the given (phase, target) points, each with a random delay and signal;
    both signals always appear."""
    kills = [Kill(target=t, delay=rng.uniform(0.0, 0.025), sig=rng.choice([signal.SIGKILL, signal.SIGINT]),
                  phase=phase) for phase, t in sorted(targets, key=lambda pt: pt[1])]
    if len({k.sig for k in kills}) == 1:
        kills[rng.randrange(len(kills))].sig = signal.SIGINT if kills[0].sig == signal.SIGKILL else signal.SIGKILL
    return kills


def report(seed: int, kills: list[Kill], log: Path) -> str:
    lines = [f"seed {seed}:"] + [f"  {k.describe()}" for k in kills]
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    return "\n".join(lines) + "\n--- log tail ---\n" + tail


@pytest.fixture(scope="module")
def judge_server():
    with FakeOpenAIServer(reply=judge_reply, latency=0.02) as server:
        yield server


# ---------------------------------------------------------------- evaluate: generation and judging


@pytest.fixture(scope="module")
def evaluate_baseline(tiny_chat, data_path, tmp_path_factory) -> dict:
    return clean_evaluate(tiny_chat, data_path, tmp_path_factory)


def evaluate_sweep(seed: int, n_gen: int, n_judge: int, tiny_chat: Path, data_path: Path, tmp_path: Path,
                   server: FakeOpenAIServer, baseline: dict) -> None:
    rng = random.Random(seed)
    out = tmp_path / "out"
    out.mkdir()
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    total = 2 * LIMIT

    def progress() -> int:  # response lines, then journaled judgments
        return sum(count_lines(vdir / f"local_chat_{s}.jsonl") for s in SPLITS) + \
            sum(count_lines(vdir / j) for j in JOURNALS)

    targets = [("generation", t) for t in rng.sample(range(1, total), n_gen)]
    targets += [("judging", t) for t in rng.sample(range(total + 1, 2 * total), n_judge)]
    kills = plan(rng, targets)
    env = subprocess_env(MODEL_PARSER_API=JUDGE_KEY)
    cmd = evaluate_cmd(tiny_chat, data_path, out, server.base_url)
    log = tmp_path / "runs.log"
    before = server.count()
    for kill in kills:
        run_and_kill(cmd, kill, progress, env=env, cwd=out, log=log)
    final = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out, timeout=300)
    why = report(seed, kills, log)
    print(why)
    assert final.returncode == 0, why + final.stderr[-3000:]
    assert sum(k.landed for k in kills) >= len(kills) - 1, why
    state = evaluate_state(out)
    extra = (server.count() - before) - 2 * LIMIT  # the deterministic judge is asked once per item
    for key in baseline:
        assert state[key] == baseline[key], f"{key} differs from the uninterrupted run\n{why}"
    # judgments lost with a killed process are at most those in flight
    assert extra <= len(kills) * JUDGE_PARALLEL, f"{extra} extra judge requests\n{why}"


def test_evaluate_kill_sweep_reduced(tiny_chat, data_path, tmp_path, judge_server, evaluate_baseline):
    evaluate_sweep(seed_for(20240601), 3, 3, tiny_chat, data_path, tmp_path, judge_server, evaluate_baseline)


@pytest.mark.slow
def test_evaluate_kill_sweep_more_points(tiny_chat, data_path, tmp_path, judge_server, evaluate_baseline):
    evaluate_sweep(seed_for(7), 2, 2, tiny_chat, data_path, tmp_path, judge_server, evaluate_baseline)


# ---------------------------------------------------------------- compute_metrics: judging


CM_ITEMS = 30  # per split
CM_PARALLEL = 8


def cm_cmd(root: Path, server: FakeOpenAIServer) -> list[str]:
    return [sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", VERSION,
            "--model_response_dir", str(root), "--api_base_url", server.base_url,
            "--api_parallel_num", str(CM_PARALLEL)]


@pytest.fixture(scope="module")
def cm_baseline(tmp_path_factory, judge_server) -> dict:
    root = tmp_path_factory.mktemp("cm-clean")
    make_responses(root, "my_model", "mixeval_hard", CM_ITEMS)
    before = judge_server.count()
    proc = subprocess.run(cm_cmd(root, judge_server), capture_output=True, text=True,
                          env=subprocess_env(MODEL_PARSER_API=JUDGE_KEY), cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"files": results_of(root, "my_model"), "judge requests": judge_server.count() - before}


def compute_metrics_sweep(seed: int, n: int, tmp_path: Path, server: FakeOpenAIServer, baseline: dict) -> None:
    rng = random.Random(seed)
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", CM_ITEMS)

    def progress() -> int:
        return sum(count_lines(vdir / j) for j in JOURNALS)

    kills = plan(rng, [("judging", t) for t in rng.sample(range(1, 2 * CM_ITEMS), n)])
    env = subprocess_env(MODEL_PARSER_API=JUDGE_KEY)
    log = tmp_path / "runs.log"
    before = server.count()
    for kill in kills:
        run_and_kill(cm_cmd(root, server), kill, progress, env=env, cwd=tmp_path, log=log)
    final = subprocess.run(cm_cmd(root, server), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    why = report(seed, kills, log)
    print(why)
    assert final.returncode == 0, why + final.stderr[-3000:]
    assert sum(k.landed for k in kills) >= len(kills) - 1, why
    # the same bytes: judged lines in the same order with the same verdicts, the same scores
    assert results_of(root, "my_model") == baseline["files"], why
    for name in (FF_JUDGED, MP_JUDGED):
        assert len(by_id(read_jsonl(vdir / name))) == CM_ITEMS
    extra = (server.count() - before) - baseline["judge requests"]
    assert extra <= len(kills) * CM_PARALLEL, f"{extra} extra judge requests\n{why}"


def test_compute_metrics_kill_sweep_reduced(tmp_path, judge_server, cm_baseline):
    compute_metrics_sweep(seed_for(42), 6, tmp_path, judge_server, cm_baseline)


@pytest.mark.slow
def test_compute_metrics_kill_sweep_more_points(tmp_path, judge_server, cm_baseline):
    compute_metrics_sweep(seed_for(1234), 6, tmp_path, judge_server, cm_baseline)


# ---------------------------------------------------------------- compute_metrics: random verdicts


def stubborn_judge_reply(body: dict) -> str:
    """`judge_reply`, except that answers in a fixed third (by a hash of the answer) never
    get a valid verdict: no brackets, an out-of-range score or a lower-case letter. Those
    items go through all 10 rounds and end with the reference's random verdicts."""
    h = int(hashlib.md5(judged_answer(body).encode()).hexdigest(), 16)
    if h % 3:
        return judge_reply(body)
    return ("I cannot judge this answer.", "The correctness score: [[1.5]]",
            "The option chosen by the model: [[b]]")[h // 13 % 3]


@pytest.fixture(scope="module")
def stubborn_server():
    with FakeOpenAIServer(reply=stubborn_judge_reply, latency=0.02) as server:
        yield server


@pytest.fixture(scope="module")
def cm_random_baseline(tmp_path_factory, stubborn_server) -> dict:
    """An uninterrupted run with the stubborn judge: some items of each split get random verdicts."""
    root = tmp_path_factory.mktemp("cm-random-clean")
    vdir = make_responses(root, "my_model", "mixeval_hard", CM_ITEMS)
    before = stubborn_server.count()
    proc = subprocess.run(cm_cmd(root, stubborn_server), capture_output=True, text=True,
                          env=subprocess_env(MODEL_PARSER_API=JUDGE_KEY), cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((vdir / "judge_report.json").read_text())
    for split in ("free_form", "multiple_choice"):  # the case under test does happen, in both splits
        assert 3 <= report[split]["random_fallback"] < CM_ITEMS, report
        assert report[split]["rounds"] == 10, report
    return {"files": results_of(root, "my_model"), "judge requests": stubborn_server.count() - before,
            "journal lines": sum(count_lines(vdir / j) for j in JOURNALS), "report": report}


def test_compute_metrics_kill_sweep_with_random_verdicts(tmp_path, stubborn_server, cm_random_baseline):
    """Kills at any point of the 10 rounds, then a resume: the random verdicts of the items
    the judge never judged, and so the judged files and scores, are those of the
    uninterrupted run, byte for byte; the judge is asked again only what was in flight."""
    seed = seed_for(99)
    rng = random.Random(seed)
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", CM_ITEMS)

    def progress() -> int:
        return sum(count_lines(vdir / j) for j in JOURNALS)

    kills = plan(rng, [("judging", t) for t in rng.sample(range(1, cm_random_baseline["journal lines"]), 6)])
    env = subprocess_env(MODEL_PARSER_API=JUDGE_KEY)
    log = tmp_path / "runs.log"
    before = stubborn_server.count()
    for kill in kills:
        run_and_kill(cm_cmd(root, stubborn_server), kill, progress, env=env, cwd=tmp_path, log=log)
    final = subprocess.run(cm_cmd(root, stubborn_server), capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    why = report(seed, kills, log)
    print(why)
    assert final.returncode == 0, why + final.stderr[-3000:]
    assert sum(k.landed for k in kills) >= len(kills) - 1, why
    resumed = json.loads((vdir / "judge_report.json").read_text())
    for split in ("free_form", "multiple_choice"):
        assert resumed[split]["random_fallback"] == cm_random_baseline["report"][split]["random_fallback"], why
    assert results_of(root, "my_model") == cm_random_baseline["files"], why
    extra = (stubborn_server.count() - before) - cm_random_baseline["judge requests"]
    assert extra <= len(kills) * CM_PARALLEL, f"{extra} extra judge requests\n{why}"


def test_kill_points_are_reproducible_from_the_seed():
    a = plan(random.Random(5), [("judging", t) for t in random.Random(5).sample(range(1, 100), 8)])
    b = plan(random.Random(5), [("judging", t) for t in random.Random(5).sample(range(1, 100), 8)])
    assert [(k.target, k.delay, k.sig) for k in a] == [(k.target, k.delay, k.sig) for k in b]
    assert {k.sig for k in a} == {signal.SIGKILL, signal.SIGINT}
