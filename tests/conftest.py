"""Shared fixtures: the benchmark material in ../shared and tiny real checkpoints."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MIX_EVAL_SHARED", REPO.parent / "shared"))
DATA = SHARED / "mixeval-data"
REFERENCE = SHARED / "reference"
REF_RESPONSES = REFERENCE / "model_responses" / "gemma_11_7b_instruct"


def need_shared(path: Path = SHARED) -> Path:
    """Skip (with the reason) when the benchmark material is not beside the repo."""
    if not path.exists():
        pytest.skip(f"benchmark material not found at {path} (set MIX_EVAL_SHARED to its folder)")
    return path


@pytest.fixture(scope="session")
def data_path() -> Path:
    return need_shared(DATA)


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
