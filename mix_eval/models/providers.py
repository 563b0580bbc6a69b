"""API models whose providers speak their own protocol, through their SDKs.

Each provider is a subclass of the shared chat client that swaps the SDK call and its
error classes; rate limits, retries and fail-fast errors stay in `mix_eval.llm_client`.
The SDKs are optional: ``pip install -e .[providers]`` (or the one SDK named in the
error message).

* Claude: ``anthropic`` (``k_ant``; ``ANTHROPIC_BASE_URL`` moves it).
* Gemini: ``google-genai`` (``k_g``; ``GOOGLE_GEMINI_BASE_URL`` moves it). The reference
  used ``google.generativeai``, which Google no longer maintains; ``google-genai`` sends
  the same request (``v1beta`` ``models/{model}:generateContent`` with the same
  contents, generation config and safety settings), so it is used instead.
* Reka: ``reka-api`` (``k_reka``; ``REKA_BASE_URL`` moves it), its maintained chat API.

The Google GenAI and Reka SDKs' errors do not carry what the shared client reads
(``status_code``, ``response.headers``, ``body``): their calls are wrapped and the
errors translated into small shim classes (`ProviderStatusError` and friends).
"""
from __future__ import annotations

import asyncio
import contextvars
import importlib
import importlib.util
import json
import os
from types import SimpleNamespace
from typing import Any, Optional

from mix_eval.errors import ModelError
from mix_eval.llm_client import APIConfigError, ChatClient, ChatResult, Usage
from mix_eval.llm_client import _Malformed as MalformedAnswer
from mix_eval.llm_client import _strip_userinfo
from mix_eval.models.api_models import OpenAICompatibleModel

ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"


def _module_found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):   # a missing parent package (``google``) raises
        return False


def require_sdk(module: str, pip_name: str, model: str) -> None:
    if not _module_found(module):
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


# --------------------------------------------------------------------------- shared shims
#
# The shared client classifies an SDK's HTTP errors by ``status_code``,
# ``response.headers`` (retry-after) and ``body`` (the server's message). The Google
# GenAI and Reka SDKs do not expose all three, so their calls are wrapped and their
# errors translated into these classes (returned by ``_sdk_errors()``).


class ProviderStatusError(Exception):
    """An HTTP error answer of a provider, as the shared client reads it."""

    def __init__(self, status_code: int, body: Any = None, headers: Any = None, message: str = ""):
        super().__init__(f"HTTP {status_code}" + (f": {message}" if message else ""))
        self.status_code = status_code
        self.body = body
        self.message = message
        self.response = SimpleNamespace(headers=headers if headers is not None else {})


class ContentBlocked(ProviderStatusError):
    """A 200 answer without text because the provider's safety filters blocked it.

    Classified like a refusal (`APIBadRequestError`): the model retries the item and
    answers `REFUSAL_TEXT` after `MAX_REFUSALS` refusals, as the reference did.
    """

    def __init__(self, message: str):
        super().__init__(200, {"error": {"message": message, "code": "content_blocked"}}, message=message)


class ProviderTimeout(Exception):
    """The SDK's HTTP request timed out."""


class ProviderConnectionError(Exception):
    """The SDK could not reach the server (the cause is chained)."""


class ProviderMalformed(Exception):
    """A 200 answer the SDK could not read."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_SHIM_ERRORS = (ProviderStatusError, ProviderTimeout, ProviderConnectionError, ProviderMalformed)


def _transport_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(timeout classes, connection error classes) of the HTTP stacks the SDKs may use."""
    timeouts: list[type] = [asyncio.TimeoutError]
    connection: list[type] = [OSError]
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


def _translate_transport(exc: BaseException) -> Optional[Exception]:
    timeouts, connection = _transport_errors()
    if isinstance(exc, timeouts):
        return ProviderTimeout(type(exc).__name__)
    if isinstance(exc, connection):
        return ProviderConnectionError(type(exc).__name__)
    return None


def _error_body(message: Any, code: Any = None) -> dict[str, Any]:
    """An OpenAI-style error body, so the shared client shows the server's message."""
    return {"error": {"message": str(message), "code": code}}


def _field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]`` (SDK objects built without validation may hold dicts)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _enum_text(value: Any) -> Optional[str]:
    if value is None:
        return None
    value = getattr(value, "value", value)
    return value if isinstance(value, str) else str(value)


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _SDKHandle:
    """The SDK object of a client: ``base_url`` for messages and an async ``close()``."""

    def __init__(self, client: Any, base_url: str, closers: list[Any]):
        self.client = client
        self.base_url = base_url
        self._closers = closers

    async def close(self) -> None:
        for closer in self._closers:
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


