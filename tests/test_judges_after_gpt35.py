"""Judging after gpt-3.5-turbo-0125 was shut down (2026-10-23), against the loopback server
answering as the real APIs do: a retired judge is named as such before any work, reasoning
judges are asked in their style, a judge that refuses the requests stops the run quoting
the server, and Anthropic and Gemini models judge too."""
from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import logging
import threading
import time
import types
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import AT_ONCE_S, JUDGE_KEY, judge_reply, make_responses, read_jsonl
from fake_openai_server import Fault, FakeOpenAIServer

from mix_eval.compute_metrics import main as compute_main
from mix_eval.folders import CALIBRATION_FILE, judged_file_name
from mix_eval.judges.retired import PROBE_TIMEOUT, RetiredJudgeError, endpoint_says_gone, retired_error
from mix_eval.llm import known_judges
from mix_eval.llm.config import ClientConfig
from mix_eval.llm.known_judges import KNOWN_JUDGES, KnownJudge, family_of, known_judge, provider_of
from mix_eval.llm.pricing import price_for
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

VERSION = "2024-06-01"
RETIRED = "gpt-3.5-turbo-0125"


def compute(root: Path, server: FakeOpenAIServer, *extra: str, benchmark: str = "mixeval_hard") -> int:
    return compute_main(["--benchmark", benchmark, "--version", VERSION, "--model_response_dir", str(root),
                         "--api_base_url", server.base_url, "--api_parallel_num", "20", *extra])


def judged(root: Path, judge: str, model: str = "m", kind: SplitKind = SplitKind.FREE_FORM) -> Path:
    name = judged_file_name(JudgeSettings(freeform_judge=judge, multichoice_judge=judge), kind)
    return root / model / "mixeval_hard" / VERSION / name


def judge_report(root: Path, model: str = "m") -> dict:
    return json.loads((root / model / "mixeval_hard" / VERSION / "judge_report.json").read_text())


def test_the_table_of_known_judges():
    assert price_for("gpt-4.1-mini") == (0.40, 1.60) and price_for("gpt-5-nano") == (0.05, 0.40)
    assert price_for("gpt-4.1-mini", (1, 2)) == (1.0, 2.0) and price_for("my-own-judge") is None
    gpt35 = KNOWN_JUDGES[RETIRED]
    assert gpt35.retired() and gpt35.substitute == "gpt-4.1-mini" and gpt35.batch_price == (0.25, 0.75)
    assert not KNOWN_JUDGES["gpt-4o-mini-2024-07-18"].retired()  # shuts down on 2027-01-14
    assert KNOWN_JUDGES["gpt-4o-mini-2024-07-18"].retired(today=KNOWN_JUDGES[RETIRED].shutdown.replace(year=2027))
    assert known_judge("gpt-5-mini").style == "reasoning" and known_judge("o4-mini").lowest_effort == "low"
    assert known_judge("claude-3-5-haiku-20241022").provider == "anthropic"
    assert known_judge("gemini-2.0-flash").provider == "gemini" and known_judge("llama-judge") is None


@pytest.mark.parametrize("models_route", [True, False])
def test_the_retired_default_judge_stops_compute_metrics_at_once(tmp_path, judge_env, capsys, models_route):
    root = tmp_path / "r"
    make_responses(root, "m")
    with FakeOpenAIServer(reply=judge_reply, retired=[RETIRED]) as server:
        server.models_route = models_route  # False: the endpoint has no /models/{id}; one chat call asks
        started = time.monotonic()
        assert compute(root, server) == 2
        took = time.monotonic() - started
        calls = len(server.chat_requests())
    err = capsys.readouterr().err
    assert took < AT_ONCE_S and calls == (0 if models_route else 1)
    for said in (f"the judge {RETIRED} was shut down by OpenAI on 2026-10-23", "has been deprecated",
                 "--freeform_judge gpt-4.1-mini --multichoice_judge gpt-4.1-mini", "leaderboard",
                 "mix_eval.calibrate", "Traceback"):
        assert (said in err) == (said != "Traceback"), said
    assert not (root / "m" / "mixeval_hard" / VERSION / "score.json").exists()


