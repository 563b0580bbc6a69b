"""Evaluated API models in today's style (issue 23, points 2 and 3), through
`mix_eval.evaluate.main` against the loopback server: reasoning models asked with
``max_completion_tokens`` and an effort, Claude's and Gemini's thinking budgets, current
models named by their id, flags that cannot apply refused, the request style switched
once for an unknown model, and a model that cannot be asked stopped, not scored."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import fake_server, model_answer, quick_client, read_jsonl
from fake_openai_server import Fault

from mix_eval.evaluate import main as evaluate_main
from mix_eval.llm.refusals import FIRST_REQUESTS
from mix_eval.llm.request import DEFAULT_REASONING_BUDGET
from mix_eval.models.api_models import MAX_REFUSALS, REFUSAL_TEXT

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
THINKER = "gpt-5-like"  # served under OpenAI's reasoning rules
REFUSED = "This model is not supported on the chat completions endpoint."

server = fake_server(reply=model_answer, reasoning=[THINKER])


@pytest.fixture(autouse=True)
def no_pacing(clean_env):
    """The client starts at 1000 requests/s (its default, --batch_size per second, would
    pace a batch of one at one request a second)."""
    quick_client(clean_env, initial_rate=1000.0)


def run(data_path: Path, out: Path, *extra: str) -> int:
    batch = () if "--batch_size" in extra else ("--batch_size", "1")
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--data_path", str(data_path),
                          "--output_dir", str(out), "--inference_only", *batch, *extra])


def served(server, *extra: str) -> tuple[str, ...]:
    return ("--model_name", "openai_compatible", "--model_base_url", server.base_url, "--model_id", THINKER, *extra)


def lines(out: Path, name: str, split: str) -> list[dict]:
    path = out / name / "mixeval_hard" / VERSION / f"{name}_{split}.jsonl"
    return read_jsonl(path) if path.exists() else []


def status(out: Path, name: str, split: str) -> dict:
    return json.loads((out / name / "mixeval_hard" / VERSION / f"status_{split}.json").read_text())["status"]


# ---------------------------------------------------------------- today's style


@pytest.mark.slow
def test_a_gpt5_like_model_answers_all_1000_hard_items_and_binds_its_effort(server, clean_env, data_path, tmp_path,
                                                                              capsys):
    out = tmp_path / "out"
    assert run(data_path, out, *served(server, "--reasoning_effort", "low", "--batch_size", "100")) == 0
    for split in SPLITS:
        assert len(lines(out, "openai_compatible", split)) == 500
        assert all(x["response"].startswith("The answer is") for x in lines(out, "openai_compatible", split))
    requests = server.chat_requests()
    assert len(requests) == 1000 and server.count(400) == 0
    for r in requests:
        assert r.body["max_completion_tokens"] == DEFAULT_REASONING_BUDGET and r.body["reasoning_effort"] == "low"
        assert "max_tokens" not in r.body and "temperature" not in r.body
    capsys.readouterr()
    assert run(data_path, out, *served(server, "--reasoning_effort", "high", "--limit", "2", "--batch_size", "2")) == 2
    err = capsys.readouterr().err
    assert "--reasoning_effort low" in err and "--reasoning_effort high" in err
    assert len(server.chat_requests()) == 1000  # nothing asked


def test_an_unknown_model_switches_to_the_reasoning_style_once_and_records_it(server, clean_env, data_path, tmp_path):
    out = tmp_path / "out"
    assert run(data_path, out, *served(server, "--limit", "5", "--batch_size", "4",
                                       "--model_gen_kwargs", '{"temperature": 0, "seed": 7}')) == 0
    # (a request cut off in flight when the pass is sent again may reach the server without its body)
    refused = [r for r in server.chat_requests() if r.status == 400 and r.body]
    answered = [r for r in server.chat_requests() if r.status == 200]
    assert 1 <= len(refused) <= 4 and all("max_tokens" in r.body for r in refused)
    assert len(answered) == 10
    for r in answered:  # the reasoning style: its budget, none of the sampling parameters it refuses
        assert r.body["max_completion_tokens"] == DEFAULT_REASONING_BUDGET and r.body["seed"] == 7
        assert "max_tokens" not in r.body and "temperature" not in r.body and "reasoning_effort" not in r.body
    for split in SPLITS:
        assert len(lines(tmp_path / "out", "openai_compatible", split)) == 5
        style = status(out, "openai_compatible", split)["request_style"]
        assert style["style"] == "reasoning" and style["switched_from"] == "classic"
        assert "max_tokens" in style["server_said"] and "max_completion_tokens" in style["params"]


def test_a_classic_model_writes_no_new_status_keys(server, clean_env, data_path, tmp_path):
    clean_env.setenv("OPENAI_BASE_URL", server.base_url)
    clean_env.setenv("k_oai", "sk-model")
    out = tmp_path / "out"
    assert run(data_path, out, "--model_name", "gpt_4o", "--limit", "2", "--batch_size", "2") == 0
    for split in SPLITS:
        assert set(status(out, "gpt_4o", split)) == {"batch_id", "time_elapsed", "status"}
    assert all(r.body["max_tokens"] == 1536 for r in server.chat_requests())


def test_current_models_are_evaluated_by_their_id(server, clean_env, data_path, tmp_path, caplog):
    pytest.importorskip("anthropic")
    pytest.importorskip("google.genai")
    clean_env.setenv("OPENAI_BASE_URL", server.base_url)
    clean_env.setenv("ANTHROPIC_BASE_URL", server.base_url.rsplit("/v1", 1)[0])
    clean_env.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url.rsplit("/v1", 1)[0])
    for var in ("k_oai", "k_ant", "k_g"):
        clean_env.setenv(var, "sk-model")
    out = tmp_path / "out"
    caplog.set_level("INFO")
    from mix_eval.api.registry import MODEL_REGISTRY

    clean_env.delitem(MODEL_REGISTRY, "gpt-5-mini", raising=False)  # found by its id once a process, then kept
    assert run(data_path, out, "--model_name", "gpt-5-mini", "--limit", "1") == 0
    assert "evaluating the openai API model gpt-5-mini by its id" in caplog.text
    for r in server.chat_requests():  # a known reasoning family: its style from the first request
        assert r.body["model"] == "gpt-5-mini" and r.body["max_completion_tokens"] == DEFAULT_REASONING_BUDGET
        assert "max_tokens" not in r.body and "reasoning_effort" not in r.body
    server.reset()
    # the smallest budget Claude takes (1023 is refused below)
    assert run(data_path, out, "--model_name", "claude-sonnet-4-5", "--limit", "1", "--thinking_budget", "1024",
               "--batch_size", "1") == 0
    for r in server.chat_requests():  # max_tokens above the budget: the budget plus the answer's 1536
        assert r.body["model"] == "claude-sonnet-4-5" and r.body["max_tokens"] == 1024 + 1536
        assert r.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    server.reset()
    assert run(data_path, out, "--model_name", "claude-opus-4-7", "--limit", "1", "--reasoning_effort", "high") == 0
    for r in server.chat_requests():
        assert r.body["thinking"] == {"type": "adaptive"} and r.body["output_config"] == {"effort": "high"}
    server.reset()
    assert run(data_path, out, "--model_name", "gemini-2.5-flash", "--limit", "1", "--thinking_budget", "512") == 0
    for r in server.chat_requests():
        assert r.path.endswith("models/gemini-2.5-flash:generateContent")
        config = r.body["generationConfig"]  # google-genai sends this one in either spelling; Google reads both
        thinking = config.get("thinkingConfig") or config.get("thinking_config")
        assert {k.replace("_", "").lower(): v for k, v in thinking.items()} == {"thinkingbudget": 512,
                                                                             "includethoughts": True}
        assert r.body["generationConfig"]["maxOutputTokens"] == 1536
    assert len(lines(out, "gemini-2.5-flash", "close_freeform_hard")) == 1


@pytest.mark.parametrize("args, says", [
    (("--model_name", "gpt_4o", "--reasoning_effort", "low"), "--reasoning_effort applies to reasoning models"),
    (("--model_name", "gpt-4.1-mini", "--reasoning_effort", "low"), "--reasoning_effort applies to reasoning"),
    (("--model_name", "gpt-5-mini", "--thinking_budget", "2048"), "--thinking_budget cannot apply to gpt-5-mini"),
    (("--model_name", "gemini_15_pro", "--reasoning_effort", "low"), "it takes --thinking_budget"),
    (("--model_name", "claude_3_haiku", "--thinking_budget", "1023"), "at least 1024"),
    (("--model_name", "claude_3_haiku", "--thinking_budget", "2048", "--reasoning_effort", "low"), "not both"),
    (("--model_name", "local_chat", "--model_path", "org/any", "--reasoning_effort", "low"),
     "--chat_template_kwargs"),
    (("--model_name", "local_chat", "--model_path", "org/any", "--thinking_budget", "1024"),
     "--chat_template_kwargs"),
])
def test_flags_that_cannot_apply_are_refused_naming_the_flag(server, clean_env, data_path, tmp_path, capsys,
                                                             args, says):
    pytest.importorskip("anthropic")
    pytest.importorskip("google.genai")
    for var in ("k_oai", "k_ant", "k_g"):
        clean_env.setenv(var, "sk-model")
    clean_env.setenv("OPENAI_BASE_URL", server.base_url)
    assert run(data_path, tmp_path / "out", "--limit", "1", *args) == 2
    err = capsys.readouterr().err.strip()
    flag = next(a for a in args if a in ("--reasoning_effort", "--thinking_budget"))
    assert says in err and flag in err and "Traceback" not in err
    assert server.chat_requests() == []


# ---------------------------------------------------------------- cut off while thinking


def _reads_reasoning_tokens() -> bool:
    from types import SimpleNamespace as NS

    from mix_eval.llm.providers.openai import OpenAIProvider

    reply = NS(choices=[NS(message=NS(content="", reasoning_content=None, reasoning=None), finish_reason="length")],
               usage=NS(prompt_tokens=1, completion_tokens=9, total_tokens=10,
                        completion_tokens_details=NS(reasoning_tokens=9)), model="m")
    return getattr(OpenAIProvider().parse(reply), "reasoning_tokens", None) == 9


@pytest.mark.skipif(not _reads_reasoning_tokens(), reason="the OpenAI provider does not read reasoning_tokens yet "
                                                          "(the parse side of issue 23)")
@pytest.mark.parametrize("budget", [512, DEFAULT_REASONING_BUDGET])
def test_answers_cut_off_while_thinking_are_counted(server, clean_env, data_path, tmp_path, budget):
    out = tmp_path / "out"
    assert run(data_path, out, *served(server, "--reasoning_effort", "high", "--max_new_tokens", str(budget),
                                       "--limit", "6", "--batch_size", "6")) == 0
    replies = server.chat_requests()
    cut = sum(server.out_of_budget(r.body) for r in replies)  # as the server answered: "" and "length"
    assert cut == (len(replies) if budget == 512 else 0)
    for split in SPLITS:
        counted = status(out, "openai_compatible", split)["thinking"]
        assert counted["answers"] == 6 and counted["cut_off"] == cut // 2
        assert all(x["thinking_cut_off"] is (budget == 512) for x in lines(out, "openai_compatible", split))


# ---------------------------------------------------------------- a model that cannot be asked


def assert_no_placeholder(out: Path, name: str) -> None:
    for split in SPLITS:
        assert not any(x["response"] == REFUSAL_TEXT for x in lines(out, name, split))


@pytest.mark.parametrize("batch_size", ["1", "8", "50"])
def test_a_model_refusing_everything_stops_at_once_quoting_the_server(server, clean_env, data_path, tmp_path, capsys,
                                                                      batch_size):
    server.set_permanent(Fault("400", code="invalid_request_error", message=REFUSED))
    out = tmp_path / "out"
    started = time.monotonic()
    assert run(data_path, out, *served(server, "--reasoning_effort", "low", "--batch_size", batch_size)) == 2
    assert time.monotonic() - started < 30
    assert len(server.chat_requests()) <= 50
    err = capsys.readouterr().err.strip().splitlines()[-1]  # (the fake server logs the requests cut off in flight)
    assert REFUSED in err and "refused" in err and "rerun asks them" in err
    for split in SPLITS:
        assert lines(out, "openai_compatible", split) == []
    assert_no_placeholder(out, "openai_compatible")


def refusing_first(n: int, *, except_last: bool = False):
    """A reply that refuses the first ``n`` chat requests (all but the ``n``-th when ``except_last``)."""
    seen = {"n": 0}
    lock = threading.Lock()

    def reply(body):
        with lock:
            seen["n"] += 1
            number = seen["n"]
        if number <= n and not (except_last and number == n):
            return Fault("400", message=REFUSED)
        return model_answer(body)
    return reply


@pytest.mark.parametrize("one_answered", [False, True])
def test_all_of_the_first_requests_refused_stops_one_answer_does_not(server, clean_env, data_path, tmp_path, capsys,
                                                                   one_answered):
    server.reply = refusing_first(FIRST_REQUESTS, except_last=one_answered)
    out = tmp_path / "out"
    code = run(data_path, out, *served(server, "--reasoning_effort", "low", "--batch_size", "1", "--limit", "3"))
    if one_answered:  # the first item answered at its 10th asking: a content filter, asked on
        assert code == 0 and len(server.chat_requests()) == FIRST_REQUESTS - 1 + 6
        assert [len(lines(out, "openai_compatible", s)) for s in SPLITS] == [3, 3]
        assert_no_placeholder(out, "openai_compatible")
    else:
        assert code == 2 and len(server.chat_requests()) == FIRST_REQUESTS
        assert f"its first {FIRST_REQUESTS} requests" in capsys.readouterr().err
        assert lines(out, "openai_compatible", SPLITS[0]) == []


def refusing_prompts(k: int):
    """A content filter: the first ``k`` distinct prompts asked are refused every time."""
    refused: set[str] = set()
    lock = threading.Lock()

    def reply(body):
        prompt = body["messages"][-1]["content"]
        with lock:
            if len(refused) < k:
                refused.add(prompt)
        return Fault("400", message=REFUSED) if prompt in refused else model_answer(body)
    return reply, refused


@pytest.mark.parametrize("k", [2, 3])
def test_half_of_a_batch_refused_is_a_content_filter_more_than_half_stops(server, clean_env, data_path, tmp_path,
                                                                         capsys, k):
    server.reply, refused = refusing_prompts(k)
    out = tmp_path / "out"
    code = run(data_path, out, *served(server, "--reasoning_effort", "low", "--batch_size", "4", "--limit", "4"))
    ff = lines(out, "openai_compatible", SPLITS[0])
    if k == 2:  # exactly half: asked again 11 times in all, then the reference's refusal text
        assert code == 0
        assert sorted(x["response"] == REFUSAL_TEXT for x in ff) == [False, False, True, True]
        asked = [r.body["messages"][-1]["content"] for r in server.chat_requests()]
        assert all(asked.count(p) == MAX_REFUSALS for p in refused)
        assert all(x["response"] != REFUSAL_TEXT for x in lines(out, "openai_compatible", SPLITS[1]))
    else:  # more than half: stopped after the one sending, nothing written
        assert code == 2 and len(server.chat_requests()) == 4 and ff == []
        assert "3 of a batch of 4 requests" in capsys.readouterr().err
