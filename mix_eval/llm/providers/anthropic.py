"""Anthropic's Messages API through the ``anthropic`` SDK (``ANTHROPIC_BASE_URL`` moves it).

With extended thinking the reply's ``content`` holds ``thinking`` blocks (the text in
``.thinking``, with a signature) and ``redacted_thinking`` blocks (encrypted: noted as
`REDACTED_THINKING`) before its ``text`` blocks: the text blocks are the answer, the
others its reasoning. A reply cut by ``max_tokens`` (stop reason ``max_tokens``) has
finish reason ``length``, as every provider's does here.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from mix_eval.llm.config import ClientConfig, strip_userinfo
from mix_eval.llm.providers.base import (
    Failure, MalformedReply, SetupError, field, int_or_none, sdk_http_failure, sdk_url,
)
from mix_eval.llm.results import ChatResult, Usage

__all__ = ["AnthropicProvider", "ANTHROPIC_DEFAULT_URL"]

ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"
REDACTED_THINKING = "[redacted thinking]"  # what stands for a redacted_thinking block in the reasoning
# Anthropic's stop reasons that mean the same as another provider's finish reason.
_FINISH_REASONS = {"max_tokens": "length"}


def _block_text(block: Any, name: str, kind: str) -> str:
    value = field(block, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedReply(f"a {kind} block's {name} is a {type(value).__name__}, not text")
    return value


class AnthropicProvider:
    """``messages.create`` on ``anthropic.AsyncAnthropic``; no SDK retries."""

    sdk_label = "Anthropic client"

    def url(self, config: ClientConfig, session: Any = None) -> str:
        return sdk_url(session, strip_userinfo(config.base_url or os.environ.get("ANTHROPIC_BASE_URL") or ANTHROPIC_DEFAULT_URL))

    def check(self, config: ClientConfig) -> None:
        """Nothing to check beyond the key."""

    def open(self, config: ClientConfig, api_key: str) -> Any:
        import anthropic

        try:
            return anthropic.AsyncAnthropic(api_key=api_key, base_url=config.base_url, max_retries=0,
                                            timeout=config.timeout + 5.0)
        except anthropic.AnthropicError as e:
            raise SetupError(str(e)) from None

    async def send(self, session: Any, model: str, messages: List[Dict[str, Any]],
                   params: Dict[str, Any]) -> Any:
        system = "\n\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
        if system:  # the Messages API takes the system prompt beside the turns, not among them
            params = {"system": system, **params}
            messages = [m for m in messages if m.get("role") != "system"]
        return await session.messages.create(model=model, messages=messages, **params)

    def parse(self, message: Any) -> ChatResult:
        blocks = getattr(message, "content", None)
        if not isinstance(blocks, list):
            raise MalformedReply("the Anthropic answer has no content")
        texts: List[str] = []
        thoughts: List[str] = []
        for block in blocks:
            kind = field(block, "type")
            if kind == "text":
                texts.append(_block_text(block, "text", kind))
            elif kind == "thinking":
                thoughts.append(_block_text(block, "thinking", kind))
            elif kind == "redacted_thinking":
                thoughts.append(REDACTED_THINKING)
        usage: Optional[Usage] = None
        raw = getattr(message, "usage", None)
        if raw is not None:
            usage = Usage(int_or_none(getattr(raw, "input_tokens", None)),
                          int_or_none(getattr(raw, "output_tokens", None)), None)
        stop = getattr(message, "stop_reason", None)
        stop = _FINISH_REASONS.get(stop, stop) if isinstance(stop, str) else None
        reasoning = "\n\n".join(t for t in thoughts if t.strip()) if thoughts else None
        return ChatResult(text="".join(texts), finish_reason=stop, usage=usage,
                          model=getattr(message, "model", None), reasoning=reasoning)

    def classify(self, error: Exception) -> Optional[Failure]:
        import anthropic

        return sdk_http_failure(error, anthropic)

    async def close(self, session: Any) -> None:
        await session.close()
