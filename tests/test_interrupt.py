"""Ctrl-C: the first finishes the work in hand and saves it, the second stops at once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import AT_ONCE_S, JUDGE_KEY, REPO, child_env, make_responses, read_jsonl, wait_until
from fake_openai_server import FakeOpenAIServer

VERSION = "2024-06-01"


def lines(path: Path) -> list[dict]:
    return read_jsonl(path) if path.exists() else []


def run_python(code: str) -> subprocess.CompletedProcess:
    """``python -c code`` in this checkout; it must end without a traceback or a KeyboardInterrupt."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(),
                            cwd=REPO, timeout=60)
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, result.stderr
    return result


def gen_cmd(tiny_chat: Path, data_path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "mix_eval.evaluate", "--model_name", "local_chat", "--model_path", str(tiny_chat),
            "--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "3", "--data_path", str(data_path),
            "--output_dir", str(out), "--inference_only", "--limit", "30", "--max_new_tokens", "12"]


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_generation(tiny_chat, data_path, tmp_path, presses):
    out = tmp_path / "out"
    ff = out / "local_chat" / "mixeval_hard" / VERSION / "local_chat_close_freeform_hard.jsonl"
    proc = subprocess.Popen(gen_cmd(tiny_chat, data_path, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env(), cwd=REPO)
    wait_until(lambda: len(lines(ff)) >= 6, proc)
    written = len(lines(ff))
    for _ in range(presses):
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.001)
    _, err = proc.communicate(timeout=2 * AT_ONCE_S)
    # it stopped there, not at the end of the 30 items: at most the batch in hand and one
    # that ended while the presses were on their way (counted, not timed: a loaded machine
    # only slows both)
    assert len(lines(ff)) <= written + 2 * 3
    assert proc.returncode == 130
    assert "rerun the same command" in err and "Traceback" not in err
    if presses == 1:
        assert "stopping after the work in hand" in err
        assert len(lines(ff)) % 3 == 0  # whole batches only
    status = json.loads((ff.parent / "status_close_freeform_hard.json").read_text())
    assert status["status"]["status"] == "in progress"
    rerun = subprocess.run(gen_cmd(tiny_chat, data_path, out), capture_output=True, text=True, env=child_env(),
                           cwd=REPO, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    ids = [x["id"] for x in lines(ff)]
    assert len(ids) == len(set(ids)) == 30


def test_ctrl_c_between_the_end_of_the_work_and_the_exit_is_quiet(tmp_path):
    """The first Ctrl-C stops the run; the second can land after the command's two-stage
    handler is gone and before the process exits. It must end the process with 130, not a
    traceback and a death by signal (found as a flaky test_ctrl_c_during_generation[2])."""
    code = (
        "import os, signal, time\n"
        "from mix_eval.cli.process import run_command, run_process\n"
        "def main():\n"
        f"    status = run_command(lambda: None, log_dir={str(tmp_path)!r}, context='test', saved='saved')\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # the work's handler is gone\n"
        "    time.sleep(1)\n"
        "    print('main went on after the Ctrl-C')\n"
        "    return status\n"
        "run_process(main)\n"
    )
    result = run_python(code)
    assert result.returncode == 130, result.stderr
    assert "main went on" not in result.stdout


def test_ctrl_c_after_the_exit_handlers_does_not_kill_the_process_by_signal():
    """Python stops handling signals before it tears its modules down (torch's teardown takes
    a while): a second Ctrl-C that lands then must not kill the process by signal (status
    -2 instead of the command's). Found as a flaky test_ctrl_c_during_generation[2]: the
    first press had already stopped the run when the second arrived."""
    code = (
        "import os, signal, time\n"
        "from mix_eval.cli.process import exit_process\n"
        "class LateTeardown:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(1)\n"
        "keep = LateTeardown()  # torn down with __main__, after signals are no longer handled\n"
        "print('work saved', flush=False)\n"
        "exit_process(3)\n"
    )
    result = run_python(code)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "work saved\n"


def test_ctrl_c_during_judging_keeps_every_paid_judgment(tmp_path, monkeypatch):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model")
    with FakeOpenAIServer(reply=lambda body: "[[1.0]] [[A]]", latency=0.02) as server:
        cmd = [sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", VERSION,
               "--model_response_dir", str(root), "--api_base_url", server.base_url, "--api_parallel_num", "8"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=child_env(MODEL_PARSER_API=JUDGE_KEY), cwd=tmp_path)
        wait_until(lambda: len(server.chat_requests()) >= 150, proc)
        before = len(server.chat_requests())
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=2 * AT_ONCE_S)
        assert proc.returncode == 130 and "Traceback" not in err
        asked = len(server.chat_requests())
        # it stopped asking at the press, not at the end of the 1000: the 8 in flight, and
        # those sent while the signal was on its way (counted, not timed)
        assert asked - before <= 8 + 24, (before, asked)
        journal = vdir / ".journal_judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl"
        journaled = len(journal.read_text().splitlines())
        assert asked - journaled <= 8  # at most the requests in flight were not kept
        rerun = subprocess.run(cmd, capture_output=True, text=True, env=child_env(MODEL_PARSER_API=JUDGE_KEY),
                               cwd=tmp_path, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert len(server.chat_requests()) <= 1000 + 8
    scores = json.loads((vdir / "score.json").read_text())
    assert scores["overall"] == pytest.approx(0.5 * 1.0 + 0.5 * _mp_share_a(vdir))


def _mp_share_a(vdir: Path) -> float:
    """The multiple-choice score when the judge always answers A."""
    mp = read_jsonl(vdir / "my_model_close_multichoice_hard.jsonl")
    return round(sum(1 for x in mp if x["target"][0] == 0) / len(mp), 3)


def test_ctrl_c_while_the_interpreter_shuts_down_is_quiet():
    """A second Ctrl-C can land after the command's work is saved, while exit handlers run
    (torch's take a while): it ends the process with the command's status, no traceback."""
    code = (
        "import atexit, os, signal, time\n"
        "from mix_eval.cli.process import exit_process\n"
        "def late_handler():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)\n"
        "    print('exit handler finished')\n"
        "atexit.register(late_handler)\n"
        "print('work saved', flush=False)\n"
        "exit_process(3)\n"
    )
    result = run_python(code)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "work saved\n"  # flushed before the quick exit; the handler did not go on
