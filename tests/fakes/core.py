"""The loopback HTTP server that every vendor protocol of the fake runs on: lifecycle,
the knobs they share (reply function, latency, key, known models, rate limit, scripted
and permanent faults), the records, routing, and the answers to faults.

A vendor protocol is a mixin (tests/fakes/openai_chat.py, ...) with handlers ``(h, rec)``;
`tests/fakes/server.py` puts them together and lists the routes.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import urllib.parse
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from .faults import Fault, TokenBucket, error_body, fault_error_body

Reply = Callable[[Dict[str, Any]], Union[str, Fault]]
# (method or None for any, does the path belong to it, the handler's name)
Route = Tuple[Optional[str], Callable[[str], bool], str]


def default_reply(request: Dict[str, Any]) -> str:
    """Deterministic text for a chat request: a hash of its messages."""
    digest = hashlib.sha256(
        json.dumps(request.get("messages"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:12]
    return f"fake reply {digest}"


class ReplyError(AssertionError):
    """A test's own reply function raised: the test's bug, not a server error for the
    product to retry past. Raised when the server stops (``__exit__``)."""


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: Dict[str, str]
    body: Any
    raw: bytes
    time: float
    status: Optional[int] = None
    fault: Optional[str] = None
    query: Dict[str, str] = field(default_factory=dict)   # e.g. {"api-version": "2024-02-01"}

    @property
    def authorization(self) -> Optional[str]:
        return self.headers.get("authorization")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    fake: "ServerCore"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._handle(self, "POST")


class ServerCore:
    """The server without a protocol: `ROUTES` and `CHAT_PATHS` come from the class that
    mixes the protocols in."""

    ROUTES: Sequence[Route] = ()
    CHAT_PATHS: Tuple[str, ...] = ()   # path endings of chat requests (what `count` counts)

    def __init__(self, *, reply: Optional[Reply] = None, latency: float = 0.0, rate_limit: Optional[float] = None,
                 burst: Optional[float] = None, api_key: Optional[str] = None, models: Optional[List[str]] = None,
                 hang_seconds: float = 30.0, reply_crash_is_500: bool = False, host: str = "127.0.0.1",
                 port: int = 0):
        self.reply = reply or default_reply
        self.latency = float(latency)
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.hang_seconds = float(hang_seconds)
        self.send_retry_after = True   # False: rate-limit 429s come without retry-after headers
        self.reply_crash_is_500 = reply_crash_is_500
        self.reply_errors: List[BaseException] = []
        self._lock = threading.RLock()
        self._bucket: Optional[TokenBucket] = None
        self._faults: Deque[Fault] = deque()
        self._permanent: Optional[Fault] = None
        self._requests: List[RecordedRequest] = []
        self._counts: Counter = Counter()
        self._ids = 0
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), Handler)
        self._httpd.fake = self
        self._thread: Optional[threading.Thread] = None
        if rate_limit:
            self.set_rate_limit(rate_limit, burst)

    # ---- lifecycle

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """The ``base_url`` for OpenAI clients: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    url = base_url

    def start(self) -> "ServerCore":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name="fake-openai-server", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()   # wakes hanging handlers
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "ServerCore":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.raise_reply_errors()

    def raise_reply_errors(self) -> None:
        """Raise `ReplyError` for the first exception a reply function raised (unless
        ``reply_crash_is_500``: the test wants those answered 500)."""
        if self.reply_errors and not self.reply_crash_is_500:
            first = self.reply_errors[0]
            raise ReplyError(f"the test's reply function raised {len(self.reply_errors)} time(s), first: "
                             f"{first!r}") from first

    # ---- knobs

    def set_rate_limit(self, rps: Optional[float], burst: Optional[float] = None) -> None:
        """Token bucket of ``rps`` tokens/s, at most ``burst`` (default max(1, rps)); None: off."""
        with self._lock:
            self._bucket = TokenBucket(rps, burst) if rps else None

    def push_faults(self, *faults: Union[str, int, Fault], times: int = 1) -> None:
        """Queue scripted answers for the next chat requests (each repeated ``times``)."""
        with self._lock:
            for f in faults:
                for _ in range(times):
                    self._faults.append(Fault.of(f))

    def set_permanent(self, fault: Union[str, int, Fault, None]) -> None:
        """Answer every chat request with ``fault`` from now on (None: back to normal)."""
        with self._lock:
            self._permanent = Fault.of(fault) if fault is not None else None

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._permanent = None

    # ---- records

    @property
    def requests(self) -> List[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> List[RecordedRequest]:
        """Chat requests of every protocol (paths ending in one of `CHAT_PATHS`)."""
        return [r for r in self.requests if r.path.rstrip("/").endswith(self.CHAT_PATHS)]

    @property
    def status_counts(self) -> Counter:
        with self._lock:
            return Counter(self._counts)

    def count(self, status: Optional[int] = None) -> int:
        """Chat requests answered with ``status`` (None: all chat requests)."""
        with self._lock:
            if status is None:
                return sum(self._counts.values())
            return self._counts[status]

    def reset(self) -> None:
        """Forget the records (knobs stay)."""
        with self._lock:
            self._requests.clear()
            self._counts.clear()

    def stats(self) -> Dict[str, Any]:
        with self._lock:
            return {"chat_requests": sum(self._counts.values()),
                    "status_counts": {str(k): v for k, v in sorted(self._counts.items())},
                    "requests": len(self._requests)}

    # ---- serving

    def _handle(self, h: Handler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path, _, query = h.path.partition("?")
        rec = RecordedRequest(method=method, path=path,
                              headers={k.lower(): v for k, v in h.headers.items()},
                              body=body, raw=raw, time=time.monotonic(),
                              query=dict(urllib.parse.parse_qsl(query)))
        with self._lock:
            self._requests.append(rec)
        try:
            for route_method, belongs, handler in self.ROUTES:
                if route_method in (None, method) and belongs(path):
                    return getattr(self, handler)(h, rec)
            if method == "GET" and path == "/_fake/stats":
                self._send(h, rec, 200, json.dumps(self.stats()).encode(), count=False)
            elif method == "POST" and path == "/_fake/reset":
                self.reset()
                self._send(h, rec, 200, b"{}", count=False)
            else:
                self._send(h, rec, 404, error_body(f"Unknown path {path}", "invalid_request_error"),
                           count=False)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout)
            h.close_connection = True

    def _send(self, h: Handler, rec: RecordedRequest, status: int, payload: bytes, *,
              content_type: str = "application/json", headers: Optional[Dict[str, str]] = None,
              count: bool = True) -> None:
        rec.status = status
        if count:
            with self._lock:
                self._counts[status] += 1
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)
        h.wfile.flush()

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def _bearer(self, rec: RecordedRequest) -> str:
        auth = rec.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return rec.headers.get("api-key") or rec.headers.get("x-api-key", "")

    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            return self._faults.popleft() if self._faults else self._permanent

    def _call_reply(self, body: Dict[str, Any]) -> Union[str, Fault]:
        """The reply function's text or Fault. One that raises is answered 500, and the
        exception is kept for `raise_reply_errors` (a crash in a test's judge fails the test)."""
        try:
            return self.reply(body)
        except Exception as e:  # noqa: BLE001
            with self._lock:
                self.reply_errors.append(e)
            return Fault("500", message=f"reply failed: {e!r}")

    def _wait_latency(self) -> None:
        if self.latency > 0:
            self._stopping.wait(self.latency)

    def _rate_limited(self, h: Handler, rec: RecordedRequest) -> bool:
        """Answer 429 (with retry-after unless told not to) when the token bucket is empty."""
        with self._lock:
            wait = self._bucket.take() if self._bucket is not None else None
        if wait is None:
            return False
        self._fault(h, rec, Fault("429", retry_after=wait if self.send_retry_after else None))
        return True

    def _late_answer(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """What a ``hang`` fault answers at last (a protocol's 200 body)."""
        raise NotImplementedError

    def _fault(self, h: Handler, rec: RecordedRequest, fault: Fault) -> None:
        rec.fault = fault.kind
        kind = fault.kind
        if kind == "hang":
            self._stopping.wait(fault.hang if fault.hang is not None else self.hang_seconds)
            body = rec.body if isinstance(rec.body, dict) else {}
            return self._send(h, rec, 200, json.dumps(self._late_answer(body)).encode())
        if kind == "disconnect":
            rec.status = 0
            with self._lock:
                self._counts[0] += 1
            h.close_connection = True
            return
        if kind == "garbage":
            return self._send(h, rec, 200, b"<html><body>502 Bad Gateway (nginx)</body></html>",
                              content_type="text/html")
        if kind == "malformed_json":
            return self._send(h, rec, 200, b'{"id": "chatcmpl-broken", "choices": [{"message": ')
        if kind == "empty_choices":
            return self._send(h, rec, 200, json.dumps(
                {"id": "chatcmpl-empty", "object": "chat.completion", "created": 0,
                 "model": "fake-model", "choices": []}).encode())
        if kind == "quota":
            return self._send(h, rec, 429, error_body(
                fault.message or "You exceeded your current quota, please check your plan and "
                "billing details.", "insufficient_quota", "insufficient_quota"))
        try:
            status = int(kind)
        except ValueError:
            raise ValueError(f"unknown fault {kind!r}") from None
        headers = {}
        if fault.retry_after is not None:
            ms = max(0, math.ceil(fault.retry_after * 1000))
            headers["retry-after-ms"] = str(ms)
            headers["retry-after"] = str(max(0, math.ceil(fault.retry_after)))
        if status >= 500:
            headers["x-should-retry"] = "true"
        headers.update(fault.headers or {})
        self._send(h, rec, status, fault_error_body(fault, status), headers=headers)
