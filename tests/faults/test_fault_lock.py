"""One writer per folder: a second run on a model folder that another run is writing
refuses at once with a message naming the other run's pid; the first run finishes as if
alone, and no line is written twice.

Already covered in tests/test_resume_kill.py::test_second_writer_on_the_same_folder_is_refused:
a second evaluate while the first generates. Here: scoring runs against scoring runs and
against evaluate, both ways.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import (
    EVAL_LIMIT,
    FF_JUDGED,
    JUDGE_KEY,
    MP_JUDGED,
    VERSION,
    FakeOpenAIServer,
    assert_one_clear_error,
    by_id,
    count_lines,
    evaluate_cmd,
    judge_reply,
    make_responses,
    read_jsonl,
    snapshot,
    subprocess_env,
    wait_until,
)

N = 12
JOURNALS = (f".journal_{FF_JUDGED[:-6]}.jsonl", f".journal_{MP_JUDGED[:-6]}.jsonl")


class HeldJudge:
    """`judge_reply`, except that the requests numbered `answered`+1 .. `answered`+`held`
    wait until `release` is set. A scoring run with `held` requests in flight at most
    (--api_parallel_num) then judges `answered` items and cannot go further, let alone
    finish, before the test lets it: no race between the first run and the start-up of
    the second. Any later request (a second run that was not refused) is answered at once."""

    def __init__(self, answered: int = 3, held: int = 2):
        self.answered, self.held = answered, held
        self.release = threading.Event()
        self.holding = threading.Event()   # a request is being held
        self._n = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> str:
        with self._lock:
            self._n += 1
            n = self._n
        if self.answered < n <= self.answered + self.held:
            self.holding.set()
            self.release.wait(120)
        return judge_reply(body)


@pytest.fixture
def held_judge():
    judge = HeldJudge()
    with FakeOpenAIServer(reply=judge) as server:
        try:
            yield server, judge
        finally:
            judge.release.set()


def scoring_cmd(root: Path, server: FakeOpenAIServer) -> list[str]:
    return [sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", VERSION,
            "--model_response_dir", str(root), "--api_base_url", server.base_url, "--api_parallel_num", "2"]


def test_a_second_scoring_run_is_refused_while_the_first_judges(tmp_path, held_judge):
    server, judge = held_judge
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", N)
    env = subprocess_env(MODEL_PARSER_API=JUDGE_KEY)
    first = subprocess.Popen(scoring_cmd(root, server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=tmp_path)
    try:
        # the first run has judged 3 items and waits for the judge: it holds its lock
        wait_until(lambda: judge.holding.is_set() and count_lines(vdir / JOURNALS[0]) >= 3, first)
        second = subprocess.run(scoring_cmd(root, server), capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=120)
        assert first.poll() is None
        assert second.returncode == 2, second.stderr[-2000:]
        assert_one_clear_error(second.stderr, "another mix_eval run", f"pid {first.pid}", str(vdir))
        assert len(server.chat_requests()) <= judge.answered + judge.held  # the refused run asked for nothing
        judge.release.set()
        assert first.wait(timeout=120) == 0, first.stderr.read()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
    for name in (FF_JUDGED, MP_JUDGED):
        assert len(by_id(read_jsonl(vdir / name))) == N  # every id once
    assert server.count() == 2 * N  # the first run asked for each item once


def test_evaluate_is_refused_while_a_scoring_run_writes_its_folder(tmp_path, held_judge, tiny_chat, data_path):
    """evaluate --output_name my_model targets the folder compute_metrics is judging."""
    server, judge = held_judge
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", N)
    env = subprocess_env(MODEL_PARSER_API=JUDGE_KEY)
    first = subprocess.Popen(scoring_cmd(root, server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, cwd=tmp_path)
    try:
        wait_until(lambda: judge.holding.is_set() and count_lines(vdir / JOURNALS[0]) >= 3, first)
        responses_before = {p.name: p.read_bytes() for p in vdir.glob("my_model_*.jsonl")}
        second = subprocess.run(evaluate_cmd(tiny_chat, data_path, root, None, "--output_name", "my_model"),
                                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert first.poll() is None
        assert second.returncode == 2, second.stderr[-2000:]
        assert_one_clear_error(second.stderr, "another mix_eval run", f"pid {first.pid}")
        assert "loading local_chat" not in second.stderr
        assert {p.name: p.read_bytes() for p in vdir.glob("my_model_*.jsonl")} == responses_before
        judge.release.set()
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()


def test_scoring_is_refused_while_evaluate_generates(tmp_path, tiny_chat, data_path):
    out = tmp_path / "out"
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    responses = [vdir / f"local_chat_{split}.jsonl" for split in ("close_freeform_hard", "close_multichoice_hard")]
    first = subprocess.Popen(evaluate_cmd(tiny_chat, data_path, out, None), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=subprocess_env(), cwd=tmp_path)
    try:
        wait_until(lambda: count_lines(responses[0]) >= 2, first)
        # Freeze generation (the run keeps its lock) until the scoring run has been
        # refused, however long that one takes to start.
        first.send_signal(signal.SIGSTOP)
        try:
            assert first.poll() is None, "generation ended before it could be paused"
            assert sum(count_lines(r) for r in responses) < 2 * EVAL_LIMIT
            before = snapshot(vdir)
            second = subprocess.run(
                [sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version",
                 VERSION, "--model_response_dir", str(out), "--free_form_parser", "rule", "--multi_choice_parser",
                 "rule"], capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path, timeout=120)
        finally:
            first.send_signal(signal.SIGCONT)
        assert second.returncode == 2, second.stderr[-2000:]
        assert_one_clear_error(second.stderr, "another mix_eval run", f"pid {first.pid}")
        assert not [k for k in snapshot(vdir) if k.startswith("judge_results") or k == "score.json"]
        assert set(before) <= set(snapshot(vdir))
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
    for split in ("close_freeform_hard", "close_multichoice_hard"):
        assert len(by_id(read_jsonl(vdir / f"local_chat_{split}.jsonl"))) == EVAL_LIMIT


def test_temp_files_of_a_killed_writer_are_swept_by_the_next_run(tmp_path):
    """A SIGKILL inside an atomic write leaves `.<file>.tmp-<pid>` behind; the next run
    that takes the folder's lock removes those of dead processes, and only those."""
    from mix_eval.compute_metrics import main as compute_main

    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", N)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = vdir / f".score.json.tmp-{dead_pid}"
        in_use = vdir / f".score.json.tmp-{alive.pid}"
        unrelated = vdir / "notes.tmp-12"
        for f in (stale, in_use, unrelated):
            f.write_text("{")
        assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                             "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
        assert not stale.exists()
        assert in_use.exists() and unrelated.exists()
        assert (vdir / "score.json").exists()
    finally:
        alive.kill()
        alive.wait()
