"""A full disk, simulated with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored): every
write past the limit fails with EFBIG, as on a full disk.

Expected: a clear one-line error (no traceback), nothing lost, and the rerun on a disk
with room completes with every item exactly once and the results of a clean run.
"""
from __future__ import annotations

import shutil
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
    assert_one_clear_error,
    by_id,
    clean_evaluate,
    count_lines,
    evaluate_cmd,
    evaluate_state,
    judge_reply,
    limit_file_size,
    make_responses,
    read_jsonl,
    results_of,
    subprocess_env,
)

# ---------------------------------------------------------------- generation


@pytest.fixture(scope="module")
def generation_disk_full(tiny_chat, data_path, tmp_path_factory) -> dict:
    """An --inference_only run whose response file hits the limit after a few lines."""
    out = tmp_path_factory.mktemp("gen-disk-full")
    cmd = evaluate_cmd(tiny_chat, data_path, out, None)
    limited = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), cwd=out, timeout=300,
                             preexec_fn=limit_file_size(6000))
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    lines_then = count_lines(vdir / "local_chat_close_freeform_hard.jsonl")
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), cwd=out, timeout=300)
    return {"out": out, "limited": limited, "lines then": lines_then, "rerun": rerun}


def test_generation_disk_full_then_rerun_completes_exactly_once(generation_disk_full, tiny_chat, data_path,
                                                                tmp_path_factory):
    run = generation_disk_full
    assert run["limited"].returncode != 0, "the file-size limit was never reached"
    assert 0 < run["lines then"] < EVAL_LIMIT, run["lines then"]
    assert run["rerun"].returncode == 0, run["rerun"].stderr[-3000:]
    clean = clean_evaluate(tiny_chat, data_path, tmp_path_factory)
    state = evaluate_state(run["out"], judged=False)
    for split in EVAL_SPLITS:
        assert state[split] == clean[split]
    assert state["status"] == ["complete", "complete"]


def test_generation_disk_full_is_one_clear_error(generation_disk_full):
    limited = generation_disk_full["limited"]
    assert limited.returncode == 2
    line = assert_one_clear_error(limited.stderr, "cannot write", "File too large", "rerun the same command",
                                  "local_chat_close_freeform_hard.jsonl")
    assert line[len("mix_eval: "):] in (generation_disk_full["out"] / "error.log").read_text()


# ---------------------------------------------------------------- judging


ITEMS = 40


@pytest.fixture(scope="module")
def judge_server():
    with FakeOpenAIServer(reply=judge_reply) as server:
        yield server


@pytest.fixture(scope="module")
def clean_scoring(tmp_path_factory, judge_server) -> dict:
    root = tmp_path_factory.mktemp("clean-scoring")
    make_responses(root, "my_model", "mixeval_hard", ITEMS)
    proc = subprocess.run(scoring_cmd(root, judge_server), capture_output=True, text=True,
                          env=subprocess_env(MODEL_PARSER_API=JUDGE_KEY), cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return results_of(root, "my_model")


def scoring_cmd(root: Path, server: FakeOpenAIServer) -> list[str]:
    return [sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", VERSION,
            "--model_response_dir", str(root), "--api_base_url", server.base_url, "--api_parallel_num", "4"]


@pytest.mark.parametrize("limit, full_file", [
    pytest.param(60_000, FF_JUDGED, id="judged-file-does-not-fit"),
    pytest.param(3_000, ".journal_", id="journal-does-not-fit"),
])
def test_judging_disk_full_is_one_clear_error_then_resumes(tmp_path, judge_server, clean_scoring, limit, full_file):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", ITEMS)
    env = subprocess_env(MODEL_PARSER_API=JUDGE_KEY)
    judge_server.reset()
    limited = subprocess.run(scoring_cmd(root, judge_server), capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=300, preexec_fn=limit_file_size(limit))
    assert limited.returncode == 2, limited.stderr[-3000:]
    line = assert_one_clear_error(limited.stderr, "cannot write", full_file, "rerun the same command")
    assert str(vdir) in line
    assert not (vdir / "score.json").exists() and not (root / "score.json").exists()
    asked = judge_server.count()
    rerun = subprocess.run(scoring_cmd(root, judge_server), capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert results_of(root, "my_model") == clean_scoring
    for name in (FF_JUDGED, MP_JUDGED):
        assert len(by_id(read_jsonl(vdir / name))) == ITEMS
    # nothing paid for twice beyond the requests in flight when the write failed
    assert judge_server.count() <= 2 * ITEMS + 4, (asked, judge_server.count())
    leftovers = [p.name for p in vdir.iterdir() if ".tmp-" in p.name]
    assert not leftovers, leftovers
    shutil.rmtree(tmp_path / "responses")