def test_the_retired_judge_stops_evaluate_before_any_model_call(tmp_path, judge_env, capsys, tiny_chat, data_path):
    from mix_eval.evaluate import main as evaluate_main

    out = tmp_path / "out"
    with FakeOpenAIServer(reply=judge_reply, retired=[RETIRED]) as server:
        started = time.monotonic()
        code = evaluate_main(["--model_name", "local_chat", "--model_path", str(tiny_chat), "--benchmark",
                              "mixeval_hard", "--version", VERSION, "--data_path", str(data_path), "--batch_size", "2",
                              "--output_dir", str(out), "--limit", "2", "--api_base_url", server.base_url,
                              "--multichoice_judge", "gpt-4.1-mini"])
        took = time.monotonic() - started
    assert code == 2 and took < AT_ONCE_S
    assert not (out / "local_chat").exists()  # nothing generated
    err = capsys.readouterr().err
    assert "2026-10-23" in err and "--freeform_judge gpt-4.1-mini" in err and "--multichoice_judge" not in err


def test_a_server_that_still_serves_the_retired_name_keeps_working(tmp_path, judge_env, caplog):
    root = tmp_path / "r"
    make_responses(root, "m", n=5)
    with FakeOpenAIServer(reply=judge_reply) as server, caplog.at_level(logging.WARNING):
        assert compute(root, server) == 0
    assert "still serves it" in caplog.text


@pytest.mark.slow
def test_a_reasoning_judge_is_asked_in_its_style_and_scores_as_a_classic_one(tmp_path, judge_env):
    """gpt-5-mini behind OpenAI's reasoning rules: nothing blocked, the same scores as the
    same replies give through a classic judge, its lowest effort recorded."""
    scores = {}
    with FakeOpenAIServer(reply=judge_reply, reasoning=["gpt-5-mini"]) as server:
        for judge in ("gpt-5-mini", "gpt-4.1-mini"):
            root = tmp_path / judge
            make_responses(root, "m")
            assert compute(root, server, "--freeform_judge", judge, "--multichoice_judge", judge) == 0
            scores[judge] = json.loads((root / "m" / "mixeval_hard" / VERSION / "score.json").read_text())
        bodies = [r.body for r in server.chat_requests() if r.body["model"] == "gpt-5-mini"]
        assert server.count(400) == 0
    assert scores["gpt-5-mini"] == scores["gpt-4.1-mini"]
    assert len(bodies) == 1000 and all("max_tokens" not in b and "temperature" not in b for b in bodies)
    assert {b["reasoning_effort"] for b in bodies} == {"minimal"}
    assert {b["max_completion_tokens"] for b in bodies} == {4096}
    report = judge_report(tmp_path / "gpt-5-mini")
    for split in ("free_form", "multiple_choice"):
        r = report[split]
        assert r["blocked"] == 0 and r["random_fallback"] == 0
        assert (r["style"], r["reasoning_effort"], r["provider"]) == ("reasoning", "minimal", "openai")
        assert r["first_call"] <= r["last_call"] and r["completion_tokens"] > 0
    classic = judge_report(tmp_path / "gpt-4.1-mini")["free_form"]
    assert classic["params"] == {"max_tokens": 999, "response_format": {"type": "text"}}
    assert classic["cost_usd"] == pytest.approx((classic["prompt_tokens"] * 0.40
                                                 + classic["completion_tokens"] * 1.60) / 1e6)


@pytest.mark.slow
def test_another_reasoning_effort_asks_again_and_is_recorded(tmp_path, judge_env):
    root = tmp_path / "r"
    make_responses(root, "m", n=6)
    flags = ("--freeform_judge", "gpt-5-nano", "--multichoice_judge", "gpt-5-nano")
    with FakeOpenAIServer(reply=judge_reply, reasoning=["gpt-5-nano"]) as server:
        assert compute(root, server, *flags) == 0
        assert compute(root, server, *flags) == 0  # the same effort: every reply reused
        assert len(server.chat_requests()) == 12
        assert compute(root, server, *flags, "--judge_reasoning_effort", "high") == 0
        assert len(server.chat_requests()) == 24
        assert {r.body["reasoning_effort"] for r in server.chat_requests()[12:]} == {"high"}
    assert judge_report(root)["free_form"]["reasoning_effort"] == "high"
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--judge_reasoning_effort", "low"]) == 2  # not a reasoning judge: refused


