"""The one layer that talks to OpenAI-compatible chat APIs.

Both the LLM judge and API models under evaluation send their requests through a
`ChatClient`. It owns everything that has to be decided once for a whole pool of
parallel requests:

* concurrency: at most ``max_concurrency`` calls in progress (``--api_parallel_num``);
* rate limits: a 429 pauses the WHOLE pool until the server's ``retry-after-ms`` /
  ``retry-after`` has passed, and an adaptive request rate (`AdaptiveRateLimiter`)
  converges to what the server accepts instead of bursting into the limit again.
  429s do not use up ``max_retries``; ``rate_limit_timeout`` seconds of 429s without
  a single success stop the client with `APIRateLimitError`;
* transient failures (5xx, 408/409, timeouts, connection errors, bodies that are not
  a chat completion): capped exponential backoff with full jitter, ``max_retries``
  times, then `TransientAPIError`;
* fatal answers: 401/403 (`APIAuthError`), 404 (`APIConfigError`), 429 with
  ``insufficient_quota`` (`APIQuotaError`) stop the client at once: requests in
  flight are cancelled and queued ones raise the same error without being sent;
* 400 and other 4xx: `APIBadRequestError` to the caller, not retried;
* the first request goes alone (the others wait for its answer, at most 2 s), so a bad
  key or model name costs one call, not ``max_concurrency``.

The API key never appears in an exception message, a log line or a repr.

Usage::

    client = ChatClient(ClientConfig(api_key=key, model="gpt-3.5-turbo-0125",
                                     key_setting="MODEL_PARSER_API", label="judge API"))
    result = await client.generate(messages, max_tokens=999)          # async callers
    results = run_batch(client, [(key, messages, params), ...], on_result=journal)  # sync

A client serves one event loop at a time; after that loop is closed (e.g. after
`run_batch`) it can be used again on another one. The learned rate and the
statistics carry over. Importing this module imports neither ``openai`` nor torch;
the SDK is loaded on the first request.
"""
from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from typing import (
    Any, Callable, Dict, Hashable, Iterable, List, Mapping, Optional, Tuple, Union,
)

from mix_eval.errors import MixEvalError

logger = logging.getLogger(__name__)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

__all__ = [
    "ClientConfig", "ChatClient", "ChatResult", "Usage", "ClientStats", "AdaptiveRateLimiter",
    "LLMClientError", "FatalAPIError", "APIAuthError", "APIConfigError", "APIRateLimitError",
    "APIQuotaError", "APIBadRequestError", "TransientAPIError",
    "run_batch", "arun_batch", "parse_retry_after",
]


# --------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------- config


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
        return _strip_userinfo(url)

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


# --------------------------------------------------------------------------- results and stats


