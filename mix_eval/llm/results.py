"""What a `ChatClient` hands back: one answer (`ChatResult`, `Usage`) and its counters
(`ClientStats`)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Optional

__all__ = ["ChatResult", "ClientStats", "Usage"]


@dataclass(frozen=True)
class Usage:
    """Tokens of one call, as the server counted them (None: not reported)."""

    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    total_tokens: Optional[int] = None

    def as_dict(self) -> Dict[str, Optional[int]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ChatResult:
    """One answer: ``text`` ("" when the server sent no content), why it stopped, usage;
    for a model that thinks, its thinking when the server sends it apart from the text
    (``reasoning``: ``reasoning_content`` / ``reasoning`` fields, Anthropic's thinking
    blocks, Gemini's thought parts) and the tokens it spent thinking, where counted."""

    text: str
    finish_reason: Optional[str] = None
    usage: Optional[Usage] = None
    model: Optional[str] = None
    reasoning: Optional[str] = None
    reasoning_tokens: Optional[int] = None

    def as_dict(self) -> Dict[str, Any]:
        return {"text": self.text, "finish_reason": self.finish_reason,
                "usage": self.usage.as_dict() if self.usage else None, "model": self.model,
                "reasoning": self.reasoning, "reasoning_tokens": self.reasoning_tokens}


@dataclass
class ClientStats:
    """Counters for reporting. ``retries`` counts retries of non-429 failures."""

    requests_sent: int = 0
    successes: int = 0
    rate_limited: int = 0
    retries: int = 0
    bad_requests: int = 0
    failed: int = 0
    rate_limit_wait_s: float = 0.0
    current_rate: Optional[float] = None

    @property
    def rejected_share(self) -> float:
        return self.rate_limited / self.requests_sent if self.requests_sent else 0.0

    def as_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        d["rejected_share"] = round(self.rejected_share, 4)
        d["rate_limit_wait_s"] = round(self.rate_limit_wait_s, 3)
        if self.current_rate is not None:
            d["current_rate"] = round(self.current_rate, 2)
        return d
