"""Gemini and Reka models through their SDKs, against the loopback server.

The SDKs are optional extras (``pip install -e '.[providers]'``): each test skips when
its SDK is not installed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_openai_server import BLOCKED, BLOCKED_PROMPT, Fault, FakeOpenAIServer

from mix_eval.evaluate import main as evaluate_main
from mix_eval.models.api_models import MAX_REFUSALS, REFUSAL_TEXT

VERSION = "2024-06-01"
MODEL_KEY = "sk-model-key-789"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
HARM_CATEGORIES = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                   "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"}


def needs(module: str) -> None:
    pytest.importorskip(module, reason=f"the {module} SDK is an optional extra")


def short_answer(body: dict) -> str:
    return "A"


@pytest.fixture
def server():
    with FakeOpenAIServer(reply=short_answer) as s:
        yield s


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("MODEL_PARSER_API", "OPENAI_BASE_URL", "k_g", "k_reka", "GOOGLE_GEMINI_BASE_URL",
                "REKA_BASE_URL", "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
                "GOOGLE_GENAI_API_VERSION", "REKA_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def quick_retries(clean_env):
    """Short backoffs, so retried faults cost milliseconds."""
    from mix_eval.llm_client import ClientConfig

    original = ClientConfig.__init__

    def quick(self, *a, **k):
        k.setdefault("backoff_base", 0.01)
        k.setdefault("backoff_cap", 0.02)
        original(self, *a, **k)

    clean_env.setattr(ClientConfig, "__init__", quick)


def run(data_path: Path, out: Path, model: str) -> int:
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "4",
                          "--data_path", str(data_path), "--output_dir", str(out), "--limit", "5",
                          "--model_name", model, "--inference_only"])


def responses(out: Path, model: str, split: str) -> list[dict]:
    path = out / model / "mixeval_hard" / VERSION / f"{model}_{split}.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()]


def gemini_env(env, server) -> None:
    env.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url.rsplit("/v1", 1)[0])
    env.setenv("k_g", MODEL_KEY)


def reka_env(env, server) -> None:
    env.setenv("REKA_BASE_URL", server.base_url)
    env.setenv("k_reka", MODEL_KEY)


# --------------------------------------------------------------------------- Gemini


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
    stored = []
    for split in SPLITS:
        lines = responses(out, "gemini_15_pro", split)
        assert len(lines) == 5 and all(x["response"] == "A" for x in lines)
        stored += [x["formated_input"] for x in lines]
        status = json.loads((out / "gemini_15_pro" / "mixeval_hard" / VERSION / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete" and MODEL_KEY not in json.dumps(status)
    assert sorted(sent) == sorted(stored)


def test_gemini_wrong_key_stops_at_once(server, clean_env, data_path, tmp_path, capsys):
    """Gemini answers a bad key with HTTP 400 API_KEY_INVALID: still a fatal key error."""
    needs("google.genai")
    server.api_key = "the-right-key"
    gemini_env(clean_env, server)
    assert run(data_path, tmp_path / "out", "gemini_15_pro") == 2
    err = capsys.readouterr().err
    assert "k_g" in err and "API key not valid" in err
    assert MODEL_KEY not in err and "Traceback" not in err
    assert len(server.chat_requests()) <= 2


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
        assert asked.count(prompt) == MAX_REFUSALS
    assert all(x["response"] == "A" for x in responses(out, "gemini_15_pro", "close_multichoice_hard"))


def test_gemini_rate_limits_and_server_errors_are_retried(server, clean_env, quick_retries, data_path,
                                                          tmp_path):
    needs("google.genai")
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

    from mix_eval.llm_client import parse_retry_after
    from mix_eval.models.providers import _gemini_status_error

    body = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                      "status": "RESOURCE_EXHAUSTED", "details": [
                          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}
    shim = _gemini_status_error(errors.ClientError(429, body, None))
    assert shim.status_code == 429 and parse_retry_after(shim.response.headers) == 37.0
    assert shim.body["error"]["message"].startswith("Resource has been exhausted")


# --------------------------------------------------------------------------- Reka


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
    stored = []
    for split in SPLITS:
        lines = responses(out, "reka_core", split)
        assert len(lines) == 5 and all(x["response"] == "A" for x in lines)
        stored += [x["formated_input"] for x in lines]
    assert sorted(sent) == sorted(stored)


def test_reka_wrong_key_stops_at_once(server, clean_env, data_path, tmp_path, capsys):
    needs("reka")
    server.api_key = "the-right-key"
    reka_env(clean_env, server)
    assert run(data_path, tmp_path / "out", "reka_flash") == 2
    err = capsys.readouterr().err
    assert "k_reka" in err and "HTTP 401" in err
    assert MODEL_KEY not in err and "Traceback" not in err
    assert len(server.chat_requests()) <= 2


def test_reka_honours_retry_after(server, clean_env):
    """Reka's ApiError has no headers: they are taken from the response itself."""
    needs("reka")
    from mix_eval.llm_client import ClientConfig, run_batch
    from mix_eval.models.providers import RekaChatClient

    server.push_faults(Fault("429", retry_after=0.3), "500")
    client = RekaChatClient(ClientConfig(api_key=MODEL_KEY, model="reka-edge", base_url=server.base_url,
                                         max_concurrency=8, backoff_base=0.01, backoff_cap=0.02))
    results = run_batch(client, [(0, [{"role": "user", "content": "hi"}], {"max_tokens": 8})])
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
    from mix_eval.llm_client import _Malformed
    from mix_eval.models.providers import ContentBlocked, GeminiChatClient, RekaChatClient

    with pytest.raises(_Malformed):
        GeminiChatClient._parse(type("R", (), {"candidates": None, "prompt_feedback": None})())
    with pytest.raises(ContentBlocked):
        GeminiChatClient._parse({"candidates": [{"finish_reason": "RECITATION", "content": None}]})
    with pytest.raises(_Malformed):
        RekaChatClient._parse({"responses": []})
    ok = RekaChatClient._parse({"responses": [{"message": {"content": [{"type": "text", "text": "B"}]}}]})
    assert ok.text == "B"


def test_gemini_through_vertex_ai_uses_cloud_settings(monkeypatch):
    """Vertex AI: no API key; google-genai gets vertexai=True with project and location."""
    pytest.importorskip("google.genai", reason="google-genai is an optional extra")
    from google import genai

    from mix_eval.api.registry import get_model
    from mix_eval.models import providers

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
    model = get_model("gemini_15_pro")(SimpleNamespace(batch_size=1, max_new_tokens=None))
    model.client._make_sdk()
    assert seen["vertexai"] is True and seen["project"] == "my-project" and seen["location"] == "europe-west4"
    assert "api_key" not in seen
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(providers.ModelError, match="GOOGLE_CLOUD_PROJECT"):
        get_model("gemini_15_pro")(SimpleNamespace(batch_size=1, max_new_tokens=None))
