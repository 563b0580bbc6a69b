"""The `Provider` protocol: what the chat client needs from one vendor's SDK.

The client (`mix_eval.llm.client`) does pacing, rate limits, retries, fail-fast and
redaction once, for every provider. A provider only opens its SDK, sends one request,
reads the reply into a `ChatResult`, and sorts its own SDK's exceptions into a `Failure`
(retry, rate limited, bad request, or fatal: auth, not found, config, quota). The
helpers below hold the HTTP and transport rules that several SDKs share.
"""
from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple, runtime_checkable

from mix_eval.llm.config import ClientConfig, strip_userinfo
from mix_eval.llm.limiter import parse_retry_after
from mix_eval.llm.results import ChatResult

__all__ = [
    "Provider", "Failure", "Kind", "MalformedReply", "BlockedReply", "SetupError",
    "http_failure", "sdk_http_failure", "sdk_url", "transport_failure", "connection_failure", "clip",
    "server_message", "field", "int_or_none",
]

MAX_SERVER_MESSAGE = 300   # characters of the server's own message kept for errors


class Kind(str, Enum):
    """What the client does about a failed request."""

    RETRY = "retry"                # back off and send again (max_retries times)
    RATE_LIMITED = "rate_limited"  # pause the whole pool, slow down, send again
    BAD_REQUEST = "bad_request"    # this request is refused: APIBadRequestError
    AUTH = "auth"                  # the key is wrong or not allowed: stop (APIAuthError)
    NOT_FOUND = "not_found"        # unknown model or wrong URL: stop (APIConfigError)
    CONFIG = "config"              # the API refuses this account or setup: stop (APIConfigError)
    QUOTA = "quota"                # no credit left: stop (APIQuotaError)


@dataclass(frozen=True)
class Failure:
    """A provider's verdict on one exception.

    ``status``: the HTTP status, if any; ``message`` and ``code``: the server's own words
    (shown, redacted, in errors); ``retry_after``: seconds the server asked to wait;
    ``detail``: for `Kind.RETRY`, what went wrong, for the log and the final error;
    ``timed_out``: the request got no answer in time (the client words that itself).
    """

    kind: Kind
    status: Optional[int] = None
    message: Optional[str] = None
    code: Optional[str] = None
    retry_after: Optional[float] = None
    detail: str = ""
    timed_out: bool = False

    @classmethod
    def timeout(cls) -> "Failure":
        return cls(Kind.RETRY, timed_out=True)

    @classmethod
    def malformed(cls, why: str) -> "Failure":
        return cls(Kind.RETRY, detail=f"malformed answer: {why}")


class MalformedReply(Exception):
    """A 200 answer that is not a usable reply (retried like a server error)."""


class BlockedReply(Exception):
    """A 200 answer without text because the provider's safety filters blocked it.

    The client treats it as a refusal (`APIBadRequestError`, code ``content_blocked``):
    the API model retries the item and answers its refusal text in the end.
    """


class SetupError(Exception):
    """The SDK refused the client's settings (reported as `APIConfigError`)."""


@runtime_checkable
class Provider(Protocol):
    """One vendor's chat API behind its SDK. Implementations import the SDK lazily."""

    sdk_label: str   # for messages: "cannot set up the <sdk_label> for the ..."

    def url(self, config: ClientConfig, session: Any = None) -> str:
        """The URL requests go to, for messages (no credentials); ``session`` once open."""

    def check(self, config: ClientConfig) -> None:
        """Refuse settings this provider cannot use (`APIConfigError`), before any request."""

    def open(self, config: ClientConfig, api_key: str) -> Any:
        """A session (the SDK client) for the current event loop; `SetupError` if refused."""

    async def send(self, session: Any, model: str, messages: List[Dict[str, Any]],
                   params: Dict[str, Any]) -> Any:
        """One request; returns the SDK's reply or raises the SDK's error."""

    def parse(self, reply: Any) -> ChatResult:
        """The reply as a `ChatResult`; `MalformedReply` / `BlockedReply` when it is none."""

    def classify(self, error: Exception) -> Optional[Failure]:
        """Sort an exception of ``send`` into a `Failure`; None: not the SDK's (a bug)."""

    async def close(self, session: Any) -> None:
        """Close the session's connections."""


# --------------------------------------------------------------------------- shared rules


def clip(message: Optional[str]) -> Optional[str]:
    """The server's message, cut to `MAX_SERVER_MESSAGE` characters (None when empty)."""
    if not message:
        return None
    return message[:MAX_SERVER_MESSAGE] + "..." if len(message) > MAX_SERVER_MESSAGE else message