@dataclass(frozen=True)
class Usage:
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    total_tokens: Optional[int] = None

    def as_dict(self) -> Dict[str, Optional[int]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ChatResult:
    """One answer: ``text`` ("" when the server sent no content), why it stopped, usage."""

    text: str
    finish_reason: Optional[str] = None
    usage: Optional[Usage] = None
    model: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {"text": self.text, "finish_reason": self.finish_reason,
                "usage": self.usage.as_dict() if self.usage else None, "model": self.model}


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


# --------------------------------------------------------------------------- rate limiter


class AdaptiveRateLimiter:
    """Request pacing that learns the server's rate limit from its 429s.

    A pure state machine (times are passed in, nothing sleeps), so it can be tested
    and simulated without a clock.

    * Pacing is a GCRA / token bucket with rate ``rate`` and a burst of at most two
      requests (``tau`` = min(1/rate, 10 ms)), so the pool never bursts.
    * The gate: a 429's ``retry-after`` moves ``gate_until``; nobody sends before it.
    * Increase: each success adds ``slow_start_gain`` req/s while in slow start (or
      while below 95% of the rate measured at the last cut), else ``increase_gain``,
      i.e. about +2% per second at steady state. There is no increase while the pool
      is not limited by the pacing (no demand, nothing learned).
    * Decrease: a 429 for a request sent after the last cut (one cut per round trip,
      as in TCP) sets ``rate = clamp(0.95 * admitted, 0.5 * rate, (1 - cut) * rate)``
      where ``admitted`` is the rate at which requests sent in the last second were
      accepted (sent minus rejected): while the server rejects, that is its limit. The
      minimum ``cut`` is 5% and doubles with each cut that follows the previous one
      within 0.5 s (5, 10, 20, 40, 50%), so a big overshoot (a server with a large burst
      allowance hides its limit until the burst is spent) is corrected in a few steps.
    * A run of 429s with no success in it (the server rejects everything for a while:
      an overload, or another client spent a shared limit) measures nothing about the
      rate; the gates pace the pool through it, the rate is not cut below half the rate
      of before the run, the client climbs back to that rate at the slow-start pace, and
      a slow start the run interrupted goes on.
    * Recovery: after ``quiet_recovery`` seconds without a 429, the rate returns to the
      rate that worked when the latest run of 429s began (capped by what the server
      then accepted), so a short burst of 429s does not leave the pool crawling.
    """

    def __init__(self, initial_rate: float, *, min_rate: float = 0.02,
                 max_rate: Optional[float] = None, slow_start_gain: float = 1.0,
                 increase_gain: float = 0.02, min_cut: float = 0.05, max_cut: float = 0.5,
                 target: float = 0.95, window: float = 1.0, window_samples: int = 20,
                 escalate_within: float = 0.5, quiet_recovery: float = 1.0):
        self.max_rate = float(max_rate) if max_rate else math.inf
        self.min_rate = min(float(min_rate), self.max_rate)
        self.rate = min(max(float(initial_rate), self.min_rate), self.max_rate)
        self.slow_start = True
        self.slow_start_gain = slow_start_gain
        self.increase_gain = increase_gain
        self.min_cut, self.max_cut, self.target = min_cut, max_cut, target
        self.window, self.window_samples = window, window_samples
        self.escalate_within = escalate_within
        self._quick_cuts = 0
        self.ceiling = math.inf
        self.peak = 0.0               # the rate before the latest run of cuts
        self.run_rate = 0.0           # the rate when the latest run of 429s began
        self.run_start = -math.inf
        self.run_slow_start = False
        self.last_success = -math.inf
        self.quiet_recovery = quiet_recovery
        self.new_run_after = max(5.0, quiet_recovery)
        self.tat = -math.inf          # GCRA theoretical arrival time
        self.gate_until = -math.inf
        self.last_cut = -math.inf
        self.last_paced = -math.inf
        self.first_send: Optional[float] = None
        self.cuts = 0
        self._sends: deque = deque()     # send times
        self._rejects: deque = deque()   # send times of the requests answered 429

    max_tau = 0.01   # seconds a request may go early to make up for a late timer

    def _tau(self) -> float:
        return min(1.0 / self.rate, self.max_tau)

    def _window(self) -> float:
        return max(self.window, self.window_samples / self.rate)

    def delay(self, now: float) -> float:
        """Seconds until a request may be sent (<= 0: now)."""
        return max(self.tat - self._tau(), self.gate_until) - now

    def try_acquire(self, now: float) -> float:
        """Take a slot and return 0.0, or return how long to wait before trying again."""
        wait = self.delay(now)
        if wait > 1e-6:
            self.last_paced = now
            return wait
        self.tat = max(self.tat, now, self.gate_until) + 1.0 / self.rate
        self._sends.append(now)
        if self.first_send is None:
            self.first_send = now
        self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        horizon = now - max(self._window(), 30.0)
        while self._sends and self._sends[0] < horizon:
            self._sends.popleft()
        while self._rejects and self._rejects[0] < horizon:
            self._rejects.popleft()

    def admitted_rate(self, now: float) -> Optional[float]:
        """Accepted requests per second among those sent in the last window; None if
        there is less than half a window of history."""
        w = self._window()
        if self.first_send is None:
            return None
        start = max(now - w, self.first_send)
        span = now - start
        if span < 0.5 * w:
            return None
        sent = sum(1 for t in self._sends if t >= start)
        rejected = sum(1 for t in self._rejects if t >= start)
        return max(sent - rejected, 0) / span

    def on_success(self, now: float) -> None:
        if self.last_success < self.run_start and self.run_slow_start:
            self.slow_start = True    # the run of 429s measured nothing: keep searching
        self.last_success = now
        if now - self.last_paced > 1.0:   # the pacing is not what limits us: learn nothing
            return
        if self.rate < self.peak and now - self.last_cut > self.quiet_recovery:
            # A burst of 429s is over (no 429 for a while): return to the rate that worked
            # before it, instead of creeping back up for minutes.
            self._set_rate(self.peak, now)
            return
        if self.slow_start:
            rate = self.rate + self.slow_start_gain
        elif self.rate < 0.95 * self.ceiling:
            rate = min(0.95 * self.ceiling, self.rate + self.slow_start_gain)
        else:
            rate = self.rate + self.increase_gain
        self.rate = min(rate, self.max_rate)

    def _set_rate(self, rate: float, now: float) -> None:
        """Raise the rate; the next slot, booked at the old (slower) rate, moves closer."""
        self.rate = min(rate, self.max_rate)
        if self._sends:
            self.tat = min(self.tat, max(self._sends[-1] + 1.0 / self.rate, now))

    def on_rate_limited(self, now: float, sent_at: float, gate_delay: Optional[float]) -> bool:
        """Record a 429; returns True when the rate was cut."""
        self._rejects.append(sent_at)
        if gate_delay is not None and gate_delay > 0:
            self.gate_until = max(self.gate_until, now + gate_delay)
        if sent_at < self.last_cut:   # sent before the last cut: already accounted for
            return False
        admitted = self.admitted_rate(now)
        if now - self.last_cut >= self.new_run_after:
            # A new run of 429s: remember a rate that was working when it began (what the
            # server accepted, when known), to return to once the run is over.
            self.peak = (self.rate * (1 - self.max_cut) if admitted is None
                         else min(self.rate, self.target * admitted))
            self.run_rate, self.run_start, self.run_slow_start = self.rate, now, self.slow_start
        self._quick_cuts = self._quick_cuts + 1 if now - self.last_cut < self.escalate_within else 0
        cut = min(self.max_cut, self.min_cut * 2 ** self._quick_cuts)
        lo, hi = self.rate * (1 - self.max_cut), self.rate * (1 - cut)
        new = hi if admitted is None else min(hi, max(lo, self.target * admitted))
        self.ceiling = self.rate if admitted is None else min(admitted, self.rate)
        if self.last_success < self.run_start:
            # Nothing but 429s since the run began: no measurement of the rate, only of
            # an outage; the gates hold the pool back, the rate stays within reach.
            floor = self.run_rate * (1 - self.max_cut)
            new = max(new, min(floor, self.rate))
            self.ceiling = max(self.ceiling, self.run_rate)
        self.rate = min(max(new, self.min_rate), self.max_rate)
        self.slow_start = False
        self.last_cut = now
        self.cuts += 1
        return True


# --------------------------------------------------------------------------- helpers


def _strip_userinfo(url: str) -> str:
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", str(url))


_TOKEN_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)\S+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-*.]{4,}"),
]


