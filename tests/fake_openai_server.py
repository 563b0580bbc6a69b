"""A loopback OpenAI-compatible chat server for tests and benchmarks.

``FakeOpenAIServer`` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = any
free port) serving in a background thread::

    with FakeOpenAIServer(latency=0.05, rate_limit=50) as server:
        client = ChatClient(ClientConfig(api_key="sk-test", model="m", base_url=server.base_url))
        ...
        assert server.count(429) < 10

Endpoints: ``POST /v1/chat/completions`` (a valid ``chat.completion``), ``GET /v1/models``,
and for out-of-process use ``GET /_fake/stats`` (counts as JSON) and ``POST /_fake/reset``.
Provider protocols (the same knobs, faults and records apply):

* Anthropic: ``POST /v1/messages``;
* Gemini: ``POST /{version}/models/{model}:generateContent`` (point google-genai at the
  server root); key in ``x-goog-api-key``; a wrong key gets HTTP 400 ``API_KEY_INVALID``
  as from Google; ``reply`` sees the body with ``model`` and OpenAI-style ``messages``
  added, and may return `BLOCKED` (a candidate with no text, finish reason ``SAFETY``)
  or `BLOCKED_PROMPT` (no candidates, ``promptFeedback.blockReason`` ``SAFETY``), which
  also work as scripted or permanent faults there;
* Reka: ``POST /v1/chat`` (base URL ``.../v1``); key in ``x-api-key``; answers a
  ``ChatResponse`` (``responses[0].message.content``).
* Azure OpenAI: ``POST /openai/deployments/{deployment}/chat/completions?api-version=V``
  (point ``azure_endpoint`` at the server root); key in ``api-key`` (a bearer key is
  not accepted there); without ``api-version`` it answers 404 ``Resource not found``;
  ``models``, when set, lists the deployments (another gets 404 ``DeploymentNotFound``).
  Then it answers as ``/v1/chat/completions`` does.

* Files and Batch API: ``POST /v1/files`` (multipart, ``purpose=batch``), ``GET
  /v1/files/{id}`` and ``/content``, ``POST /v1/batches`` (create; ``batch_creates``
  counts them), ``GET /v1/batches`` (list, newest first), ``GET /v1/batches/{id}``
  (retrieve), ``POST /v1/batches/{id}/cancel``; under ``/openai/...`` with
  ``api-version`` and ``api-key`` for Azure. Each retrieve moves a batch on:
  validating -> in_progress -> finalizing -> completed, ``batch_states`` saying how many
  polls each state takes (slow polling). At the end every line's body goes through
  ``reply`` as a chat request would: texts into the output file (a ``chat.completion``
  with usage), a `Fault` into the error file with its status (400: refused).
  ``push_batch_outcomes("failed" | "expired" | "cancelled")`` makes the next batches
  fail validation, or end with only their first half run (the rest in the error file,
  ``batch_expired``); ``block_at(step, when, nth)`` holds a step (upload, create,
  retrieve, content) so a test can kill the client there, then ``release()``.

Knobs, all changeable while it runs:

* ``reply``: ``f(request_json) -> str | Fault``; default: a deterministic text made from
  a hash of the messages. Returning a `Fault` answers that request with the fault.
* ``latency``: seconds before each chat answer (not before 429s and scripted faults,
  which come back at once, like a real API).
* ``set_rate_limit(rps, burst=None)``: a token bucket refilled at ``rps`` tokens/s holding
  at most ``burst`` (default ``max(1, rps)``, one second's worth); it starts full. A
  request that finds no token gets 429 with ``retry-after-ms`` (exact time until the
  next token, rounded up to a millisecond) and ``retry-after`` (the same in whole
  seconds, rounded up); ``send_retry_after = False`` leaves both headers out. Only chat
  requests use tokens.
* ``push_faults(*faults, times=1)``: a FIFO of scripted answers for the next chat
  requests: ``"500"``, ``"502"``, ``"503"``, ``"429"``, ``"400"``, ``"401"``, ``"403"``,
  ``"404"``, ``"422"``, ``"quota"`` (429 ``insufficient_quota``), ``"hang"`` (answer
  nothing for ``hang_seconds``, then 200), ``"disconnect"`` (close the connection without
  an answer), ``"garbage"`` (200 ``text/html`` body), ``"malformed_json"`` (200
  ``application/json`` with a truncated body), ``"empty_choices"``, or a `Fault` with
  ``retry_after`` / ``message`` / ``hang`` / ``headers`` set.
* ``set_permanent(fault)``: answer every chat request with that fault (None: stop).
* ``api_key``: when set, chat and model requests with another bearer key get 401, and
  the error message echoes the key sent (as careless servers do), so tests can check
  that the client never repeats it.
* ``models``: when set, a chat request for another model gets 404 ``model_not_found``.
* ``retired``: models shut down, answered as OpenAI answers them since: 404
  ``model_not_found`` "The model `<id>` has been deprecated, ..." (chat and
  ``GET /v1/models/{id}``).
* ``reasoning``: models that take requests as OpenAI's reasoning models do: HTTP 400
  ``unsupported_parameter`` for ``max_tokens`` and ``unsupported_value`` for a temperature
  other than 1 (OpenAI's wording); their usage counts ``reasoning_tokens`` (billed as output).
* ``max_context``: a context length in tokens (about 4 characters each): a longer prompt
  gets vLLM's HTTP 400 "This model's maximum context length is N tokens. ...".
* ``models_route``: False: ``GET /v1/models/{id}`` is unknown (404 without a code), as on
  servers that only list ``/v1/models``.

Order for each chat request: scripted fault, permanent fault, key check, rate limit,
model check, ``reply`` (which may return a Fault), latency, answer.

Records: ``requests`` (every request: method, path, query parameters, headers with
lower-case names including ``authorization``, parsed JSON body, arrival time from
``time.monotonic()``, status), ``chat_requests()``, ``status_counts``, ``count(status)``, ``reset()``.

Run as a script (``python tests/fake_openai_server.py --rate 50 --latency 0.05``) it
prints its base URL on the first line of stdout and serves until interrupted.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import signal
import sys
import threading
import time
import urllib.parse
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, List, Optional, Union


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

_REPLY_FAILED = object()   # see FakeOpenAIServer._reply


def _azure_deployment(path: str) -> Optional[str]:
    """The deployment of an Azure OpenAI chat path, else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 5 and parts[:2] == ["openai", "deployments"] and parts[3:] == ["chat", "completions"]:
        return urllib.parse.unquote(parts[2])
    return None


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


