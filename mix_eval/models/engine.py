"""The engine protocol: what generates for a Hugging Face model, whatever the backend.

The model decides what is asked: its tokenizer renders the chat template or five-shot
text, the input length it is cut to, the new tokens and decoding settings, and the
decoding of the answer. An engine only generates: it is started once for a model,
asked one batch of rendered prompts at a time, and closed at the end. Which engine a
name means is `mix_eval.engines.ENGINES`, the one table; `engine_class` reads it.

Every engine hands back the same `Generation` for the same new token ids
(`generations`): the text decoded as before, and what a model that thinks needs to be
judged fairly, the token counts and whether the answer stopped or ran out of tokens.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Protocol, Sequence, Union

from mix_eval.engines import ENGINES
from mix_eval.thinking import LENGTH

STOP = "stop"  # a generation's finish reason at a stop token (`LENGTH`: its tokens ran out), as OpenAI names them


@dataclass(frozen=True)
class Generation:
    """One prompt's new tokens: ``text`` (decoded without special tokens), ``token_ids``
    (up to and including the stop token), the prompt's length in tokens after truncation,
    and ``finish_reason``: `STOP` at a stop token, `LENGTH` when the tokens ran out. An
    engine that answers text alone leaves the rest unknown (None)."""

    text: str
    token_ids: Optional[tuple[int, ...]] = None
    prompt_tokens: Optional[int] = None
    finish_reason: Optional[str] = None

    @property
    def completion_tokens(self) -> Optional[int]:
        return None if self.token_ids is None else len(self.token_ids)


def as_generation(answer: Any) -> Generation:
    """An engine's answer as a `Generation` (an engine may answer a plain ``str``)."""
    return answer if isinstance(answer, Generation) else Generation(str(answer))


def stop_token_ids(generation_config: Any, gen_kwargs: dict[str, Any], tokenizer_eos: Optional[int]) -> list[int]:
    """The ids that end an answer, as transformers `generate` stops: the model's own
    settings' ``eos_token_id`` (one or several), else the checkpoint's generation config's,
    else the tokenizer's eos."""
    for source in (gen_kwargs.get("eos_token_id"), getattr(generation_config, "eos_token_id", None), tokenizer_eos):
        ids = _as_list(source)
        if ids:
            return sorted({int(i) for i in ids})
    return []


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def generations(tokenizer: Any, prompt_tokens: Sequence[int], new_tokens: Iterable[Sequence[int]],
                stop_ids: Iterable[int]) -> list["Generation"]:
    """Each prompt's new token ids as a `Generation`, cut after the first stop token (what
    follows is padding), decoded by the model's tokenizer without special tokens. Both
    engines call this, so the same ids give the same text, counts and finish reason."""
    stops = set(stop_ids)
    kept: list[tuple[int, ...]] = []
    finished: list[str] = []
    for ids in new_tokens:
        ids = [int(i) for i in ids]
        end = next((n for n, i in enumerate(ids) if i in stops), None)
        kept.append(tuple(ids if end is None else ids[:end + 1]))
        finished.append(LENGTH if end is None else STOP)
    texts = tokenizer.batch_decode([list(ids) for ids in kept], skip_special_tokens=True)
    return [Generation(text, ids, int(n), reason)
            for text, ids, n, reason in zip(texts, kept, prompt_tokens, finished)]


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

    def answer(self, model: Any, texts: list[str]) -> list[Union[Generation, str]]:
        """One `Generation` per rendered prompt (made by `generations`), or its text alone:
        cut to ``model.max_input_length_closeend`` tokens, ``model.closeended_max_new_tokens``
        new tokens decoded with ``model.gen_kwargs``."""

    def close(self) -> None:
        """Release the weights and any processes."""


def engine_class(name: str) -> Any:
    """The class implementing the engine named ``name`` in `ENGINES` (imported now)."""
    entry = ENGINES[name]
    return getattr(importlib.import_module(entry.module), entry.cls)
