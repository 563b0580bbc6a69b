"""The errors a chat API call ends in: one class per thing the user has to do.

Every message names the API, its URL and the setting to fix; none carries the key.
A `FatalAPIError` stops the whole client, the others concern one request.
"""
from __future__ import annotations

from typing import Optional

from mix_eval.errors import MixEvalError

__all__ = [
    "LLMClientError", "FatalAPIError", "APIAuthError", "APIConfigError", "APIRateLimitError",
    "APIQuotaError", "APIBadRequestError", "TransientAPIError",
]


class LLMClientError(MixEvalError):
    """A chat API call failed; the message says why and what to do.

    ``status_code`` is the HTTP status when there was one, ``base_url`` the API's URL.
    """

    def __init__(self, message: str, *, status_code: Optional[int] = None,
                 base_url: Optional[str] = None, model: Optional[str] = None,
                 server_message: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status_code = status_code
        self.base_url = base_url
        self.model = model
        self.server_message = server_message
        self.code = code

    def _clone(self) -> "LLMClientError":
        """A fresh instance with the same message, raised by every other waiting call."""
        return type(self)(str(self), status_code=self.status_code, base_url=self.base_url,
                          model=self.model, server_message=self.server_message, code=self.code)


class FatalAPIError(LLMClientError):
    """Retrying cannot help: the client stops, every pending call raises it."""


class APIAuthError(FatalAPIError):
    """HTTP 401/403, or no usable key: the key is missing, wrong or not allowed."""


class APIConfigError(FatalAPIError):
    """HTTP 404: unknown model (Azure: deployment) or wrong base URL."""


class APIRateLimitError(FatalAPIError):
    """Rate limited (HTTP 429) for ``rate_limit_timeout`` seconds without any success."""


class APIQuotaError(APIRateLimitError):
    """HTTP 429 with ``insufficient_quota``: the account has no credit left."""


class APIBadRequestError(LLMClientError):
    """HTTP 400 (or another non-retryable 4xx) for this request, e.g. a content filter."""


class TransientAPIError(LLMClientError):
    """5xx, timeouts, connection errors or malformed bodies, still failing after all retries."""
