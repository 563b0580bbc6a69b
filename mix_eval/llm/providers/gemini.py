"""Google's Gemini API through the ``google-genai`` SDK, its errors sorted as Google sends them.

Gemini answers a bad or expired key with HTTP 400 (reason ``API_KEY_INVALID``): a key
error (fatal, reported with its real status), not a refusal to retry. A 400
``FAILED_PRECONDITION`` (e.g. the API is not offered in the user's region) stops the
run as a configuration error. Any other 400 is a bad request. A 429 carries its
retry delay in the body (``RetryInfo.retryDelay``); a 429 for a daily quota
(``QuotaFailure`` on a ``...PerDay...`` quota) cannot be waited out: an exhausted quota.
Vertex AI instead of a key when the environment says so (`vertex_settings`), for a
Gemini judge and a Gemini model alike.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, List, Optional, Tuple

from mix_eval.errors import ModelError
from mix_eval.llm.config import ClientConfig, strip_userinfo
from mix_eval.llm.limiter import parse_retry_after
from mix_eval.llm.providers.base import (
    BlockedReply, Failure, Kind, MalformedReply, SetupError, clip, field, http_failure, int_or_none,
    transport_failure,
)
from mix_eval.llm.results import ChatResult, Usage

__all__ = ["GeminiProvider", "GEMINI_DEFAULT_URL", "GEMINI_API_VERSION", "vertex_settings"]

GEMINI_DEFAULT_URL = "https://generativelanguage.googleapis.com"
# The reference's google.generativeai SDK called the v1beta API; google-genai defaults to v1.
GEMINI_API_VERSION = "v1beta"
_MAX_TOKENS = "MAX_TOKENS"  # Gemini's finish reason for a reply cut by max_output_tokens ("length")
_BAD_KEY_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"}


def vertex_settings() -> Optional[Tuple[str, str]]:
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


def _duration(value: Any) -> Optional[float]:
    """Seconds of a protobuf Duration in JSON (``"37s"``, ``"1.5s"``)."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            seconds = float(value[:-1])
        except ValueError:
            return None
        return seconds if seconds >= 0 else None
    return None


def _enum_text(value: Any) -> Optional[str]:
    if value is None:
        return None
    value = getattr(value, "value", value)
    return value if isinstance(value, str) else str(value)


def _headers(error: Any) -> Dict[str, str]:
    raw = getattr(getattr(error, "response", None), "headers", None)
    if raw is None:
        return {}
    try:
        return {str(k).lower(): str(v) for k, v in raw.items()}
    except Exception:  # noqa: BLE001 - no usable headers
        return {}


def api_error_failure(error: Any) -> Failure:
    """A ``google.genai.errors.APIError`` sorted by its status, gRPC status and details."""
    status = error.code if isinstance(getattr(error, "code", None), int) else 500
    details = getattr(error, "details", None)
    err = details.get("error", details) if isinstance(details, dict) else None
    err = err if isinstance(err, dict) else {}
    text = str(getattr(error, "message", None) or (details if isinstance(details, str) else "") or "")
    grpc_status = err.get("status")
    infos = err.get("details") if isinstance(err.get("details"), list) else []
    infos = [i for i in infos if isinstance(i, dict)]
    reasons = {str(i["reason"]) for i in infos if i.get("reason")}
    code = grpc_status or (sorted(reasons)[0] if reasons else None)
    message = clip(text or f"HTTP {status}")
    retry_after = parse_retry_after(_headers(error))
    if retry_after is None:
        for info in infos:
            if str(info.get("@type", "")).endswith("RetryInfo"):
                retry_after = _duration(info.get("retryDelay"))
                if retry_after is not None:
                    break
    if status == 400 and (reasons & _BAD_KEY_REASONS or "API key not valid" in text
                          or "API key expired" in text):
        return Failure(Kind.AUTH, status=status, message=message, code=code)
    if status == 400 and grpc_status == "FAILED_PRECONDITION":
        return Failure(Kind.CONFIG, status=status, message=message, code=code)
    quota_ids = [str(v.get("quotaId", "")) for i in infos for v in (i.get("violations") or [])
                 if isinstance(v, dict)]
    if status == 429 and (any("PerDay" in q for q in quota_ids) or err.get("code") == "insufficient_quota"):
        return Failure(Kind.QUOTA, status=status, message=message, code=code, retry_after=retry_after)
    return http_failure(status, message, code, retry_after)


