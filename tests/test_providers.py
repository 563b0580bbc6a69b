"""Gemini and Reka models through their SDKs, against the loopback server, and each
provider's sorting of its own SDK's exceptions (`Provider.classify`).

The SDKs are optional extras (``pip install -e '.[providers]'``): each test skips when
its SDK is not installed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import fake_server, quick_client, read_jsonl
from fake_openai_server import BLOCKED, BLOCKED_PROMPT, Fault

from mix_eval.evaluate import main as evaluate_main
from mix_eval.models.api_models import MAX_REFUSALS, REFUSAL_TEXT
from mix_eval.settings import ModelSettings

VERSION = "2024-06-01"
MODEL_KEY = "sk-model-key-789"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
HARM_CATEGORIES = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                   "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"}


def needs(module: str) -> None:
    pytest.importorskip(module, reason=f"the {module} SDK is an optional extra")


def short_answer(body: dict) -> str:
    return "A"


server = fake_server(reply=short_answer)


def run(data_path: Path, out: Path, model: str) -> int:
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "4",
                          "--data_path", str(data_path), "--output_dir", str(out), "--limit", "5",
                          "--model_name", model, "--inference_only"])


def responses(out: Path, model: str, split: str) -> list[dict]:
    return read_jsonl(out / model / "mixeval_hard" / VERSION / f"{model}_{split}.jsonl")


def assert_each_input_sent_and_answered(out: Path, model: str, sent: list[str]) -> None:
    """Each split holds 5 answers "A", and the texts sent are those items' inputs."""
    stored = []
    for split in SPLITS:
        lines = responses(out, model, split)
        assert len(lines) == 5 and all(x["response"] == "A" for x in lines)
        stored += [x["formated_input"] for x in lines]
    assert sorted(sent) == sorted(stored)


def gemini_env(env, server) -> None:
    env.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url.rsplit("/v1", 1)[0])
    env.setenv("k_g", MODEL_KEY)


def reka_env(env, server) -> None:
    env.setenv("REKA_BASE_URL", server.base_url)
    env.setenv("k_reka", MODEL_KEY)


# --------------------------------------------------------------------------- Gemini


