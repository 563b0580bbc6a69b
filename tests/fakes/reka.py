"""Reka's chat API on the loopback server: ``POST /v1/chat`` (base URL ``.../v1``), key in
``x-api-key``, answered as a ``ChatResponse`` (``responses[0].message.content``)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .faults import Fault

if TYPE_CHECKING:
    from .core import Handler, RecordedRequest

CHAT_PATH = "/v1/chat"


def is_chat_path(path: str) -> bool:
    return path.rstrip("/").endswith(CHAT_PATH)


class RekaChat:
    def _reka(self, h: "Handler", rec: "RecordedRequest") -> None:
        fault = self._next_fault()
        if fault is not None:
            return self._fault(h, rec, fault)
        key = rec.headers.get("x-api-key", "")
        if self.api_key is not None and key != self.api_key:
            return self._fault(h, rec, Fault("401", message=f"Invalid API key: {key}"))
        if self._rate_limited(h, rec):
            return None
        body = rec.body if isinstance(rec.body, dict) else {}
        model = body.get("model")
        if self.models is not None and model not in self.models:
            return self._fault(h, rec, Fault("404", message=f"Model {model} not found"))
        if not isinstance(body.get("messages"), list):
            return self._fault(h, rec, Fault("422", message="field required: messages"))
        text = self._call_reply(body)
        if isinstance(text, Fault):
            return self._fault(h, rec, text)
        self._wait_latency()
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"] if isinstance(m, dict))
        answer = {"id": f"reka-fake-{self._next_id()}", "model": model,
                  "responses": [{"finish_reason": "stop",
                                 "message": {"role": "assistant", "content": str(text)}}],
                  "usage": {"input_tokens": prompt, "output_tokens": len(str(text).split())}}
        self._send(h, rec, 200, json.dumps(answer).encode())
