"""Reka's chat API through the ``reka-api`` SDK (``AsyncReka().chat.create``).

Reka's ``ApiError`` carries a status and a body but not the answer's headers, so a
429's ``retry-after`` would be lost: the session's HTTP client records the headers of
each answer for the task that sent the request, and `RekaProvider.send` hands them over
with the error (`RekaHTTPError`).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from mix_eval.llm.config import ClientConfig, strip_userinfo
from mix_eval.llm.limiter import parse_retry_after
from mix_eval.llm.providers.base import (
    Failure, MalformedReply, SetupError, clip, field, http_failure, int_or_none, server_message,
    transport_failure,
)
from mix_eval.llm.results import ChatResult, Usage

__all__ = ["RekaProvider", "RekaHTTPError", "REKA_DEFAULT_URL"]

REKA_DEFAULT_URL = "https://api.reka.ai/v1"


class RekaHTTPError(Exception):
    """Reka's HTTP error answer: the SDK's ``ApiError`` status and body, and the headers."""

    def __init__(self, status_code: int, body: Any, headers: Optional[Mapping[str, str]]):
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.headers = headers


def error_message(body: Any) -> Tuple[Optional[str], Optional[str]]:
    """(message, code) of Reka's error body: FastAPI's ``{"detail": ...}``, an
    ``{"error": ...}`` object, a model object or text."""
    if hasattr(body, "dict") and not isinstance(body, dict):
        try:
            body = body.dict()
        except Exception:  # noqa: BLE001
            body = str(body)
    if isinstance(body, dict):
        if not body:
            return None, None
        if isinstance(body.get("error"), (dict, str)):
            return server_message(body)
        detail = body.get("detail", body.get("message"))
        if detail is None:
            detail = body
        return clip(detail if isinstance(detail, str) else json.dumps(detail, default=str)), None
    return server_message(body if isinstance(body, str) else None)


def _text(content: Any) -> Optional[str]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [field(c, "text") for c in content if field(c, "type") in (None, "text")]
        return "".join(t for t in texts if isinstance(t, str))
    return None


class RekaSession:
    """An ``AsyncReka`` client on its own HTTP client, which records the headers of each
    answer under the task that sent the request (each request runs in its own task)."""

    def __init__(self, config: ClientConfig, api_key: str, base_url: str):
        import httpx
        from reka.client import AsyncReka

        self.headers: Dict[Any, Any] = {}
        conc = config.max_concurrency
        timeout = config.timeout + 5.0
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            limits=httpx.Limits(max_connections=conc + 16, max_keepalive_connections=conc + 16),
            event_hooks={"response": [self._record]})
        self.client = AsyncReka(api_key=api_key, base_url=base_url, httpx_client=self.http, timeout=timeout)

    async def _record(self, response: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.headers[task] = response.headers

    def take_headers(self) -> Optional[Mapping[str, str]]:
        """The headers of the latest answer to the calling task, forgotten here."""
        return self.headers.pop(asyncio.current_task(), None)

    async def close(self) -> None:
        try:
            await self.http.aclose()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


class RekaProvider:
    """``chat.create`` on ``reka.client.AsyncReka`` (key in ``x-api-key``)."""

    sdk_label = "Reka client"

    def url(self, config: ClientConfig, session: Any = None) -> str:
        return strip_userinfo((config.base_url or REKA_DEFAULT_URL).rstrip("/"))

    def check(self, config: ClientConfig) -> None:
        """Nothing to check beyond the key."""

    def open(self, config: ClientConfig, api_key: str) -> RekaSession:
        try:
            return RekaSession(config, api_key, config.base_url or REKA_DEFAULT_URL)
        except ImportError:
            raise
        except Exception as e:  # noqa: BLE001 - any refusal of the settings; the client redacts it
            raise SetupError(str(e)) from None

    async def send(self, session: RekaSession, model: str, messages: List[Dict[str, Any]],
                   params: Dict[str, Any]) -> Any:
        from reka.core.api_error import ApiError

        chat = [{"role": m.get("role", "user"), "content": m.get("content", "")} for m in messages]
        try:
            return await session.client.chat.create(model=model, messages=chat, **params)
        except ApiError as e:
            if not isinstance(e.status_code, int):
                raise
            raise RekaHTTPError(e.status_code, e.body, session.take_headers()) from None
        finally:
            session.take_headers()

    def parse(self, response: Any) -> ChatResult:
        if isinstance(response, (str, bytes)) or response is None:
            raise MalformedReply("the Reka answer is not a chat response")
        responses = field(response, "responses")
        if not isinstance(responses, list) or not responses:
            raise MalformedReply("the Reka answer has no responses")
        message = field(responses[0], "message")
        if message is None:
            raise MalformedReply("the first Reka response has no message")
        text = _text(field(message, "content"))
        if text is None:
            raise MalformedReply("the Reka message content is not text")
        usage: Optional[Usage] = None
        raw = field(response, "usage")
        if raw is not None:
            usage = Usage(int_or_none(field(raw, "input_tokens")), int_or_none(field(raw, "output_tokens")), None)
        finish = field(responses[0], "finish_reason")
        model = field(response, "model")
        return ChatResult(text=text, finish_reason=finish if isinstance(finish, str) else None, usage=usage,
                          model=model if isinstance(model, str) else None)

    def classify(self, error: Exception) -> Optional[Failure]:
        from reka.core.api_error import ApiError

        if isinstance(error, RekaHTTPError):
            message, code = error_message(error.body)
            return http_failure(error.status_code, message, code, parse_retry_after(error.headers))
        if isinstance(error, ApiError):   # no HTTP status: the SDK itself failed
            return Failure.malformed(f"the Reka SDK failed without an HTTP status: {error}")
        return transport_failure(error, "Reka")

    async def close(self, session: RekaSession) -> None:
        await session.close()
