"""One module per vendor SDK behind the `Provider` protocol (`base`): `openai` (also
Azure OpenAI and any OpenAI-compatible server), `anthropic`, `gemini`, `reka`; and
`PROVIDERS`, the registry by which judges and API models alike pick one by name.

A factory imports its module only when called, and each module imports its SDK only
when a client first uses it, so importing this package loads no SDK.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from mix_eval.llm.providers.base import Provider

__all__ = ["PROVIDERS", "make_provider"]


def _openai() -> "Provider":
    from mix_eval.llm.providers.openai import OpenAIProvider

    return OpenAIProvider()


def _anthropic() -> "Provider":
    from mix_eval.llm.providers.anthropic import AnthropicProvider

    return AnthropicProvider()


def _gemini() -> "Provider":
    from mix_eval.llm.providers.gemini import GeminiProvider, vertex_settings

    return GeminiProvider(vertex=vertex_settings())


def _reka() -> "Provider":
    from mix_eval.llm.providers.reka import RekaProvider

    return RekaProvider()


# name -> a new `Provider`; the names are those judge_report.json and known_judges use.
PROVIDERS: dict[str, Callable[[], "Provider"]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "reka": _reka,
}


def make_provider(name: str) -> "Provider":
    """The `Provider` registered as ``name``."""
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"no provider named {name!r}; known: {', '.join(PROVIDERS)}") from None
    return factory()
