"""Common fixtures and helpers: the packaged benchmark data, the reference's files kept
under tests/fixtures, tiny real checkpoints, the reference's response files under another
model name, deterministic judges (one, several told apart by the request's model, or a
judge and a model under evaluation on one server), the loopback API server (`server`,
`fake_server`), an environment without API settings (`clean_env`), and child processes
(`run_module`, `child_env`, `wait_until`). Nothing here reads outside the repository.

pytest imports this file with its folder first on ``sys.path`` (rootdir-relative
"prepend" import mode, no ``__init__.py``), so test modules here and in tests/faults
import it as ``conftest``, the fake server as ``fake_openai_server`` (the package
tests/fakes behind it) and the browser as ``browser``."""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import pytest
from fake_openai_server import FakeOpenAIServer

REPO = Path(__file__).resolve().parents[1]
# The benchmark as the package ships it (both versions, both benchmarks).
DATA = REPO / "mix_eval" / "data"
# Files of the reference suite: its protocol strings, its model catalog and the
# responses of gemma-1.1-7b-instruct it generated.
REFERENCE = REPO / "tests" / "fixtures" / "reference"
REF_RESPONSES = REFERENCE / "model_responses" / "gemma_11_7b_instruct"
# Every variable that could give a test a key, an endpoint or another judge or provider
# route from the developer's shell.
API_SETTINGS = (
    "MODEL_PARSER_API", "OPENAI_API_TYPE", "OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_API_VERSION",
    "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
    "k_oai", "k_g", "k_reka", "GOOGLE_GEMINI_BASE_URL", "REKA_BASE_URL", "GOOGLE_API_KEY", "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_API_VERSION", "REKA_API_KEY",
)


def make_responses(root: Path, model: str, benchmark: str = "mixeval_hard", n: Optional[int] = None,
                   version: str = "2024-06-01") -> Path:
    """The reference's gemma response files (first n lines) under another, unregistered
    model name; returns the version folder."""
    src = REF_RESPONSES / benchmark / version
    dst = root / model / benchmark / version
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.glob("*.jsonl")):
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        if n is not None:
            lines = lines[:n]
        (dst / f.name.replace("gemma_11_7b_instruct", model)).write_text("".join(lines), encoding="utf-8")
    return dst


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file as JSON (a blank or broken line fails the test)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def count_lines(path: Path) -> int:
    """Whole lines written so far (0 before the file exists)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def between(text: str, start: str, end: str) -> str:
    """The text between the last ``start`` and the next ``end``."""
    i = text.rindex(start) + len(start)
    return text[i:text.index(end, i)]


# ---------------------------------------------------------------- deterministic judges

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
JUDGE_KEY = "sk-test-secret-key-123"  # the judge's key (MODEL_PARSER_API) in every test


def judged_answer(body: dict) -> str:
    """The model's answer a judge request asks about."""
    return between(body["messages"][-1]["content"], "Model's Answer: ", "\nYour Judgment:")


def judge_reply(body: dict) -> str:
    """A deterministic judge. Free-form: right when a gold answer appears in the answer.
    Multiple-choice: a letter chosen by a hash of the answer. The same request always
    gets the same reply."""
    user = body["messages"][-1]["content"]
    answer = judged_answer(body)
    # the last item of the message is the one judged (the prompt's examples come first)
    if user.rfind("Golden Answer(s): ") > user.rfind("Options: \n"):
        golds = re.findall(r"<answer \d+> (.*?)(?=; <answer \d+> |$)",
                           between(user, "Golden Answer(s): ", "\nModel's Answer:"))
        score = "1.0" if any(g.lower() in answer.lower() for g in golds) else "0.0"
        return f"The answer is judged. The correctness score: [[{score}]]"
    block = between(user, "Options: \n", "\nModel's Answer:")
    n_options = len(re.findall(r"(?m)^[A-Z]\. ", block))
    letter = LETTERS[int(hashlib.md5(answer.encode()).hexdigest(), 16) % n_options]
    return f"The option chosen by the model: [[{letter}]]"


def gold_letter(line: dict) -> str:
    """The letter of a multiple-choice item's right option."""
    return LETTERS[line["target"][0]]


