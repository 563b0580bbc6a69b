"""How a Hugging Face model is loaded: the dtype (`--dtype`; float32 on a CPU unless
asked) and the attention (flash attention only with a GPU AND the flash_attn package).

The choices are tested where they are made (`resolve_dtype`,
`resolve_attn_implementation`) with the availability probes injected
(`torch.cuda.is_available`, `importlib.util.find_spec`), and end to end by loading a
real tiny checkpoint as `local_chat`, whose catalog entry asks for bfloat16 and
flash attention (the reference's settings).
"""
from __future__ import annotations

import importlib.machinery
import json
import importlib.util
import shutil
from pathlib import Path
from typing import Any, Optional

import pytest
import torch

from mix_eval.api.registry import get_model
from mix_eval.errors import ModelError
from mix_eval.models.loading import resolve_attn_implementation, resolve_dtype
from mix_eval.settings import GenerationSettings, ModelSettings

_real_find_spec = importlib.util.find_spec


def set_probes(monkeypatch, *, gpu: bool, flash_attn: bool) -> None:
    """Make the machine look as asked: CUDA present or not, flash_attn installed or not."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)

    def find_spec(name: str, package: Optional[str] = None):
        if name == "flash_attn" or name.startswith("flash_attn."):
            return importlib.machinery.ModuleSpec(name, loader=None) if flash_attn else None
        return _real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def load_local_chat(path: Path, dtype: Optional[str] = None) -> Any:
    """`local_chat` loaded as `python -m mix_eval.evaluate` loads it."""
    settings = ModelSettings("local_chat", model_path=str(path),
                             generation=GenerationSettings(max_new_tokens=1, dtype=dtype))
    return get_model("local_chat")(settings)


@pytest.fixture(scope="module")
def bf16_chat(tiny_chat, tmp_path_factory) -> Path:
    """The tiny chat checkpoint with its weights stored in bfloat16 (config dtype bfloat16)."""
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("tiny-chat-bf16")
    AutoModelForCausalLM.from_pretrained(tiny_chat, dtype=torch.bfloat16).save_pretrained(out)
    for f in tiny_chat.iterdir():
        if f.is_file() and not (out / f.name).exists():
            shutil.copy(f, out / f.name)
    assert json.loads((out / "config.json").read_text()).get("dtype") == "bfloat16"
    return out


# ---------------------------------------------------------------- the choices


@pytest.mark.parametrize("gpu, flash_attn, expected", [
    (True, True, "flash_attention_2"),
    (True, False, None),
    (False, True, None),
    (False, False, None),
])
def test_flash_attention_only_with_a_gpu_and_flash_attn(monkeypatch, gpu, flash_attn, expected):
    """flash_attention_2 is asked for only when CUDA is available and flash_attn importable."""
    set_probes(monkeypatch, gpu=gpu, flash_attn=flash_attn)
    assert resolve_attn_implementation("flash_attention_2") == expected
    # a model that asks for no flash attention is loaded as it asks, wherever it runs
    assert resolve_attn_implementation(None) is None
    assert resolve_attn_implementation("sdpa") == "sdpa"
    assert resolve_attn_implementation("eager") == "eager"


@pytest.mark.parametrize("requested, model_dtype, on_gpu, expected", [
    (None, "bfloat16", False, torch.float32),   # CPU default: float32 whatever the model's
    (None, "auto", False, torch.float32),
    (None, "bfloat16", True, torch.bfloat16),   # GPU default: the model's own
    (None, "auto", True, "auto"),
    ("bfloat16", "auto", False, torch.bfloat16),  # --dtype wins, on a CPU too
    ("float16", "bfloat16", True, torch.float16),
    ("float32", "bfloat16", True, torch.float32),
    ("auto", "bfloat16", False, "auto"),
])
def test_dtype_choice(requested, model_dtype, on_gpu, expected):
    """--dtype wins; else the model's dtype on a GPU and float32 on a CPU."""
    assert resolve_dtype(requested, model_dtype, on_gpu) == expected


def test_an_unknown_dtype_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown dtype 'float8'"):
        resolve_dtype("float8", "auto", False)


# ---------------------------------------------------------------- a real load


def test_cpu_default_is_float32_for_a_bfloat16_checkpoint(bf16_chat, monkeypatch):
    """local_chat asks for bfloat16 and the checkpoint is bfloat16: a CPU still gets float32,
    and flash attention is not asked for even though flash_attn is 'installed'."""
    set_probes(monkeypatch, gpu=False, flash_attn=True)
    model = load_local_chat(bf16_chat)
    params = list(model.model.parameters())
    assert {p.dtype for p in params} == {torch.float32}
    assert model.model.device.type == "cpu"
    assert model.model.config._attn_implementation != "flash_attention_2"
    assert len(model.respond(["What is 2+2?"])) == 1


def test_dtype_bfloat16_on_cpu_gives_bfloat16_weights(tiny_chat, monkeypatch):
    """`--dtype bfloat16` is honoured on a CPU (the float32 checkpoint is cast) and generates."""
    set_probes(monkeypatch, gpu=False, flash_attn=False)
    model = load_local_chat(tiny_chat, dtype="bfloat16")
    assert {p.dtype for p in model.model.parameters()} == {torch.bfloat16}
    assert model.model.config._attn_implementation != "flash_attention_2"
    (answer,) = model.respond(["What is 2+2?"])
    assert isinstance(answer, str)
