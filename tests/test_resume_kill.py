"""Kill a real run at any moment; the rerun must finish with every item exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, child_env, count_lines, wait_until

VERSION = "2024-06-01"
LIMIT = 40
SPLITS = ("close_freeform_hard", "close_multichoice_hard")


def cli_args(model: Path, data: Path, out: Path, batch_size: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "mix_eval.evaluate", "--model_name", "local_chat", "--model_path", str(model),
        "--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", str(batch_size),
        "--data_path", str(data), "--output_dir", str(out), "--inference_only",
        "--limit", str(LIMIT), "--max_new_tokens", "12",
    ]


def vdir(out: Path) -> Path:
    return out / "local_chat" / "mixeval_hard" / VERSION


def responses(out: Path, split: str) -> list[dict]:
    path = vdir(out) / f"local_chat_{split}.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def run_to_end(model: Path, data: Path, out: Path, batch_size: int = 2) -> None:
    proc = subprocess.run(cli_args(model, data, out, batch_size), capture_output=True, text=True,
                          timeout=300, env=child_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]


def status_of(out: Path, split: str) -> str | None:
    try:
        return json.loads((vdir(out) / f"status_{split}.json").read_text())["status"]["status"]
    except FileNotFoundError:
        return None


def kill_when(model: Path, data: Path, out: Path, split: str, lines: int, extra_delay: float) -> None:
    """Start a run, SIGKILL it once `split` has `lines` lines (plus a delay), and check that
    the kill landed: the run died of the signal, at or past the planned point, with its
    work unfinished (a split short of lines or not marked complete)."""
    target = vdir(out) / f"local_chat_{split}.jsonl"
    proc = subprocess.Popen(cli_args(model, data, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=child_env(), cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and count_lines(target) < lines:
            time.sleep(0.002)
        if extra_delay:
            time.sleep(extra_delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        returncode = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The process is dead: the files are as the kill left them.
    at_kill = {s: (count_lines(vdir(out) / f"local_chat_{s}.jsonl"), status_of(out, s)) for s in SPLITS}
    assert returncode == -signal.SIGKILL, f"the kill missed: the run ended by itself (exit {returncode}), {at_kill}"
    assert at_kill[split][0] >= lines, at_kill
    assert any(n < LIMIT or status != "complete" for n, status in at_kill.values()), \
        f"killed after the run had done all its work: {at_kill}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_chat, data_path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("clean")
    run_to_end(tiny_chat, data_path, out)
    return {s: {d["id"]: d for d in responses(out, s)} for s in SPLITS}


def assert_complete_and_equal(out: Path, expected: dict) -> None:
    for split in SPLITS:
        lines = responses(out, split)
        ids = [d["id"] for d in lines]
        assert len(ids) == len(set(ids)) == LIMIT, f"{split}: {len(ids)} lines, {len(set(ids))} distinct"
        assert {d["id"]: d for d in lines} == expected[split]
        status = json.loads((vdir(out) / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete"


# (split, lines written before the kill, extra delay): early, mid-split, between
# splits and late, with delays that land the kill inside generate, inside the
# append, or between the append and the status update.
KILL_POINTS = [
    ("close_freeform_hard", 0, 0.0),
    ("close_freeform_hard", 1, 0.0),
    ("close_freeform_hard", 7, 0.003),
    ("close_freeform_hard", 20, 0.011),
    ("close_freeform_hard", 39, 0.0),
    ("close_multichoice_hard", 1, 0.0),
    ("close_multichoice_hard", 15, 0.007),
    ("close_multichoice_hard", 33, 0.001),
]


@pytest.mark.slow
@pytest.mark.parametrize("split, lines, delay", KILL_POINTS)
def test_sigkill_then_rerun_holds_every_item_once(tiny_chat, data_path, tmp_path, uninterrupted,
                                                   split, lines, delay):
    out = tmp_path / "out"
    kill_when(tiny_chat, data_path, out, split, lines, delay)
    run_to_end(tiny_chat, data_path, out)
    assert_complete_and_equal(out, uninterrupted)


@pytest.mark.slow
def test_killed_twice_with_other_batch_size(tiny_chat, data_path, tmp_path, uninterrupted):
    out = tmp_path / "out"
    kill_when(tiny_chat, data_path, out, "close_freeform_hard", 5, 0.0)
    kill_when(tiny_chat, data_path, out, "close_multichoice_hard", 3, 0.002)
    run_to_end(tiny_chat, data_path, out, batch_size=7)
    assert_complete_and_equal(out, uninterrupted)


@pytest.mark.slow
def test_torn_last_line_and_stale_status_are_recovered(tiny_chat, data_path, tmp_path, uninterrupted):
    """The on-disk states a kill can leave, made by hand: a half-written line, lines the
    status does not count yet, a status claiming completion of a file missing lines."""
    out = tmp_path / "out"
    run_to_end(tiny_chat, data_path, out)
    ff = vdir(out) / "local_chat_close_freeform_hard.jsonl"
    mc = vdir(out) / "local_chat_close_multichoice_hard.jsonl"
    data = ff.read_bytes()
    cut = data.rfind(b"\n", 0, len(data) // 2)
    ff.write_bytes(data[: cut + 1] + data[cut + 1: cut + 30])  # torn line at the end
    status = json.loads((vdir(out) / "status_close_freeform_hard.json").read_text())
    status["status"].update(status="in progress", batch_id=2)  # fewer batches than lines
    (vdir(out) / "status_close_freeform_hard.json").write_text(json.dumps(status))
    mc.write_bytes(b"".join(mc.read_bytes().splitlines(keepends=True)[:-5]))  # "complete" yet short
    run_to_end(tiny_chat, data_path, out)
    assert_complete_and_equal(out, uninterrupted)


@pytest.mark.slow
def test_response_file_without_status_is_refused(tiny_chat, data_path, tmp_path):
    out = tmp_path / "out"
    run_to_end(tiny_chat, data_path, out)
    (vdir(out) / "status_close_freeform_hard.json").unlink()
    proc = subprocess.run(cli_args(tiny_chat, data_path, out), capture_output=True, text=True, timeout=300,
                          env=child_env(), cwd=REPO)
    assert proc.returncode == 2
    assert "no status file" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_corrupt_middle_line_names_file_and_line(tiny_chat, data_path, tmp_path):
    out = tmp_path / "out"
    run_to_end(tiny_chat, data_path, out)
    ff = vdir(out) / "local_chat_close_freeform_hard.jsonl"
    lines = ff.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"id": "3", broken\n'
    ff.write_bytes(b"".join(lines))
    status = json.loads((vdir(out) / "status_close_freeform_hard.json").read_text())
    status["status"]["status"] = "in progress"
    (vdir(out) / "status_close_freeform_hard.json").write_text(json.dumps(status))
    proc = subprocess.run(cli_args(tiny_chat, data_path, out), capture_output=True, text=True, timeout=300,
                          env=child_env(), cwd=REPO)
    assert proc.returncode == 2
    assert f"{ff}, line 4" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_second_writer_on_the_same_folder_is_refused(tiny_chat, data_path, tmp_path, uninterrupted):
    out = tmp_path / "out"
    first = subprocess.Popen(cli_args(tiny_chat, data_path, out), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=child_env(), cwd=REPO)
    try:
        target = vdir(out) / "local_chat_close_freeform_hard.jsonl"
        wait_until(lambda: count_lines(target) >= 2, first)
        # Freeze the first run mid-generation (it keeps its lock), so it is still writing
        # however long the second takes to start; it goes on once the second is done.
        first.send_signal(signal.SIGSTOP)
        try:
            assert first.poll() is None, "the first run ended before it could be paused"
            assert sum(count_lines(vdir(out) / f"local_chat_{s}.jsonl") for s in SPLITS) < 2 * LIMIT
            second = subprocess.run(cli_args(tiny_chat, data_path, out), capture_output=True, text=True,
                                    timeout=300, env=child_env(), cwd=REPO)
        finally:
            first.send_signal(signal.SIGCONT)
        assert second.returncode == 2
        assert "another mix_eval run" in second.stderr and str(first.pid) in second.stderr
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert_complete_and_equal(out, uninterrupted)