def judged_score(line: dict) -> float:
    """A model judge's judged line scored by hand: free-form, the judge's score;
    multiple-choice, 1 when the judge's option is the right one, else 0."""
    if "judge_score" in line:
        return float(line["judge_score"])
    return 1.0 if line["judge_option"] == gold_letter(line) else 0.0


def flip_verdict(reply: str) -> str:
    """A judge's reply with its verdict turned round: free-form [[1.0]] <-> [[0.0]];
    multiple-choice [[A]] -> [[B]], any other option -> [[A]]."""
    if reply.endswith(("[[1.0]]", "[[0.0]]")):
        return reply[:-7] + ("[[0.0]]" if reply.endswith("[[1.0]]") else "[[1.0]]")
    letter = re.search(r"\[\[([A-Z])\]\]$", reply)
    assert letter, f"no verdict at the end of {reply!r}"
    return reply[:letter.start()] + ("[[B]]" if letter.group(1) == "A" else "[[A]]")


def disagreeing_judge(body: dict) -> str:
    """A second judge: `judge_reply`, turned round (`flip_verdict`) for about a third of
    the answers, chosen by a hash of the answer."""
    reply = judge_reply(body)
    return reply if int(hashlib.sha256(judged_answer(body).encode()).hexdigest(), 16) % 3 else flip_verdict(reply)


def judges_by_model(judges: Mapping[str, Callable[[dict], Any]]) -> Callable[[dict], Any]:
    """One loopback endpoint serving several judges, told apart by the request's model
    (``{model: reply}``); a request for another model fails the test."""
    def reply(body: dict) -> Any:
        assert body.get("model") in judges, f"a request for {body.get('model')!r}, not one of {sorted(judges)}"
        return judges[body["model"]](body)
    return reply


def is_judge_request(body: dict) -> bool:
    user = body["messages"][-1]["content"]
    return "Model's Answer: " in user and "\nYour Judgment:" in user


def model_answer(body: dict) -> str:
    """A model under evaluation: a short answer made from a hash of the question, so that
    answers differ between items."""
    digest = hashlib.md5(body["messages"][-1]["content"].encode()).hexdigest()
    return f"The answer is {LETTERS[int(digest, 16) % 4]}."


def answer_or_judge(body: dict) -> str:
    """One server for an API model under evaluation and its judge: judge requests get
    `judge_reply`, model requests `model_answer`."""
    return judge_reply(body) if is_judge_request(body) else model_answer(body)


@pytest.fixture
def judge_env(monkeypatch, tmp_path):
    """A judge run's environment: the judge key, no Azure or base-URL variables from the
    developer's shell, fast batch polling, and ``tmp_path`` as the working folder (no
    stray .env)."""
    monkeypatch.setenv("MODEL_PARSER_API", JUDGE_KEY)
    monkeypatch.setenv("MIX_EVAL_BATCH_POLL_SECONDS", "0.01")
    for var in ("OPENAI_API_TYPE", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def quick_client(monkeypatch, **overrides) -> None:
    """Make every ChatClient of this process retry fast (tests must not sleep for minutes):
    6 retries 10-50 ms apart, 1 s request timeout, 15 s of 429s before giving up, unless
    overridden. Calling it again replaces the settings."""
    from mix_eval.llm.config import ClientConfig

    original = getattr(ClientConfig.__init__, "original_init", ClientConfig.__init__)
    settings = dict(max_retries=6, backoff_base=0.01, backoff_cap=0.05, rate_limit_timeout=15.0, timeout=1.0)
    settings.update(overrides)

    def init(self, *a, **k):
        k.update(settings)
        original(self, *a, **k)

    init.original_init = original  # type: ignore[attr-defined]
    monkeypatch.setattr(ClientConfig, "__init__", init)


@pytest.fixture
def no_refusal_pause(monkeypatch) -> None:
    """API judges ask a refused request again at once (the product pauses between refusals)."""
    from mix_eval.judges import api as judge_api

    original = judge_api.ApiJudge.__init__
    monkeypatch.setattr(judge_api.ApiJudge, "__init__",
                        lambda self, config, **kw: original(self, config, **{**kw, "blocked_pause": 0.0}))


@pytest.fixture(scope="session")
def data_path() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tiny_chat(tmp_path_factory) -> Path:
    """A tiny random Llama-style chat checkpoint (no pad token, a chat template)."""
    from mix_eval.models.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-chat"))


@pytest.fixture(scope="session")
def tiny_thinking(tmp_path_factory) -> Path:
    """A tiny random chat checkpoint that thinks: its template opens `<think>` (none with
    ``enable_thinking`` false), `<think>` and `</think>` are tokens of its own; head size
    64, so vLLM's CPU build runs it too."""
    from mix_eval.models.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-thinking"), hidden_size=128, num_attention_heads=2,
                                 num_key_value_heads=2, thinking=True, seed=3)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny random base checkpoint: no chat template."""
    from mix_eval.models.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-base"), chat_template=None, seed=1)


# The wall-clock bound of a run that must stop "at once" (a wrong key, a judge that is
# down): far above what a loaded 2-core machine takes (seconds), far below what the bugs it
# guards take (retrying for minutes, waiting out a hang). What such a test proves, it
# proves by counting requests or lines where it can; the bound only stops a runaway.
AT_ONCE_S = 60.0


# What every child run gets: no downloads, no tokenizer-thread warnings, output as it is written.
CHILD_ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with `CHILD_ENV` and ``extra``, for a child run."""
    return {**os.environ, **CHILD_ENV, **extra}


