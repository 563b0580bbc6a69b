"""Shared helpers of the fault-injection suite (tests/faults), beside conftest's (judges,
response folders, child processes: re-exported here): response and judged file names,
snapshots of output folders, runs that are killed at a chosen moment, and assertions on
error messages.

The fixtures `tiny_chat`, `data_path`, `clean_env` and `server` come from
tests/conftest.py (pytest applies it to this folder too). pytest imports that conftest
first, with tests/ put on ``sys.path``, so ``conftest`` and ``fake_openai_server`` import
here by name; this module is imported as `helpers`, so it must keep a name no other test
folder uses.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from conftest import (  # noqa: F401 (re-exported)
    API_SETTINGS, AT_ONCE_S, DATA, JUDGE_KEY, REF_RESPONSES, REPO, answer_or_judge, between, child_env, count_lines,
    fake_server, free_ports, is_judge_request, judge_reply, judged_answer, make_responses, quick_client, read_jsonl,
    wait_until,
)
from conftest import clear_api_settings as clean_env  # noqa: F401 (re-exported)
from fake_openai_server import Fault, FakeOpenAIServer  # noqa: F401

VERSION = "2024-06-01"
JUDGE = "gpt-3.5-turbo-0125"
FF_JUDGED = f"judge_results_ff_model_judge_{JUDGE}.jsonl"
MP_JUDGED = f"judge_results_mp_model_judge_{JUDGE}.jsonl"


# ---------------------------------------------------------------- response folders


def response_file(vdir: Path, model: str, kind: str) -> Path:
    hard = "_hard" if vdir.parent.name == "mixeval_hard" else ""
    split = "close_freeform" if kind == "ff" else "close_multichoice"
    return vdir / f"{model}_{split}{hard}.jsonl"


def cm_args(root: Path, server: FakeOpenAIServer, *extra: str, benchmark: str = "mixeval_hard",
            parallel: int = 8) -> list[str]:
    """compute_metrics arguments for a model-judge run against `server`."""
    return ["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
            "--api_base_url", server.base_url, "--api_parallel_num", str(parallel), *extra]


def by_id(records: Iterable[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        assert str(r["id"]) not in out, f"id {r['id']} appears twice"
        out[str(r["id"])] = r
    return out


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root (hidden files included; left out:
    the folder locks `.mix_eval.lock`, as taking a lock is not writing results, and the
    `.<name>.tmp-<pid>` of an atomic write in progress in a live run, which comes and goes)."""
    if not root.exists():
        return {}
    found = {}
    for p in sorted(root.rglob("*")):
        if p.name == ".mix_eval.lock" or ".tmp-" in p.name:
            continue
        try:
            found[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        except (IsADirectoryError, FileNotFoundError):
            continue
    return found


def scoring_state(root: Path, model: str, benchmark: str = "mixeval_hard") -> dict:
    """What scoring produced, independent of line order: judged lines by id, the scores.
    (Judged lines are in the order of the round that judged them, as in the reference, so
    a request that failed and was judged a round later moves to the end.)"""
    vdir = root / model / benchmark / VERSION
    return {FF_JUDGED: by_id(read_jsonl(vdir / FF_JUDGED)), MP_JUDGED: by_id(read_jsonl(vdir / MP_JUDGED)),
            "score.json": json.loads((vdir / "score.json").read_text()),
            "run score.json": json.loads((root / "score.json").read_text())}


def results_of(root: Path, model: str, benchmark: str = "mixeval_hard") -> dict[str, bytes]:
    """The files a scoring run produces: judged files and both score.json."""
    vdir = root / model / benchmark / VERSION
    names = [FF_JUDGED, MP_JUDGED, "judge_results_ff_rule.jsonl", "judge_results_mp_rule.jsonl", "score.json"]
    out = {n: (vdir / n).read_bytes() for n in names if (vdir / n).exists()}
    if (root / "score.json").exists():
        out["run score.json"] = (root / "score.json").read_bytes()
    return out


# ---------------------------------------------------------------- environment and messages


def subprocess_env(**extra: str) -> dict[str, str]:
    """`child_env` without `API_SETTINGS` (but those in ``extra``), datasets offline too."""
    env = child_env(HF_DATASETS_OFFLINE="1")
    return {**{k: v for k, v in env.items() if k not in API_SETTINGS}, **extra}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error" in line.lower()]


def assert_one_clear_error(stderr: str, *needles: str) -> str:
    """Exactly one error line, starting 'mix_eval: Error: ', naming every needle; no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("mix_eval: Error: ")]
    assert len(errors) == 1, stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


# ---------------------------------------------------------------- killing runs


@dataclass
class Kill:
    """One planned kill: when `progress()` reaches `target`, wait `delay` s, send `sig`."""

    target: int
    delay: float
    sig: int
    phase: str = ""
    progress_at_kill: Optional[int] = None
    landed: bool = False  # the process was still running when the signal was sent
    returncode: Optional[int] = None

    def planned(self) -> str:
        return f"{signal.Signals(self.sig).name} {self.phase} target {self.target} +{self.delay * 1000:.0f} ms"

    def describe(self) -> str:
        name = signal.Signals(self.sig).name
        where = f"at {self.progress_at_kill}" if self.landed else "missed: the run had ended"
        return f"{name} {self.phase} target {self.target} +{self.delay * 1000:.0f} ms ({where}, rc {self.returncode})"


def run_and_kill(cmd: list[str], kill: Kill, progress: Callable[[], int], *, env: dict, cwd: Path,
                 log: Path, timeout: float = 180.0) -> Kill:
    """Start `cmd`, send the signal once progress reaches the target (or at once when it
    already has), and wait for the process to end. A SIGINT run that does not stop
    within 30 s is killed (counted against it by the caller's checks)."""
    target = max(kill.target, progress() + 1)
    with open(log, "ab") as out:
        out.write(f"\n==== {' '.join(cmd[2:4])} planned {kill.planned()}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, cwd=cwd)
        try:
            deadline = time.time() + timeout
            while proc.poll() is None and time.time() < deadline and progress() < target:
                time.sleep(0.002)
            if kill.delay:
                time.sleep(kill.delay)
            kill.progress_at_kill = progress()
            if proc.poll() is None:
                kill.landed = True
                os.kill(proc.pid, kill.sig)
            try:
                kill.returncode = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                kill.returncode = proc.wait()
                out.write(b"\n==== did not stop within 30 s of the signal; killed\n")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return kill


# ---------------------------------------------------------------- evaluate with the tiny model


EVAL_LIMIT = 10  # items per split
EVAL_SPLITS = ("close_freeform_hard", "close_multichoice_hard")


def evaluate_cmd(model: Path, data: Path, out: Path, judge_url: Optional[str], *extra: str) -> list[str]:
    """`python -m mix_eval.evaluate` on the tiny checkpoint: greedy, EVAL_LIMIT items per
    split, judged by the loopback judge at `judge_url` (None: --inference_only)."""
    cmd = [sys.executable, "-m", "mix_eval.evaluate", "--model_name", "local_chat", "--model_path", str(model),
           "--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "2", "--data_path", str(data),
           "--output_dir", str(out), "--limit", str(EVAL_LIMIT), "--max_new_tokens", "6", *extra]
    if judge_url is None:
        return cmd + ["--inference_only"]
    return cmd + ["--api_base_url", judge_url, "--api_parallel_num", "4"]


def evaluate_state(out: Path, judged: bool = True) -> dict:
    """Everything an evaluate run leaves that must not depend on interruptions."""
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    state: dict = {s: by_id(read_jsonl(vdir / f"local_chat_{s}.jsonl")) for s in EVAL_SPLITS}
    state["status"] = [json.loads((vdir / f"status_{s}.json").read_text())["status"]["status"] for s in EVAL_SPLITS]
    if judged:
        state.update({name: by_id(read_jsonl(vdir / name)) for name in (FF_JUDGED, MP_JUDGED)})
        state["score.json"] = json.loads((vdir / "score.json").read_text())
        state["run score.json"] = json.loads((out / "score.json").read_text())
    return state


_CLEAN_EVALUATE: dict = {}


def clean_evaluate(model: Path, data: Path, tmp_path_factory) -> dict:
    """The state of one uninterrupted, judged evaluate run (made once per session)."""
    if "state" not in _CLEAN_EVALUATE:
        out = tmp_path_factory.mktemp("evaluate-clean")
        with FakeOpenAIServer(reply=judge_reply) as server:
            proc = subprocess.run(evaluate_cmd(model, data, out, server.base_url), capture_output=True, text=True,
                                  env=subprocess_env(MODEL_PARSER_API=JUDGE_KEY), cwd=out, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        _CLEAN_EVALUATE["state"] = evaluate_state(out)
    return _CLEAN_EVALUATE["state"]


def limit_file_size(nbytes: int) -> Callable[[], None]:
    """preexec_fn: no file of the child may grow past nbytes (a full disk, simulated).
    SIGXFSZ is ignored, so a write past the limit fails with EFBIG instead of killing."""
    def preexec() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return preexec
