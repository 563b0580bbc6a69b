"""The chat client (mix_eval.llm) through the real openai SDK against a loopback fake server
(`server`: tests/conftest.py, default replies)."""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections import Counter

import pytest

from conftest import AT_ONCE_S
from fake_openai_server import FakeOpenAIServer, Fault, default_reply
from mix_eval.llm.pool import run_pool
from mix_eval.llm.client import ChatClient
from mix_eval.llm.config import ClientConfig
from mix_eval.llm.errors import (
    APIAuthError, APIBadRequestError, APIQuotaError, APIRateLimitError, TransientAPIError,
)
from mix_eval.llm.limiter import AdaptiveRateLimiter, parse_retry_after
from mix_eval.llm import refusals as refusals_module
from mix_eval.llm.refusals import (
    Asked, AskAgain, Pass, RefusalRetry, RefusalRules, most_refused, refusal_quote, refused_too_long, server_reason,
)
from mix_eval.llm.request import ChatRequest
from mix_eval.llm.results import ChatResult
from mix_eval.system.interrupt import STOP

KEY = "sk-test-SECRET-0123456789abcdef"
MSGS = [{"role": "system", "content": "You are a judge."}, {"role": "user", "content": "Is 2+2=4?"}]


def config(server, **kw) -> ClientConfig:
    base = dict(api_key=KEY, model="gpt-judge", base_url=server.base_url, max_concurrency=10,
                timeout=5.0, max_retries=3, backoff_base=0.01, backoff_cap=0.05,
                key_setting="MODEL_PARSER_API", label="judge API")
    base.update(kw)
    return ClientConfig(**base)


def generate(client: ChatClient, messages=MSGS, **params) -> ChatResult:
    async def main():
        try:
            return await client.generate(messages, **params)
        finally:
            await client.aclose()
    return asyncio.run(main())


def batch(n: int, prefix: str = "q"):
    return [(i, [{"role": "user", "content": f"{prefix} {i}"}], {"max_tokens": 999})
            for i in range(n)]


class RecordingClient(ChatClient):
    """A ChatClient that reports its own timings, on its own clock (``time.monotonic``),
    so checks do not depend on how fast a loaded machine runs the test:

    * ``slots``: when each request got its slot from the pacing (i.e. was let go);
    * ``rate_limited_at``: when the client learnt of each 429;
    * ``slept``: seconds the client chose to wait before sending (pacing, gates, backoff),
      the delays it asked for, not how long the machine took to wake it up."""

    def __init__(self, cfg: ClientConfig):
        super().__init__(cfg)
        self.slots: list = []
        self.rate_limited_at: list = []
        self.slept = 0.0

    async def _acquire_slot(self) -> float:
        slot = await super()._acquire_slot()
        self.slots.append(slot)
        return slot

    def _on_rate_limited(self, sent_at, retry_after, server_msg) -> None:
        self.rate_limited_at.append(time.monotonic())
        super()._on_rate_limited(sent_at, retry_after, server_msg)

    async def _sleep(self, delay: float) -> None:
        self.slept += max(0.0, delay)
        await super()._sleep(delay)


# ------------------------------------------------------------------ success


def test_success_sends_the_request_as_given(server):
    client = ChatClient(config(server))
    r = generate(client, max_tokens=999, response_format={"type": "text"}, temperature=0)
    assert r.text == default_reply({"messages": MSGS})
    assert r.finish_reason == "stop" and r.model == "gpt-judge"
    assert r.usage is not None and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    (req,) = server.chat_requests()
    assert req.path == "/v1/chat/completions"
    assert req.body["model"] == "gpt-judge"
    assert req.body["messages"] == MSGS
    assert req.body["max_tokens"] == 999
    assert req.body["response_format"] == {"type": "text"}
    assert req.body["temperature"] == 0
    assert req.authorization == f"Bearer {KEY}"
    assert client.stats.as_dict()["requests_sent"] == 1 and client.stats.successes == 1


def test_model_can_be_overridden_per_call(server):
    client = ChatClient(config(server))
    generate(client, model="gpt-other")
    assert server.chat_requests()[0].body["model"] == "gpt-other"


def test_azure_uses_deployment_path_and_api_key_header(server):
    root = server.base_url.rsplit("/v1", 1)[0]
    client = ChatClient(config(server, base_url=None, azure_endpoint=root,
                               api_version="2024-02-01", model="my-deployment"))
    assert generate(client).text
    (req,) = server.chat_requests()
    assert "/openai/deployments/my-deployment/chat/completions" in req.path
    assert req.headers.get("api-key") == KEY


# ------------------------------------------------------------------ 429


def test_retry_after_ms_is_honoured(server):
    server.push_faults(Fault("429", retry_after=0.6))
    client = ChatClient(config(server))
    generate(client)
    first, second = server.chat_requests()
    assert first.status == 429 and second.status == 200
    assert second.time - first.time >= 0.6
    assert client.stats.rate_limited == 1 and client.stats.retries == 0