@pytest.mark.slow
def test_an_unknown_model_is_asked_once_more_in_the_other_style(tmp_path, judge_env, caplog):
    root = tmp_path / "r"
    make_responses(root, "m", n=30)
    flags = ("--freeform_judge", "my-reasoner", "--multichoice_judge", "my-reasoner")
    with FakeOpenAIServer(reply=judge_reply, reasoning=["my-reasoner"]) as server, caplog.at_level(logging.WARNING):
        assert compute(root, server, *flags) == 0
        # (a request cut off when the style is switched reaches the server without its body)
        refused = [r.body for r in server.chat_requests() if r.status == 400 and r.body]
    assert 1 <= len(refused) <= 3 and all("max_tokens" in b for b in refused)  # the first, then switched
    assert "refused the classic request style" in caplog.text
    report = judge_report(root)
    assert report["free_form"]["style"] == "reasoning" and report["free_form"]["blocked"] == 0
    assert "max_completion_tokens" in report["multiple_choice"]["params"]


REFUSAL = "Invalid prompt: your prompt was flagged as potentially violating our usage policy."


def test_a_judge_that_refuses_everything_stops_quoting_the_server(tmp_path, judge_env, capsys):
    root = tmp_path / "r"
    make_responses(root, "m")
    with FakeOpenAIServer(reply=judge_reply) as server:
        server.set_permanent(Fault("400", message=REFUSAL, code="invalid_prompt"))
        started = time.monotonic()
        assert compute(root, server, "--freeform_judge", "gpt-4.1-mini", "--multichoice_judge", "gpt-4.1-mini") == 2
        took = time.monotonic() - started
        calls = len(server.chat_requests())
    err = capsys.readouterr().err
    assert took < AT_ONCE_S and calls <= 40  # not 10,000 requests
    assert REFUSAL in err and "refused the first" in err and "invalid_prompt" in err
    assert not (root / "m" / "mixeval_hard" / VERSION / "score.json").exists()
    assert not (root / "score.json").exists()


