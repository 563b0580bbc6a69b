"""Google's Gemini API on the loopback server: ``POST /{version}/models/{model}:generateContent``
(point google-genai at the server root). The key goes in ``x-goog-api-key``; a wrong key
gets HTTP 400 ``API_KEY_INVALID`` as from Google. ``reply`` sees the body with ``model``
and OpenAI-style ``messages`` added, and may return `BLOCKED` (a candidate with no text,
finish reason ``SAFETY``) or `BLOCKED_PROMPT` (no candidates, ``promptFeedback.blockReason``
``SAFETY``), which also work as scripted or permanent faults here. A thinking model answers thought
parts first (`fakes.thinking`)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Optional

from .faults import BLOCKED, BLOCKED_PROMPT, Fault

if TYPE_CHECKING:
    from .core import Handler, RecordedRequest

CHAT_PATH = ":generateContent"
SAFETY_KINDS = (BLOCKED.kind, BLOCKED_PROMPT.kind)


def is_chat_path(path: str) -> bool:
    return path.rstrip("/").endswith(CHAT_PATH)


def _text(parts: Any) -> str:
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


class GeminiGenerate:
    def _google_error(self, h: "Handler", rec: "RecordedRequest", status: int, grpc_status: str,
                      message: str, reason: Optional[str] = None) -> None:
        error: Dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
        if reason:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                 "domain": "googleapis.com"}]
        self._send(h, rec, status, json.dumps({"error": error}).encode())

    def _gemini(self, h: "Handler", rec: "RecordedRequest") -> None:
        fault = self._next_fault()
        if fault is not None and fault.kind not in SAFETY_KINDS:
            return self._fault(h, rec, fault)
        key = rec.headers.get("x-goog-api-key", "")
        if self.api_key is not None and key != self.api_key:
            return self._google_error(h, rec, 400, "INVALID_ARGUMENT",
                                      f"API key not valid: {key}. Please pass a valid API key.",
                                      reason="API_KEY_INVALID")
        if self._rate_limited(h, rec):
            return None
        model = rec.path.rstrip("/").rsplit("/models/", 1)[-1].split(":", 1)[0]
        if self.models is not None and model not in self.models:
            return self._google_error(h, rec, 404, "NOT_FOUND",
                                      f"models/{model} is not found for API version v1beta, or is not "
                                      "supported for generateContent.")
        body = rec.body if isinstance(rec.body, dict) else {}
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return self._google_error(h, rec, 400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: "
                                      "contents is not specified")
        messages = []
        system = body.get("systemInstruction") or body.get("system_instruction")
        if isinstance(system, dict):
            messages.append({"role": "system", "content": _text(system.get("parts", []))})
        for c in contents:
            if isinstance(c, dict):
                messages.append({"role": "assistant" if c.get("role") == "model" else "user",
                                 "content": _text(c.get("parts", []))})
        text = fault or self._call_reply({**body, "model": model, "messages": messages})
        if isinstance(text, Fault) and text.kind not in SAFETY_KINDS:
            return self._fault(h, rec, text)
        self._wait_latency()
        usage = {"promptTokenCount": sum(len(m["content"].split()) for m in messages)}
        if isinstance(text, Fault) and text.kind == BLOCKED_PROMPT.kind:
            answer: Dict[str, Any] = {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]},
                "usageMetadata": {**usage, "totalTokenCount": usage["promptTokenCount"]},
                "modelVersion": model}
        elif isinstance(text, Fault):  # BLOCKED
            answer = {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}],
                "usageMetadata": {**usage, "totalTokenCount": usage["promptTokenCount"]},
                "modelVersion": model}
        elif self.thinks(model):  # thought parts first (`fakes.thinking`)
            answer = self.thinking_candidates(model, body, messages, str(text), usage["promptTokenCount"])
        else:
            out = len(str(text).split())
            answer = {"candidates": [{"content": {"parts": [{"text": str(text)}], "role": "model"},
                                      "finishReason": "STOP", "index": 0}],
                      "usageMetadata": {**usage, "candidatesTokenCount": out,
                                        "totalTokenCount": usage["promptTokenCount"] + out},
                      "modelVersion": model}
        self._send(h, rec, 200, json.dumps(answer).encode())
