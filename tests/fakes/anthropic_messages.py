"""Anthropic's Messages API on the loopback server: ``POST /v1/messages``, checked as an
OpenAI chat request is (tests/fakes/openai_chat.py: faults, key, rate limit, model, reply),
answered as a ``message`` (a thinking model's with thinking blocks: `fakes.thinking`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

if TYPE_CHECKING:
    from .core import Handler, RecordedRequest

CHAT_PATH = "/v1/messages"


def is_chat_path(path: str) -> bool:
    return path.rstrip("/").endswith(CHAT_PATH)


class AnthropicMessages:
    def _anthropic(self, h: "Handler", rec: "RecordedRequest") -> None:
        self._chat_answer(h, rec, self._anthropic_message)

    def _anthropic_message(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        if self.thinks(body.get("model")):  # thinking blocks first (`fakes.thinking`)
            return self.thinking_message(body, text, self._next_id())
        return {"id": f"msg_fake_{self._next_id()}", "type": "message", "role": "assistant",
                "model": body.get("model"), "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": len(text.split())}}
