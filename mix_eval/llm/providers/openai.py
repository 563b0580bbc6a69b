"""OpenAI-compatible chat APIs (OpenAI, Azure OpenAI, vLLM, ...) through the ``openai`` SDK.

A server that thinks apart from its answer puts the thinking in a field the SDK does not
declare, which its models keep as extra attributes: ``message.reasoning_content``
(DeepSeek's API, vLLM before 0.30) or ``message.reasoning`` (vLLM 0.30 and later with
``--reasoning-parser``, whose ``content`` may then be null); OpenAI's own reasoning models
hide theirs and count it in ``usage.completion_tokens_details.reasoning_tokens``.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from mix_eval.llm.config import ClientConfig
from mix_eval.llm.errors import APIConfigError
from mix_eval.llm.providers.base import Failure, MalformedReply, SetupError, int_or_none, sdk_http_failure, sdk_url
from mix_eval.llm.results import ChatResult, Usage

__all__ = ["OpenAIProvider", "REASONING_FIELDS", "reasoning_of", "reasoning_tokens_of", "request_body", "sdk_client"]

# The message fields servers put the thinking in, in the order they are read.
REASONING_FIELDS = ("reasoning_content", "reasoning")


def request_body(model: str, messages: List[Dict[str, Any]], params: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON body of one chat completion: what a live call sends and what a Batch API
    input line carries, so both ask the very same thing."""
    return {"model": model, "messages": messages, **params}


def sdk_client(config: ClientConfig, *, asynchronous: bool, **options: Any) -> Any:
    """An OpenAI SDK client for the config's server, Azure OpenAI's when it says so: the
    live path's asynchronous one, or the Batch API's synchronous one."""
    import openai

    if config.is_azure:
        azure = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
        return azure(azure_endpoint=config.azure_endpoint, api_version=config.api_version, **options)
    plain = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return plain(base_url=config.base_url, **options)


def _extra(obj: Any, name: str) -> Any:
    """A field the SDK's model does not declare: an attribute, else in ``model_extra``."""
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, dict):
            value = extra.get(name)
    return value


def reasoning_of(message: Any) -> Optional[str]:
    """The thinking a server sent beside the answer (`REASONING_FIELDS`; both when they
    differ, in that order); None when it sent none, or only empty ones. A field that is
    not text is a malformed reply."""
    found: List[str] = []
    for name in REASONING_FIELDS:
        value = _extra(message, name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MalformedReply(f"the message {name} is a {type(value).__name__}, not text")
        if value.strip() and value not in found:
            found.append(value)
    return "\n\n".join(found) if found else None


def reasoning_tokens_of(usage: Any) -> Optional[int]:
    """``usage.completion_tokens_details.reasoning_tokens``, where the server counts them."""
    details = getattr(usage, "completion_tokens_details", None) if usage is not None else None
    if isinstance(details, dict):
        return int_or_none(details.get("reasoning_tokens"))
    return int_or_none(getattr(details, "reasoning_tokens", None)) if details is not None else None


def _http_client(config: ClientConfig) -> Any:
    """An HTTP client whose connection pool fits the pool of requests (None: the SDK's)."""
    import openai

    conc = config.max_concurrency
    timeout = config.timeout + 5.0
    try:   # SDK 3.x: httpx2
        import httpx2  # type: ignore

        return openai.DefaultAsyncHttpx2Client(
            limits=httpx2.Limits(max_connections=conc + 16, max_keepalive_connections=conc + 16),
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 30.0)))
    except (ImportError, AttributeError):
        pass
    try:
        import httpx

        return openai.DefaultAsyncHttpxClient(
            limits=httpx.Limits(max_connections=conc + 16, max_keepalive_connections=conc + 16),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)))
    except (ImportError, AttributeError):
        return None


class OpenAIProvider:
    """``chat.completions.create`` on ``openai.AsyncOpenAI`` or, when the config names an
    ``azure_endpoint``, ``openai.AsyncAzureOpenAI``; no SDK retries (the client retries)."""

    sdk_label = "client"

    def url(self, config: ClientConfig, session: Any = None) -> str:
        return sdk_url(session, config.display_url)

    def check(self, config: ClientConfig) -> None:
        if config.is_azure and not (config.api_version or os.environ.get("OPENAI_API_VERSION")):
            url = self.url(config)
            raise APIConfigError(
                f"the {config.label} is Azure OpenAI ({url}) but no API version is set; set "
                f"OPENAI_API_VERSION (e.g. 2024-02-01)", base_url=url)

    def open(self, config: ClientConfig, api_key: str) -> Any:
        import openai

        common: Dict[str, Any] = dict(api_key=api_key, max_retries=0, timeout=config.timeout + 5.0)
        http_client = _http_client(config)
        if http_client is not None:
            common["http_client"] = http_client
        try:
            return sdk_client(config, asynchronous=True, **common)
        except openai.OpenAIError as e:
            raise SetupError(str(e)) from None

    async def send(self, session: Any, model: str, messages: List[Dict[str, Any]],
                   params: Dict[str, Any]) -> Any:
        return await session.chat.completions.create(**request_body(model, messages, params))

    def parse(self, completion: Any) -> ChatResult:
        if isinstance(completion, (str, bytes)) or completion is None:
            raise MalformedReply("the body is not a chat completion (not JSON)")
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise MalformedReply("the completion has no choices")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if message is None or isinstance(message, (str, bytes, int, float, list, dict)):
            raise MalformedReply("the first choice has no message")
        content = getattr(message, "content", None)
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise MalformedReply(f"the message content is a {type(content).__name__}, not text")
        reasoning = reasoning_of(message)
        finish = getattr(choice, "finish_reason", None)
        usage = None
        raw_usage = getattr(completion, "usage", None)
        if raw_usage is not None:
            usage = Usage(*(int_or_none(getattr(raw_usage, name, None))
                            for name in ("prompt_tokens", "completion_tokens", "total_tokens")))
        model = getattr(completion, "model", None)
        return ChatResult(text=content, finish_reason=finish if isinstance(finish, str) else None,
                          usage=usage, model=model if isinstance(model, str) else None, reasoning=reasoning,
                          reasoning_tokens=reasoning_tokens_of(raw_usage))

    def classify(self, error: Exception) -> Optional[Failure]:
        import openai

        return sdk_http_failure(error, openai)

    async def close(self, session: Any) -> None:
        await session.close()