@pytest.mark.slow
def test_a_judge_too_short_for_the_prompts_stops_and_a_few_long_items_are_asked_once(tmp_path, judge_env, capsys):
    root = tmp_path / "r"
    vdir = make_responses(root, "m", n=30)
    # (the server counts about 4 characters a token: 850 refuses nearly every MixEval-Hard judge prompt, as
    # a 2048-token vLLM server with a small model's tokenizer did)
    with FakeOpenAIServer(reply=judge_reply, max_context=850) as server:
        started = time.monotonic()
        assert compute(root, server, "--freeform_judge", "tiny", "--multichoice_judge", "tiny") == 2
        assert time.monotonic() - started < AT_ONCE_S
        asked = len(server.chat_requests())
    err = capsys.readouterr().err
    assert "This model's maximum context length is 850 tokens" in err and "--max-model-len" in err
    assert asked <= 30 and not (vdir / "score.json").exists()
    # a context that fits most prompts: the few too long are blocked at once, each asked once
    lengths = sorted(sum(len(m["content"]) for m in req.body["messages"]) // 4 for req in server.chat_requests())
    with FakeOpenAIServer(reply=judge_reply, max_context=lengths[-3]) as server:
        assert compute(root, server, "--freeform_judge", "tiny", "--multichoice_judge", "tiny") == 0
        refused = [r for r in server.chat_requests() if r.status == 400]
    report = judge_report(root)
    # each blocked item was asked once (Hard repeats items, so equal requests come from different items)
    assert report["free_form"]["blocked"] + report["multiple_choice"]["blocked"] == len(refused) >= 1


@pytest.mark.slow
def test_each_distinct_refusal_reason_is_shown_once(tmp_path, judge_env, caplog, no_refusal_pause):
    root = tmp_path / "r"
    make_responses(root, "m", n=20)

    def some_refused(body):  # about one item in four refused, for one of two reasons
        user = body["messages"][-1]["content"]
        digest = int(hashlib.md5(user.encode()).hexdigest(), 16)
        if digest % 4 == 0:
            return Fault("400", message=f"content filter {'AB'[digest % 2]}")
        return judge_reply(body)

    with FakeOpenAIServer(reply=some_refused) as server, caplog.at_level(logging.WARNING):
        compute(root, server, "--freeform_judge", "gpt-4.1-mini", "--multichoice_judge", "gpt-4.1-mini")
        refused = server.count(400)
    shown = [r.getMessage() for r in caplog.records if "refused a request" in r.getMessage()]
    assert refused >= 10 and len(shown) == len(set(shown)) <= 2  # once per reason, not once per request


@pytest.mark.slow
@pytest.mark.parametrize("judge,key_var,url_var", [
    ("claude-3-5-haiku-20241022", "k_ant", "ANTHROPIC_BASE_URL"),
    ("gemini-2.0-flash", "k_g", "GOOGLE_GEMINI_BASE_URL"),
])
def test_anthropic_and_gemini_models_judge(tmp_path, judge_env, monkeypatch, judge, key_var, url_var):
    root = tmp_path / "r"
    make_responses(root, "m", n=8)
    with FakeOpenAIServer(reply=judge_reply, api_key=JUDGE_KEY) as server:
        monkeypatch.setenv(key_var, JUDGE_KEY)
        monkeypatch.setenv(url_var, server.base_url[:-3] if key_var == "k_g" else server.base_url[:-3])
        assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir",
                             str(root), "--freeform_judge", judge, "--multichoice_judge", judge]) == 0
        requests = server.chat_requests()
    assert len(requests) == 16
    report = judge_report(root)["free_form"]
    assert report["provider"] == known_judge(judge).provider and report["blocked"] == 0
    lines = read_jsonl(judged(root, judge))
    assert len(lines) == 8 and all(line["judge_response"].startswith("The answer is judged") for line in lines)
    if key_var == "k_ant":  # the system prompt goes beside the turns, as the Messages API wants it
        assert all("system" in r.body and all(m["role"] != "system" for m in r.body["messages"]) for r in requests)


def test_a_calibration_is_matched_at_its_reasoning_effort(tmp_path, monkeypatch):
    from mix_eval.calibration import record

    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path))
    judges = {kind: "gpt-5-mini" for kind in SplitKind}
    assert record.default_dir(judges).name == "gpt-5-mini" and record.default_dir(judges, "high").name == "gpt-5-mini@high"
    path = record.default_dir(judges, "high") / CALIBRATION_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"judge": "gpt-5-mini", "judges": {k.label: "gpt-5-mini" for k in SplitKind},
                                "created": "2026-12-06T00:00:00+00:00", "mean_delta": {"MixEval": 1.5},
                                "reasoning_effort": {k.label: "high" for k in SplitKind}}))
    assert record.find(judges, efforts={kind: "high" for kind in SplitKind}).mean_delta == {"MixEval": 1.5}
    assert record.find(judges, efforts={kind: "minimal" for kind in SplitKind}) is None
    assert record.find(judges) is None  # the default folder holds the lowest effort's calibration


# ------------------------------------------------------------------ the table and the retirement, at their edges

SHUT_35 = dt.date(2026, 10, 23)
DAY = dt.timedelta(days=1)
GONE = f"The model `{RETIRED}` has been deprecated, learn more here: https://platform.openai.com/docs/deprecations"
URL = "https://api.openai.com/v1"
PICK_41 = ("Pick a substitute: --freeform_judge gpt-4.1-mini --multichoice_judge gpt-4.1-mini -- gpt-4.1-mini is the "
           "one OpenAI names ($0.40 / $1.60 per million input / output tokens); gpt-4.1-nano and gpt-5-mini work too "
           "(README: Judging after GPT-3.5).")


def on_day(monkeypatch, day: dt.date) -> None:
    """Make ``day`` today for the table of known judges."""
    monkeypatch.setattr(known_judges, "dt", types.SimpleNamespace(date=types.SimpleNamespace(today=lambda: day)))


