"""How an API judge is asked: its provider, request style, reasoning effort and parameters.

The reference asks ``gpt-3.5-turbo-0125`` with ``max_tokens`` 999 and a text
``response_format``; classic judges are asked exactly so. Reasoning judges (gpt-5*,
o-series) refuse ``max_tokens`` and any temperature but 1: they get
``max_completion_tokens`` (the visible reply and the hidden reasoning share it) and a
``reasoning_effort``, the lowest they take unless ``--judge_reasoning_effort`` says
otherwise. Effort moves verdicts and cost, so it is part of the request's identity (a
reply made at another effort is never reused); the style is not (the same question,
worded for the server).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from mix_eval.llm.known_judges import known_judge, provider_of
from mix_eval.llm.providers import OPENAI
from mix_eval.llm.request import CLASSIC, REASONING, STYLE_REFUSAL_CODES, ChatRequest
from mix_eval.settings import JudgeSettings, SettingsError
from mix_eval.splits import SplitKind

__all__ = ["JudgeRequest", "judge_request", "MAX_REPLY_TOKENS", "REASONING_MAX_COMPLETION_TOKENS",
           "STYLE_REFUSAL_CODES"]

MAX_REPLY_TOKENS = 999  # the reference's max_tokens
REASONING_MAX_COMPLETION_TOKENS = 4096  # reply and hidden reasoning together


@dataclass(frozen=True)
class JudgeRequest:
    """How one API judge is asked (see the module doc). ``style_known``: the style comes
    from the table of known judges; otherwise the classic style is tried first and the
    other once, when the server refuses the first one's parameters. The request itself is
    shaped where every chat request is (`mix_eval.llm.request.ChatRequest`)."""

    model: str
    provider: str = OPENAI
    style: str = CLASSIC
    reasoning_effort: Optional[str] = None
    style_known: bool = False

    @property
    def identity(self) -> str:
        """What a request's digest is made of beside its messages: the model, and the
        reasoning effort when one is asked for."""
        return self.model if self.reasoning_effort is None else f"{self.model}|reasoning_effort={self.reasoning_effort}"

    @property
    def chat(self) -> ChatRequest:
        """The chat request: the reference's 999 tokens, or 4096 in the reasoning style."""
        tokens = REASONING_MAX_COMPLETION_TOKENS if self.style == REASONING else MAX_REPLY_TOKENS
        return ChatRequest(self.model, self.provider, self.style, tokens, self.reasoning_effort,
                           style_known=self.style_known, reasoning_budget=REASONING_MAX_COMPLETION_TOKENS)

    def params(self) -> dict[str, Any]:
        """The request parameters beside model and messages."""
        return self.chat.params()

    def other_style(self) -> "JudgeRequest":
        """The same judge asked in the other style (an unknown model that refused this one)."""
        return replace(self, style=REASONING if self.style == CLASSIC else CLASSIC, style_known=True)

    @property
    def can_switch_style(self) -> bool:
        return self.chat.can_switch_style

    def describe(self) -> str:
        return self.chat.describe()

    def as_dict(self) -> dict[str, Any]:
        """As judge_report.json records it."""
        return {"provider": self.provider, "style": self.style, "reasoning_effort": self.reasoning_effort,
                "params": self.params()}


def judge_request(settings: JudgeSettings, kind: SplitKind) -> JudgeRequest:
    """The request of the kind's API judge, from the table of known judges and the flags."""
    model = settings.judge(kind)
    known = known_judge(model)
    effort = settings.judge_reasoning_effort
    provider = OPENAI if settings.api_base_url else provider_of(model)
    if known is not None and known.style == REASONING:
        return JudgeRequest(model, provider, REASONING, effort or known.lowest_effort, style_known=True)
    if effort is not None and known is not None:
        raise SettingsError(
            f"--judge_reasoning_effort applies to reasoning judges (gpt-5*, o-series); {model} is not one: "
            "leave the flag out"
        )
    # An unknown model given an effort is taken for a reasoning model (the other style stays open).
    return JudgeRequest(model, provider, REASONING if effort else CLASSIC, effort, style_known=known is not None)