def test_fractional_retry_after_seconds_is_honoured(server):
    server.push_faults(Fault("429", headers={"retry-after": "0.45"}))
    client = ChatClient(config(server))
    generate(client)
    first, second = server.chat_requests()
    assert second.time - first.time >= 0.45


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "40", "retry-after": "1"}) == 0.04
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


@pytest.mark.slow
def test_429_pauses_the_whole_pool(server):
    server.latency = 0.02
    server.push_faults(Fault("429", retry_after=0.8))
    client = RecordingClient(config(server, max_concurrency=5, initial_rate=500))
    results = run_pool(client, batch(30))
    assert all(isinstance(r, ChatResult) for r in results.values()) and len(results) == 30
    reqs = server.chat_requests()
    (rejected,) = [r for r in reqs if r.status == 429]
    (learnt,) = client.rate_limited_at
    # Times on the client's own clock: requests let go before the client learnt of the
    # 429 were already on their way; every request let go after it (the other 29 and the
    # retry of the rejected one) waited until the advised 0.8 s had passed. No margin for
    # a slow machine is needed: a late wake-up only makes the pause longer.
    assert len(client.slots) == 31
    after = [t for t in client.slots if t >= learnt]
    assert len(after) >= 29, (len(after), "requests did not queue behind the pause")
    early = [round(t - learnt, 3) for t in after if t < learnt + 0.8 - 1e-3]
    assert early == [], f"sent {early} s after the 429, inside the 0.8 s pause"
    assert max(r.time for r in reqs) > rejected.time + 0.8


@pytest.mark.slow
def test_rate_limited_server_few_rejections(server):
    server.latency = 0.02
    server.set_rate_limit(60, burst=60)
    client = RecordingClient(config(server, max_concurrency=50))
    results = run_pool(client, batch(300))
    assert all(isinstance(r, ChatResult) for r in results.values()) and len(results) == 300
    sent, n429 = server.count(), server.count(429)
    assert sent == 300 + n429 == client.stats.requests_sent
    assert n429 / sent <= 0.10, server.status_counts
    # Not too slow either: the time the client chose to wait (pacing and 429 pauses; the
    # server allows 60 burst + 60/s, so about 4 s) stays within 30% of 300/60 s. A loaded
    # machine only shortens these waits (the work between sends eats into them); a rate
    # cut too deep lengthens them.
    assert client.slept <= 1.3 * 300 / 60, client.slept
    assert client.stats.rate_limited == n429 and client.stats.retries == 0


def test_endless_429_gives_up_with_clear_error(server):
    server.set_permanent(Fault("429", retry_after=0.05))
    client = ChatClient(config(server, rate_limit_timeout=0.6))
    t0 = time.monotonic()
    with pytest.raises(APIRateLimitError) as e:
        generate(client)
    assert time.monotonic() - t0 < AT_ONCE_S  # not the default rate_limit_timeout's minutes
    assert "429" in str(e.value) and server.base_url in str(e.value) and "MODEL_PARSER_API" in str(e.value)


def test_insufficient_quota_is_fatal(server):
    server.push_faults("quota")
    with pytest.raises(APIQuotaError, match="quota"):
        generate(ChatClient(config(server)))
    assert server.count() == 1


# ------------------------------------------------------------------ transient errors


def test_500_then_success(server):
    server.push_faults("500")
    client = ChatClient(config(server))
    assert generate(client).text
    assert server.count(500) == 1 and server.count(200) == 1
    assert client.stats.retries == 1


@pytest.mark.slow
def test_timeout_then_success(server, caplog):
    server.push_faults(Fault("hang", hang=2 * AT_ONCE_S), times=2)
    client = ChatClient(config(server, timeout=0.5))
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mix_eval"):
        assert generate(client).text
    assert 1.0 <= time.monotonic() - t0 < AT_ONCE_S  # two timeouts, not a hang waited out
    assert client.stats.retries == 2 and len(server.chat_requests()) == 3
    # a hanging server is not silent: one warning, the first time
    warned = [r.getMessage() for r in caplog.records if "timeout" in r.getMessage()]
    assert len(warned) == 1 and "retrying" in warned[0] and server.base_url in warned[0], warned


def test_retries_exhausted_raise_transient_error(server):
    server.push_faults("503", times=3)
    client = ChatClient(config(server, max_retries=2))
    with pytest.raises(TransientAPIError) as e:
        generate(client)
    msg = str(e.value)
    assert server.base_url in msg and "HTTP 503" in msg and "3 times" in msg
    assert server.count(503) == 3 and client.stats.failed == 1


def test_connection_refused_is_transient():
    with FakeOpenAIServer() as s:
        url = s.base_url   # closed after this block
    client = ChatClient(ClientConfig(api_key=KEY, model="m", base_url=url, max_retries=1,
                                     backoff_base=0.01, backoff_cap=0.02, key_setting="X"))
    with pytest.raises(TransientAPIError, match="connection error") as e:
        generate(client)
    assert url in str(e.value)


