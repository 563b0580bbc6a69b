"""How a chat request is shaped, for judges and evaluated API models alike.

Two request styles:

* ``classic``: the token limit as the provider names it (``max_tokens``; Gemini's
  ``max_output_tokens``) and any sampling parameters: the reference's requests;
* ``reasoning`` (OpenAI's gpt-5* and o-series): ``max_completion_tokens`` (the visible
  answer and the hidden reasoning share it), none of the sampling parameters those
  models refuse, and a ``reasoning_effort`` when one is asked for.

A model whose style no table knows is asked in one style (classic, or reasoning when an
effort is given) and, where the provider allows it (`ProviderEntry.style_can_switch`),
once in the other when the server refuses the first style's parameters (HTTP 400
`STYLE_REFUSAL_CODES`). A thinking budget (Anthropic's extended thinking, Gemini's
thinking budget) and an effort on providers other than OpenAI are the provider's own
parameters (`mix_eval.llm.providers.PROVIDERS`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

from mix_eval.llm.providers import OPENAI, provider_entry

__all__ = ["CLASSIC", "REASONING", "STYLES", "STYLE_REFUSAL_CODES", "DEFAULT_REASONING_BUDGET", "ChatRequest",
           "too_long"]

CLASSIC = "classic"
REASONING = "reasoning"
STYLES = (CLASSIC, REASONING)
# The codes with which OpenAI refuses a parameter of the other style.
STYLE_REFUSAL_CODES = ("unsupported_parameter", "unsupported_value")
# The token budget of an evaluated reasoning model that no table gives one (and no
# --max_new_tokens): the reasoning and the answer share it, and OpenAI's reasoning guide
# suggests reserving about 25,000 tokens for both when starting out.
DEFAULT_REASONING_BUDGET = 25_000

_TOO_LONG = re.compile(r"(?i)maximum context length|context_length_exceeded|context window|prompt is too long|"
                       r"too many (input )?tokens")


def too_long(code: Optional[str], message: Optional[str]) -> bool:
    """Whether a refusal says the request is longer than the model's context (asking
    again cannot change that)."""
    return bool(_TOO_LONG.search(f"{code or ''} {message or ''}"))


@dataclass(frozen=True)
class ChatRequest:
    """How one model is asked: its provider, style, token budget, effort and thinking
    budget, and the other parameters it sends (``extra``: sampling, safety settings...).

    ``style_known``: the style comes from a table (known judges, the catalog, a model
    family); otherwise the other style is tried once when the server refuses this one.
    ``reasoning_budget``: the token budget used if an unknown model switches to the
    reasoning style (None: ``max_tokens``)."""

    model: str
    provider: str = OPENAI
    style: str = CLASSIC
    max_tokens: int = 1536
    reasoning_effort: Optional[str] = None
    thinking_budget: Optional[int] = None
    style_known: bool = False
    text_format: bool = True  # send the provider's text response_format (the reference's), where it has one
    extra: Mapping[str, Any] = field(default_factory=dict)
    reasoning_budget: Optional[int] = None

    def params(self) -> dict[str, Any]:
        """The request parameters beside model and messages."""
        entry = provider_entry(self.provider)
        reasoning = self.style == REASONING and entry.reasoning_token_param is not None
        params: dict[str, Any] = {}
        if reasoning:
            params[entry.reasoning_token_param] = self.max_tokens
        else:
            params[entry.token_param] = self.max_tokens
        if self.text_format and entry.text_format:
            params.update(entry.text_format)
        params.update({k: v for k, v in self.extra.items() if not (reasoning and k in entry.reasoning_refuses)})
        if self.reasoning_effort is not None and entry.effort_params is not None:
            params.update(entry.effort_params(self.reasoning_effort))
        if self.thinking_budget is not None and entry.budget_params is not None:
            params.update(entry.budget_params(self.thinking_budget, self.max_tokens))
        return params

    def dropped(self) -> list[str]:
        """The ``extra`` parameters this style leaves out (the reasoning style's refused ones)."""
        entry = provider_entry(self.provider)
        if self.style != REASONING or entry.reasoning_token_param is None:
            return []
        return [k for k in self.extra if k in entry.reasoning_refuses]

    @property
    def can_switch_style(self) -> bool:
        return not self.style_known and provider_entry(self.provider).style_can_switch

    def other_style(self) -> "ChatRequest":
        """The same model asked in the other style (an unknown model that refused this one);
        the style is then known."""
        if self.style == CLASSIC:
            budget = self.reasoning_budget if self.reasoning_budget is not None else self.max_tokens
            return replace(self, style=REASONING, max_tokens=budget, style_known=True)
        return replace(self, style=CLASSIC, style_known=True)

    def describe(self) -> str:
        """The style and its parameters, for messages."""
        return f"{self.style} request style ({', '.join(self.params())})"