def parse_retry_after(headers: Optional[Mapping[str, str]], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds, possibly
    fractional, or an HTTP date); None when absent or unreadable."""
    if not headers:
        return None
    get = headers.get
    value = get("retry-after-ms") or get("Retry-After-Ms")
    if value is not None:
        try:
            ms = float(value)
            if math.isfinite(ms) and ms >= 0:
                return ms / 1000.0
        except (TypeError, ValueError):
            pass
    value = get("retry-after") or get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _server_message(exc: Any) -> Tuple[Optional[str], Optional[str]]:
    """(message, code) from an OpenAI-style error body, if any."""
    body = getattr(exc, "body", None)
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
    if message and len(message) > 300:
        message = message[:300] + "..."
    return message, code


class _Malformed(Exception):
    """A 200 answer that is not a usable chat completion."""


class _DeadlineExceeded(Exception):
    """The request took longer than ``timeout``."""


_PENDING = object()
_NO_ADVICE_PAUSE = 0.25   # seconds: first pool-wide pause after a 429 without retry-after
_PROBE_WAIT = 2.0         # seconds the pool waits for the first request's answer


# --------------------------------------------------------------------------- the client


class ChatClient:
    """An OpenAI-compatible chat client for a pool of parallel requests (see module doc)."""

    def __init__(self, config: ClientConfig):
        if not isinstance(config, ClientConfig):
            raise TypeError(f"ChatClient needs a ClientConfig, got {type(config).__name__}")
        self._config = config
        self._key = (config.api_key or "").strip()
        self.stats = ClientStats()
        initial = config.initial_rate or float(config.max_concurrency)
        self._limiter = AdaptiveRateLimiter(initial, max_rate=config.max_rate)
        self.stats.current_rate = self._limiter.rate
        self._fatal: Optional[FatalAPIError] = None
        self._rl_streak_start: Optional[float] = None
        self._pause_level = 0          # escalation of pauses for 429s without retry-after
        self._last_pause_at = -math.inf
        self._warned_rate_limit = False
        self._warned_timeout = False
        self._url = config.display_url
        # The first request goes alone (a probe): a bad key or model then costs one call,
        # not max_concurrency. The others wait for its answer, at most _PROBE_WAIT seconds.
        self._probed = False
        self._probe_in_flight = False
        self._probe_started = 0.0
        self._probe_future: Optional[asyncio.Future] = None
        # Per-event-loop state (made by _bind_loop).
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._sdk: Any = None
        self._semaphore: Optional[asyncio.Semaphore] = None
        self._pace_lock: Optional[asyncio.Lock] = None
        self._fatal_future: Optional[asyncio.Future] = None
        self._inflight: set = set()
        self._bind_lock = threading.Lock()
        self._check_key()

    # ---- public

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def base_url(self) -> str:
        return self._url

    @property
    def fatal_error(self) -> Optional[FatalAPIError]:
        """The fatal error that stopped this client, if any."""
        return self._fatal

    @property
    def rate(self) -> float:
        """The current request rate limit, in requests per second."""
        return self._limiter.rate

    def __repr__(self) -> str:
        return (f"ChatClient(model={self._config.model!r}, base_url={self._url!r}, "
                f"max_concurrency={self._config.max_concurrency}, api_key=***)")

    async def generate(self, messages: List[Dict[str, Any]], **params: Any) -> ChatResult:
        """One chat completion: ``chat.completions.create(model=..., messages=..., **params)``.

        ``params`` are passed as given (``max_tokens``, ``temperature``, ``response_format``,
        ``extra_body``...); ``model=`` overrides the configured model for this call.
        Raises `APIBadRequestError` / `TransientAPIError` for this request, or a
        `FatalAPIError` once the client is stopped.
        """
        self._bind_loop()
        self._raise_if_fatal()
        model = params.pop("model", None) or self._config.model
        if params.get("stream"):
            raise ValueError("ChatClient.generate does not support stream=True")
        assert self._semaphore is not None
        async with self._semaphore:
            self._raise_if_fatal()
            return await self._generate(model, messages, params)

    async def aclose(self) -> None:
        """Close the HTTP connections. The client stays usable (they reopen on demand)."""
        sdk, self._sdk = self._sdk, None
        if sdk is not None:
            try:
                await sdk.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                logger.debug("closing the HTTP client failed", exc_info=False)

    async def __aenter__(self) -> "ChatClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # ---- event loop binding

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        with self._bind_lock:
            old = self._loop
            if old is not None and old is not loop and old.is_running():
                raise RuntimeError(
                    "this ChatClient is in use on another running event loop; a client "
                    "serves one event loop at a time")
            self._loop = loop
            self._sdk = None   # bound to the old loop's connections
            self._semaphore = asyncio.Semaphore(self._config.max_concurrency)
            self._pace_lock = asyncio.Lock()
            self._fatal_future = loop.create_future()
            self._probe_future = loop.create_future()
            self._probe_in_flight = False
            self._inflight = set()
            if self._fatal is not None:
                self._fatal_future.set_result(None)

    def _get_sdk(self) -> Any:
        if self._sdk is None:
            import openai

            try:
                self._sdk = self._make_sdk()
            except openai.OpenAIError as e:
                raise self._set_fatal(APIConfigError(
                    f"cannot set up the client for the {self._config.label} at {self._url}: "
                    f"{self._redact(e)}", base_url=self._url)) from None
            try:
                self._url = _strip_userinfo(str(self._sdk.base_url).rstrip("/"))
            except Exception:  # noqa: BLE001
                pass
        return self._sdk

    def _make_sdk(self) -> Any:
        import openai

        cfg = self._config
        conc = cfg.max_concurrency
        http_client = None
        try:   # connection pool sized for the pool of requests (SDK 3.x: httpx2)
            import httpx2  # type: ignore

            http_client = openai.DefaultAsyncHttpx2Client(
                limits=httpx2.Limits(max_connections=conc + 16,
                                     max_keepalive_connections=conc + 16),
                timeout=httpx2.Timeout(cfg.timeout + 5.0, connect=min(cfg.timeout + 5.0, 30.0)))
        except (ImportError, AttributeError):
            try:
                import httpx

                http_client = openai.DefaultAsyncHttpxClient(
                    limits=httpx.Limits(max_connections=conc + 16,
                                        max_keepalive_connections=conc + 16),
                    timeout=httpx.Timeout(cfg.timeout + 5.0, connect=min(cfg.timeout + 5.0, 30.0)))
            except (ImportError, AttributeError):
                http_client = None
        common: Dict[str, Any] = dict(api_key=self._key, max_retries=0,
                                      timeout=cfg.timeout + 5.0)
        if http_client is not None:
            common["http_client"] = http_client
        if cfg.is_azure:
            return openai.AsyncAzureOpenAI(azure_endpoint=cfg.azure_endpoint,
                                           api_version=cfg.api_version, **common)
        return openai.AsyncOpenAI(base_url=cfg.base_url, **common)

    # ---- fatal state

    def _check_key(self) -> None:
        cfg = self._config
        if not self._key:
            raise APIAuthError(
                f"no API key for the {cfg.label} at {self._url}: set {cfg.key_setting} in the "
                f"environment or .env", base_url=self._url)
        if not re.fullmatch(r"[\x21-\x7e]+", self._key):
            raise APIAuthError(
                f"the key in {cfg.key_setting} for the {cfg.label} contains spaces, control or "
                f"non-ASCII characters; set {cfg.key_setting} to the key exactly as issued",
                base_url=self._url)
        if cfg.is_azure and not (cfg.api_version or os.environ.get("OPENAI_API_VERSION")):
            raise APIConfigError(
                f"the {cfg.label} is Azure OpenAI ({self._url}) but no API version is set; set "
                f"OPENAI_API_VERSION (e.g. 2024-02-01)", base_url=self._url)

    def _raise_if_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal._clone()

    def _set_fatal(self, error: FatalAPIError) -> FatalAPIError:
        if self._fatal is None:
            self._fatal = error
            logger.debug("client stopped: %s", error)   # the caller reports the error itself
            if self._fatal_future is not None and not self._fatal_future.done():
                self._fatal_future.set_result(None)
            for task in list(self._inflight):
                task.cancel()
            return error
        return self._fatal._clone()

    async def _sleep(self, delay: float) -> None:
        """Sleep, but wake up at once (and raise) when the client is stopped."""
        if delay > 0:
            assert self._fatal_future is not None
            await asyncio.wait({self._fatal_future}, timeout=delay)
        self._raise_if_fatal()

    def _redact(self, text: Any) -> str:
        text = str(text)
        if self._key:
            text = text.replace(self._key, "***")
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "sk-") + "***", text)
        return text

    # ---- one call, with retries

    async def _wait_for_probe(self) -> bool:
        """Wait while the first request is on its way; True when this call is that probe."""
        while not self._probed:
            if not self._probe_in_flight:
                self._probe_in_flight = True
                self._probe_started = time.monotonic()
                return True
            remaining = self._probe_started + _PROBE_WAIT - time.monotonic()
            if remaining <= 0:
                self._probed = True   # a slow first answer: do not hold the pool any longer
                break
            assert self._probe_future is not None and self._fatal_future is not None
            await asyncio.wait({self._probe_future, self._fatal_future}, timeout=remaining,
                               return_when=asyncio.FIRST_COMPLETED)
            self._raise_if_fatal()
        return False

    def _end_probe(self, answered: bool) -> None:
        if answered:
            self._probed = True
        self._probe_in_flight = False
        future = self._probe_future
        if future is not None and not future.done():
            future.set_result(None)
        if not self._probed and self._loop is not None:
            self._probe_future = self._loop.create_future()

    async def _acquire_slot(self) -> float:
        assert self._pace_lock is not None
        async with self._pace_lock:
            while True:
                self._raise_if_fatal()
                now = time.monotonic()
                wait = self._limiter.try_acquire(now)
                if wait <= 0:
                    return now
                await self._sleep(wait)

    async def _generate(self, model: str, messages: List[Dict[str, Any]],
                        params: Dict[str, Any]) -> ChatResult:
        probe = await self._wait_for_probe()
        try:
            return await self._attempts(model, messages, params, probe)
        finally:
            if probe and not self._probed:   # cancelled before any answer: let another go
                self._end_probe(answered=False)

    def _sdk_errors(self) -> Tuple[type, type, type, type]:
        """The SDK's (status error, timeout, connection error, invalid response) classes."""
        import openai

        return (openai.APIStatusError, openai.APITimeoutError, openai.APIConnectionError,
                openai.APIResponseValidationError)

    async def _attempts(self, model: str, messages: List[Dict[str, Any]],
                        params: Dict[str, Any], probe: bool) -> ChatResult:
        status_error, timeout_error, connection_error, validation_error = self._sdk_errors()
        cfg = self._config
        failures = 0
        while True:
            sent_at = await self._acquire_slot()
            self.stats.requests_sent += 1
            outcome: str
            detail = ""
            status: Optional[int] = None
            retry_after: Optional[float] = None
            server_msg: Optional[str] = None
            code: Optional[str] = None
            result: Optional[ChatResult] = None
            try:
                completion = await self._send(model, messages, params)
                result = self._parse(completion)
                outcome = "ok"
            except _Malformed as e:
                outcome, detail = "transient", f"malformed answer: {e}"
            except _DeadlineExceeded:
                outcome, detail = "transient", f"no answer within {cfg.timeout:g} s (timeout)"
            except (json.JSONDecodeError, UnicodeDecodeError):
                outcome, detail = "transient", "malformed answer: the body is not valid JSON"
            except status_error as e:
                status = e.status_code
                server_msg, code = _server_message(e)
                headers = getattr(getattr(e, "response", None), "headers", None)
                retry_after = parse_retry_after(headers)
                if status == 429:
                    outcome = "quota" if code == "insufficient_quota" else "rate_limited"
                elif status in (401, 403):
                    outcome = "auth"
                elif status == 404:
                    outcome = "not_found"
                elif status in (408, 409) or status >= 500:
                    outcome, detail = "transient", f"HTTP {status}"
                else:
                    outcome = "bad_request"
            except timeout_error:
                outcome, detail = "transient", f"no answer within {cfg.timeout:g} s (timeout)"
            except connection_error as e:
                cause = e.__cause__ or e.__context__
                why = f"{type(cause).__name__}: {cause}" if cause is not None else str(e)
                outcome, detail = "transient", f"connection error ({why})"
            except validation_error as e:
                outcome, detail = "transient", f"malformed answer: {e.message}"
            except (asyncio.CancelledError, FatalAPIError):
                raise
            except Exception as e:  # noqa: BLE001 - anything else is a bug; keep the key out
                text = f"{type(e).__name__}: {e!r}"
                if self._key and self._key in text:
                    raise APIConfigError(
                        f"the request to the {cfg.label} at {self._url} could not be made: "
                        f"{self._redact(text)}", base_url=self._url) from None
                raise
            if server_msg:
                server_msg = self._redact(server_msg)
            if probe:
                probe = False
                self._end_probe(answered=True)

            if outcome == "ok":
                assert result is not None
                self._on_success()
                return result
            if outcome == "rate_limited":
                self._on_rate_limited(sent_at, retry_after, server_msg)
                continue
            if outcome == "transient":
                detail = self._redact(detail + (f" - {server_msg}" if server_msg else ""))
                if failures >= cfg.max_retries:
                    self.stats.failed += 1
                    raise TransientAPIError(
                        f"the {cfg.label} at {self._url} failed {failures + 1} time"
                        f"{'s' if failures else ''} in a row for model {model!r} "
                        f"(last error: {detail}); it may be down or overloaded, try again later",
                        status_code=status, base_url=self._url, model=model,
                        server_message=server_msg, code=code)
                failures += 1
                self.stats.retries += 1
                delay = random.uniform(0, min(cfg.backoff_cap, cfg.backoff_base * 2 ** (failures - 1)))
                if retry_after is not None:
                    delay = max(delay, min(retry_after, cfg.max_retry_after))
                if "(timeout)" in detail and not self._warned_timeout:
                    # A hanging server is otherwise silent for minutes: say what is going on.
                    self._warned_timeout = True
                    logger.warning("%s at %s: %s; retrying, up to %d times per request",
                                   cfg.label, self._url, detail, cfg.max_retries)
                logger.debug("%s: %s; retry %d/%d in %.2f s", self._url, detail, failures,
                             cfg.max_retries, delay)
                await self._sleep(delay)
                continue
            said = f" (server said: {server_msg})" if server_msg else ""
            if outcome == "bad_request":
                self.stats.bad_requests += 1
                raise APIBadRequestError(
                    f"the {cfg.label} at {self._url} rejected the request as invalid "
                    f"(HTTP {status}){said}", status_code=status, base_url=self._url,
                    model=model, server_message=server_msg, code=code)
            if outcome == "auth":
                what = "rejected the key" if status == 401 else "refused access with this key"
                raise self._set_fatal(APIAuthError(
                    f"the {cfg.label} {what} (HTTP {status}) at {self._url}{said}; set "
                    f"{cfg.key_setting} in the environment or .env to a valid key"
                    + (f" with access to model {model!r}" if status == 403 else ""),
                    status_code=status, base_url=self._url, model=model,
                    server_message=server_msg, code=code))
            if outcome == "not_found":
                what = "deployment" if cfg.is_azure else "model"
                raise self._set_fatal(APIConfigError(
                    f"the {cfg.label} at {self._url} answered HTTP 404 for {what} {model!r}"
                    f"{said}: the {what} does not exist there or the base URL is wrong; check "
                    f"the {what} name and the base URL", status_code=status, base_url=self._url,
                    model=model, server_message=server_msg, code=code))
            if outcome == "quota":
                raise self._set_fatal(APIQuotaError(
                    f"the {cfg.label} at {self._url} refused the request: the account's quota "
                    f"is exhausted (HTTP 429 insufficient_quota){said}; check the plan and "
                    f"billing of the key in {cfg.key_setting}", status_code=429,
                    base_url=self._url, model=model, server_message=server_msg, code=code))
            raise AssertionError(f"unhandled outcome {outcome}")  # pragma: no cover

    def _request(self, sdk: Any, model: str, messages: Any, params: Dict[str, Any]) -> Any:
        """The SDK call of one request (a coroutine)."""
        return sdk.chat.completions.create(model=model, messages=messages, **params)

    async def _send(self, model: str, messages: Any, params: Dict[str, Any]) -> Any:
        sdk = self._get_sdk()
        task = asyncio.ensure_future(self._request(sdk, model, messages, params))
        self._inflight.add(task)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._config.timeout)
        finally:
            self._inflight.discard(task)
            if not task.done():
                task.cancel()
        if not done:
            raise _DeadlineExceeded()
        if task.cancelled():   # cancelled by _set_fatal
            self._raise_if_fatal()
            raise asyncio.CancelledError()
        return task.result()

    @staticmethod
    def _parse(completion: Any) -> ChatResult:
        if isinstance(completion, (str, bytes)) or completion is None:
            raise _Malformed("the body is not a chat completion (not JSON)")
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise _Malformed("the completion has no choices")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if message is None or isinstance(message, (str, bytes, int, float, list, dict)):
            raise _Malformed("the first choice has no message")
        content = getattr(message, "content", None)
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise _Malformed(f"the message content is a {type(content).__name__}, not text")
        finish = getattr(choice, "finish_reason", None)
        usage = None
        raw_usage = getattr(completion, "usage", None)
        if raw_usage is not None:
            def num(name: str) -> Optional[int]:
                v = getattr(raw_usage, name, None)
                return v if isinstance(v, int) else None
            usage = Usage(num("prompt_tokens"), num("completion_tokens"), num("total_tokens"))
        model = getattr(completion, "model", None)
        return ChatResult(text=content, finish_reason=finish if isinstance(finish, str) else None,
                          usage=usage, model=model if isinstance(model, str) else None)

    # ---- rate-limit bookkeeping

    def _on_success(self) -> None:
        self.stats.successes += 1
        self._rl_streak_start = None
        self._pause_level = 0
        self._limiter.on_success(time.monotonic())
        self.stats.current_rate = self._limiter.rate

    def _on_rate_limited(self, sent_at: float, retry_after: Optional[float],
                               server_msg: Optional[str]) -> None:
        cfg = self._config
        now = time.monotonic()
        self.stats.rate_limited += 1
        if self._rl_streak_start is None:
            self._rl_streak_start = now
        elif now - self._rl_streak_start > cfg.rate_limit_timeout:
            minutes = cfg.rate_limit_timeout / 60
            raise self._set_fatal(APIRateLimitError(
                f"the {cfg.label} at {self._url} kept answering HTTP 429 (rate limited) for "
                f"{minutes:g} min without a single success; lower the parallelism "
                f"(max_concurrency={cfg.max_concurrency}) or raise the rate limit of the key in "
                f"{cfg.key_setting}", status_code=429, base_url=self._url,
                server_message=server_msg))
        gate: Optional[float] = None
        if retry_after is not None:
            gate = min(retry_after, cfg.max_retry_after)
        elif sent_at >= self._last_pause_at:
            # No advice: pause the pool 0.25 s, doubling (up to backoff_cap) each time a
            # request sent after the previous pause is rejected again before any success.
            self._pause_level += 1
            self._last_pause_at = now
            gate = min(cfg.backoff_cap, _NO_ADVICE_PAUSE * 2 ** min(self._pause_level - 1, 20))
            gate *= random.uniform(0.8, 1.0)
        old_gate = self._limiter.gate_until
        cut = self._limiter.on_rate_limited(now, sent_at, gate)
        self.stats.current_rate = self._limiter.rate
        self.stats.rate_limit_wait_s += max(0.0, self._limiter.gate_until - max(old_gate, now))
        if not self._warned_rate_limit:
            self._warned_rate_limit = True
            logger.warning("%s at %s is rate limiting (HTTP 429); pausing all requests %.2f s "
                           "and slowing down to %.1f requests/s", cfg.label, self._url, gate or 0.0,
                           self._limiter.rate)
        elif gate is not None and gate >= 5:
            logger.info("%s at %s rate limited: pausing all requests %.1f s", cfg.label,
                        self._url, gate)
        if cut:
            logger.debug("rate limited: request rate cut to %.2f/s", self._limiter.rate)