@pytest.mark.parametrize("fault", ["garbage", "malformed_json", "empty_choices", "disconnect"])
def test_malformed_answers_are_retried(server, fault):
    server.push_faults(fault)
    client = ChatClient(config(server))
    assert generate(client).text == default_reply({"messages": MSGS})
    assert client.stats.retries == 1


def test_malformed_answers_exhausted(server):
    server.set_permanent("garbage")
    with pytest.raises(TransientAPIError, match="malformed"):
        generate(ChatClient(config(server, max_retries=1)))
    assert server.count() == 2


# ------------------------------------------------------------------ fatal errors


def test_401_stops_the_pool_at_once(server):
    server.api_key = "sk-the-right-key"
    delivered = []
    client = ChatClient(config(server, max_concurrency=100))
    t0 = time.monotonic()
    with pytest.raises(APIAuthError) as e:
        run_pool(client, batch(100), lambda k, r: delivered.append(k))
    assert time.monotonic() - t0 < AT_ONCE_S
    msg = str(e.value)
    assert "MODEL_PARSER_API" in msg and server.base_url in msg and "401" in msg
    assert KEY not in msg
    assert server.count() == 1, server.count()   # the first request goes alone
    assert delivered == []
    # The client stays stopped: no further request is sent.
    n = server.count()
    with pytest.raises(APIAuthError):
        generate(client)
    assert server.count() == n


def test_fatal_error_cancels_requests_in_flight(server):
    """A 401 ends the batch while other requests are still in flight: run_pool returns
    while the server still holds them (they are released only afterwards, and the client's
    timeout is far away), instead of waiting for their answers."""
    import threading

    release = threading.Event()

    def reply(req):
        content = req["messages"][0]["content"]
        if content == "q 7":
            return Fault("401")
        if content != "q 0":          # q 0 (the first request) answers at once
            release.wait(60.0)
        return "slow"

    server.reply = reply
    client = ChatClient(config(server, max_concurrency=20, initial_rate=1000, timeout=120.0))
    raised: list[BaseException] = []
    returned = threading.Event()

    def batch_in_thread() -> None:
        try:
            run_pool(client, batch(20))
        except BaseException as e:  # noqa: BLE001 (looked at below)
            raised.append(e)
        finally:
            returned.set()

    worker = threading.Thread(target=batch_in_thread, daemon=True)
    worker.start()
    try:
        # generous: the batch ends in well under a second; waiting for the held requests
        # would take until they are released below
        returned_while_held = returned.wait(30.0)
    finally:
        release.set()
        worker.join(60.0)
    assert returned_while_held, "run_pool waited for the requests in flight"
    assert len(raised) == 1 and isinstance(raised[0], APIAuthError), raised
    assert len(server.chat_requests()) <= 20


def test_on_result_is_called_as_each_request_finishes(server):
    """Results are delivered as they arrive: q 5 is answered only after the nine others
    have reached on_result (if delivery waited for q 5, the event would never be set)."""
    import threading

    others_delivered = threading.Event()
    q5_saw_others_first = []

    def reply(req):
        if req["messages"][0]["content"] == "q 5":
            q5_saw_others_first.append(others_delivered.wait(30.0))
        return "ok"

    def on_result(key, result):
        calls.append(key)
        if len(calls) == 9:
            others_delivered.set()

    server.reply = reply
    calls = []
    results = run_pool(config(server), batch(10), on_result)
    assert q5_saw_others_first == [True]
    assert calls[-1] == 5 and sorted(calls) == list(range(10))
    assert list(results) == list(range(10))


@pytest.mark.slow
def test_client_is_reusable_across_batches_and_inside_a_loop(server):
    client = ChatClient(config(server))
    run_pool(client, batch(5))
    run_pool(client, batch(5, prefix="again"))

    async def inside_a_running_loop():
        return run_pool(client, batch(3, prefix="nested"))

    assert len(asyncio.run(inside_a_running_loop())) == 3
    assert client.stats.successes == 13 and server.count(200) == 13


def test_duplicate_keys_are_rejected(server):
    with pytest.raises(ValueError, match="duplicate"):
        run_pool(config(server), [("a", MSGS, None), ("a", MSGS, None)])


# ------------------------------------------------------------------ the key never leaks


class Asking(RefusalRetry):
    """The refusal-retry loop with its hooks recorded: a refusal that names the context is
    hopeless; ``switch``: an unsupported parameter is answered by the other one."""

    def __init__(self, client: ChatClient, attempts: int, *, switch: bool = False):
        super().__init__(client, attempts)
        self.token_param = "max_tokens"
        self.switch = switch
        self.replies: dict = {}
        self.given_up: list = []
        self.retries: list = []

    def params(self):
        return {self.token_param: 5}

    def on_reply(self, key, result):
        self.replies[key] = result.text

    def on_refusal(self, key, error, sent):
        if self.switch and error.code == "unsupported_parameter":
            raise AskAgain(error.server_message)

    def on_ask_again(self, why):
        self.token_param = "max_completion_tokens"

    def hopeless(self, error):
        return "context" in (error.server_message or "")

    def retrying(self, refused, attempt):
        self.retries.append((refused, attempt))

    def give_up(self, key, error):
        self.given_up.append((key, error.server_message))