def run_module(module: str, *args: str, timeout: float = 300, env: dict | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m module args...` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, timeout=timeout, env=child_env(**(env or {})), cwd=cwd or REPO,
    )


def free_ports(n: int = 1) -> list[int]:
    """``n`` distinct loopback ports that nothing listens on now (each held until all are found)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until ``condition()`` holds while ``proc`` runs; the test fails when the process
    ends first (the deadline only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before it got there"
    assert condition(), f"the run did not get there within {timeout} s"


def kill_at_each_point(server: Any, points: Any, start: Callable[[], subprocess.Popen]) -> int:
    """For each Batch API step ``(step, when, nth)`` of ``points``: start a run, SIGKILL it
    when the loopback server reaches that step (a run that ends first must have succeeded),
    and let the server go on. Returns how many kills landed."""
    kills = 0
    for step, when, nth in points:
        server.block_at(step, when, nth)
        proc = start()
        reached = False
        while proc.poll() is None and not reached:
            reached = server.blocked.wait(0.05)
        if reached:
            proc.kill()
            kills += 1
        proc.wait(timeout=60)
        server.release()
        assert reached or proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    return kills


def clear_api_settings(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    """No `API_SETTINGS` from the developer's shell; work in ``cwd`` (no stray .env)."""
    for var in API_SETTINGS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(cwd)


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> pytest.MonkeyPatch:
    """`clear_api_settings` in the test's tmp_path; returns monkeypatch to set what the test needs."""
    clear_api_settings(monkeypatch, tmp_path)
    return monkeypatch


def fake_server(*, scope: str = "function", **knobs: Any) -> Callable[..., Any]:
    """A `server` fixture: a `FakeOpenAIServer` with these knobs (``reply``, ``api_key``,
    ...) for each test, or for each module with ``scope="module"``. A test module that
    needs other knobs than the default says ``server = fake_server(reply=...)``. A reply
    function that raised errors the test at teardown (`fakes.core.ReplyError`)."""

    @pytest.fixture(scope=scope, name="server")
    def serve():
        with FakeOpenAIServer(**knobs) as s:
            yield s

    return serve


server = fake_server()  # the default: a deterministic text made from a hash of the messages


@pytest.fixture(autouse=True, scope="session")
def mutation_stats_stay_in_this_process():
    """Under tools/mutation.py, mutmut's first pass (MUTANT_UNDER_TEST=stats) records which
    test calls which function, in this process; a child run of the program would try to
    record too and cannot, so children get no such variable (they run the code unmutated)."""
    name = os.environ.get("MUTANT_UNDER_TEST")
    if name == "stats":
        del os.environ["MUTANT_UNDER_TEST"]
    yield
    if name == "stats":
        os.environ["MUTANT_UNDER_TEST"] = name