def contents(messages: List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """OpenAI-style messages as Gemini ``contents`` (user/model roles with ``parts``) and
    the system instruction, if any."""
    out: List[Dict[str, Any]] = []
    system: List[str] = []
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
        out.append({"role": "model" if role in ("assistant", "model") else "user", "parts": parts})
    return out, ("\n".join(system) if system else None)


class GeminiSession:
    """A ``google.genai.Client`` and what closes its connections."""

    def __init__(self, client: Any):
        self.client = client

    async def close(self) -> None:
        aio = getattr(self.client, "aio", None)
        for closer in (getattr(aio, "aclose", None), getattr(self.client, "close", None)):
            if closer is None:
                continue
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


class GeminiProvider:
    """``client.aio.models.generate_content`` on the ``v1beta`` API (the one the reference's
    ``google.generativeai`` SDK used), key in ``x-goog-api-key``, no SDK retries. Request
    params are ``GenerateContentConfig`` fields. ``vertex``: (project, location) to go
    through Vertex AI with Google Cloud credentials instead of a key."""

    sdk_label = "Google GenAI client"

    def __init__(self, vertex: Optional[Tuple[str, str]] = None):
        self.vertex = vertex

    def url(self, config: ClientConfig, session: Any = None) -> str:
        return strip_userinfo((config.base_url or GEMINI_DEFAULT_URL).rstrip("/"))

    def check(self, config: ClientConfig) -> None:
        """Nothing to check beyond the key."""

    def open(self, config: ClientConfig, api_key: str) -> GeminiSession:
        from google import genai
        from google.genai import types

        options: Dict[str, Any] = {"api_version": GEMINI_API_VERSION,
                                   "timeout": int((config.timeout + 5.0) * 1000)}
        if config.base_url:
            options["base_url"] = config.base_url
        try:
            if self.vertex is not None:
                client = genai.Client(vertexai=True, project=self.vertex[0], location=self.vertex[1],
                                      http_options=types.HttpOptions(**options))
            else:
                client = genai.Client(api_key=api_key, vertexai=False, http_options=types.HttpOptions(**options))
        except Exception as e:  # noqa: BLE001 - any refusal of the settings; the client redacts it
            raise SetupError(str(e)) from None
        return GeminiSession(client)

    async def send(self, session: GeminiSession, model: str, messages: List[Dict[str, Any]],
                   params: Dict[str, Any]) -> Any:
        from google.genai import types

        parts, system = contents(messages)
        config = dict(params)
        if system is not None:
            config.setdefault("system_instruction", system)
        # No tools, so no automatic function calling (which logs a line per request).
        config.setdefault("automatic_function_calling", {"disable": True})
        return await session.client.aio.models.generate_content(
            model=model, contents=parts, config=types.GenerateContentConfig(**config))

    def parse(self, response: Any) -> ChatResult:
        """The answer is the text of the parts that are not thoughts; the parts marked
        ``thought`` (thought summaries, with ``include_thoughts``) are its reasoning, and
        ``usage_metadata.thoughts_token_count`` its reasoning tokens (billed as output:
        counted in ``completion_tokens`` too). No answer text is a blocked answer, as in the
        reference, except when the budget ran out while thinking (finish reason
        ``MAX_TOKENS`` after thoughts): an empty answer, cut off."""
        candidates = field(response, "candidates")
        if not candidates:
            feedback = field(response, "prompt_feedback")
            reason = _enum_text(field(feedback, "block_reason")) if feedback is not None else None
            if reason:
                raise BlockedReply(f"Gemini blocked the prompt (block reason {reason})")
            raise MalformedReply("the Gemini answer has no candidates")
        candidate = candidates[0]
        finish = _enum_text(field(candidate, "finish_reason"))
        parts = field(field(candidate, "content"), "parts") or []
        texts: List[str] = []
        thoughts: List[str] = []
        for part in parts:
            text = field(part, "text")
            if isinstance(text, str):
                (thoughts if field(part, "thought") is True else texts).append(text)
        meta = field(response, "usage_metadata")
        thinking_tokens = int_or_none(field(meta, "thoughts_token_count")) if meta is not None else None
        reasoning = "".join(thoughts) if thoughts else None
        cut_while_thinking = finish == _MAX_TOKENS and (reasoning is not None or bool(thinking_tokens))
        if not texts and not cut_while_thinking:  # the reference's `completion.text` raised here: blocked
            raise BlockedReply(f"Gemini returned no text (finish reason {finish or 'unknown'}); "
                               "the answer was blocked")
        usage: Optional[Usage] = None
        if meta is not None:
            completion = int_or_none(field(meta, "candidates_token_count"))
            if thinking_tokens:
                completion = (completion or 0) + thinking_tokens
            usage = Usage(int_or_none(field(meta, "prompt_token_count")), completion,
                          int_or_none(field(meta, "total_token_count")))
        model = field(response, "model_version")
        return ChatResult(text="".join(texts), finish_reason="length" if finish == _MAX_TOKENS else finish,
                          usage=usage, model=model if isinstance(model, str) else None, reasoning=reasoning,
                          reasoning_tokens=thinking_tokens)

    def classify(self, error: Exception) -> Optional[Failure]:
        from google.genai import errors

        if isinstance(error, errors.APIError):
            return api_error_failure(error)
        if isinstance(error, errors.UnknownApiResponseError):
            return Failure.malformed(f"the Gemini answer could not be read ({type(error).__name__})")
        return transport_failure(error, "Gemini")

    async def close(self, session: GeminiSession) -> None:
        await session.close()