def _multipart(content_type: str, raw: bytes) -> Dict[str, Any]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    boundary = content_type.partition("boundary=")[2].strip().strip('"')
    fields: Dict[str, Any] = {}
    if not boundary:
        return fields
    for part in raw.split(b"--" + boundary.encode()):
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        header = head.decode("utf-8", "replace")
        name = header.partition('name="')[2].partition('"')[0]
        filename = header.partition('filename="')[2].partition('"')[0] or None
        if name:
            fields[name] = (filename, data[:-2] if data.endswith(b"\r\n") else data)
    return fields


def default_reply(request: Dict[str, Any]) -> str:
    """Deterministic text for a chat request: a hash of its messages."""
    digest = hashlib.sha256(
        json.dumps(request.get("messages"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:12]
    return f"fake reply {digest}"


def _error_body(message: str, type_: str, code: Optional[str] = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None,
                                 "code": code}}).encode()


_STATUS_ERRORS = {
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


class _TokenBucket:
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    fake: "FakeOpenAIServer"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._handle(self, "POST")


class FakeOpenAIServer:
    """An OpenAI-compatible chat server on 127.0.0.1 in a background thread."""

    def __init__(self, *, reply: Optional[Callable[[Dict[str, Any]], Union[str, Fault]]] = None,
                 latency: float = 0.0, rate_limit: Optional[float] = None,
                 burst: Optional[float] = None, api_key: Optional[str] = None,
                 models: Optional[List[str]] = None, hang_seconds: float = 30.0,
                 retired: Optional[List[str]] = None, reasoning: Optional[List[str]] = None,
                 max_context: Optional[int] = None, host: str = "127.0.0.1", port: int = 0):
        self.reply = reply or default_reply
        self.latency = float(latency)
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.retired = set(retired or ())
        self.reasoning = set(reasoning or ())
        self.max_context = max_context
        self.models_route = True
        self.hang_seconds = float(hang_seconds)
        self.send_retry_after = True   # False: rate-limit 429s come without retry-after headers
        self._lock = threading.Lock()
        self._bucket: Optional[_TokenBucket] = None
        self._faults: Deque[Fault] = deque()
        self._permanent: Optional[Fault] = None
        self._requests: List[RecordedRequest] = []
        self._counts: Counter = Counter()
        self._ids = 0
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._thread: Optional[threading.Thread] = None
        # Files and Batch API (see the module doc)
        self.files: Dict[str, Dict[str, Any]] = {}
        self.batches: Dict[str, Dict[str, Any]] = {}
        self.batch_creates = 0
        self.batch_states = {"validating": 1, "in_progress": 1, "finalizing": 1}
        self._batch_outcomes: Deque[str] = deque()
        self._block: Optional[Dict[str, Any]] = None
        self._step_counts: Counter = Counter()
        self.blocked = threading.Event()
        self._release = threading.Event()
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

    def start(self) -> "FakeOpenAIServer":
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

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- knobs

    def set_rate_limit(self, rps: Optional[float], burst: Optional[float] = None) -> None:
        """Token bucket of ``rps`` tokens/s, at most ``burst`` (default max(1, rps)); None: off."""
        with self._lock:
            self._bucket = _TokenBucket(rps, burst) if rps else None

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

    def push_batch_outcomes(self, *outcomes: str) -> None:
        """How the next batches end: ``completed`` (the default), ``failed`` (at validation,
        nothing done), ``expired`` or ``cancelled`` (the first half of the lines done, the
        rest in the error file as not run)."""
        with self._lock:
            self._batch_outcomes.extend(outcomes)

    def block_at(self, step: str, when: str = "after", nth: int = 1) -> None:
        """Hold the ``nth`` request of a Batch API ``step`` (``upload``, ``create``, ``retrieve``,
        ``content``) and set ``blocked``; a test kills the client meanwhile, then calls
        `release`. ``before``: the request is then dropped undone (as if the client died before
        it arrived: answered 503); ``after``: it is done, and answered only after the release
        (the client died before it heard the answer)."""
        with self._lock:
            self._block = {"step": step, "when": when, "nth": nth}
            self._step_counts.clear()
            self.blocked.clear()
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._block = None
        self._release.set()

    def _hold(self, step: str, when: str) -> bool:
        """Hold here if told to (see `block_at`); True: drop the request undone."""
        with self._lock:
            block = self._block
            if block is None or block["step"] != step:
                return False
            if when == "before":
                self._step_counts[step] += 1
            if block["when"] != when or self._step_counts[step] != block["nth"]:
                return False
        self.blocked.set()
        while not (self._release.is_set() or self._stopping.is_set()):
            self._release.wait(0.05)
        return when == "before"

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
        """Chat requests: OpenAI's (/chat/completions), Anthropic's (/v1/messages),
        Gemini's (:generateContent) and Reka's (/v1/chat)."""
        return [r for r in self.requests
                if r.path.rstrip("/").endswith(("/chat/completions", "/v1/messages", ":generateContent",
                                                "/v1/chat"))]

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

    def _handle(self, h: _Handler, method: str) -> None:
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
            parts = path.strip("/").split("/")
            if len(parts) >= 2 and parts[0] in ("v1", "openai") and parts[1] in ("files", "batches"):
                self._batch_api(h, rec, method, parts)
            elif method == "POST" and _azure_deployment(path) is not None:
                self._azure_chat(h, rec)
            elif method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                self._chat(h, rec)
            elif method == "POST" and path.rstrip("/").endswith("/v1/messages"):
                self._chat(h, rec, anthropic=True)
            elif method == "POST" and path.rstrip("/").endswith(":generateContent"):
                self._gemini(h, rec)
            elif method == "POST" and path.rstrip("/").endswith("/v1/chat"):
                self._reka(h, rec)
            elif method == "GET" and (path.rstrip("/").endswith("/models") or "/models/" in path):
                self._models(h, rec)
            elif method == "GET" and path == "/_fake/stats":
                self._send(h, rec, 200, json.dumps(self.stats()).encode(), count=False)
            elif method == "POST" and path == "/_fake/reset":
                self.reset()
                self._send(h, rec, 200, b"{}", count=False)
            else:
                self._send(h, rec, 404, _error_body(f"Unknown path {path}", "invalid_request_error"),
                           count=False)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout)
            h.close_connection = True

    def _send(self, h: _Handler, rec: RecordedRequest, status: int, payload: bytes, *,
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

    def _bearer(self, rec: RecordedRequest) -> str:
        auth = rec.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return rec.headers.get("api-key") or rec.headers.get("x-api-key", "")

    def _models(self, h: _Handler, rec: RecordedRequest) -> None:
        if self.api_key is not None and self._bearer(rec) != self.api_key:
            return self._fault(h, rec, Fault("401"))
        parts = rec.path.strip("/").split("/")
        if parts[-2:-1] == ["models"]:  # GET /v1/models/{id}
            model = urllib.parse.unquote(parts[-1])
            if not self.models_route:
                return self._send(h, rec, 404, json.dumps({"detail": "Not Found"}).encode(), count=False)
            refusal = self._model_refusal(model)
            if refusal is not None:
                return self._send(h, rec, 404, _error_body(refusal.message or "", "invalid_request_error",
                                                           "model_not_found"), count=False)
            return self._send(h, rec, 200, json.dumps({"id": model, "object": "model", "created": 0,
                                                       "owned_by": "fake"}).encode(), count=False)
        ids = self.models if self.models is not None else ["fake-model"]
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ids]
        self._send(h, rec, 200, json.dumps({"object": "list", "data": data}).encode(), count=False)

    def _chat(self, h: _Handler, rec: RecordedRequest, anthropic: bool = False) -> None:
        with self._lock:
            fault = self._faults.popleft() if self._faults else self._permanent
        if fault is not None:
            return self._fault(h, rec, fault)
        if self.api_key is not None and self._bearer(rec) != self.api_key:
            return self._fault(h, rec, Fault("401", message=(
                f"Incorrect API key provided: {self._bearer(rec)}. You can find your API key "
                "at https://platform.openai.com/account/api-keys.")))
        if self._rate_limited(h, rec):
            return None
        body = rec.body if isinstance(rec.body, dict) else {}
        model = body.get("model")
        refusal = self._model_refusal(model)
        if refusal is not None:
            return self._fault(h, rec, refusal)
        if not isinstance(body.get("messages"), list):
            return self._fault(h, rec, Fault("400", message="'messages' is a required property"))
        refusal = self._parameter_refusal(model, body)
        if refusal is not None:
            return self._fault(h, rec, refusal)
        text = self._reply(h, rec, body)
        if text is _REPLY_FAILED:
            return None
        if isinstance(text, Fault):
            return self._fault(h, rec, text)
        if self.latency > 0:
            self._stopping.wait(self.latency)
        answer = self._anthropic_message(body, str(text)) if anthropic else self._completion(body, str(text))
        self._send(h, rec, 200, json.dumps(answer).encode())

    def _model_refusal(self, model: Any) -> Optional[Fault]:
        """404 for a retired model, or one the server does not have."""
        if model in self.retired:
            return Fault("404", code="model_not_found", message=(
                f"The model `{model}` has been deprecated, learn more here: "
                "https://platform.openai.com/docs/deprecations"))
        if self.models is not None and model not in self.models:
            return Fault("404", message=f"The model `{model}` does not exist or you do not have access to it.")
        return None

    def _parameter_refusal(self, model: Any, body: Dict[str, Any]) -> Optional[Fault]:
        """400 for what a reasoning model does not take, or a prompt longer than the context."""
        if model in self.reasoning:
            if "max_tokens" in body:
                return Fault("400", code="unsupported_parameter", message=(
                    "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                    "'max_completion_tokens' instead."))
            if body.get("temperature", 1) != 1:
                return Fault("400", code="unsupported_value", message=(
                    f"Unsupported value: 'temperature' does not support {body['temperature']} with this model. "
                    "Only the default (1) value is supported."))
        if self.max_context is not None:
            tokens = sum(len(str(m.get("content", ""))) for m in body["messages"] if isinstance(m, dict)) // 4
            if tokens >= self.max_context:
                return Fault("400", code=400, error_type="BadRequestError", message=(
                    f"This model's maximum context length is {self.max_context} tokens. However, your prompt "
                    f"contains at least {self.max_context + 1} input tokens, and the model requires at least 1 "
                    "output token to be generated. Please reduce the length of the input prompt. "
                    "(parameter=input_tokens, value=" + str(tokens) + ")"))
        return None

    # ---- Files and Batch API

    def _batch_api(self, h: _Handler, rec: RecordedRequest, method: str, parts: List[str]) -> None:
        """``/v1/files``, ``/v1/files/{id}/content``, ``/v1/batches``, ``/v1/batches/{id}``,
        ``/v1/batches/{id}/cancel`` (Azure: ``/openai/...?api-version=V`` with ``api-key``)."""
        def answer(status: int, obj: Any) -> None:
            self._send(h, rec, status, json.dumps(obj).encode(), count=False)

        def error(status: int, message: str) -> None:
            self._send(h, rec, status, _error_body(message, "invalid_request_error"), count=False)

        if parts[0] == "openai":
            if not rec.query.get("api-version"):
                return error(404, "Resource not found")
            key = rec.headers.get("api-key")
        else:
            key = self._bearer(rec)
        if self.api_key is not None and key != self.api_key:
            return error(401, "Incorrect API key provided.")
        rest = parts[2:]
        if parts[1] == "files":
            if method == "POST" and not rest:
                return self._upload(h, rec, answer, error)
            if method == "GET" and len(rest) == 2 and rest[1] == "content" and rest[0] in self.files:
                if self._hold("content", "before"):
                    return error(503, "dropped")
                data = self.files[rest[0]]["data"]
                self._hold("content", "after")
                return self._send(h, rec, 200, data, content_type="application/octet-stream", count=False)
            if method == "GET" and len(rest) == 1 and rest[0] in self.files:
                return answer(200, self._file_object(rest[0]))
            return error(404, f"No such File object: {rest[0] if rest else ''}")
        if method == "POST" and not rest:
            return self._create_batch(rec, answer, error)
        if method == "GET" and not rest:
            with self._lock:
                data = [self._batch_object(b) for b in reversed(list(self.batches.values()))]
            return answer(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                "last_id": data[-1]["id"] if data else None, "has_more": False})
        batch = self.batches.get(rest[0]) if rest else None
        if batch is None:
            return error(404, f"No such Batch object: {rest[0] if rest else ''}")
        if method == "GET" and len(rest) == 1:
            if self._hold("retrieve", "before"):
                return error(503, "dropped")
            self._advance(batch)
            self._hold("retrieve", "after")
            return answer(200, self._batch_object(batch))
        if method == "POST" and rest[1:] == ["cancel"]:
            with self._lock:
                if batch["status"] not in ("completed", "failed", "expired", "cancelled"):
                    batch["status"] = "cancelling"
            return answer(200, self._batch_object(batch))
        return error(404, "Unknown path")

    def _upload(self, h: _Handler, rec: RecordedRequest, answer: Callable, error: Callable) -> None:
        fields = _multipart(rec.headers.get("content-type", ""), rec.raw)
        if fields.get("purpose", (None, b""))[1] != b"batch" or "file" not in fields:
            return error(400, "a file and purpose=batch are required")
        if self._hold("upload", "before"):
            return error(503, "dropped")
        with self._lock:
            self._ids += 1
            file_id = f"file-fake-{self._ids}"
            self.files[file_id] = {"data": fields["file"][1], "filename": fields["file"][0] or "upload.jsonl",
                                   "purpose": "batch", "created_at": int(time.time())}
        self._hold("upload", "after")
        answer(200, self._file_object(file_id))

    def _file_object(self, file_id: str) -> Dict[str, Any]:
        f = self.files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(f["data"]), "created_at": f["created_at"],
                "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}

    def _new_file(self, lines: List[Dict[str, Any]], purpose: str) -> Optional[str]:
        if not lines:
            return None
        self._ids += 1
        file_id = f"file-fake-{self._ids}"
        self.files[file_id] = {"data": "".join(json.dumps(x) + "\n" for x in lines).encode(),
                               "filename": f"{purpose}.jsonl", "purpose": purpose, "created_at": int(time.time())}
        return file_id

    def _create_batch(self, rec: RecordedRequest, answer: Callable, error: Callable) -> None:
        body = rec.body if isinstance(rec.body, dict) else {}
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return error(400, f"input_file_id {file_id!r} is not a file")
        if body.get("completion_window") != "24h" or body.get("endpoint") not in ("/v1/chat/completions",
                                                                                  "/chat/completions"):
            return error(400, "completion_window must be 24h and endpoint /v1/chat/completions")
        if self._hold("create", "before"):
            return error(503, "dropped")
        with self._lock:
            self._ids += 1
            self.batch_creates += 1
            batch_id = f"batch_fake_{self._ids}"
            lines = [json.loads(x) for x in self.files[file_id]["data"].decode().splitlines() if x.strip()]
            self.batches[batch_id] = {
                "id": batch_id, "input_file_id": file_id, "endpoint": body["endpoint"], "status": "validating",
                "polls": 0, "created_at": int(time.time()), "lines": lines, "output_file_id": None,
                "error_file_id": None, "errors": None, "metadata": body.get("metadata"),
                "outcome": self._batch_outcomes.popleft() if self._batch_outcomes else "completed",
                "counts": {"total": 0, "completed": 0, "failed": 0}}
        self._hold("create", "after")
        answer(200, self._batch_object(self.batches[batch_id]))

    def _advance(self, batch: Dict[str, Any]) -> None:
        """One poll's worth of progress: validating -> in_progress -> finalizing -> the end."""
        with self._lock:
            status = batch["status"]
            if status in ("completed", "failed", "expired", "cancelled"):
                return
            batch["polls"] += 1
            if status == "cancelling":
                return self._finish(batch, "cancelled")
            if batch["polls"] < self.batch_states.get(status, 1):
                return
            batch["polls"] = 0
            if status == "validating":
                if batch["outcome"] == "failed":
                    batch["status"] = "failed"
                    batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "line": 1,
                                                                   "message": "the batch failed validation",
                                                                   "param": None}]}
                    return
                batch["status"] = "in_progress"
                batch["counts"]["total"] = len(batch["lines"])
            elif status == "in_progress":
                if batch["outcome"] in ("expired", "cancelled"):
                    return self._finish(batch, batch["outcome"])
                batch["status"] = "finalizing"
                batch["counts"]["completed"] = len(batch["lines"])
            elif status == "finalizing":
                self._finish(batch, "completed")

    def _finish(self, batch: Dict[str, Any], status: str) -> None:
        """Run the batch's lines (all, or the first half when it expired or was cancelled)
        through ``reply``, as the chat endpoint would, into output and error files."""
        lines = batch["lines"]
        run = len(lines) if status == "completed" else len(lines) // 2
        output, errors = [], []
        for n, line in enumerate(lines):
            ident = {"id": f"batch_req_{batch['id']}_{n}", "custom_id": line.get("custom_id")}
            if n >= run:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append({**ident, "response": None, "error": {
                    "code": code, "message": "This request could not be executed before the batch ended."}})
                continue
            body = line.get("body") or {}
            text = self._model_refusal(body.get("model"))
            if text is None and isinstance(body.get("messages"), list):
                text = self._parameter_refusal(body.get("model"), body)
            try:
                text = text or self.reply(body)
            except Exception as e:  # noqa: BLE001
                text = Fault("500", message=f"reply failed: {e!r}")
            if isinstance(text, Fault):
                code = int(text.kind) if text.kind.isdigit() else 500
                message, type_, err_code = _STATUS_ERRORS.get(code, (f"HTTP {code}", "error", None))
                errors.append({**ident, "error": None, "response": {
                    "status_code": code, "request_id": f"req_{n}",
                    "body": json.loads(_error_body(text.message or message, text.error_type or type_,
                                                   text.code if text.code is not None else err_code))}})
            else:
                self._ids += 1
                output.append({**ident, "error": None, "response": {
                    "status_code": 200, "request_id": f"req_{n}", "body": self._completion_body(body, str(text))}})
        batch["counts"] = {"total": len(lines), "completed": len(output), "failed": len(errors)}
        batch["output_file_id"] = self._new_file(output, "batch_output")
        batch["error_file_id"] = self._new_file(errors, "batch_output")
        batch["status"] = status

    def _batch_object(self, b: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": b["id"], "object": "batch", "endpoint": b["endpoint"], "errors": b["errors"],
                "input_file_id": b["input_file_id"], "completion_window": "24h", "status": b["status"],
                "output_file_id": b["output_file_id"], "error_file_id": b["error_file_id"],
                "created_at": b["created_at"], "expires_at": b["created_at"] + 86400,
                "request_counts": dict(b["counts"]), "metadata": b["metadata"]}

    def _anthropic_message(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        """An Anthropic Messages API answer (POST /v1/messages)."""
        with self._lock:
            self._ids += 1
            n = self._ids
        return {"id": f"msg_fake_{n}", "type": "message", "role": "assistant", "model": body.get("model"),
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": len(text.split())}}

    def _completion(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        with self._lock:
            self._ids += 1
        return self._completion_body(body, text)

    def _completion_body(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        """A chat.completion; usage: words of the messages and of the text (a stand-in
        for tokens)."""
        n = self._ids
        prompt_tokens = sum(len(str(m.get("content", "")).split())
                            for m in body.get("messages", []) if isinstance(m, dict))
        completion_tokens = len(text.split())
        details = {}
        if body.get("model") in self.reasoning:  # hidden reasoning, billed as output
            reasoning = {"minimal": 0, "low": 64, "medium": 256, "high": 1024}.get(body.get("reasoning_effort"), 256)
            completion_tokens += reasoning
            details = {"completion_tokens_details": {"reasoning_tokens": reasoning}}
        return {
            "id": f"chatcmpl-fake-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake-model"), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens, **details},
        }

    def _azure_chat(self, h: _Handler, rec: RecordedRequest) -> None:
        """``POST /openai/deployments/{deployment}/chat/completions?api-version=V``, checked as
        Azure OpenAI checks it (api-version, ``api-key`` header, deployment), then `_chat`."""
        def azure_error(status: int, code: str, message: str) -> None:
            self._send(h, rec, status, json.dumps({"error": {"code": code, "message": message}}).encode())

        if not rec.query.get("api-version"):
            return azure_error(404, "404", "Resource not found")
        if self.api_key is not None and rec.headers.get("api-key") != self.api_key:
            return azure_error(401, "401", "Access denied due to invalid subscription key or wrong API "
                               "endpoint. Make sure to provide a valid key for an active subscription and "
                               "use a correct regional API endpoint for your resource.")
        deployment = _azure_deployment(rec.path)
        if self.models is not None and deployment not in self.models:
            return azure_error(404, "DeploymentNotFound", "The API deployment for this resource does not "
                               "exist. If you created the deployment within the last 5 minutes, please "
                               "wait a moment and try again.")
        self._chat(h, rec)

    # ---- provider protocols: Gemini (google-genai) and Reka (reka-api)

    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            return self._faults.popleft() if self._faults else self._permanent

    def _reply(self, h: _Handler, rec: RecordedRequest, body: Dict[str, Any]) -> Any:
        """The reply function's text or Fault; `_REPLY_FAILED` once a 500 has been sent
        for a reply function that raised (a broken reply function is a server error)."""
        try:
            return self.reply(body)
        except Exception as e:  # noqa: BLE001
            self._fault(h, rec, Fault("500", message=f"reply failed: {e!r}"))
            return _REPLY_FAILED

    def _rate_limited(self, h: _Handler, rec: RecordedRequest) -> bool:
        """Answer 429 (with retry-after unless told not to) when the token bucket is empty."""
        with self._lock:
            wait = self._bucket.take() if self._bucket is not None else None
        if wait is None:
            return False
        self._fault(h, rec, Fault("429", retry_after=wait if self.send_retry_after else None))
        return True

    def _google_error(self, h: _Handler, rec: RecordedRequest, status: int, grpc_status: str,
                      message: str, reason: Optional[str] = None) -> None:
        error: Dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
        if reason:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                 "domain": "googleapis.com"}]
        self._send(h, rec, status, json.dumps({"error": error}).encode())

    def _gemini(self, h: _Handler, rec: RecordedRequest) -> None:
        """``POST /{version}/models/{model}:generateContent``, answered as Gemini does."""
        fault = self._next_fault()
        if fault is not None and fault.kind not in ("blocked", "blocked_prompt"):
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
            messages.append({"role": "system", "content": "".join(
                str(p.get("text", "")) for p in system.get("parts", []) if isinstance(p, dict))})
        for c in contents:
            if isinstance(c, dict):
                text = "".join(str(p.get("text", "")) for p in c.get("parts", []) if isinstance(p, dict))
                messages.append({"role": "assistant" if c.get("role") == "model" else "user", "content": text})
        text = fault or self._reply(h, rec, {**body, "model": model, "messages": messages})
        if text is _REPLY_FAILED:
            return None
        if self.latency > 0:
            self._stopping.wait(self.latency)
        usage = {"promptTokenCount": sum(len(m["content"].split()) for m in messages)}
        if isinstance(text, Fault) and text.kind == "blocked_prompt":
            answer: Dict[str, Any] = {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]},
                "usageMetadata": {**usage, "totalTokenCount": usage["promptTokenCount"]},
                "modelVersion": model}
        elif isinstance(text, Fault) and text.kind == "blocked":
            answer = {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}],
                "usageMetadata": {**usage, "totalTokenCount": usage["promptTokenCount"]},
                "modelVersion": model}
        elif isinstance(text, Fault):
            return self._fault(h, rec, text)
        else:
            out = len(str(text).split())
            answer = {"candidates": [{"content": {"parts": [{"text": str(text)}], "role": "model"},
                                      "finishReason": "STOP", "index": 0}],
                      "usageMetadata": {**usage, "candidatesTokenCount": out,
                                        "totalTokenCount": usage["promptTokenCount"] + out},
                      "modelVersion": model}
        self._send(h, rec, 200, json.dumps(answer).encode())

    def _reka(self, h: _Handler, rec: RecordedRequest) -> None:
        """``POST /v1/chat``, answered as Reka's chat API does."""
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
        text = self._reply(h, rec, body)
        if text is _REPLY_FAILED:
            return None
        if isinstance(text, Fault):
            return self._fault(h, rec, text)
        if self.latency > 0:
            self._stopping.wait(self.latency)
        with self._lock:
            self._ids += 1
            n = self._ids
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"] if isinstance(m, dict))
        answer = {"id": f"reka-fake-{n}", "model": model,
                  "responses": [{"finish_reason": "stop",
                                 "message": {"role": "assistant", "content": str(text)}}],
                  "usage": {"input_tokens": prompt, "output_tokens": len(str(text).split())}}
        self._send(h, rec, 200, json.dumps(answer).encode())

    def _fault(self, h: _Handler, rec: RecordedRequest, fault: Fault) -> None:
        rec.fault = fault.kind
        kind = fault.kind
        if kind == "hang":
            self._stopping.wait(fault.hang if fault.hang is not None else self.hang_seconds)
            body = rec.body if isinstance(rec.body, dict) else {}
            return self._send(h, rec, 200, json.dumps(self._completion(body, "late")).encode())
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
            return self._send(h, rec, 429, _error_body(
                fault.message or "You exceeded your current quota, please check your plan and "
                "billing details.", "insufficient_quota", "insufficient_quota"))
        try:
            status = int(kind)
        except ValueError:
            raise ValueError(f"unknown fault {kind!r}") from None
        message, type_, code = _STATUS_ERRORS.get(status, (f"HTTP {status}", "error", None))
        headers = {}
        if fault.retry_after is not None:
            ms = max(0, math.ceil(fault.retry_after * 1000))
            headers["retry-after-ms"] = str(ms)
            headers["retry-after"] = str(max(0, math.ceil(fault.retry_after)))
        if status >= 500:
            headers["x-should-retry"] = "true"
        headers.update(fault.headers or {})
        self._send(h, rec, status, _error_body(fault.message or message, fault.error_type or type_,
                                               fault.code if fault.code is not None else code),
                   headers=headers)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rate", type=float, default=None, help="requests/s allowed (token bucket)")
    p.add_argument("--burst", type=float, default=None, help="bucket size (default max(1, rate))")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--api-key", default=None, help="accept only this bearer key")
    p.add_argument("--models", default=None, help="comma-separated known models")
    p.add_argument("--reply", default=None, help="answer every chat request with this text")
    args = p.parse_args(argv)
    reply = (lambda request, text=args.reply: text) if args.reply is not None else None
    server = FakeOpenAIServer(reply=reply, latency=args.latency, rate_limit=args.rate, burst=args.burst,
                              api_key=args.api_key, host=args.host, port=args.port,
                              models=args.models.split(",") if args.models else None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(server.base_url, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(json.dumps(server.stats()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
