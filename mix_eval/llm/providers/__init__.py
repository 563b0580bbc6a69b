"""One module per vendor SDK behind the `Provider` protocol (`base`): `openai` (also
Azure OpenAI and any OpenAI-compatible server), `anthropic`, `gemini`, `reka`; and
`PROVIDERS`, the one table of providers, by which judges and API models alike pick one
by name and read what differs between them: the key's variable, the token-limit
parameter, the reasoning style's parameters, how a thinking budget and a reasoning
effort are sent, Batch API support, and whether an unknown model's request style may
switch. No other module compares a provider's name (`tests/test_providers_table.py`).

A factory imports its module only when called, and each module imports its SDK only
when a client first uses it, so importing this package loads no SDK.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from mix_eval.llm.providers.base import Provider

__all__ = ["AZURE", "OPENAI", "PROVIDERS", "ProviderEntry", "make_provider", "provider_entry"]

OPENAI = "openai"  # the provider of any OpenAI-compatible API, and the default
AZURE = "azure"  # OpenAI's provider on Azure, as the run manifest names it


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


def _anthropic_budget(budget: int, answer_tokens: int) -> dict[str, Any]:
    """Claude's manual extended thinking: ``max_tokens`` must exceed the budget, so it is
    the budget plus the answer's own tokens."""
    return {"thinking": {"type": "enabled", "budget_tokens": budget}, "max_tokens": budget + answer_tokens}


def _anthropic_effort(effort: str) -> dict[str, Any]:
    """Claude 4.6 and later: adaptive thinking at an effort."""
    return {"thinking": {"type": "adaptive"}, "output_config": {"effort": effort}}


def _gemini_budget(budget: int, answer_tokens: int) -> dict[str, Any]:
    """Gemini's thinking budget; the thought summaries come back as parts (kept apart)."""
    return {"thinking_config": {"thinking_budget": budget, "include_thoughts": True}}


def _openai_effort(effort: str) -> dict[str, Any]:
    return {"reasoning_effort": effort}


@dataclass(frozen=True)
class ProviderEntry:
    """What differs between providers, as data (see the module doc). Calling the entry
    makes a new `Provider`."""

    factory: Callable[[], "Provider"]
    key_var: str  # the key's variable of the provider's models, and of its judges unless openai_compatible
    token_param: str  # the reply's token limit in the classic style
    # OpenAI's protocol: its judges' key is MODEL_PARSER_API (or Azure's variables, `mix_eval.judges.api`),
    # and GET /models/{id} tells whether a model is still served
    openai_compatible: bool = False
    # the reasoning style (OpenAI's reasoning models): its token limit (None: no such style),
    # and the parameters it refuses, left out of its requests
    reasoning_token_param: Optional[str] = None
    reasoning_refuses: tuple[str, ...] = ()
    # --reasoning_effort and --thinking_budget as request parameters (None: the provider takes none)
    effort_params: Optional[Callable[[str], dict[str, Any]]] = None
    budget_params: Optional[Callable[[int, int], dict[str, Any]]] = None
    min_budget: int = 0  # the smallest thinking budget the provider takes
    text_format: Optional[dict[str, Any]] = None  # the reference's response_format, where it is sent
    batch_api: bool = False  # requests can go through the Batch API (--judge_mode / --model_mode batch)
    style_can_switch: bool = False  # an unknown model refusing one request style is asked in the other

    def __call__(self) -> "Provider":
        return self.factory()


# name -> entry; the names are those judge_report.json, the run manifest and known_judges use.
PROVIDERS: dict[str, ProviderEntry] = {
    OPENAI: ProviderEntry(
        _openai, "k_oai", "max_tokens", openai_compatible=True, reasoning_token_param="max_completion_tokens",
        # OpenAI's reasoning models take no sampling parameters but the defaults
        reasoning_refuses=("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs",
                           "top_logprobs", "logit_bias"),
        effort_params=_openai_effort, text_format={"response_format": {"type": "text"}}, batch_api=True,
        style_can_switch=True),
    "anthropic": ProviderEntry(_anthropic, "k_ant", "max_tokens", effort_params=_anthropic_effort,
                               budget_params=_anthropic_budget, min_budget=1024),
    "gemini": ProviderEntry(_gemini, "k_g", "max_output_tokens", budget_params=_gemini_budget),
    "reka": ProviderEntry(_reka, "k_reka", "max_tokens"),
}


def provider_entry(name: str) -> ProviderEntry:
    """The table's entry for ``name``."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ValueError(f"no provider named {name!r}; known: {', '.join(PROVIDERS)}") from None


def make_provider(name: str) -> "Provider":
    """The `Provider` registered as ``name``."""
    return provider_entry(name)()