@pytest.mark.slow
def test_gemini_through_the_google_genai_sdk(server, clean_env, data_path, tmp_path):
    needs("google.genai")
    gemini_env(clean_env, server)
    out = tmp_path / "out"
    assert run(data_path, out, "gemini_15_pro") == 0
    requests = server.chat_requests()
    assert len(requests) == 10
    sent = []
    for r in requests:
        assert r.path == "/v1beta/models/gemini-1.5-pro-latest:generateContent"
        assert r.headers.get("x-goog-api-key") == MODEL_KEY
        assert r.body["generationConfig"] == {"candidateCount": 1, "maxOutputTokens": 1536}
        assert {s["category"] for s in r.body["safetySettings"]} == HARM_CATEGORIES
        assert {s["threshold"] for s in r.body["safetySettings"]} == {"BLOCK_NONE"}
        [content] = r.body["contents"]
        assert content["role"] == "user" and len(content["parts"]) == 1
        sent.append(content["parts"][0]["text"])
        assert "systemInstruction" not in r.body
    assert_each_input_sent_and_answered(out, "gemini_15_pro", sent)
    for split in SPLITS:
        status = json.loads((out / "gemini_15_pro" / "mixeval_hard" / VERSION / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete" and MODEL_KEY not in json.dumps(status)


@pytest.mark.parametrize("sdk, set_env, model, setting, says", [
    # Gemini answers a bad key with HTTP 400 API_KEY_INVALID: still a fatal key error
    pytest.param("google.genai", gemini_env, "gemini_15_pro", "k_g", "API key not valid", id="gemini"),
    pytest.param("reka", reka_env, "reka_flash", "k_reka", "HTTP 401", id="reka"),
])
def test_a_wrong_key_stops_at_once(server, clean_env, data_path, tmp_path, capsys, sdk, set_env, model, setting, says):
    needs(sdk)
    server.api_key = "the-right-key"
    set_env(clean_env, server)
    assert run(data_path, tmp_path / "out", model) == 2
    err = capsys.readouterr().err
    assert setting in err and says in err
    assert MODEL_KEY not in err and "Traceback" not in err
    assert len(server.chat_requests()) <= 2


@pytest.mark.slow
def test_gemini_blocked_answers_become_the_refusal_text(server, clean_env, data_path, tmp_path):
    needs("google.genai")
    gemini_env(clean_env, server)
    blocked: dict[str, Fault] = {}

    def reply(body):
        prompt = body["messages"][-1]["content"]
        if len(blocked) < 2 and prompt not in blocked:
            blocked[prompt] = BLOCKED if not blocked else BLOCKED_PROMPT
        return blocked.get(prompt, "A")

    server.reply = reply
    out = tmp_path / "out"
    assert run(data_path, out, "gemini_15_pro") == 0
    lines = responses(out, "gemini_15_pro", "close_freeform_hard")
    by_input = {x["formated_input"]: x["response"] for x in lines}
    assert len(by_input) == 5 and len(blocked) == 2
    for prompt in blocked:
        assert by_input[prompt] == REFUSAL_TEXT
    assert sorted(by_input.values()) == sorted([REFUSAL_TEXT] * 2 + ["A"] * 3)
    asked = [r.body["contents"][0]["parts"][0]["text"] for r in server.chat_requests()]
    for prompt in blocked:
        assert asked.count(prompt) == MAX_REFUSALS == 11  # the reference's: more than 10 refusals
    assert all(x["response"] == "A" for x in responses(out, "gemini_15_pro", "close_multichoice_hard"))


@pytest.mark.slow
def test_gemini_rate_limits_and_server_errors_are_retried(server, clean_env, data_path, tmp_path):
    needs("google.genai")
    quick_client(clean_env)
    gemini_env(clean_env, server)
    server.push_faults(Fault("429", retry_after=0.05), "503", "disconnect", "garbage")
    out = tmp_path / "out"
    assert run(data_path, out, "gemini_15_pro") == 0
    assert server.count(429) == 1 and server.count(503) == 1
    assert all(x["response"] == "A" for s in SPLITS for x in responses(out, "gemini_15_pro", s))


def test_gemini_unknown_model_stops_at_once(server, clean_env, data_path, tmp_path, capsys):
    needs("google.genai")
    server.models = ["gemini-2.0-flash"]
    gemini_env(clean_env, server)
    assert run(data_path, tmp_path / "out", "gemini_15_pro") == 2
    err = capsys.readouterr().err
    assert "404" in err and "gemini-1.5-pro-latest" in err and "Traceback" not in err
    assert len(server.chat_requests()) <= 2


def test_gemini_retry_info_becomes_a_pause():
    """A Gemini 429 carries its retry delay in the body (RetryInfo), not in headers."""
    needs("google.genai")
    from google.genai import errors

    from mix_eval.llm.providers.base import Kind
    from mix_eval.llm.providers.gemini import GeminiProvider

    body = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                      "status": "RESOURCE_EXHAUSTED", "details": [
                          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}
    failure = GeminiProvider().classify(errors.ClientError(429, body, None))
    assert failure.kind is Kind.RATE_LIMITED and failure.status == 429 and failure.retry_after == 37.0
    assert failure.message.startswith("Resource has been exhausted")


# --------------------------------------------------------------------------- Reka


@pytest.mark.slow
def test_reka_through_the_reka_sdk(server, clean_env, data_path, tmp_path):
    needs("reka")
    reka_env(clean_env, server)
    out = tmp_path / "out"
    assert run(data_path, out, "reka_core") == 0
    requests = server.chat_requests()
    assert len(requests) == 10
    sent = []
    for r in requests:
        assert r.path == "/v1/chat"
        assert r.headers.get("x-api-key") == MODEL_KEY
        assert r.body["model"] == "reka-core" and r.body["max_tokens"] == 1536
        assert r.body.get("stream") is False
        [message] = r.body["messages"]
        assert message["role"] == "user"
        sent.append(message["content"])
    assert_each_input_sent_and_answered(out, "reka_core", sent)


def test_reka_honours_retry_after(server, clean_env):
    """Reka's ApiError has no headers: they are taken from the response itself."""
    needs("reka")
    from mix_eval.llm.pool import run_pool
    from mix_eval.llm.client import ChatClient
    from mix_eval.llm.config import ClientConfig
    from mix_eval.llm.providers.reka import RekaProvider

    server.push_faults(Fault("429", retry_after=0.3), "500")
    client = ChatClient(ClientConfig(api_key=MODEL_KEY, model="reka-edge", base_url=server.base_url,
                                     max_concurrency=8, backoff_base=0.01, backoff_cap=0.02), RekaProvider())
    results = run_pool(client, [(0, [{"role": "user", "content": "hi"}], {"max_tokens": 8})])
    assert results[0].text == "A" and results[0].usage.completion_tokens == 1
    assert client.stats.rate_limited == 1 and client.stats.retries == 1
    assert client.stats.rate_limit_wait_s >= 0.25


# --------------------------------------------------------------------------- setup errors


@pytest.mark.parametrize("model, module, pip_name", [("gemini_15_pro", "google.genai", "google-genai"),
                                                     ("reka_core", "reka", "reka-api")])
def test_missing_sdk_names_the_pip_command(clean_env, data_path, tmp_path, capsys, model, module, pip_name):
    clean_env.setitem(sys.modules, module, None)   # as if not installed
    assert run(data_path, tmp_path / "out", model) == 2
    err = capsys.readouterr().err
    assert f"pip install {pip_name}" in err and "Traceback" not in err


@pytest.mark.parametrize("model, variable", [("gemini_10_pro", "k_g"), ("reka_edge", "k_reka")])
def test_missing_key_names_the_variable(clean_env, data_path, tmp_path, capsys, model, variable):
    needs("google.genai" if variable == "k_g" else "reka")
    assert run(data_path, tmp_path / "out", model) == 2
    err = capsys.readouterr().err
    assert variable in err and "Traceback" not in err


def test_unreadable_answers_are_malformed_not_crashes():
    needs("google.genai")
    needs("reka")
    from mix_eval.llm.providers.base import BlockedReply, MalformedReply
    from mix_eval.llm.providers.gemini import GeminiProvider
    from mix_eval.llm.providers.reka import RekaProvider

    with pytest.raises(MalformedReply):
        GeminiProvider().parse(type("R", (), {"candidates": None, "prompt_feedback": None})())
    with pytest.raises(BlockedReply):
        GeminiProvider().parse({"candidates": [{"finish_reason": "RECITATION", "content": None}]})
    with pytest.raises(MalformedReply):
        RekaProvider().parse({"responses": []})
    ok = RekaProvider().parse({"responses": [{"message": {"content": [{"type": "text", "text": "B"}]}}]})
    assert ok.text == "B"


def test_gemini_through_vertex_ai_uses_cloud_settings(monkeypatch):
    """Vertex AI: no API key; google-genai gets vertexai=True with project and location."""
    pytest.importorskip("google.genai", reason="google-genai is an optional extra")
    from google import genai

    from mix_eval.api.registry import get_model
    from mix_eval.models import sdk_models as providers

    for var in ("k_g", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    seen = {}

    class Recorder:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            self.aio = None

    monkeypatch.setattr(genai, "Client", Recorder)
    model = get_model("gemini_15_pro")(ModelSettings("gemini_15_pro"))
    model.client.provider.open(model.client.config, "EMPTY")
    assert seen["vertexai"] is True and seen["project"] == "my-project" and seen["location"] == "europe-west4"
    assert "api_key" not in seen
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(providers.ModelError, match="GOOGLE_CLOUD_PROJECT"):
        get_model("gemini_15_pro")(ModelSettings("gemini_15_pro"))


# --------------------------------------------------------------------------- the Provider protocol
#
# Each provider sorts its own SDK's exceptions (real exception objects, built as the SDKs
# build them) into a Failure; the client does the rest, whatever the provider.


def _request():
    import httpx2

    return httpx2.Request("POST", "https://api.example/v1/chat")


def _response(status: int, headers=None):
    import httpx2

    return httpx2.Response(status, headers=headers or {}, request=_request())


def test_every_provider_implements_the_protocol():
    from mix_eval.llm.providers import PROVIDERS, make_provider
    from mix_eval.llm.providers.anthropic import AnthropicProvider
    from mix_eval.llm.providers.base import Provider
    from mix_eval.llm.providers.gemini import GeminiProvider
    from mix_eval.llm.providers.openai import OpenAIProvider
    from mix_eval.llm.providers.reka import RekaProvider

    expected = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider,
                "reka": RekaProvider}
    assert {name: type(make_provider(name)) for name in PROVIDERS} == expected
    for provider in (OpenAIProvider(), AnthropicProvider(), GeminiProvider(), RekaProvider()):
        assert isinstance(provider, Provider), type(provider).__name__
    with pytest.raises(ValueError, match="no provider named 'claude'"):
        make_provider("claude")


def test_judges_and_models_take_their_provider_from_the_registry(clean_env):
    """One registry by name for both: an Anthropic judge and a Claude model each get the
    provider registered as ``anthropic``; the model class is not the OpenAI-compatible one."""
    needs("anthropic")
    from mix_eval.api.registry import get_model
    from mix_eval.judges.api import ApiJudge
    from mix_eval.judges.request import JudgeRequest
    from mix_eval.llm import providers
    from mix_eval.llm.config import ClientConfig
    from mix_eval.models.api_models import ChatAPIModel, OpenAICompatibleModel

    made = []

    class Registered:
        sdk_label = "registered SDK"

        def url(self, config, session=None):
            return "https://registered.example"

        def check(self, config):
            made.append(config.label)

    clean_env.setitem(providers.PROVIDERS, "anthropic", Registered)
    clean_env.setenv("k_ant", MODEL_KEY)
    model = get_model("claude_3_haiku")(ModelSettings("claude_3_haiku"))
    judge = ApiJudge(ClientConfig(api_key=MODEL_KEY, model="claude-3-5-haiku-20241022", label="judge API"),
                     request=JudgeRequest("claude-3-5-haiku-20241022", "anthropic", style_known=True))
    assert made == ["API of model claude_3_haiku", "judge API"]
    assert type(model.client.provider) is type(judge.client.provider) is Registered
    assert isinstance(model, ChatAPIModel) and not isinstance(model, OpenAICompatibleModel)


def test_openai_provider_sorts_openai_errors():
    import httpx2
    import openai

    from mix_eval.llm.providers.base import Kind
    from mix_eval.llm.providers.openai import OpenAIProvider

    sort = OpenAIProvider().classify

    def status(cls, code: int, body, headers=None):
        return sort(cls("x", response=_response(code, headers), body=body))

    f = status(openai.RateLimitError, 429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
               {"retry-after-ms": "250"})
    assert (f.kind, f.status, f.retry_after, f.message, f.code) == (
        Kind.RATE_LIMITED, 429, 0.25, "slow down", "rate_limit_exceeded")
    assert status(openai.RateLimitError, 429, {"error": {"message": "no credit", "code": "insufficient_quota"}}
                  ).kind is Kind.QUOTA
    assert status(openai.AuthenticationError, 401, None).kind is Kind.AUTH
    assert status(openai.PermissionDeniedError, 403, None).kind is Kind.AUTH
    assert status(openai.NotFoundError, 404, {"error": {"code": "model_not_found"}}).kind is Kind.NOT_FOUND
    assert status(openai.BadRequestError, 400, "content filter").kind is Kind.BAD_REQUEST
    assert status(openai.UnprocessableEntityError, 422, None).kind is Kind.BAD_REQUEST
    f = status(openai.InternalServerError, 503, None)
    assert f.kind is Kind.RETRY and f.detail == "HTTP 503"
    assert status(openai.APIStatusError, 409, None).kind is Kind.RETRY
    f = sort(openai.APITimeoutError(request=_request()))
    assert f.kind is Kind.RETRY and f.timed_out
    try:
        raise openai.APIConnectionError(request=_request()) from httpx2.ConnectError("refused")
    except openai.APIConnectionError as e:
        f = sort(e)
    assert f.kind is Kind.RETRY and f.detail == "connection error (ConnectError: refused)"
    f = sort(openai.APIResponseValidationError(response=_response(200), body=None, message="bad body"))
    assert f.kind is Kind.RETRY and f.detail == "malformed answer: bad body"
    assert sort(ValueError("a bug")) is None


def test_anthropic_provider_sorts_anthropic_errors_and_only_those():
    anthropic = pytest.importorskip("anthropic")
    import openai

    from mix_eval.llm.providers.anthropic import AnthropicProvider
    from mix_eval.llm.providers.base import Kind

    sort = AnthropicProvider().classify
    f = sort(anthropic.AuthenticationError("x", response=_response(401), body={
        "type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))
    assert (f.kind, f.status, f.message, f.code) == (Kind.AUTH, 401, "invalid x-api-key", "authentication_error")
    f = sort(anthropic.RateLimitError("x", response=_response(429, {"retry-after": "3"}), body={
        "type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}))
    assert f.kind is Kind.RATE_LIMITED and f.retry_after == 3.0
    f = sort(anthropic.APIStatusError("x", response=_response(529), body={
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    assert f.kind is Kind.RETRY and f.detail == "HTTP 529"
    assert sort(anthropic.BadRequestError("x", response=_response(400), body=None)).kind is Kind.BAD_REQUEST
    assert sort(anthropic.APITimeoutError(request=_request())).timed_out
    # another SDK's error is not Anthropic's to sort
    assert sort(openai.AuthenticationError("x", response=_response(401), body=None)) is None


def test_gemini_provider_sorts_google_errors_a_400_is_not_an_auth_error():
    needs("google.genai")
    import httpx2
    from google.genai import errors

    from mix_eval.llm.providers.base import Kind
    from mix_eval.llm.providers.gemini import GeminiProvider

    sort = GeminiProvider().classify

    def google(code: int, status: str, message: str, *details):
        cls = errors.ClientError if code < 500 else errors.ServerError
        return sort(cls(code, {"error": {"code": code, "message": message, "status": status,
                                         "details": list(details)}}, None))

    f = google(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.temperature'")
    assert f.kind is Kind.BAD_REQUEST and f.status == 400 and f.code == "INVALID_ARGUMENT"
    # a bad key stops the run as a key error, with the status Google sent (not a made-up 401)
    f = google(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
               {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"})
    assert f.kind is Kind.AUTH and f.status == 400
    f = google(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")
    assert f.kind is Kind.CONFIG and f.status == 400
    f = google(429, "RESOURCE_EXHAUSTED", "Quota exceeded", {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]})
    assert f.kind is Kind.QUOTA
    assert google(404, "NOT_FOUND", "models/gemini-9 is not found").kind is Kind.NOT_FOUND
    f = google(503, "UNAVAILABLE", "The model is overloaded.")
    assert f.kind is Kind.RETRY and f.detail == "HTTP 503"
    f = sort(httpx2.ConnectError("refused"))
    assert f.kind is Kind.RETRY and f.detail == "connection error (ConnectError: refused)"
    assert sort(httpx2.ReadTimeout("slow")).timed_out
    f = sort(errors.UnknownApiResponseError("no JSON"))
    assert f.kind is Kind.RETRY and f.detail.startswith("malformed answer: the Gemini answer could not be read")
    assert sort(KeyError("a bug")) is None


def test_reka_provider_sorts_reka_errors_with_the_answers_headers():
    needs("reka")
    import httpx
    from reka.core.api_error import ApiError

    from mix_eval.llm.providers.base import Kind
    from mix_eval.llm.providers.reka import RekaHTTPError, RekaProvider

    sort = RekaProvider().classify
    f = sort(RekaHTTPError(429, {"detail": "Too many requests"}, httpx.Headers({"Retry-After": "2"})))
    assert (f.kind, f.retry_after, f.message) == (Kind.RATE_LIMITED, 2.0, "Too many requests")
    f = sort(RekaHTTPError(401, {"detail": {"msg": "bad key"}}, None))
    assert f.kind is Kind.AUTH and f.message == '{"msg": "bad key"}'
    assert sort(RekaHTTPError(400, "bad request", None)).kind is Kind.BAD_REQUEST
    f = sort(ApiError(body="no status"))
    assert f.kind is Kind.RETRY and f.detail.startswith("malformed answer: the Reka SDK failed")
    assert sort(httpx.ConnectError("refused")).kind is Kind.RETRY
    assert sort(RuntimeError("a bug")) is None


class _StubError(Exception):
    def __init__(self, failure):
        super().__init__(failure.kind.value)
        self.failure = failure


class StubProvider:
    """A provider without an SDK: each request takes the next scripted outcome (a reply
    text, or an exception that `classify` sorts when it is a `_StubError`)."""

    sdk_label = "stub client"

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent = 0

    def url(self, config, session=None):
        return "stub://api"

    def check(self, config):
        return None

    def open(self, config, api_key):
        return object()

    async def send(self, session, model, messages, params):
        self.sent += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def parse(self, reply):
        from mix_eval.llm.results import ChatResult

        return ChatResult(text=reply)

    def classify(self, error):
        return error.failure if isinstance(error, _StubError) else None

    async def close(self, session):
        return None


def _stub_client(provider):
    from mix_eval.llm.client import ChatClient
    from mix_eval.llm.config import ClientConfig

    return ChatClient(ClientConfig(api_key="sk-stub-SECRET-123", model="m", key_setting="k_stub", label="stub API",
                                   backoff_base=0.01, backoff_cap=0.02), provider)


def test_the_client_acts_on_a_providers_failures():
    """Retries, fatal errors and their messages come from the client, for any provider."""
    from mix_eval.llm.pool import run_pool
    from mix_eval.llm.errors import APIAuthError, APIConfigError
    from mix_eval.llm.providers.base import Failure, Kind

    msgs = [{"role": "user", "content": "hi"}]
    provider = StubProvider(_StubError(Failure(Kind.RETRY, status=503, detail="HTTP 503")), "fine")
    client = _stub_client(provider)
    assert run_pool(client, [(0, msgs, {})])[0].text == "fine"
    assert client.stats.retries == 1 and provider.sent == 2 and client.base_url == "stub://api"

    client = _stub_client(StubProvider(_StubError(Failure(
        Kind.AUTH, status=400, message="API key not valid", code="INVALID_ARGUMENT"))))
    with pytest.raises(APIAuthError) as e:
        run_pool(client, [(0, msgs, {})])
    assert "HTTP 400" in str(e.value) and "k_stub" in str(e.value) and "API key not valid" in str(e.value)
    assert "401" not in str(e.value)

    client = _stub_client(StubProvider(_StubError(Failure(
        Kind.CONFIG, status=400, message="User location is not supported", code="FAILED_PRECONDITION"))))
    with pytest.raises(APIConfigError) as e:
        run_pool(client, [(0, msgs, {})])
    assert "HTTP 400 FAILED_PRECONDITION" in str(e.value) and "k_stub" in str(e.value)
    assert not isinstance(e.value, APIAuthError)

    client = _stub_client(StubProvider(KeyError("a bug")))   # not the provider's: raised as it is
    with pytest.raises(KeyError):
        run_pool(client, [(0, msgs, {})])


def test_no_key_error_names_the_providers_url(monkeypatch):
    """The key is checked against the provider's own URL (it used to name OpenAI's)."""
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    from mix_eval.llm.client import ChatClient
    from mix_eval.llm.config import ClientConfig
    from mix_eval.llm.errors import APIAuthError
    from mix_eval.llm.providers.anthropic import AnthropicProvider

    with pytest.raises(APIAuthError, match="at https://api.anthropic.com: set k_ant"):
        ChatClient(ClientConfig(api_key="", model="claude", key_setting="k_ant"), AnthropicProvider())
