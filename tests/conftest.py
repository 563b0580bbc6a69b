"""Common fixtures: the packaged benchmark data, the reference's files kept under
tests/fixtures, tiny real checkpoints, the reference's response files under another
model name, a deterministic judge, the loopback API server (`server`, `fake_server`)
and an environment without API settings (`clean_env`). Nothing here reads outside the
repository.

pytest imports this file with its folder first on ``sys.path`` (rootdir-relative
"prepend" import mode, no ``__init__.py``), so test modules here and in tests/faults
import it as ``conftest`` and the fake server as ``fake_openai_server``."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

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


def between(text: str, start: str, end: str) -> str:
    """The text between the last ``start`` and the next ``end``."""
    i = text.rindex(start) + len(start)
    return text[i:text.index(end, i)]


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def judge_reply(body: dict) -> str:
    """A deterministic judge. Free-form: right when a gold answer appears in the answer.
    Multiple-choice: a letter chosen by a hash of the answer. The same request always
    gets the same reply."""
    user = body["messages"][-1]["content"]
    answer = between(user, "Model's Answer: ", "\nYour Judgment:")
    # the last item of the message is the one judged (the prompt's examples come first)
    if user.rfind("Golden Answer(s): ") > user.rfind("Options: \n"):
        golds = re.findall(r"<answer \d+> (.*?)(?=; <answer \d+> |$)",
                           between(user, "Golden Answer(s): ", "\nModel's Answer:"))
        score = "1.0" if any(g.lower() in answer.lower() for g in golds) else "0.0"
        return f"The answer is judged. The correctness score: [[{score}]]"
    block = between(user, "Options: \n", "\nModel's Answer:")
    n_options = len(re.findall(r"(?m)^[A-Z]\. ", block))
    letter = _LETTERS[int(hashlib.md5(answer.encode()).hexdigest(), 16) % n_options]
    return f"The option chosen by the model: [[{letter}]]"


JUDGE_KEY = "sk-test-secret-key-123"


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


@pytest.fixture(scope="session")
def data_path() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tiny_chat(tmp_path_factory) -> Path:
    """A tiny random Llama-style chat checkpoint (no pad token, a chat template)."""
    from mix_eval.utils.tiny_checkpoint import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-chat"))


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny random base checkpoint: no chat template."""
    from mix_eval.utils.tiny_checkpoint import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-base"), chat_template=None, seed=1)


def run_module(module: str, *args: str, timeout: float = 300, env: dict | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m module args...` in a fresh interpreter, as a user would."""
    full_env = dict(os.environ)
    full_env.setdefault("HF_HUB_OFFLINE", "1")
    full_env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd or REPO,
    )


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
    needs other knobs than the default says ``server = fake_server(reply=...)``."""

    @pytest.fixture(scope=scope, name="server")
    def serve():
        with FakeOpenAIServer(**knobs) as s:
            yield s

    return serve


server = fake_server()  # the default: a deterministic text made from a hash of the messages
