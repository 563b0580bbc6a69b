"""`FakeOpenAIServer`: the loopback server with every vendor protocol the tests speak.

``FakeOpenAIServer`` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = any
free port) serving in a background thread::

    with FakeOpenAIServer(latency=0.05, rate_limit=50) as server:
        client = ChatClient(ClientConfig(api_key="sk-test", model="m", base_url=server.base_url))
        ...
        assert server.count(429) < 10

Protocols, one module each (their knobs and answers are described there; the knobs,
faults and records below apply to all): OpenAI chat and models (`fakes.openai_chat`), Azure
OpenAI (`fakes.azure_openai`), Anthropic (`fakes.anthropic_messages`), Gemini (`fakes.gemini`), Reka
(`fakes.reka`), the Files and Batch API (`fakes.batch_api`). For out-of-process use,
``GET /_fake/stats`` (counts as JSON) and ``POST /_fake/reset``.

Knobs, all changeable while it runs:

* ``reply``: ``f(request_json) -> str | Fault``; default: a deterministic text made from
  a hash of the messages. Returning a `Fault` answers that request with the fault. A
  reply function that raises is a bug of the test: the request is answered 500, and the
  server raises `ReplyError` when it stops (so the ``server`` fixture errors the test);
  ``reply_crash_is_500=True`` is for a test that wants those 500s.
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
* ``api_key``: when set, chat and model requests with another key get 401, and the
  error message echoes the key sent (as careless servers do), so tests can check that
  the client never repeats it.
* ``models``, ``retired``, ``reasoning``, ``max_context``, ``models_route``: see `fakes.openai_chat`;
  ``batch_states``, ``push_batch_outcomes``, ``block_at``: see `fakes.batch_api`.
* ``thinking``, ``thinking_length``: models that think, on every route: see `fakes.thinking`.

Records: ``requests`` (every request: method, path, query parameters, headers with
lower-case names including ``authorization``, parsed JSON body, arrival time from
``time.monotonic()``, status), ``chat_requests()``, ``status_counts``, ``count(status)``,
``reset()``, ``reply_errors``, ``thoughts`` (each thinking reply sent: `fakes.thinking.Thought`).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional

from . import anthropic_messages, azure_openai, batch_api, gemini, openai_chat, reka
from .anthropic_messages import AnthropicMessages
from .azure_openai import AzureOpenAI
from .batch_api import BatchAPI
from .core import Reply, ServerCore
from .gemini import GeminiGenerate
from .openai_chat import OpenAIChat
from .thinking import ThinkingLength, ThinkingModels
from .reka import RekaChat


class FakeOpenAIServer(BatchAPI, AzureOpenAI, AnthropicMessages, GeminiGenerate, RekaChat, OpenAIChat, ThinkingModels,
                       ServerCore):
    """An OpenAI-compatible chat server (and Azure, Anthropic, Gemini, Reka, Batch API) on
    127.0.0.1 in a background thread."""

    # the first that matches serves the request (Azure's chat path also ends in /chat/completions)
    ROUTES = (
        (None, batch_api.is_batch_path, "_batch_api"),
        ("POST", azure_openai.is_chat_path, "_azure_chat"),
        ("POST", openai_chat.is_chat_path, "_chat"),
        ("POST", anthropic_messages.is_chat_path, "_anthropic"),
        ("POST", gemini.is_chat_path, "_gemini"),
        ("POST", reka.is_chat_path, "_reka"),
        ("GET", openai_chat.is_models_path, "_models"),
    )
    CHAT_PATHS = (openai_chat.CHAT_PATH, anthropic_messages.CHAT_PATH, gemini.CHAT_PATH, reka.CHAT_PATH)

    def __init__(self, *, reply: Optional[Reply] = None, latency: float = 0.0, rate_limit: Optional[float] = None,
                 burst: Optional[float] = None, api_key: Optional[str] = None, models: Optional[List[str]] = None,
                 hang_seconds: float = 30.0, retired: Optional[Iterable[str]] = None,
                 reasoning: Optional[Iterable[str]] = None, max_context: Optional[int] = None,
                 reply_crash_is_500: bool = False, host: str = "127.0.0.1", port: int = 0,
                 thinking: Optional[Dict[str, str]] = None, thinking_length: ThinkingLength = (20, 60)):
        super().__init__(reply=reply, latency=latency, rate_limit=rate_limit, burst=burst, api_key=api_key,
                         models=models, hang_seconds=hang_seconds, reply_crash_is_500=reply_crash_is_500,
                         host=host, port=port)
        self._init_openai(retired, reasoning, max_context)
        self._init_batch_api()
        self._init_thinking(thinking, thinking_length)
