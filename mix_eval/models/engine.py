"""The engine protocol: what generates for a Hugging Face model, whatever the backend.

The model decides what is asked: its tokenizer renders the chat template or five-shot
text, the input length it is cut to, the new tokens and decoding settings, and the
decoding of the answer. An engine only generates: it is started once for a model,
asked one batch of rendered prompts at a time, and closed at the end. Which engine a
name means is `mix_eval.engines.ENGINES`, the one table; `engine_class` reads it.
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol

from mix_eval.engines import ENGINES


class Engine(Protocol):
    """A started engine of one model (``model`` below: a `mix_eval.models.base` Hugging Face
    model, whose attributes are the reference's)."""

    #: the transformers model when the engine holds the weights in this process, else None
    weights: Any
    #: the checkpoint's context length, from its config
    max_positions: int

    @classmethod
    def check_available(cls) -> None:
        """Raise a `ModelError` saying how to install what the engine needs, if it is missing."""

    @classmethod
    def start(cls, model: Any) -> "Engine":
        """Load the model's checkpoint (``model.model_name``, its revision, dtype and settings)."""

    def batch_size(self, requested: int) -> int:
        """How many prompts `answer` gets at once for a ``--batch_size`` of ``requested``."""

    def answer(self, model: Any, texts: list[str]) -> list[str]:
        """One response per rendered prompt: cut to ``model.max_input_length_closeend`` tokens,
        ``model.closeended_max_new_tokens`` new tokens decoded with ``model.gen_kwargs``,
        decoded by ``model.tokenizer`` without special tokens."""

    def close(self) -> None:
        """Release the weights and any processes."""


def engine_class(name: str) -> Any:
    """The class implementing the engine named ``name`` in `ENGINES` (imported now)."""
    entry = ENGINES[name]
    return getattr(importlib.import_module(entry.module), entry.cls)