def test_a_judge_is_retired_from_the_day_of_its_shutdown(monkeypatch):
    """The day before its shutdown a judge is served; on the day and after, it is retired."""
    gpt35 = KNOWN_JUDGES[RETIRED]
    assert [gpt35.retired(SHUT_35 + d * DAY) for d in (-1, 0, 1)] == [False, True, True]
    assert KnownJudge("never-shut").retired(dt.date(2100, 1, 1)) is False
    for day, retired in ((SHUT_35 - DAY, False), (SHUT_35, True), (SHUT_35 + DAY, True)):
        on_day(monkeypatch, day)
        assert gpt35.retired() is retired
        assert (retired_error(RETIRED, URL, GONE) is not None) is retired
    on_day(monkeypatch, dt.date(2027, 1, 13))  # gpt-4o-mini's shutdown is 2027-01-14
    assert retired_error("gpt-4o-mini-2024-07-18", URL, None) is None
    on_day(monkeypatch, dt.date(2027, 1, 14))
    assert "shut down by OpenAI on 2027-01-14" in str(retired_error("gpt-4o-mini-2024-07-18", URL, None))


def test_a_model_of_a_family_is_known_by_its_family():
    """A family member gets its family's provider, style and lowest effort under its own
    name; a longer name that only begins like a family is not of it."""
    assert known_judge("o3-mini") == KnownJudge("o3-mini", provider="openai", style="reasoning", lowest_effort="low")
    assert known_judge("o3") == KnownJudge("o3", style="reasoning", lowest_effort="low")
    assert known_judge("gpt-5.1") == KnownJudge("gpt-5.1", style="reasoning", lowest_effort="minimal")
    assert known_judge("claude-x") == KnownJudge("claude-x", provider="anthropic", style="classic")
    assert [family_of(m) for m in ("o10-preview", "gpt-50", "o3x", "gpt-4.1")] == [None] * 4
    assert family_of("o4")[:3] == ("o4", "openai", "reasoning") and family_of("gpt-5-codex")[0] == "gpt-5"
    assert provider_of("llama-judge") == "openai" and provider_of("gemini-2.0-flash") == "gemini"
    assert provider_of("claude-3-5-haiku-20241022") == "anthropic" and provider_of(RETIRED) == "openai"


def test_the_retired_judges_message_word_for_word(monkeypatch):
    on_day(monkeypatch, SHUT_35)
    said = (f"the judge {RETIRED} was shut down by OpenAI on 2026-10-23, and the judge API at {URL} confirms it "
            f"(HTTP 404: {GONE}). The MixEval leaderboard's scores were made by this judge; scores from another "
            "judge are labelled with that judge and may differ (measure how much: python -m mix_eval.calibrate). "
            + PICK_41)
    error = retired_error(RETIRED, URL, GONE)
    assert isinstance(error, RetiredJudgeError) and str(error) == said
    quiet = said.replace(f": {GONE}", "")
    assert str(retired_error(RETIRED, URL, None)) == quiet and str(retired_error(RETIRED, URL, "")) == quiet
    one_flag = retired_error(RETIRED, URL, None, ("--freeform_judge",))
    assert str(one_flag) == quiet.replace(" --multichoice_judge gpt-4.1-mini", "")
    served = ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini", "llama-judge")  # not yet shut down, never, not known
    assert [retired_error(j, URL, GONE) for j in served] == [None] * 3


