"""How a checkpoint is loaded on this machine: GPU or CPU, dtype, attention, context length.

Shared by the model classes (`mix_eval.models.base`) and the engines that load the
weights (`mix_eval.models.hf_engine`, `mix_eval.models.vllm_engine`), so both engines
make the same choices. torch is imported only when asked.
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Any, Optional

from mix_eval.errors import ModelError
from mix_eval.models.spec import MAX_INPUT_LENGTH

logger = logging.getLogger(__name__)


def torch_module() -> Any:
    import torch

    return torch


def cuda_available() -> bool:
    try:
        return torch_module().cuda.is_available()
    except Exception:  # a broken CUDA install must not stop a CPU run
        return False


def flash_attention_usable() -> bool:
    """flash_attention_2 needs the flash_attn package and a GPU."""
    return cuda_available() and importlib.util.find_spec("flash_attn") is not None


def resolve_attn_implementation(requested: Optional[str]) -> Optional[str]:
    """The ``attn_implementation`` to load with (None: transformers' default).

    ``flash_attention_2`` only where it can run, a GPU with the flash_attn package;
    elsewhere the default attention. Any other choice is kept as asked.
    """
    if requested == "flash_attention_2" and not flash_attention_usable():
        logger.info("flash_attention_2 needs flash_attn and a GPU; using the default attention")
        return None
    return requested


def resolve_dtype(requested: Optional[str], spec_dtype: Any, on_gpu: bool) -> Any:
    """The dtype to load with.

    ``--dtype`` wins. Otherwise the model's own dtype on a GPU, and float32 on a CPU
    (bfloat16 generation measured 2.5x slower than float32 on CPUs).
    """
    torch = torch_module()
    choice = requested or (spec_dtype if on_gpu else "float32")
    if choice == "auto" or choice is None:
        return "auto"
    if isinstance(choice, str):
        try:
            dtype = getattr(torch, choice)
        except AttributeError:
            raise ModelError(f"unknown dtype {choice!r}: use auto, float32, bfloat16 or float16") from None
        if not isinstance(dtype, torch.dtype):
            raise ModelError(f"unknown dtype {choice!r}: use auto, float32, bfloat16 or float16")
        return dtype
    return choice


def max_positions(config: Any) -> int:
    """A checkpoint's context length, from its config (`MAX_INPUT_LENGTH` when it says none)."""
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    text_config = getattr(config, "text_config", None)
    if text_config is not None and getattr(text_config, "max_position_embeddings", None):
        return text_config.max_position_embeddings
    return MAX_INPUT_LENGTH


def run_setting(args: Any, name: str, default: Any = None) -> Any:
    """A setting by flag name; tolerant, since a reference-style model may be built by hand."""
    return getattr(args, name, default) if args is not None else default