def server_message(body: Any) -> Tuple[Optional[str], Optional[str]]:
    """(message, code) from a JSON error body ``{"error": {"message", "code"|"type"}}``
    (OpenAI's and Anthropic's form), a bare ``{"message"...}`` or a text body."""
    message = code = None
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            m = err.get("message")
            message = m if isinstance(m, str) and m else None
            c = err.get("code") or err.get("type")
            code = str(c) if c is not None else None
        elif isinstance(err, str):
            message = err
    elif isinstance(body, str) and body.strip():
        message = body.strip()
    return clip(message), code


def http_failure(status: int, message: Optional[str] = None, code: Optional[str] = None,
                 retry_after: Optional[float] = None) -> Failure:
    """The usual meaning of an HTTP error status: 429 (``insufficient_quota``: quota),
    401/403 auth, 404 not found, 408/409/5xx retried, any other 4xx a bad request."""
    if status == 429:
        kind = Kind.QUOTA if code == "insufficient_quota" else Kind.RATE_LIMITED
    elif status in (401, 403):
        kind = Kind.AUTH
    elif status == 404:
        kind = Kind.NOT_FOUND
    elif status in (408, 409) or status >= 500:
        kind = Kind.RETRY
    else:
        kind = Kind.BAD_REQUEST
    return Failure(kind, status=status, message=message, code=code, retry_after=retry_after,
                   detail=f"HTTP {status}" if kind is Kind.RETRY else "")


def connection_failure(why: Any) -> Failure:
    """A request that never reached the server; ``why`` is the cause (an exception or text)."""
    if isinstance(why, BaseException):
        why = f"{type(why).__name__}: {why}"
    return Failure(Kind.RETRY, detail=f"connection error ({why})")


def sdk_http_failure(error: Exception, sdk: Any) -> Optional[Failure]:
    """Sort the errors of ``sdk``, the ``openai`` or ``anthropic`` module: both SDKs name
    their errors alike (``APIStatusError`` with ``status_code``, ``body`` and
    ``response.headers``; ``APITimeoutError``, ``APIConnectionError``,
    ``APIResponseValidationError``), each in its own classes."""
    if isinstance(error, sdk.APIStatusError):
        message, code = server_message(getattr(error, "body", None))
        headers = getattr(getattr(error, "response", None), "headers", None)
        return http_failure(error.status_code, message, code, parse_retry_after(headers))
    if isinstance(error, sdk.APITimeoutError):   # first: a timeout is a connection error too
        return Failure.timeout()
    if isinstance(error, sdk.APIConnectionError):
        cause = error.__cause__ or error.__context__
        return connection_failure(cause if cause is not None else str(error))
    if isinstance(error, sdk.APIResponseValidationError):
        return Failure.malformed(getattr(error, "message", str(error)))
    return None


def sdk_url(session: Any, fallback: str) -> str:
    """The URL an SDK client sends to (its ``base_url``, which takes the SDK's own
    environment variables into account), without credentials; ``fallback`` without one."""
    if session is not None:
        try:
            return strip_userinfo(str(session.base_url).rstrip("/"))
        except Exception:  # noqa: BLE001 - keep the configured URL
            pass
    return fallback


def _transport_errors() -> Tuple[Tuple[type, ...], Tuple[type, ...]]:
    """(timeout classes, connection error classes) of the HTTP stacks SDKs may use."""
    timeouts: List[type] = [asyncio.TimeoutError]
    connection: List[type] = [OSError]
    for name in ("httpx", "httpx2"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(mod.TimeoutException)
        connection.append(mod.TransportError)
    try:
        import aiohttp  # used by google-genai when installed

        timeouts.append(aiohttp.ServerTimeoutError)
        connection.append(aiohttp.ClientError)
    except ImportError:
        pass
    return tuple(timeouts), tuple(connection)


def _is_validation_error(error: BaseException) -> bool:
    try:
        import pydantic
    except ImportError:  # pragma: no cover - the SDKs depend on pydantic
        return False
    classes: List[type] = [pydantic.ValidationError]
    v1 = getattr(pydantic, "v1", None)
    if v1 is not None and hasattr(v1, "ValidationError"):
        classes.append(v1.ValidationError)
    return isinstance(error, tuple(classes))


def transport_failure(error: Exception, provider: str) -> Optional[Failure]:
    """For SDKs that let their HTTP stack's errors through (google-genai, reka): a
    timeout, a connection error, or a reply the SDK's models could not read; else None."""
    timeouts, connection = _transport_errors()
    if isinstance(error, timeouts):
        return Failure.timeout()
    if isinstance(error, connection):
        return connection_failure(error)
    if _is_validation_error(error):
        return Failure.malformed(f"the {provider} answer could not be read ({type(error).__name__})")
    return None


def field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]`` (SDK objects built without validation may hold dicts)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