def test_a_retired_judges_substitute_its_price_and_the_others(monkeypatch):
    """No substitute named: the first suggested; another named one is offered first, the
    suggested ones after it; a substitute the table does not price is named without a price."""
    on_day(monkeypatch, SHUT_35)
    monkeypatch.setitem(KNOWN_JUDGES, "old-judge", KnownJudge("old-judge", shutdown=dt.date(2025, 1, 1)))
    monkeypatch.setitem(KNOWN_JUDGES, "older-judge",
                        KnownJudge("older-judge", shutdown=SHUT_35, substitute="gpt-5-mini"))
    monkeypatch.setitem(KNOWN_JUDGES, "oldest-judge", KnownJudge("oldest-judge", shutdown=SHUT_35, substitute="acme-2"))
    old = str(retired_error("old-judge", URL, None))
    assert old.startswith("the judge old-judge was shut down by OpenAI on 2025-01-01, ") and old.endswith(PICK_41)
    assert str(retired_error("older-judge", URL, None)).endswith(
        "Pick a substitute: --freeform_judge gpt-5-mini --multichoice_judge gpt-5-mini -- gpt-5-mini is the one "
        "OpenAI names ($0.25 / $2.00 per million input / output tokens); gpt-4.1-mini and gpt-4.1-nano work too "
        "(README: Judging after GPT-3.5).")
    assert str(retired_error("oldest-judge", URL, None)).endswith(
        "Pick a substitute: --freeform_judge acme-2 --multichoice_judge acme-2 -- acme-2 is the one OpenAI names; "
        "gpt-4.1-mini and gpt-4.1-nano and gpt-5-mini work too (README: Judging after GPT-3.5).")


def probe_config(server: FakeOpenAIServer, model: str = RETIRED) -> ClientConfig:
    return ClientConfig(api_key=JUDGE_KEY, model=model, base_url=server.base_url, max_concurrency=8, timeout=5.0,
                        max_retries=3, backoff_base=0.01, backoff_cap=0.05)


def test_the_endpoint_is_asked_for_free_then_by_one_chat_request_of_one_token(monkeypatch):
    """GET /models/{id} first (no chat request paid for); where the endpoint has no such
    route, one chat request of one token. Each check: one try, 10 s, one request at once."""
    from mix_eval.llm import pool
    from mix_eval.llm.providers import openai as openai_provider

    made, pooled = [], []
    real_sdk, real_pool = openai_provider.sdk_client, pool.run_pool
    monkeypatch.setattr(openai_provider, "sdk_client", lambda cfg, **kw: made.append(kw) or real_sdk(cfg, **kw))
    monkeypatch.setattr(pool, "run_pool",
                        lambda cfg, requests, **kw: pooled.append(cfg) or real_pool(cfg, requests, **kw))
    with FakeOpenAIServer(reply=lambda body: "pong", retired=[RETIRED], api_key=JUDGE_KEY) as server:
        gone, served = probe_config(server), probe_config(server, "gpt-4.1-mini")
        assert endpoint_says_gone(gone) == GONE and endpoint_says_gone(served) is None
        assert server.chat_requests() == []
        server.models_route = False
        assert endpoint_says_gone(gone) == GONE
        assert [r.body for r in server.chat_requests()] == [
            {"model": RETIRED, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}]
        assert endpoint_says_gone(served) is None
    probes = [kw for kw in made if "http_client" not in kw]  # not the chat client's own
    assert probes == [dict(asynchronous=False, api_key=JUDGE_KEY, max_retries=0, timeout=PROBE_TIMEOUT)] * 4
    assert PROBE_TIMEOUT == 10.0
    assert pooled == [replace(c, max_retries=0, timeout=10.0, max_concurrency=1) for c in (gone, served)]


class _Bare404(http.server.BaseHTTPRequestHandler):
    """A server that knows no route: HTTP 404 with ``page`` as its body (not JSON)."""

    page = b""

    def _not_found(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    do_GET = do_POST = _not_found

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("page", [b"<html><body>Not Found</body></html>", b""])
def test_an_endpoint_that_answers_404_without_json_is_asked_by_chat_and_quoted(page):
    """A 404 page (not OpenAI's JSON) on both routes: no traceback; the chat route's 404 is
    quoted, the page itself or, when empty, the client's own words."""
    handler = type("Page404", (_Bare404,), {"page": page})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        said = endpoint_says_gone(ClientConfig(api_key=JUDGE_KEY, model=RETIRED, base_url=url, max_retries=3,
                                               timeout=5.0))
    finally:
        server.shutdown()
        server.server_close()
    assert said == (page.decode() or f"the API at {url} answered HTTP 404 for model '{RETIRED}': the model does not "
                                      "exist there or the base URL is wrong; check the model name and the base URL")
