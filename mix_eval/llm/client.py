"""`ChatClient`: one pool of parallel chat requests to one API, over a `Provider`.

Both the LLM judge and API models under evaluation send their requests through a
`ChatClient`. It owns everything that has to be decided once for a whole pool of
parallel requests, whatever the provider:

* concurrency: at most ``max_concurrency`` calls in progress (``--api_parallel_num``);
* rate limits: a 429 pauses the WHOLE pool until the server's ``retry-after-ms`` /
  ``retry-after`` has passed, and an adaptive request rate (`AdaptiveRateLimiter`)
  converges to what the server accepts instead of bursting into the limit again.
  429s do not use up ``max_retries``; ``rate_limit_timeout`` seconds of 429s without
  a single success stop the client with `APIRateLimitError`;
* transient failures (5xx, 408/409, timeouts, connection errors, bodies that are not
  a reply): capped exponential backoff with full jitter, ``max_retries`` times, then
  `TransientAPIError`;
* fatal answers: bad key (`APIAuthError`), unknown model or refused setup
  (`APIConfigError`), exhausted quota (`APIQuotaError`) stop the client at once:
  requests in flight are cancelled and queued ones raise the same error without being sent;
* a refused request (HTTP 400, a content filter): `APIBadRequestError`, not retried;
* the first request goes alone (the others wait for its answer, at most 2 s), so a bad
  key or model name costs one call, not ``max_concurrency``.

The provider (`mix_eval.llm.providers`; default: OpenAI-compatible) opens its SDK, sends
one request, parses the reply and sorts its SDK's exceptions into a `Failure`; the API
key never appears in an exception message, a log line or a repr.

Usage::

    client = ChatClient(ClientConfig(api_key=key, model="gpt-3.5-turbo-0125",
                                     key_setting="MODEL_PARSER_API", label="judge API"))
    result = await client.generate(messages, max_tokens=999)          # async callers
    results = run_pool(client, [(key, messages, params), ...], on_result=journal)  # sync

A client serves one event loop at a time; after that loop is closed (e.g. after
`run_pool`) it can be used again on another one. The learned rate and the
statistics carry over. Importing this module imports no SDK and no torch; the SDK is
loaded on the first request.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import threading
import time
from typing import Any, Dict, List, Optional

from mix_eval.llm.config import ClientConfig
from mix_eval.llm.errors import (
    APIAuthError, APIBadRequestError, APIConfigError, APIQuotaError, APIRateLimitError, FatalAPIError,
    TransientAPIError,
)
from mix_eval.llm.limiter import AdaptiveRateLimiter
from mix_eval.llm.providers.base import BlockedReply, Failure, Kind, MalformedReply, Provider, SetupError
from mix_eval.llm.results import ChatResult, ClientStats

logger = logging.getLogger(__name__)

__all__ = ["ChatClient", "default_provider"]

_TOKEN_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)\S+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-*.]{4,}"),
]
_NO_ADVICE_PAUSE = 0.25   # seconds: first pool-wide pause after a 429 without retry-after
_PROBE_WAIT = 2.0         # seconds the pool waits for the first request's answer


class _DeadlineExceeded(Exception):
    """The request took longer than ``timeout``."""


def _retrieve(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled():
        task.exception()


def default_provider() -> Provider:
    """The OpenAI-compatible provider (OpenAI, Azure OpenAI, any compatible server)."""
    from mix_eval.llm.providers import make_provider

    return make_provider("openai")


class ChatClient:
    """A chat client for a pool of parallel requests to one API (see module doc).

    ``provider``: the API's `Provider` (default: OpenAI-compatible, `OpenAIProvider`).
    """

    def __init__(self, config: ClientConfig, provider: Optional[Provider] = None):
        if not isinstance(config, ClientConfig):
            raise TypeError(f"ChatClient needs a ClientConfig, got {type(config).__name__}")
        self._config = config
        self._provider: Provider = provider if provider is not None else default_provider()
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
        self._url = self._provider.url(config)
        # The first request goes alone (a probe): a bad key or model then costs one call,
        # not max_concurrency. The others wait for its answer, at most _PROBE_WAIT seconds.
        self._probed = False
        self._probe_in_flight = False
        self._probe_started = 0.0
        self._probe_future: Optional[asyncio.Future] = None
        # Per-event-loop state (made by _bind_loop).
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._session: Any = None
        self._semaphore: Optional[asyncio.Semaphore] = None
        self._pace_lock: Optional[asyncio.Lock] = None
        self._fatal_future: Optional[asyncio.Future] = None
        self._inflight: set = set()
        self._bind_lock = threading.Lock()
        self._check_key()
        self._provider.check(config)

    # ---- public

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def provider(self) -> Provider:
        return self._provider

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
        """One reply, sent by the provider (OpenAI: ``chat.completions.create(model=...,
        messages=..., **params)``).

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
        session, self._session = self._session, None
        if session is not None:
            try:
                await self._provider.close(session)
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
            self._session = None   # bound to the old loop's connections
            self._semaphore = asyncio.Semaphore(self._config.max_concurrency)
            self._pace_lock = asyncio.Lock()
            self._fatal_future = loop.create_future()
            self._probe_future = loop.create_future()
            self._probe_in_flight = False
            self._inflight = set()
            if self._fatal is not None:
                self._fatal_future.set_result(None)

    def _open(self) -> Any:
        """The provider's session for this event loop, opened on the first request."""
        if self._session is None:
            try:
                self._session = self._provider.open(self._config, self._key)
            except SetupError as e:
                raise self._set_fatal(APIConfigError(
                    f"cannot set up the {self._provider.sdk_label} for the {self._config.label} at "
                    f"{self._url}: {self._redact(e)}", base_url=self._url)) from None
            self._url = self._provider.url(self._config, self._session)
        return self._session

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

    async def _attempts(self, model: str, messages: List[Dict[str, Any]],
                        params: Dict[str, Any], probe: bool) -> ChatResult:
        cfg = self._config
        failures = 0
        while True:
            sent_at = await self._acquire_slot()
            self.stats.requests_sent += 1
            try:
                result = self._provider.parse(await self._send(model, messages, params))
                failure: Optional[Failure] = None
            except MalformedReply as e:
                failure = Failure.malformed(str(e))
            except BlockedReply as e:
                failure = Failure(Kind.BAD_REQUEST, status=200, message=str(e), code="content_blocked")
            except _DeadlineExceeded:
                failure = Failure.timeout()
            except (json.JSONDecodeError, UnicodeDecodeError):
                failure = Failure.malformed("the body is not valid JSON")
            except FatalAPIError:
                raise
            except Exception as e:  # noqa: BLE001 - the provider sorts its SDK's errors
                failure = self._provider.classify(e)
                if failure is None:   # not the SDK's: a bug; keep the key out of it
                    text = f"{type(e).__name__}: {e!r}"
                    if self._key and self._key in text:
                        raise APIConfigError(
                            f"the request to the {cfg.label} at {self._url} could not be made: "
                            f"{self._redact(text)}", base_url=self._url) from None
                    raise
            if probe:
                probe = False
                self._end_probe(answered=True)
            if failure is None:
                self._on_success()
                return result
            server_msg = self._redact(failure.message) if failure.message else None
            if failure.kind is Kind.RATE_LIMITED:
                self._on_rate_limited(sent_at, failure.retry_after, server_msg)
                continue
            if failure.kind is Kind.RETRY:
                failures += 1
                await self._retry_pause(failure, server_msg, model, failures)
                continue
            raise self._error(failure, server_msg, model)

    async def _retry_pause(self, failure: Failure, server_msg: Optional[str], model: str,
                           failures: int) -> None:
        """Back off before the ``failures``-th retry, or raise `TransientAPIError` when
        the retries are used up."""
        cfg = self._config
        detail = (f"no answer within {cfg.timeout:g} s (timeout)" if failure.timed_out
                  else failure.detail)
        detail = self._redact(detail + (f" - {server_msg}" if server_msg else ""))
        if failures > cfg.max_retries:
            self.stats.failed += 1
            raise TransientAPIError(
                f"the {cfg.label} at {self._url} failed {failures} time"
                f"{'s' if failures > 1 else ''} in a row for model {model!r} "
                f"(last error: {detail}); it may be down or overloaded, try again later",
                status_code=failure.status, base_url=self._url, model=model,
                server_message=server_msg, code=failure.code)
        self.stats.retries += 1
        delay = random.uniform(0, min(cfg.backoff_cap, cfg.backoff_base * 2 ** (failures - 1)))
        if failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, cfg.max_retry_after))
        if failure.timed_out and not self._warned_timeout:
            # A hanging server is otherwise silent for minutes: say what is going on.
            self._warned_timeout = True
            logger.warning("%s at %s: %s; retrying, up to %d times per request",
                           cfg.label, self._url, detail, cfg.max_retries)
        logger.debug("%s: %s; retry %d/%d in %.2f s", self._url, detail, failures,
                     cfg.max_retries, delay)
        await self._sleep(delay)

    def _error(self, failure: Failure, server_msg: Optional[str], model: str) -> Exception:
        """The error a refused request ends in; fatal ones stop the client."""
        cfg = self._config
        status, code, url = failure.status, failure.code, self._url
        said = f" (server said: {server_msg})" if server_msg else ""
        common: Dict[str, Any] = dict(status_code=status, base_url=url, model=model,
                                      server_message=server_msg, code=code)
        if failure.kind is Kind.BAD_REQUEST:
            self.stats.bad_requests += 1
            return APIBadRequestError(
                f"the {cfg.label} at {url} rejected the request as invalid (HTTP {status}){said}",
                **common)
        if failure.kind is Kind.AUTH:
            what = "refused access with this key" if status == 403 else "rejected the key"
            return self._set_fatal(APIAuthError(
                f"the {cfg.label} {what} (HTTP {status}) at {url}{said}; set "
                f"{cfg.key_setting} in the environment or .env to a valid key"
                + (f" with access to model {model!r}" if status == 403 else ""), **common))
        if failure.kind is Kind.NOT_FOUND:
            what = "deployment" if cfg.is_azure else "model"
            return self._set_fatal(APIConfigError(
                f"the {cfg.label} at {url} answered HTTP {status} for {what} {model!r}"
                f"{said}: the {what} does not exist there or the base URL is wrong; check "
                f"the {what} name and the base URL", **common))
        if failure.kind is Kind.CONFIG:
            return self._set_fatal(APIConfigError(
                f"the {cfg.label} at {url} refused to serve model {model!r} (HTTP {status}"
                f"{' ' + code if code else ''}){said}; check that this API is available to the "
                f"key in {cfg.key_setting} (its project, plan and region)", **common))
        if failure.kind is Kind.QUOTA:
            return self._set_fatal(APIQuotaError(
                f"the {cfg.label} at {url} refused the request: the account's quota "
                f"is exhausted (HTTP {status} {code or 'insufficient_quota'}){said}; check the plan and "
                f"billing of the key in {cfg.key_setting}", **common))
        raise AssertionError(f"unhandled failure {failure.kind}")  # pragma: no cover

    async def _send(self, model: str, messages: Any, params: Dict[str, Any]) -> Any:
        session = self._open()
        task = asyncio.ensure_future(self._provider.send(session, model, messages, params))
        self._inflight.add(task)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._config.timeout)
        finally:
            self._inflight.discard(task)
            # A reply that comes (or fails) as its caller is cancelled, when the pool stops, is
            # dropped: retrieved here, so asyncio does not log it as a lost exception.
            task.add_done_callback(_retrieve)
            if not task.done():
                task.cancel()
        if not done:
            raise _DeadlineExceeded()
        if task.cancelled():   # cancelled by _set_fatal
            self._raise_if_fatal()
            raise asyncio.CancelledError()
        return task.result()

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