def test_refused_requests_are_asked_again_up_to_the_attempts_then_given_up():
    """q 1 refused every time: asked 4 times, then given up; q 2 refused as too long: given
    up at once; q 3 refused twice, answered the third time; q 0 answered at once."""
    asked: list = []

    def reply(body):
        text = body["messages"][-1]["content"]
        asked.append(text)
        if text == "q 1" or text == "q 3" and asked.count(text) <= 2:
            return Fault("400", message="flagged by the content filter")
        if text == "q 2":
            return Fault("400", message="longer than the model's context")
        return f"fine {text}"

    with FakeOpenAIServer(reply=reply) as s:
        loop = Asking(ChatClient(config(s)), 4)
        loop.run([(i, [{"role": "user", "content": f"q {i}"}]) for i in range(4)])
    assert loop.replies == {0: "fine q 0", 3: "fine q 3"}
    assert loop.given_up == [(2, "longer than the model's context"), (1, "flagged by the content filter")]
    assert {t: asked.count(t) for t in set(asked)} == {"q 0": 1, "q 1": 4, "q 2": 1, "q 3": 3}
    assert loop.retries == [(2, 1), (2, 2), (1, 3)]


@pytest.mark.slow
def test_a_request_worded_otherwise_is_sent_again_in_the_same_attempt():
    """A refusal that asks for other parameters: the requests not answered yet go again at
    once, with the new parameters, and nothing is given up or counted as an attempt."""
    def reply(body):
        if "max_tokens" in body:
            return Fault("400", code="unsupported_parameter", message="use max_completion_tokens")
        return "fine"

    with FakeOpenAIServer(reply=reply) as s:
        loop = Asking(ChatClient(config(s, max_concurrency=1)), 1, switch=True)
        loop.run([(i, [{"role": "user", "content": f"q {i}"}]) for i in range(3)])
        bodies = [r.body for r in s.chat_requests()]
    assert loop.replies == {0: "fine", 1: "fine", 2: "fine"} and loop.given_up == [] and loop.retries == []
    assert "max_tokens" in bodies[0] and all("max_completion_tokens" in b for b in bodies[1:])
    assert len(bodies) == 4


