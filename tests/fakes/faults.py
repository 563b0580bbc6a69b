"""What the loopback server answers when it is told to misbehave: `Fault` (a scripted
answer), OpenAI's error bodies by status, and the token bucket of its rate limit."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union


@dataclass(frozen=True)
class Fault:
    """A scripted answer. ``kind`` is a status (``"500"``) or a named fault (``"hang"``)."""

    kind: str
    retry_after: Optional[float] = None   # 429/5xx: seconds, sent as retry-after(-ms)
    message: Optional[str] = None         # error message in the body
    hang: Optional[float] = None          # "hang": seconds before answering
    headers: Optional[Dict[str, str]] = None  # extra response headers (e.g. only retry-after)
    code: Any = None                      # the error body's code (default: the status's usual one)
    error_type: Optional[str] = None      # the error body's type (default: the status's usual one)

    @classmethod
    def of(cls, value: Union[str, int, "Fault"]) -> "Fault":
        if isinstance(value, Fault):
            return value
        return cls(str(value))


# Gemini-only reply values: a safety-blocked answer / prompt (HTTP 200 without text).
BLOCKED = Fault("blocked")
BLOCKED_PROMPT = Fault("blocked_prompt")

# status -> (message, type, code) of OpenAI's error body
STATUS_ERRORS = {
    400: ("Invalid request: the prompt was rejected by the content filter.",
          "invalid_request_error", "content_filter"),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", "permission_denied"),
    404: ("The model does not exist or you do not have access to it.", "invalid_request_error",
          "model_not_found"),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def error_body(message: str, type_: str, code: Optional[str] = None) -> bytes:
    """OpenAI's ``{"error": {...}}`` body."""
    return json.dumps({"error": {"message": message, "type": type_, "param": None,
                                 "code": code}}).encode()


def fault_error_body(fault: Fault, status: int) -> bytes:
    """The error body of a status fault: its own message, type and code, else the status's usual ones."""
    message, type_, code = STATUS_ERRORS.get(status, (f"HTTP {status}", "error", None))
    return error_body(fault.message or message, fault.error_type or type_,
                      fault.code if fault.code is not None else code)


class TokenBucket:
    """``rate`` tokens/s, at most ``burst`` (default max(1, rate)); starts full."""

    def __init__(self, rate: float, burst: Optional[float]):
        self.rate = float(rate)
        self.burst = float(burst) if burst else max(1.0, self.rate)
        self.tokens = self.burst
        self.last = time.monotonic()

    def take(self) -> Optional[float]:
        """None when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate
