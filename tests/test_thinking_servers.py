"""API models that think, evaluated against the loopback server's thinking models
(tests/fakes/thinking.py) through the real SDKs: the thinking in the content between tags,
in ``reasoning_content`` or ``reasoning`` beside it, in Anthropic's thinking blocks and in
Gemini's thought parts. The model under evaluation and its judge share the server."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import JUDGE_KEY, REF_RESPONSES, answer_or_judge, fake_server, is_judge_request, read_jsonl
from fakes.thinking import WORD

from mix_eval.evaluate import main as evaluate_main
from mix_eval.llm.providers.base import MalformedReply

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
LIMIT = 10
MODEL_KEY = "sk-model-key-789"
SMALL_BUDGET = 40  # thinking of 20-60 words: about half the answers run out of room while thinking
THINKING = {"thinker-tags": "tags", "thinker-rc": "reasoning_content", "thinker-r": "reasoning",
            "claude-3-haiku-20240307": "blocks", "gemini-1.5-pro-latest": "thoughts"}

server = fake_server(reply=answer_or_judge, thinking=THINKING, thinking_length=(20, 60))

# (name, the model's flags, its id on the server, the provider's environment, reasoning tokens counted)
SERVERS = {
    "tags": (["--model_name", "openai_compatible", "--model_id", "thinker-tags"], "thinker-tags", None, False),
    "reasoning_content": (["--model_name", "openai_compatible", "--model_id", "thinker-rc"], "thinker-rc", None, True),
    "reasoning": (["--model_name", "openai_compatible", "--model_id", "thinker-r"], "thinker-r", None, True),
    "anthropic": (["--model_name", "claude_3_haiku"], "claude-3-haiku-20240307", ("ANTHROPIC_BASE_URL", "k_ant"),
                  False),
    "gemini": (["--model_name", "gemini_15_pro"], "gemini-1.5-pro-latest", ("GOOGLE_GEMINI_BASE_URL", "k_g"), True),
}


def evaluate(server, env, data_path: Path, out: Path, kind: str, *extra: str) -> int:
    flags, _, provider_env, _ = SERVERS[kind]
    if provider_env is None:
        flags = [*flags, "--model_base_url", server.base_url]
    else:
        env.setenv(provider_env[0], server.base_url.rsplit("/v1", 1)[0])
        env.setenv(provider_env[1], MODEL_KEY)
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "4",
                          "--data_path", str(data_path), "--output_dir", str(out), "--limit", str(LIMIT),
                          "--output_name", kind, *flags, *extra])


def lines_of(out: Path, name: str, split: str) -> list[dict]:
    return read_jsonl(out / name / "mixeval_hard" / VERSION / f"{name}_{split}.jsonl")


def status_of(out: Path, name: str, split: str) -> dict:
    return json.loads((out / name / "mixeval_hard" / VERSION / f"status_{split}.json").read_text())["status"]


@pytest.mark.parametrize("kind", list(SERVERS))
def test_the_thinking_is_kept_apart_and_cut_offs_are_counted(kind, server, clean_env, data_path, tmp_path, capsys):
    pytest.importorskip({"anthropic": "anthropic", "gemini": "google.genai"}.get(kind, "openai"))
    clean_env.setenv("MODEL_PARSER_API", JUDGE_KEY)
    _, model_id, _, counts_tokens = SERVERS[kind]
    out = tmp_path / "small"
    assert evaluate(server, clean_env, data_path, out, kind, "--max_new_tokens", str(SMALL_BUDGET),
                    "--api_base_url", server.base_url) == 0
    printed = capsys.readouterr().out
    thoughts = {t.question: t for t in server.thoughts if t.model == model_id}
    assert len(thoughts) == 2 * LIMIT  # one thinking reply per item, none for the judge
    for split in SPLITS:
        lines = lines_of(out, kind, split)
        assert len(lines) == LIMIT
        cut = 0
        for line in lines:
            sent = thoughts[line["formated_input"]]
            assert line["response"] == sent.answer
            assert WORD not in line["response"] and "<think>" not in line["response"]
            assert line["reasoning"] == sent.thinking and sent.thinking.startswith(WORD)
            assert line["thinking_cut_off"] is sent.cut_off
            assert line.get("reasoning_tokens") == (sent.thinking_tokens if counts_tokens else None)
            cut += sent.cut_off
        # the budget cuts some answers and not others: both sides of the rule are seen
        assert 0 < cut < LIMIT, cut
        assert f"{split}: {cut} of {LIMIT} answers were cut off while thinking" in printed
        assert status_of(out, kind, split)["thinking"] == {"answers": LIMIT, "with_thinking": LIMIT, "cut_off": cut}
    judge_prompts = [json.dumps(r.body) for r in server.chat_requests()
                     if r.body.get("model") == "gpt-3.5-turbo-0125" and is_judge_request(r.body)]
    assert len(judge_prompts) >= 2 * LIMIT and not any(WORD in p for p in judge_prompts)

    # with room to think and answer, nothing is cut off, and nothing is said about it
    big = tmp_path / "big"
    assert evaluate(server, clean_env, data_path, big, kind, "--max_new_tokens", "100", "--inference_only") == 0
    assert "cut off while thinking" not in capsys.readouterr().out
    for split in SPLITS:
        lines = lines_of(big, kind, split)
        assert all(x["thinking_cut_off"] is False and x["response"].startswith("The answer is ") for x in lines)
        assert status_of(big, kind, split)["thinking"] == {"answers": LIMIT, "with_thinking": LIMIT, "cut_off": 0}


@pytest.mark.parametrize("budget, cut", [(24, True), (25, False)])
def test_a_budget_one_token_short_of_the_answer_is_cut_off(budget, cut, server, clean_env, data_path, tmp_path):
    """The edge of the rule, on the tags form: a thinking of L words costs L + 2 tokens with
    its tags. A budget of exactly that ends the reply after "</think>" with no answer: cut
    off; one token more and the answer begins ("The"): not cut off, though cut short."""
    server.thinking_length = budget - 2 if cut else budget - 3  # tags: <think> words </think>
    assert evaluate(server, clean_env, data_path, tmp_path / "out", "tags", "--max_new_tokens", str(budget),
                    "--inference_only") == 0
    for split in SPLITS:
        lines = lines_of(tmp_path / "out", "tags", split)
        assert all(x["thinking_cut_off"] is cut for x in lines)
        assert all((x["response"] == "") is cut for x in lines)
        assert all(len(x["reasoning"].split()) == server.thinking_length for x in lines)


REF_DIR = REF_RESPONSES / "mixeval_hard" / VERSION
PLAIN_KEYS = {split: set(read_jsonl(REF_DIR / f"gemma_11_7b_instruct_{split}.jsonl")[0])
              for split in SPLITS}  # the keys of the reference's lines


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_a_model_that_does_not_think_writes_no_thinking_keys(kind, server, clean_env, data_path, tmp_path):
    """The same server, models outside ``thinking``: the lines hold the reference's keys
    (and the usage of each answer), nothing about thinking, and the status no counts."""
    server.thinking = {}
    name = {"openai": "reasoning", "anthropic": "anthropic", "gemini": "gemini"}[kind]
    assert evaluate(server, clean_env, data_path, tmp_path / "out", name, "--inference_only") == 0
    for split in SPLITS:
        lines = lines_of(tmp_path / "out", name, split)
        assert len(lines) == LIMIT and all(set(x) - {"usage"} == PLAIN_KEYS[split] for x in lines)
        assert "thinking" not in status_of(tmp_path / "out", name, split)
    assert not server.thoughts


# ---------------------------------------------------------------- the providers' reading, edge cases


def openai_completion(message: dict, usage: dict | None = None, finish: str = "stop"):
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}],
        "usage": usage or {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})


def test_openai_reads_both_reasoning_fields_and_refuses_one_that_is_not_text():
    from mix_eval.llm.providers.openai import OpenAIProvider

    parse = OpenAIProvider().parse
    r = parse(openai_completion({"content": None, "reasoning": "hm"}, finish="length"))
    assert (r.text, r.reasoning, r.finish_reason) == ("", "hm", "length")
    r = parse(openai_completion({"content": "A", "reasoning_content": "x", "reasoning": "x"}))
    assert (r.text, r.reasoning) == ("A", "x")  # the same thinking under both names: once
    assert parse(openai_completion({"content": "A", "reasoning_content": "x", "reasoning": "y"})).reasoning == "x\n\ny"
    assert parse(openai_completion({"content": "A", "reasoning_content": ""})).reasoning is None
    assert parse(openai_completion({"content": "A"}, {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10,
                                    "completion_tokens_details": {"reasoning_tokens": 7}})).reasoning_tokens == 7
    for bad in (5, ["x"], {"text": "x"}):
        with pytest.raises(MalformedReply, match="reasoning"):
            parse(openai_completion({"content": "A", "reasoning": bad}))


def test_anthropic_reads_thinking_and_redacted_blocks():
    anthropic = pytest.importorskip("anthropic")
    from mix_eval.llm.providers.anthropic import REDACTED_THINKING, AnthropicProvider

    message = anthropic.types.Message.model_validate({
        "id": "m", "type": "message", "role": "assistant", "model": "claude", "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 9},
        "content": [{"type": "thinking", "thinking": "first", "signature": "s"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "The answer"}, {"type": "text", "text": " is B."}]})
    r = AnthropicProvider().parse(message)
    assert (r.text, r.reasoning, r.finish_reason) == ("The answer is B.", f"first\n\n{REDACTED_THINKING}", "end_turn")
    cut = message.model_copy(update={"content": message.content[:1], "stop_reason": "max_tokens"})
    r = AnthropicProvider().parse(cut)
    assert (r.text, r.reasoning, r.finish_reason) == ("", "first", "length")


def test_gemini_reads_thought_parts_and_a_budget_spent_thinking():
    types = pytest.importorskip("google.genai.types")
    from mix_eval.llm.providers.base import BlockedReply
    from mix_eval.llm.providers.gemini import GeminiProvider

    def response(parts, finish, thoughts=None):
        return types.GenerateContentResponse.model_validate({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finish_reason": finish}],
            "usage_metadata": {"prompt_token_count": 2, "candidates_token_count": 3, "thoughts_token_count": thoughts,
                               "total_token_count": 5 + (thoughts or 0)}})

    parse = GeminiProvider().parse
    r = parse(response([{"text": "hm", "thought": True}, {"text": "B"}], "STOP", 4))
    assert (r.text, r.reasoning, r.reasoning_tokens, r.usage.completion_tokens) == ("B", "hm", 4, 7)
    r = parse(response([{"text": "hm", "thought": True}], "MAX_TOKENS", 4))
    assert (r.text, r.reasoning, r.finish_reason) == ("", "hm", "length")
    r = parse(response([], "MAX_TOKENS", 4))  # thoughts hidden, budget spent on them
    assert (r.text, r.reasoning, r.reasoning_tokens, r.finish_reason) == ("", None, 4, "length")
    for parts, finish, thoughts in (([], "MAX_TOKENS", None), ([{"text": "hm", "thought": True}], "SAFETY", 4)):
        with pytest.raises(BlockedReply):  # no answer and not cut while thinking: blocked, as before
            parse(response(parts, finish, thoughts))
