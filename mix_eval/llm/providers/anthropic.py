"""Anthropic's Messages API through the ``anthropic`` SDK (``ANTHROPIC_BASE_URL`` moves it)."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from mix_eval.llm.config import ClientConfig, strip_userinfo
from mix_eval.llm.providers.base import Failure, MalformedReply, SetupError, sdk_http_failure, sdk_url
from mix_eval.llm.results import ChatResult, Usage

__all__ = ["AnthropicProvider", "ANTHROPIC_DEFAULT_URL"]

ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"


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
        text = "".join(getattr(b, "text", "") for b in blocks if getattr(b, "type", None) == "text")
        usage: Optional[Usage] = None
        raw = getattr(message, "usage", None)
        if raw is not None:
            usage = Usage(getattr(raw, "input_tokens", None), getattr(raw, "output_tokens", None), None)
        return ChatResult(text=text, finish_reason=getattr(message, "stop_reason", None), usage=usage,
                          model=getattr(message, "model", None))

    def classify(self, error: Exception) -> Optional[Failure]:
        import anthropic

        return sdk_http_failure(error, anthropic)

    async def close(self, session: Any) -> None:
        await session.close()