# --------------------------------------------------------------------------- Gemini

GEMINI_DEFAULT_URL = "https://generativelanguage.googleapis.com"
# The reference's google.generativeai SDK called the v1beta API; google-genai defaults to v1.
GEMINI_API_VERSION = "v1beta"
GEMINI_HARM_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
_GEMINI_BAD_KEY_REASONS = ("API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED")


def _gemini_duration(value: Any) -> Optional[float]:
    """Seconds of a protobuf Duration in JSON (``"37s"``, ``"1.5s"``)."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            seconds = float(value[:-1])
        except ValueError:
            return None
        return seconds if seconds >= 0 else None
    return None


def _gemini_status_error(e: Any) -> ProviderStatusError:
    """A google.genai ``APIError`` as the shared client reads it.

    * Gemini answers a bad or expired key with HTTP 400 (reason ``API_KEY_INVALID``):
      it becomes 401 so the run stops at once instead of retrying every item as a
      refusal; 400 ``FAILED_PRECONDITION`` (e.g. the API is not available in the
      user's region) becomes 403 for the same reason.
    * A 429's ``RetryInfo.retryDelay`` becomes a ``retry-after`` header; a 429 for a
      daily quota (``QuotaFailure`` on a ``...PerDay...`` quota) is reported as an
      exhausted quota (``insufficient_quota``), which stops the run.
    """
    status = e.code if isinstance(getattr(e, "code", None), int) else 500
    details = getattr(e, "details", None)
    err = details.get("error", details) if isinstance(details, dict) else None
    message = getattr(e, "message", None) or (details if isinstance(details, str) else "") or ""
    grpc_status = _field(err, "status") if isinstance(err, dict) else None
    infos = _field(err, "details") if isinstance(err, dict) else None
    infos = infos if isinstance(infos, list) else []
    reasons = {str(i.get("reason")) for i in infos if isinstance(i, dict) and i.get("reason")}
    if status == 400 and (reasons & set(_GEMINI_BAD_KEY_REASONS) or "API key not valid" in str(message)
                          or "API key expired" in str(message)):
        status = 401
    elif status == 400 and grpc_status == "FAILED_PRECONDITION":
        status = 403
    raw_headers = getattr(getattr(e, "response", None), "headers", None)
    headers: dict[str, str] = {}
    if raw_headers is not None:
        try:
            headers = {str(k).lower(): str(v) for k, v in raw_headers.items()}
        except Exception:  # noqa: BLE001 - no usable headers
            headers = {}
    if "retry-after" not in headers and "retry-after-ms" not in headers:
        for info in infos:
            if isinstance(info, dict) and str(info.get("@type", "")).endswith("RetryInfo"):
                delay = _gemini_duration(info.get("retryDelay"))
                if delay is not None:
                    headers["retry-after-ms"] = str(int(delay * 1000))
    code = grpc_status or (sorted(reasons)[0] if reasons else None)
    quota_ids = [str(v.get("quotaId", "")) for i in infos if isinstance(i, dict)
                 for v in (i.get("violations") or []) if isinstance(v, dict)]
    if status == 429 and (any("PerDay" in q for q in quota_ids)
                          or (isinstance(err, dict) and err.get("code") == "insufficient_quota")):
        code = "insufficient_quota"   # a daily quota: waiting minutes cannot help, stop at once
    return ProviderStatusError(status, _error_body(message or f"HTTP {status}", code), headers, str(message))


def _gemini_contents(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Optional[str]]:
    """OpenAI-style messages as Gemini ``contents`` (user/model roles with ``parts``) and
    the system instruction, if any."""
    contents: list[dict[str, Any]] = []
    system: list[str] = []
    for m in messages:
        role = m.get("role", "user")
        if "parts" in m:
            parts = [p if isinstance(p, dict) else {"text": str(p)} for p in m["parts"]]
        else:
            content = m.get("content", "")
            parts = [{"text": content if isinstance(content, str) else str(content)}]
        if role == "system":
            system.extend(p.get("text", "") for p in parts)
            continue
        contents.append({"role": "model" if role in ("assistant", "model") else "user", "parts": parts})
    return contents, ("\n".join(system) if system else None)


class _ShimErrorClient(ChatClient):
    """A provider client whose SDK errors are translated into the shim classes."""

    default_url = ""

    def __init__(self, config: Any):
        super().__init__(config)
        self._url = _strip_userinfo((config.base_url or self.default_url).rstrip("/"))

    def _sdk_errors(self) -> tuple[type, type, type, type]:
        return _SHIM_ERRORS


class GeminiChatClient(_ShimErrorClient):
    """The chat client on Google's Gemini API, through the ``google-genai`` SDK.

    ``client.aio.models.generate_content`` on the ``v1beta`` API (the one the
    reference's ``google.generativeai`` SDK used), key in ``x-goog-api-key``, no SDK
    retries. Request params are ``GenerateContentConfig`` fields. An answer without
    text (a blocked prompt or candidate) raises `ContentBlocked`, a refusal.
    """

    default_url = GEMINI_DEFAULT_URL

    def _make_sdk(self) -> Any:
        from google import genai
        from google.genai import types

        cfg = self.config
        options: dict[str, Any] = {"api_version": GEMINI_API_VERSION,
                                   "timeout": int((cfg.timeout + 5.0) * 1000)}
        if cfg.base_url:
            options["base_url"] = cfg.base_url
        vertex = vertex_settings()
        try:
            if vertex is not None:  # Vertex AI: Google Cloud credentials, no API key
                client = genai.Client(vertexai=True, project=vertex[0], location=vertex[1],
                                      http_options=types.HttpOptions(**options))
            else:
                client = genai.Client(api_key=self._key, vertexai=False,
                                      http_options=types.HttpOptions(**options))
        except Exception as e:  # noqa: BLE001 - a setup problem, reported without the key
            raise self._set_fatal(APIConfigError(
                f"cannot set up the Google GenAI client for the {cfg.label} at {self._url}: "
                f"{self._redact(e)}", base_url=self._url)) from None
        closers: list[Any] = [getattr(client.aio, "aclose", None), getattr(client, "close", None)]
        return _SDKHandle(client, self._url, [c for c in closers if c is not None])

    async def _request(self, sdk: Any, model: str, messages: Any, params: dict[str, Any]) -> Any:
        from google.genai import errors, types

        contents, system = _gemini_contents(messages)
        config = dict(params)
        if system is not None:
            config.setdefault("system_instruction", system)
        # No tools, so no automatic function calling (which logs a line per request).
        config.setdefault("automatic_function_calling", {"disable": True})
        config = types.GenerateContentConfig(**config)
        try:
            return await sdk.client.aio.models.generate_content(model=model, contents=contents, config=config)
        except errors.APIError as e:
            raise _gemini_status_error(e) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except Exception as e:  # noqa: BLE001 - transport errors and unreadable answers
            _raise_sdk_failure(e, "Gemini", errors.UnknownApiResponseError)
            raise

    @staticmethod
    def _parse(response: Any) -> ChatResult:
        candidates = _field(response, "candidates")
        if not candidates:
            feedback = _field(response, "prompt_feedback")
            reason = _enum_text(_field(feedback, "block_reason")) if feedback is not None else None
            if reason:
                raise ContentBlocked(f"Gemini blocked the prompt (block reason {reason})")
            raise MalformedAnswer("the Gemini answer has no candidates")
        candidate = candidates[0]
        finish = _enum_text(_field(candidate, "finish_reason"))
        parts = _field(_field(candidate, "content"), "parts") or []
        texts = [_field(p, "text") for p in parts
                 if isinstance(_field(p, "text"), str) and not _field(p, "thought")]
        if not texts:   # the reference's `completion.text` raised here: counted as blocked
            raise ContentBlocked(f"Gemini returned no text (finish reason {finish or 'unknown'}); "
                                 "the answer was blocked")
        usage: Optional[Usage] = None
        meta = _field(response, "usage_metadata")
        if meta is not None:
            usage = Usage(_int_or_none(_field(meta, "prompt_token_count")),
                          _int_or_none(_field(meta, "candidates_token_count")),
                          _int_or_none(_field(meta, "total_token_count")))
        model = _field(response, "model_version")
        return ChatResult(text="".join(texts), finish_reason=finish, usage=usage,
                          model=model if isinstance(model, str) else None)


def _raise_sdk_failure(e: Exception, provider: str, unreadable: Any = ()) -> None:
    """For an SDK failure without an HTTP status, raise what the client retries: the
    transport error it stands for, or `ProviderMalformed` for an answer the SDK could
    not read (a validation error, or one of ``unreadable``). Returns for anything else,
    which the caller re-raises as it is."""
    translated = _translate_transport(e)
    if translated is not None:
        raise translated from e
    if _is_validation_error(e) or isinstance(e, unreadable):
        raise ProviderMalformed(f"the {provider} answer could not be read ({type(e).__name__})") from None


def _is_validation_error(e: BaseException) -> bool:
    try:
        import pydantic
    except ImportError:  # pragma: no cover - both SDKs depend on pydantic
        return False
    classes: list[type] = [pydantic.ValidationError]
    v1 = getattr(pydantic, "v1", None)
    if v1 is not None and hasattr(v1, "ValidationError"):
        classes.append(v1.ValidationError)
    return isinstance(e, tuple(classes))


def vertex_settings() -> Optional[tuple[str, str]]:
    """(project, location) when Gemini should go through Vertex AI, else None.

    As google-genai's own switch: ``GOOGLE_GENAI_USE_VERTEXAI=true`` with
    ``GOOGLE_CLOUD_PROJECT`` (and ``GOOGLE_CLOUD_LOCATION``, default us-central1);
    credentials are Google Cloud's application default credentials.
    """
    if os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() not in ("1", "true", "yes"):
        return None
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise ModelError("GOOGLE_GENAI_USE_VERTEXAI is set: set GOOGLE_CLOUD_PROJECT (and GOOGLE_CLOUD_LOCATION) too")
    return project, os.environ.get("GOOGLE_CLOUD_LOCATION", "us-central1")


class GeminiModel(OpenAICompatibleModel):
    """Gemini models, as the reference's ``google.generativeai`` calls, on ``google-genai``.

    One user message, ``candidate_count=1``, ``max_output_tokens=1536`` and the four
    harm categories set to ``BLOCK_NONE``; an answer blocked by the safety filters is
    a refusal (retried, then `REFUSAL_TEXT`). Key: ``k_g``; or Vertex AI (see
    `vertex_settings`). Base URL: ``GOOGLE_GEMINI_BASE_URL`` (the SDK's own variable).
    """

    def __init__(self, args: Any):
        require_sdk("google.genai", "google-genai", self.spec.name)
        super().__init__(args)
        from google.genai import types

        try:
            types.GenerateContentConfig(**self.params)
        except Exception as e:  # noqa: BLE001 - pydantic's message names the bad field
            raise ModelError(f"{self.spec.name}: the generation settings are not valid for Gemini's "
                             f"GenerateContentConfig: {e}") from None

    def _endpoint(self, args: Any) -> tuple[Optional[str], Optional[str]]:
        base_url = self.spec.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or None
        if vertex_settings() is not None:
            return base_url, None  # Vertex AI authenticates with Google Cloud credentials
        return base_url, self.spec.env_keys[0]

    def _client_class(self) -> type:
        return GeminiChatClient

    def _base_params(self) -> dict[str, Any]:
        return {
            "candidate_count": 1,
            "max_output_tokens": self.closeended_max_new_tokens,
            "safety_settings": [{"category": c, "threshold": "BLOCK_NONE"} for c in GEMINI_HARM_CATEGORIES],
        }


# --------------------------------------------------------------------------- Reka

REKA_DEFAULT_URL = "https://api.reka.ai/v1"
# Headers of the answer to the request running in this task (set by an httpx hook), so
# a 429's retry-after reaches the shared client: Reka's ApiError does not carry them.
_REKA_HEADERS: contextvars.ContextVar[Optional[dict[str, Any]]] = contextvars.ContextVar(
    "mix_eval_reka_headers", default=None)


async def _remember_headers(response: Any) -> None:
    box = _REKA_HEADERS.get()
    if box is not None:
        box["headers"] = response.headers


def _reka_body(body: Any) -> Any:
    """Reka's error body (FastAPI ``{"detail": ...}``, a model or text) in OpenAI form."""
    if hasattr(body, "dict") and not isinstance(body, dict):
        try:
            body = body.dict()
        except Exception:  # noqa: BLE001
            body = str(body)
    if isinstance(body, dict) and not body:
        return None
    if isinstance(body, dict):
        if isinstance(body.get("error"), (dict, str)):
            return body
        detail = body.get("detail", body.get("message"))
        if detail is not None:
            return _error_body(detail if isinstance(detail, str) else json.dumps(detail, default=str))
        return _error_body(json.dumps(body, default=str))
    return body if isinstance(body, str) else None


def _reka_text(content: Any) -> Optional[str]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [_field(c, "text") for c in content if _field(c, "type") in (None, "text")]
        return "".join(t for t in texts if isinstance(t, str))
    return None


class RekaChatClient(_ShimErrorClient):
    """The chat client on Reka's chat API (``reka-api``: ``AsyncReka().chat.create``)."""

    default_url = REKA_DEFAULT_URL

    def _make_sdk(self) -> Any:
        import httpx
        from reka.client import AsyncReka

        cfg = self.config
        conc = cfg.max_concurrency
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(cfg.timeout + 5.0, connect=min(cfg.timeout + 5.0, 30.0)),
            limits=httpx.Limits(max_connections=conc + 16, max_keepalive_connections=conc + 16),
            event_hooks={"response": [_remember_headers]})
        try:
            client = AsyncReka(api_key=self._key, base_url=cfg.base_url or REKA_DEFAULT_URL,
                               httpx_client=http, timeout=cfg.timeout + 5.0)
        except Exception as e:  # noqa: BLE001 - a setup problem, reported without the key
            raise self._set_fatal(APIConfigError(
                f"cannot set up the Reka client for the {cfg.label} at {self._url}: "
                f"{self._redact(e)}", base_url=self._url)) from None
        return _SDKHandle(client, self._url, [http.aclose])

    async def _request(self, sdk: Any, model: str, messages: Any, params: dict[str, Any]) -> Any:
        from reka.core.api_error import ApiError

        box: dict[str, Any] = {}
        _REKA_HEADERS.set(box)   # this request runs in its own task: the hook fills `box`
        chat = [{"role": m.get("role", "user"), "content": m.get("content", "")} for m in messages]
        try:
            return await sdk.client.chat.create(model=model, messages=chat, **params)
        except ApiError as e:
            if not isinstance(e.status_code, int):
                raise ProviderMalformed(f"the Reka SDK failed without an HTTP status: {e}") from None
            body = _reka_body(e.body)
            message = ""
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                message = str(body["error"].get("message") or "")
            raise ProviderStatusError(e.status_code, body, box.get("headers"), message) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except Exception as e:  # noqa: BLE001 - transport errors and unreadable answers
            _raise_sdk_failure(e, "Reka")
            raise

    @staticmethod
    def _parse(response: Any) -> ChatResult:
        if isinstance(response, (str, bytes)) or response is None:
            raise MalformedAnswer("the Reka answer is not a chat response")
        responses = _field(response, "responses")
        if not isinstance(responses, list) or not responses:
            raise MalformedAnswer("the Reka answer has no responses")
        message = _field(responses[0], "message")
        if message is None:
            raise MalformedAnswer("the first Reka response has no message")
        text = _reka_text(_field(message, "content"))
        if text is None:
            raise MalformedAnswer("the Reka message content is not text")
        usage: Optional[Usage] = None
        raw = _field(response, "usage")
        if raw is not None:
            usage = Usage(_int_or_none(_field(raw, "input_tokens")), _int_or_none(_field(raw, "output_tokens")), None)
        finish = _field(responses[0], "finish_reason")
        model = _field(response, "model")
        return ChatResult(text=text, finish_reason=finish if isinstance(finish, str) else None, usage=usage,
                          model=model if isinstance(model, str) else None)


class RekaModel(OpenAICompatibleModel):
    """Reka models on the ``reka-api`` SDK's chat API.

    The reference called the legacy ``reka.chat(prompt, model_name=...)`` (one human
    turn, no length, so the server's default applied); the maintained API sends one
    user message with ``max_tokens`` = 1536, the suite's API budget (its default, 1024,
    would cut answers short). Key: ``k_reka``. Base URL: ``REKA_BASE_URL`` (default
    ``https://api.reka.ai/v1``).
    """

    def __init__(self, args: Any):
        require_sdk("reka", "reka-api", self.spec.name)
        try:
            from reka.client import AsyncReka  # noqa: F401 - the legacy `reka` package lacks it
        except ImportError:
            raise ModelError(
                f"--model_name {self.spec.name} needs the reka-api package (version 3 or later); "
                "the installed `reka` module is another one: pip install -U reka-api"
            ) from None
        super().__init__(args)

    def _endpoint(self, args: Any) -> tuple[Optional[str], Optional[str]]:
        base_url = self.spec.base_url or os.environ.get("REKA_BASE_URL") or None
        return base_url, self.spec.env_keys[0]

    def _client_class(self) -> type:
        return RekaChatClient

    def _base_params(self) -> dict[str, Any]:
        return {"max_tokens": self.closeended_max_new_tokens}