def test_key_never_appears_in_errors_logs_or_reprs(server, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    cfg = config(server, max_retries=1)
    seen += [repr(cfg), str(cfg), repr(ChatClient(cfg))]
    server.push_faults("500", "500", "400", "garbage", "garbage",
                       Fault("429", retry_after=0.01, message=f"slow down {KEY}"))
    # 500 twice: out of retries; 400: refused; garbage twice: out of retries. Each call
    # must end in its error (the keys are looked for in those errors below).
    for expected in (TransientAPIError, APIBadRequestError, TransientAPIError):
        with pytest.raises(expected) as e:
            generate(ChatClient(cfg))
        seen += [str(e.value), repr(e.value), str(e.value.server_message)]
    server.push_faults(Fault("500", message=f"internal error for key {KEY}"), times=2)
    with pytest.raises(TransientAPIError) as e:
        generate(ChatClient(cfg))
    seen.append(str(e.value))
    assert server.count(429) == 1 and server.count(500) == 4 and server.count(400) == 1
    server.api_key = "sk-the-right-key"       # the 401 body echoes the key sent
    with pytest.raises(APIAuthError) as e:
        generate(ChatClient(cfg))
    seen += [str(e.value), repr(e.value), str(e.value.server_message)]
    assert "***" in str(e.value)
    assert e.value.__cause__ is None and e.value.__context__ is None
    text = "\n".join(seen) + "\n" + caplog.text
    assert KEY not in text
    assert KEY[8:] not in text
    assert any(r.name == "mix_eval.llm.client" for r in caplog.records)


# ------------------------------------------------------------------ pieces


def test_config_validates_and_masks(monkeypatch):
    with pytest.raises(ValueError, match="max_concurrency"):
        ClientConfig(api_key=KEY, model="m", max_concurrency=0)
    with pytest.raises(ValueError, match="timeout"):
        ClientConfig(api_key=KEY, model="m", timeout=0)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cfg = ClientConfig(api_key=KEY, model="m")
    assert KEY not in repr(cfg) and "api_key=***" in repr(cfg)
    assert cfg.display_url == "https://api.openai.com/v1"      # no base URL anywhere: OpenAI
    # OPENAI_BASE_URL is where the SDK sends requests without a base_url; credentials in
    # a URL are never shown
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:pa55@proxy.example:8443/v1")
    assert cfg.display_url == "https://proxy.example:8443/v1"
    assert ClientConfig(api_key=KEY, model="m", base_url="http://127.0.0.1:9/v1").display_url \
        == "http://127.0.0.1:9/v1"                               # an explicit base_url wins
    assert ClientConfig(api_key=KEY, model="m", azure_endpoint="https://me.openai.azure.com",
                        api_version="2024-02-01").display_url == "https://me.openai.azure.com"


def test_limiter_cuts_on_429_and_grows_only_when_paced():
    lim = AdaptiveRateLimiter(100.0)
    t = 0.0
    for _ in range(100):                      # one second at 100/s
        t += lim.try_acquire(t) or 0.0
        lim.try_acquire(t)
    assert lim.rate == 100.0
    assert lim.on_rate_limited(t, sent_at=t - 0.01, gate_delay=0.5)
    assert lim.rate < 100.0 and not lim.slow_start
    assert lim.delay(t) >= 0.5 - 1e-9          # the gate
    rate = lim.rate
    assert not lim.on_rate_limited(t + 0.01, sent_at=t - 0.02, gate_delay=None)  # sent before the cut
    assert lim.rate == rate
    lim.on_success(t + 10)                    # not paced for 10 s: nothing learned
    assert lim.rate == rate
    lim.last_paced = t + 10
    lim.on_success(t + 10)
    assert lim.rate > rate


def test_import_is_light():
    code = ("import sys, mix_eval.llm.client, mix_eval.llm.pool, mix_eval.llm.env, mix_eval.llm.refusals, "
            "mix_eval.llm.providers, mix_eval.judges.api, mix_eval.models.api_models, "
            "mix_eval.models.sdk_models, mix_eval.llm.providers.openai, mix_eval.llm.providers.anthropic, "
            "mix_eval.llm.providers.gemini, mix_eval.llm.providers.reka; "
            "print(sorted(m for m in ('torch', 'transformers', 'openai', 'anthropic', 'google.genai', 'reka', "
            "'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _simulate(lim: AdaptiveRateLimiter, n_429: int, n_ok: int, rtt: float = 0.005) -> float:
    """One request at a time against a server that answers ``n_429`` 429s (50 ms
    retry-after) and then ``n_ok`` successes; returns the simulated seconds taken."""
    t = 0.0
    answered = 0
    while answered < n_ok:
        wait = lim.try_acquire(t)
        if wait > 0:
            t += wait
            continue
        sent, t = t, t + rtt
        if n_429 > 0:
            n_429 -= 1
            lim.on_rate_limited(t, sent_at=sent, gate_delay=0.05)
        else:
            answered += 1
            lim.on_success(t)
    return t


@pytest.mark.parametrize("burst", [10, 30, 100])
def test_limiter_a_run_of_nothing_but_429s_does_not_collapse_the_rate(burst):
    """Consecutive 429s with no success among them measure an outage, not the rate: the
    gates hold the pool back, the rate stays within half of what it was, and once the
    server answers again the client climbs back at the slow-start pace."""
    baseline = _simulate(AdaptiveRateLimiter(16.0), 0, 40)
    lim = AdaptiveRateLimiter(16.0)
    took = _simulate(lim, burst, 40)
    assert lim.cuts == burst
    # each 429 costs its gate, its round trip and one slot at >= 8/s; nothing more
    assert took <= baseline + burst * (0.05 + 0.005 + 1 / 8) + 0.5, (took, baseline)
    assert lim.rate >= 16.0


def test_limiter_429s_among_successes_still_cut_to_the_accepted_rate():
    """The floor above is only for runs without a success: a server that accepts 10/s of
    the 40/s sent still brings the rate down to about what it accepts."""
    lim = AdaptiveRateLimiter(40.0)
    t, step = 0.0, 0.001
    sent_n = 0
    while t < 5.0:
        if lim.try_acquire(t) == 0.0:
            sent_n += 1
            if sent_n % 4 == 0:
                lim.on_success(t + 0.02)
            else:
                lim.on_rate_limited(t + 0.02, sent_at=t, gate_delay=None)
        t += step
    assert lim.rate <= 15.0, lim.rate


# ------------------------------------------------------------------ the refusal rules, at their edges


class _Stopped(Exception):
    """What `_Rules.stop_error` returns: the arguments the rule stopped with."""

    def __init__(self, refused, asked, errors, first):
        super().__init__(refused, asked, errors, first)
        self.args_seen = (refused, asked, errors, first)


class _Rules(RefusalRules):
    """`RefusalRules` with its caller's hooks recorded (the judge's rules: a round at a time)."""

    def __init__(self, request=None, **kw):
        super().__init__(object(), Asked("the model m", request or ChatRequest("m")), 3, **kw)
        self.answers: list = []
        self.switches: list = []

    def answer(self, key, result):
        self.answers.append((key, result))

    def stop_error(self, refused, asked, errors, *, first):
        return _Stopped(refused, asked, errors, first)

    def on_style_switch(self, old, new, why):
        self.switches.append((old, new, why))


class _ModelRules(_Rules):
    """The evaluated models' rules: first requests counted over the asking's life, the
    more-than-half rule from a batch of two."""

    first_over_life = True
    min_half = 2


def _refusal(message="flagged by the content filter", code="content_filter", status=400):
    return APIBadRequestError(f"HTTP {status}: {message}", status_code=status, server_message=message, code=code)


def _refuse(rules, sent, key, error=None):
    """One refusal as `RefusalRetry` delivers it: recorded in the pass, then the hook."""
    error = error or _refusal()
    sent.refused[key] = error
    rules.on_refusal(key, error, sent)


def test_most_refused_is_strictly_more_than_half():
    """Half a sending refused is not most of it; one more is."""
    assert [most_refused(r, 10) for r in (4, 5, 6, 10)] == [False, False, True, True]
    assert [most_refused(r, 5) for r in (2, 3)] == [False, True]
    assert [most_refused(r, a) for r, a in ((0, 1), (1, 1), (1, 2), (2, 3))] == [False, True, False, True]


def test_refusal_quote_names_the_most_given_reason_and_the_first_status():
    errors = {"a": _refusal("filtered", code=None), "b": _refusal("too big", code="x"), "c": _refusal("too big")}
    assert refusal_quote(errors) == ("too big", "HTTP 400")  # the first refusal has no code
    coded = {"a": _refusal("filtered", code="invalid_request_error", status=422), "b": _refusal("filtered")}
    assert refusal_quote(coded) == ("filtered", "HTTP 422 invalid_request_error")
    bare = {"a": APIBadRequestError("HTTP 400 from the judge API", status_code=400)}
    assert refusal_quote(bare) == ("HTTP 400 from the judge API", "HTTP 400")


def test_server_reason_and_too_long():
    """The server's own words, else the client's message; too long by code or by wording."""
    assert server_reason(_refusal("flagged")) == "flagged"
    assert server_reason(APIBadRequestError("HTTP 400 (no message)", status_code=400)) == "HTTP 400 (no message)"
    assert refused_too_long(_refusal(None, code="context_length_exceeded"))
    assert refused_too_long(_refusal("This model's maximum context length is 4096 tokens.", code=None))
    assert not refused_too_long(_refusal("flagged", code="invalid_request_error"))
    rules = _Rules()
    assert rules.hopeless(_refusal("prompt is too long", code=None)) and not rules.hopeless(_refusal())
    assert RefusalRetry(object(), 3).hopeless(_refusal("prompt is too long", code=None)) is False


def test_refusal_rules_keep_what_they_are_given_and_their_defaults():
    client, asked = object(), Asked("the judge j", ChatRequest("j", max_tokens=7))
    rules = RefusalRules(client, asked, 4)
    assert (rules.client, rules.asked, rules.attempts, rules.progress, rules.desc) == (
        client, asked, 4, False, "API requests")
    rules = RefusalRules(client, asked, 2, progress=True, desc="judging")
    assert (rules.client, rules.attempts, rules.progress, rules.desc) == (client, 2, True, "judging")
    assert rules.params() == ChatRequest("j", max_tokens=7).params()


def test_each_reply_is_counted_and_handed_on():
    rules, first, second = _Rules(), ChatResult("yes"), ChatResult("no")
    rules.on_reply("k1", first)
    rules.on_reply("k2", second)
    assert rules.asked.answered == 2 and rules.answers == [("k1", first), ("k2", second)]


def test_each_distinct_reason_is_counted_and_logged_once(caplog):
    rules, sent = _Rules(), Pass(1, 100)
    with caplog.at_level(logging.WARNING, logger="mix_eval.llm.refusals"):
        for key, (message, code) in enumerate([("filtered", "content_filter"), ("filtered", "content_filter"),
                                                ("bad", None), ("filtered", "content_filter")]):
            _refuse(rules, sent, key, _refusal(message, code=code))
    assert rules.asked.reasons == Counter({"filtered": 3, "bad": 1})
    assert [r.getMessage() for r in caplog.records if r.name == "mix_eval.llm.refusals"] == [
        "the model m refused a request (HTTP 400 content_filter): filtered",
        "the model m refused a request (HTTP 400): bad"]


def test_a_style_refusal_asks_again_only_where_the_style_can_change():
    style = _refusal("Unsupported parameter: 'max_tokens'", code="unsupported_parameter")
    rules = _Rules(ChatRequest("m"))  # no table knows its style
    with pytest.raises(AskAgain) as why:
        rules.on_refusal(0, style, Pass(1, 5, refused={0: style}))
    assert str(why.value) == "Unsupported parameter: 'max_tokens'"
    assert rules.asked.reasons == Counter() and rules.asked.refused_before_answer == 0
    known = _Rules(ChatRequest("m", style_known=True))  # the style is known: an ordinary refusal
    _refuse(known, Pass(1, 5), 0, style)
    assert known.asked.reasons == Counter({"Unsupported parameter: 'max_tokens'": 1})
    other = _Rules(ChatRequest("m"))  # the style can change, but the server refused something else
    _refuse(other, Pass(1, 5), 0)
    assert other.asked.refused_before_answer == 1


def test_asked_again_in_the_other_style_the_switch_is_recorded():
    rules = _Rules(ChatRequest("m", max_tokens=100))
    old = rules.asked.request
    rules.on_ask_again(AskAgain("use max_completion_tokens"))
    new = rules.asked.request
    assert new == ChatRequest("m", max_tokens=100).other_style() and new.style == "reasoning"
    assert (rules.asked.switched_from, rules.asked.switch_reason) == ("classic", "use max_completion_tokens")
    assert rules.switches == [(old, new, "use max_completion_tokens")]


def test_a_rounds_first_ten_requests_all_refused_stop_it():
    """The judge's rule: the tenth refusal of a first sending with no answer stops it, not the ninth."""
    rules, sent = _Rules(), Pass(1, 20)
    for key in range(9):
        _refuse(rules, sent, key)
    assert rules.asked.refused_before_answer == 9
    with pytest.raises(_Stopped) as stop:
        _refuse(rules, sent, 9)
    assert stop.value.args_seen == (10, 10, sent.refused, True) and stop.value.args_seen[2] is sent.refused
    small, sent = _Rules(), Pass(1, 3)  # a sending of fewer than ten: all of it
    _refuse(small, sent, 0)
    _refuse(small, sent, 1)
    with pytest.raises(_Stopped) as stop:
        _refuse(small, sent, 2)
    assert stop.value.args_seen == (3, 3, sent.refused, True)
    for sent in (Pass(1, 20, answered=1), Pass(2, 20)):  # an answer came, or not the first attempt: no stop
        rules = _Rules()
        for key in range(12):
            _refuse(rules, sent, key)
    answered = _Rules()
    answered.asked.answered = 1
    _refuse(answered, Pass(1, 20, answered=1), 0)
    assert answered.asked.refused_before_answer == 0  # counted only before the first answer


def test_a_models_first_ten_requests_refused_over_its_batches_stop_it():
    """The models' rule counts the refusals before the first answer over every batch: the
    tenth stops, whatever the batch sizes; after an answer, none does."""
    rules = _ModelRules()
    for batch_ in range(2):
        sent = Pass(1, 4)
        for key in range(4):
            _refuse(rules, sent, key)
    sent = Pass(1, 4)
    _refuse(rules, sent, 0)
    assert rules.asked.refused_before_answer == 9
    with pytest.raises(_Stopped) as stop:
        _refuse(rules, sent, 1)
    assert stop.value.args_seen == (10, 10, sent.refused, True) and stop.value.args_seen[2] is sent.refused
    answered = _ModelRules()
    answered.asked.answered = 1
    sent = Pass(1, 20)
    for key in range(12):
        _refuse(answered, sent, key)
    assert answered.asked.refused_before_answer == 0


def test_more_than_half_of_a_first_sending_refused_stops_it():
    rules, refused = _Rules(), {k: _refusal() for k in range(6)}
    with pytest.raises(_Stopped) as stop:
        rules.after_attempt(refused, 10, 1)
    assert stop.value.args_seen == (6, 10, refused, False) and stop.value.args_seen[2] is refused
    rules.after_attempt({k: _refusal() for k in range(5)}, 10, 1)  # half: asked again
    rules.after_attempt({k: _refusal() for k in range(10)}, 10, 2)  # a later attempt: given up in time
    with pytest.raises(_Stopped) as stop:
        rules.after_attempt({0: _refusal()}, 1, 1)  # a judge's round of one
    assert stop.value.args_seen[:2] == (1, 1)
    model = _ModelRules()
    model.after_attempt({0: _refusal()}, 1, 1)  # a model's batch of one: a content filter
    with pytest.raises(_Stopped) as stop:
        model.after_attempt({0: _refusal(), 1: _refusal()}, 2, 1)
    assert stop.value.args_seen[:2] == (2, 2) and stop.value.args_seen[3] is False


class _ScriptedPool:
    """`run_pool` in place: each request answered at once by ``script(key, params, n)`` (n:
    the how-manieth time the key is asked), every call recorded."""

    def __init__(self, script):
        self.script, self.asked, self.calls = script, Counter(), []

    def __call__(self, client, requests, on_result=None, progress=False, *, desc="API requests"):
        sent: list = []
        self.calls.append((client, progress, desc, sent))
        for key, messages, params in requests:
            self.asked[key] += 1
            sent.append((key, messages, params))
            on_result(key, self.script(key, params, self.asked[key]))
        return {}


class _Loop(RefusalRetry):
    """The refusal-retry loop with every hook recorded in order; "too long" is hopeless;
    an unsupported parameter is asked again with max_completion_tokens."""

    def __init__(self, attempts, **kw):
        super().__init__("the client", attempts, **kw)
        self.param = {"max_tokens": 5}
        self.events: list = []

    def params(self):
        return self.param

    def on_reply(self, key, result):
        self.events.append(("reply", key, result.text))

    def on_failure(self, key, error):
        self.events.append(("failure", key, str(error)))

    def on_refusal(self, key, error, sent):
        self.events.append(("refusal", key, sent.attempt, sent.asked, sent.answered, sorted(sent.refused)))
        if error.code == "unsupported_parameter":
            raise AskAgain(error.server_message)

    def on_ask_again(self, why):
        self.events.append(("ask again", str(why)))
        self.param = {"max_completion_tokens": 5}

    def after_attempt(self, refused, asked, attempt):
        self.events.append(("after", sorted(refused), asked, attempt))

    def hopeless(self, error):
        return error.server_message == "too long"

    def retrying(self, refused, attempt):
        self.events.append(("retrying", refused, attempt))

    def give_up(self, key, error):
        self.events.append(("give up", key, error.server_message))


def test_the_refusal_loop_step_by_step(monkeypatch):
    """Three attempts: an answer, a failure (not asked again), a refusal given up at once as
    hopeless, one refused twice then answered, one refused every time and given up after
    the last attempt, with the last refusal."""
    def script(key, params, n):
        if key == 0:
            return ChatResult("fine 0")
        if key == 1:
            return TransientAPIError("down")
        if key == 2:
            return _refusal("too long")
        if key == 3 and n == 3:
            return ChatResult("fine 3")
        return _refusal(f"filtered {n}")

    pool = _ScriptedPool(script)
    monkeypatch.setattr(refusals_module, "run_pool", pool)
    loop = _Loop(3)
    loop.run([(k, [{"role": "user", "content": f"q {k}"}]) for k in range(5)])
    assert loop.events == [
        ("reply", 0, "fine 0"), ("failure", 1, "down"), ("refusal", 2, 1, 5, 1, [2]), ("refusal", 3, 1, 5, 1, [2, 3]),
        ("refusal", 4, 1, 5, 1, [2, 3, 4]), ("after", [2, 3, 4], 5, 1), ("give up", 2, "too long"),
        ("retrying", 2, 1),
        ("refusal", 3, 2, 2, 0, [3]), ("refusal", 4, 2, 2, 0, [3, 4]), ("after", [3, 4], 2, 2), ("retrying", 2, 2),
        ("reply", 3, "fine 3"), ("refusal", 4, 3, 2, 1, [4]), ("after", [4], 2, 3), ("give up", 4, "filtered 3"),
    ]
    assert pool.asked == Counter({0: 1, 1: 1, 2: 1, 3: 3, 4: 3})
    assert [(c[0], c[1], c[2], [s[0] for s in c[3]]) for c in pool.calls] == [
        ("the client", False, "API requests", [0, 1, 2, 3, 4]), ("the client", False, "API requests", [3, 4]),
        ("the client", False, "API requests", [3, 4])]
    sent = [s for c in pool.calls for s in c[3]]
    assert sent[3][1] == [{"role": "user", "content": "q 3"}]
    assert all(params == {"max_tokens": 5} and params is not loop.param for _, _, params in sent)
    assert len({id(params) for _, _, params in sent}) == len(sent)  # each request its own copy
    monkeypatch.setattr(refusals_module, "run_pool", _ScriptedPool(
        lambda key, params, n: _refusal("filtered") if key == 2 else ChatResult(f"fine {key}")))
    loop = _Loop(1)
    loop.run([(k, [{"role": "user", "content": f"q {k}"}]) for k in range(3)])
    assert loop.events[2:] == [("refusal", 2, 1, 3, 2, [2]), ("after", [2], 3, 1), ("give up", 2, "filtered")]


def test_the_refusal_loop_asks_again_otherwise_and_stops_on_ctrl_c(monkeypatch):
    """Worded otherwise: the requests not yet answered (nor failed) go again at once in the
    same attempt. After a Ctrl-C nothing more is sent and nothing is given up."""
    def script(key, params, n):
        if key == 0:
            return ChatResult("fine")
        if key == 1:
            return TransientAPIError("down")
        if "max_tokens" in params:
            return _refusal("use max_completion_tokens", code="unsupported_parameter")
        return ChatResult(f"fine {key}") if key == 2 else _refusal("filtered")

    pool = _ScriptedPool(script)
    monkeypatch.setattr(refusals_module, "run_pool", pool)
    loop = _Loop(1, progress=True, desc="judging")
    loop.run([(k, [{"role": "user", "content": f"q {k}"}]) for k in range(4)])
    assert [(c[1], c[2], [(s[0], s[2]) for s in c[3]]) for c in pool.calls] == [
        (True, "judging", [(0, {"max_tokens": 5}), (1, {"max_tokens": 5}), (2, {"max_tokens": 5})]),
        (True, "judging", [(2, {"max_completion_tokens": 5}), (3, {"max_completion_tokens": 5})])]
    assert loop.events == [
        ("reply", 0, "fine"), ("failure", 1, "down"), ("refusal", 2, 1, 4, 1, [2]),
        ("ask again", "use max_completion_tokens"),
        ("reply", 2, "fine 2"), ("refusal", 3, 1, 2, 1, [3]), ("after", [3], 4, 1), ("give up", 3, "filtered")]

    def stopped(key, params, n):
        monkeypatch.setattr(STOP, "requested", True)  # Ctrl-C while the first request is in flight
        return _refusal("filtered")

    pool = _ScriptedPool(stopped)
    monkeypatch.setattr(refusals_module, "run_pool", pool)
    loop = _Loop(3)
    loop.run([(k, [{"role": "user", "content": f"q {k}"}]) for k in range(3)])
    assert pool.asked == Counter({0: 1}) and loop.events == [("refusal", 0, 1, 3, 0, [0])]
