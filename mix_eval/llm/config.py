"""`ClientConfig`: everything a `ChatClient` is told, with the key kept out of its repr."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Optional

__all__ = ["ClientConfig", "OPENAI_DEFAULT_BASE_URL", "strip_userinfo"]

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


def strip_userinfo(url: str) -> str:
    """The URL without ``user:password@``, so it can be shown in messages."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", str(url))


@dataclass(frozen=True)
class ClientConfig:
    """Everything a `ChatClient` needs. ``repr`` masks the key.

    api_key: the key (``Authorization: Bearer``; Azure: ``api-key``).
    model: the model (Azure: deployment) sent when a call does not name another.
    base_url: an OpenAI-compatible ``.../v1`` URL; None = OpenAI (or ``OPENAI_BASE_URL``).
    max_concurrency: calls in progress at once (``--api_parallel_num``).
    timeout: seconds one HTTP request may take before it counts as a transient failure.
    max_retries: retries after 5xx / timeout / connection error / malformed body.
    backoff_base, backoff_cap: full-jitter backoff, ``uniform(0, min(cap, base * 2**n))``.
    rate_limit_timeout: give up (`APIRateLimitError`) after this many seconds of 429s
        with no success at all.
    max_retry_after: longest ``retry-after`` honoured, in seconds (longer ones are cut).
    initial_rate: requests/second before the server has said anything (None:
        ``max_concurrency`` per second); the rate then adapts.
    max_rate: a hard cap in requests/second (None: none).
    key_setting: where the key comes from (``MODEL_PARSER_API``, ``k_oai``...): named in
        error messages, never the key itself.
    label: what the API is, for messages ("judge API", "API of model gpt-4o"...).
    azure_endpoint, api_version: set azure_endpoint to use Azure OpenAI.
    """

    api_key: str
    model: str
    base_url: Optional[str] = None
    max_concurrency: int = 100
    timeout: float = 120.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    rate_limit_timeout: float = 600.0
    max_retry_after: float = 120.0
    initial_rate: Optional[float] = None
    max_rate: Optional[float] = None
    key_setting: str = "OPENAI_API_KEY"
    label: str = "API"
    azure_endpoint: Optional[str] = None
    api_version: Optional[str] = None

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"ClientConfig.{name} {why} (got {getattr(self, name)!r})")

        if not isinstance(self.model, str) or not self.model.strip():
            raise bad("model", "must be a non-empty string")
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise bad("max_concurrency", "must be an integer >= 1")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise bad("max_retries", "must be an integer >= 0")
        for name in ("timeout", "backoff_base", "rate_limit_timeout"):
            if not (getattr(self, name) > 0):
                raise bad(name, "must be > 0")
        if self.backoff_cap < self.backoff_base:
            raise bad("backoff_cap", "must be >= backoff_base")
        if self.max_retry_after < 0:
            raise bad("max_retry_after", "must be >= 0")
        for name in ("initial_rate", "max_rate"):
            value = getattr(self, name)
            if value is not None and not (value > 0):
                raise bad(name, "must be > 0 or None")

    @property
    def is_azure(self) -> bool:
        return bool(self.azure_endpoint)

    @property
    def display_url(self) -> str:
        """The URL requests go to, as shown in messages (no credentials in it)."""
        url = self.azure_endpoint or self.base_url or os.environ.get("OPENAI_BASE_URL") \
            or OPENAI_DEFAULT_BASE_URL
        return strip_userinfo(url)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                parts.append(f"api_key={'***' if value else '<empty>'}")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"ClientConfig({', '.join(parts)})"

    __str__ = __repr__