# --------------------------------------------------------------------------- batches

BatchRequest = Tuple[Hashable, List[Dict[str, Any]], Optional[Mapping[str, Any]]]
ResultCallback = Callable[[Hashable, Union[ChatResult, Exception]], None]


async def arun_batch(client: Union[ChatClient, ClientConfig], requests: Iterable[BatchRequest],
                     on_result: Optional[ResultCallback] = None, *, progress: bool = False,
                     desc: str = "API requests") -> Dict[Hashable, Union[ChatResult, Exception]]:
    """`run_batch` for callers already in an event loop."""
    if isinstance(client, ClientConfig):
        client = ChatClient(client)
    total = len(requests) if hasattr(requests, "__len__") else None  # type: ignore[arg-type]
    iterator = iter(requests)
    results: Dict[Hashable, Any] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="req", dynamic_ncols=True)

    async def worker() -> None:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            try:
                key, messages, params = item
            except (TypeError, ValueError):
                raise ValueError("run_batch requests must be (key, messages, params) tuples") from None
            if key in results:
                raise ValueError(f"run_batch: duplicate request key {key!r}")
            results[key] = _PENDING
            outcome: Union[ChatResult, Exception]
            try:
                outcome = await client.generate(messages, **dict(params or {}))
            except (APIBadRequestError, TransientAPIError) as e:
                outcome = e
            results[key] = outcome
            if on_result is not None:
                on_result(key, outcome)
            if bar is not None:
                bar.update(1)

    n_workers = client.config.max_concurrency
    if total is not None:
        n_workers = max(1, min(n_workers, total))
    tasks = [asyncio.ensure_future(worker()) for _ in range(n_workers)]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        failed = [t for t in done if not t.cancelled() and t.exception() is not None]
        if failed:
            fatal = [t for t in failed if isinstance(t.exception(), FatalAPIError)]
            raise (fatal or failed)[0].exception()  # type: ignore[misc]
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if bar is not None:
            bar.close()
    return {k: v for k, v in results.items() if v is not _PENDING}


def run_batch(client: Union[ChatClient, ClientConfig], requests: Iterable[BatchRequest],
              on_result: Optional[ResultCallback] = None, progress: bool = False, *,
              desc: str = "API requests") -> Dict[Hashable, Union[ChatResult, Exception]]:
    """Send every ``(key, messages, params)`` request concurrently (bounded by the client).

    ``on_result(key, result_or_exception)`` is called as each one finishes (journal it).
    A request that fails on its own (`APIBadRequestError`, `TransientAPIError` after all
    retries) is delivered as that exception; a `FatalAPIError` (bad key, unknown model,
    quota, endless 429s) stops the batch and is raised. Returns ``{key: result}`` in
    input order. Keys must be unique. ``requests`` is consumed lazily.
    """
    chat = ChatClient(client) if isinstance(client, ClientConfig) else client

    async def main() -> Dict[Hashable, Union[ChatResult, Exception]]:
        try:
            return await arun_batch(chat, requests, on_result, progress=progress, desc=desc)
        finally:
            await chat.aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Called from inside a running event loop (e.g. a notebook): run in a helper thread.
    box: Dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, name="mix_eval-run_batch", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
