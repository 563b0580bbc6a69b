"""Engines behind one interface (`mix_eval.engines`, `mix_eval.models.engine`), without vLLM running.

* An engine is one class and one table entry: a third one, defined here, generates a
  whole run through ``python -m mix_eval.evaluate``'s entry point.
* A response folder is bound to the engine that wrote it, both ways, and a status file
  from before ``--backend`` existed means ``hf`` (issue 19, proof e).
* ``--gpu_memory_utilization`` and ``--max_model_len`` reach the constructor of vLLM's
  ``LLM`` (a stand-in records its arguments), so a flag dropped on the way fails (proof g).
"""
from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import read_jsonl

from mix_eval.engines import DEFAULT_ENGINE, ENGINES, EngineEntry
from mix_eval.evaluate import main as evaluate_main
from mix_eval.models.engine import engine_class
from mix_eval.models.vllm_engine import VLLMEngine

VERSION = "2024-06-01"
SPLIT = "close_freeform_hard"


def argv(checkpoint: Path, data_path: Path, out: Path, *extra: str) -> list[str]:
    return ["--model_name", "local_chat", "--model_path", str(checkpoint), "--benchmark", "mixeval_hard",
            "--version", VERSION, "--batch_size", "4", "--max_new_tokens", "2", "--limit", "4",
            "--data_path", str(data_path), "--output_dir", str(out), "--inference_only", *extra]


def split_files(out: Path) -> tuple[Path, Path]:
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    return vdir / f"local_chat_{SPLIT}.jsonl", vdir / f"status_{SPLIT}.json"


class EchoEngine:
    """A third engine, as a user would add one: it answers each prompt with its length."""

    weights = None
    max_positions = 2048
    started: list[Any] = []

    @classmethod
    def check_available(cls) -> None:
        pass

    @classmethod
    def start(cls, model: Any) -> "EchoEngine":
        cls.started.append(model.model_name)
        return cls()

    def batch_size(self, requested: int) -> int:
        return 3

    def answer(self, model: Any, texts: list[str]) -> list[str]:
        assert len(texts) <= 3
        return [f"echo {len(model.tokenizer(t)['input_ids'])}" for t in texts]

    def close(self) -> None:
        pass


def test_every_engine_in_the_table_offers_the_protocol():
    assert DEFAULT_ENGINE in ENGINES
    for name in ENGINES:
        cls = engine_class(name)
        for method in ("check_available", "start", "batch_size", "answer", "close"):
            assert callable(getattr(cls, method, None)), (name, method)


def test_a_third_engine_is_one_class_and_one_table_entry(tiny_chat, data_path, tmp_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "echo", EngineEntry(__name__, "EchoEngine", "echo"))
    monkeypatch.setattr(EchoEngine, "started", [])
    out = tmp_path / "out"
    assert evaluate_main(argv(tiny_chat, data_path, out, "--backend", "echo")) == 0
    assert EchoEngine.started == [str(tiny_chat)]  # one engine for the run, both splits
    responses, status = split_files(out)
    lines = read_jsonl(responses)
    assert sorted(r["id"] for r in lines) == ["0", "1", "2", "3"]
    assert all(r["response"].startswith("echo ") for r in lines)
    st = json.loads(status.read_text())
    assert st["args"]["backend"] == "echo"
    assert st["status"]["batch_id"] == 1  # the engine's batches of 3: 3 + 1


@pytest.fixture
def no_vllm_engine(monkeypatch) -> list[Any]:
    """``--backend vllm`` accepted without vLLM, and any start of its engine recorded."""
    starts: list[Any] = []

    def start(cls: type, model: Any) -> None:
        starts.append(model)
        raise AssertionError("the vLLM engine was started")

    monkeypatch.setattr(VLLMEngine, "check_available", classmethod(lambda cls: None))
    monkeypatch.setattr(VLLMEngine, "start", classmethod(start))
    return starts


def test_a_folder_is_bound_to_its_engine_both_ways(tiny_chat, data_path, tmp_path, capsys, no_vllm_engine):
    out = tmp_path / "out"
    assert evaluate_main(argv(tiny_chat, data_path, out)) == 0
    responses, status = split_files(out)
    first_two = "".join(responses.read_text().splitlines(keepends=True)[:2])
    st = json.loads(status.read_text())
    assert st["args"]["backend"] == "hf"

    def rewrite(backend: Any) -> None:
        responses.write_text(first_two)
        args = dict(st["args"])
        if backend is None:
            del args["backend"]
        else:
            args["backend"] = backend
        status.write_text(json.dumps({**st, "args": args}))

    def refused(*extra: str) -> str:
        capsys.readouterr()
        assert evaluate_main(argv(tiny_chat, data_path, out, *extra)) == 2
        assert responses.read_text() == first_two  # nothing added
        return capsys.readouterr().err

    # written by vLLM: an hf rerun is refused
    rewrite("vllm")
    assert "was written with --backend vllm, but this run has --backend hf" in refused()
    # written by hf: a vLLM rerun is refused, before its engine starts
    rewrite("hf")
    assert "was written with --backend hf, but this run has --backend vllm" in refused("--backend", "vllm")
    # written before --backend existed: hf's, so vLLM is refused and hf resumes
    rewrite(None)
    assert "was written with --backend hf, but this run has --backend vllm" in refused("--backend", "vllm")
    assert no_vllm_engine == []
    assert evaluate_main(argv(tiny_chat, data_path, out)) == 0
    lines = read_jsonl(responses)
    assert lines[:2] == [json.loads(x) for x in first_two.splitlines()]  # kept, not redone
    assert sorted(r["id"] for r in lines) == ["0", "1", "2", "3"]  # each id once
    assert json.loads(status.read_text())["args"]["backend"] == "hf"


def test_engine_settings_reach_vllm(tiny_chat, data_path, tmp_path, capsys, monkeypatch):
    """The flags, through the settings, the model and `EngineOptions`, to ``vllm.LLM(...)``."""
    made: list[dict[str, Any]] = []

    class LLM:  # vLLM's engine class, as the stand-in module offers it
        def __init__(self, **kwargs: Any):
            made.append(kwargs)
            raise RuntimeError("stand-in: no engine")

    vllm = types.ModuleType("vllm")
    vllm.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    vllm.LLM = LLM
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    for var in ("VLLM_CPU_KVCACHE_SPACE", "VLLM_LOGGING_LEVEL"):  # set by the engine: restored after
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    code = evaluate_main(argv(tiny_chat, data_path, tmp_path, "--backend", "vllm",
                              "--gpu_memory_utilization", "0.55", "--max_model_len", "300", "--dtype", "float32"))
    assert code == 2
    assert "vLLM could not start" in capsys.readouterr().err
    assert len(made) == 1
    assert made[0]["gpu_memory_utilization"] == 0.55
    assert made[0]["max_model_len"] == 300
    assert (made[0]["model"], made[0]["dtype"], made[0]["tensor_parallel_size"]) == (str(tiny_chat), "float32", 1)
