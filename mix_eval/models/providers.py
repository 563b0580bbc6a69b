"""API models whose providers speak their own protocol, through their SDKs.

Each provider is a subclass of the shared chat client that swaps the SDK call and its
error classes; rate limits, retries and fail-fast errors stay in `mix_eval.llm_client`.
The SDKs are optional: ``pip install -e .[providers]`` (or the one SDK named in the
error message).
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any, Optional

from mix_eval.errors import ModelError
from mix_eval.llm_client import ChatClient, ChatResult, Usage
from mix_eval.llm_client import _Malformed as MalformedAnswer
from mix_eval.models.api_models import OpenAICompatibleModel

ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"


def require_sdk(module: str, pip_name: str, model: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ModelError(
            f"--model_name {model} needs the {pip_name} package: pip install {pip_name} "
            "(or pip install -e '.[providers]' for every provider SDK)"
        )


class AnthropicChatClient(ChatClient):
    """The chat client on Anthropic's Messages API (``anthropic.AsyncAnthropic``)."""

    def __init__(self, config: Any):
        super().__init__(config)
        self._url = config.base_url or os.environ.get("ANTHROPIC_BASE_URL") or ANTHROPIC_DEFAULT_URL

    def _sdk_errors(self) -> tuple[type, type, type, type]:
        import anthropic

        return (anthropic.APIStatusError, anthropic.APITimeoutError, anthropic.APIConnectionError,
                anthropic.APIResponseValidationError)

    def _make_sdk(self) -> Any:
        import anthropic

        cfg = self.config
        return anthropic.AsyncAnthropic(api_key=self._key, base_url=cfg.base_url, max_retries=0,
                                        timeout=cfg.timeout + 5.0)

    def _request(self, sdk: Any, model: str, messages: Any, params: dict[str, Any]) -> Any:
        return sdk.messages.create(model=model, messages=messages, **params)

    @staticmethod
    def _parse(message: Any) -> ChatResult:
        blocks = getattr(message, "content", None)
        if not isinstance(blocks, list):
            raise MalformedAnswer("the Anthropic answer has no content")
        text = "".join(getattr(b, "text", "") for b in blocks if getattr(b, "type", None) == "text")
        usage: Optional[Usage] = None
        raw = getattr(message, "usage", None)
        if raw is not None:
            usage = Usage(getattr(raw, "input_tokens", None), getattr(raw, "output_tokens", None), None)
        return ChatResult(text=text, finish_reason=getattr(message, "stop_reason", None), usage=usage,
                          model=getattr(message, "model", None))


class AnthropicModel(OpenAICompatibleModel):
    """Claude models: ``messages.create(model, max_tokens=1536, messages)``, as the reference."""

    def __init__(self, args: Any):
        require_sdk("anthropic", "anthropic", self.spec.name)
        super().__init__(args)

    def _endpoint(self, args: Any) -> tuple[Optional[str], Optional[str]]:
        return None, self.spec.env_keys[0]  # the SDK reads ANTHROPIC_BASE_URL when set

    def _client_class(self) -> type:
        return AnthropicChatClient

    def _base_params(self) -> dict[str, Any]:
        return {"max_tokens": self.closeended_max_new_tokens}
