"""The thinking apart from the answer (`mix_eval.thinking`): the split of a text at each
edge of its rules, an API reply's own reasoning fields, what a response line holds, and
the generation loop's counts of answers cut off while thinking (printed, in the status
file, bound to the resume)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import read_jsonl

from mix_eval.api.registry import register_model
from mix_eval.data import load_split, splits_for
from mix_eval.evaluate import main as evaluate_main
from mix_eval.llm.results import ChatResult, Usage
from mix_eval.models.base import ModelBase
from mix_eval.thinking import (
    Answer,
    answer_fields,
    answer_from_chat,
    answer_from_text,
    cut_off_line,
    parse_tags,
)

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")


# ---------------------------------------------------------------- the split of a text


@pytest.mark.parametrize("text, answer, reasoning, cut", [
    ("Paris", "Paris", None, False),  # no tag: all answer
    ("<think>capital of France</think>Paris", "Paris", "capital of France", False),
    ("<think>\nstep 1\n</think>\n\nParis\n", "Paris", "step 1", False),
    ("<think>still thinking", "", "still thinking", True),  # never closed: cut off
    ("<think></think>", "", "", False),  # an empty block, no answer, but it stopped by itself
    ("thinking the template opened</think> Paris", "Paris", "thinking the template opened", False),
    ("A <think>b</think> C", "A C", "b", False),  # text around the block stays the answer
    ("<think>a</think>b<think>c</think>d", "b<think>c</think>d", "a", False),  # the first pair only
    ("x</think>y<think>z", "y<think>z", "x", False),  # a closing tag first: the template opened it
    ("</think>", "", "", False),
])
def test_a_text_is_split_at_the_first_pair_of_tags(text, answer, reasoning, cut):
    got = answer_from_text(text)
    assert (got.text, got.reasoning, got.cut_off) == (answer, reasoning, cut)


def test_a_closed_block_with_no_answer_is_cut_off_only_when_the_budget_ran_out():
    assert answer_from_text("<think>a</think>", finish_reason="length").cut_off is True
    assert answer_from_text("<think>a</think>", finish_reason="stop").cut_off is False
    assert answer_from_text("<think>a</think>x", finish_reason="length").cut_off is False  # an answer began
    assert answer_from_text("a</think>", finish_reason="length").cut_off is True


def test_a_prompt_that_opened_the_tag_makes_an_unclosed_text_all_thinking():
    assert answer_from_text("pondering", opened=True) == Answer("", "pondering", cut_off=True)
    assert answer_from_text("pondering</think>42", opened=True) == Answer("42", "pondering")
    assert answer_from_text("pondering", opened=False) == Answer("pondering")
    # the model opened the tag again inside the one the prompt opened: still all thinking
    assert answer_from_text("is Plymout<think>h or", opened=True) == Answer("", "is Plymout<think>h or", cut_off=True)
    assert answer_from_text("a<think>b</think> 42", opened=True) == Answer("42", "a<think>b")


def test_a_plain_text_cut_by_the_budget_is_no_thinking_cut_off():
    """A model that does not think and ran out of tokens has an answer (its text)."""
    got = answer_from_text("a long answer", finish_reason="length", completion_tokens=3)
    assert (got.text, got.cut_off, got.thought) == ("a long answer", False, False)


def test_other_tags_and_no_tags():
    tags = parse_tags("<reasoning>,</reasoning>")
    assert answer_from_text("<reasoning>r</reasoning>a", tags) == Answer("a", "r")
    assert answer_from_text("<think>r</think>a", tags) == Answer("<think>r</think>a")
    assert answer_from_text("<think>r</think>a", None) == Answer("<think>r</think>a")


@pytest.mark.parametrize("value, tags", [
    (None, ("<think>", "</think>")), ("none", None), ("NONE", None), (" <a> , </a> ", ("<a>", "</a>")),
])
def test_reasoning_tags_values(value, tags):
    assert parse_tags(value) == tags


@pytest.mark.parametrize("value", ["<think>", "<think>,", ",</think>", "a,b,c", ""])
def test_reasoning_tags_that_are_not_a_pair_are_refused(value):
    with pytest.raises(ValueError, match="OPEN,CLOSE"):
        parse_tags(value)


# ---------------------------------------------------------------- an API reply


def chat(text, *, reasoning=None, reasoning_tokens=None, finish="stop", usage=(10, 5)):
    return ChatResult(text=text, finish_reason=finish, usage=Usage(usage[0], usage[1], sum(usage)),
                      reasoning=reasoning, reasoning_tokens=reasoning_tokens)


def test_a_reasoning_field_is_the_thinking_and_the_content_the_answer():
    got = answer_from_chat(chat("Paris", reasoning="France's capital", reasoning_tokens=7))
    assert got == Answer("Paris", "France's capital", 7, False, 10, 5)


def test_a_reasoning_field_with_no_content_and_finish_length_is_cut_off():
    assert answer_from_chat(chat("", reasoning="I wonder", finish="length")).cut_off is True
    assert answer_from_chat(chat("", reasoning="I wonder", finish="stop")).cut_off is False


def test_hidden_reasoning_that_spent_the_budget_is_cut_off():
    """OpenAI's reasoning models: content "" and finish length, the reasoning in tokens only."""
    got = answer_from_chat(chat("", reasoning_tokens=1536, finish="length"))
    assert (got.text, got.reasoning, got.cut_off, got.thought) == ("", None, True, True)
    assert answer_from_chat(chat("", reasoning_tokens=0, finish="length")).cut_off is False


def test_tags_in_the_content_of_a_reply_are_split_too():
    got = answer_from_chat(chat("<think>hmm</think>B", finish="stop"))
    assert (got.text, got.reasoning) == ("B", "hmm")
    both = answer_from_chat(chat("<think>more</think>B", reasoning="first"))
    assert (both.text, both.reasoning) == ("B", "first\n\nmore")


def test_a_line_of_a_model_that_does_not_think_is_the_references():
    assert answer_fields("Paris") == {"response": "Paris"}
    assert answer_fields(Answer("Paris")) == {"response": "Paris"}
    # gpt-4o reports reasoning_tokens 0: no thinking keys, only its usage
    assert answer_fields(answer_from_chat(chat("Paris", reasoning_tokens=0))) == {
        "response": "Paris", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}


def test_a_line_of_a_model_that_thought():
    assert answer_fields(Answer("B", "hmm", 12, False)) == {
        "response": "B", "reasoning": "hmm", "reasoning_tokens": 12, "thinking_cut_off": False}
    assert answer_fields(Answer("", None, 99, True)) == {
        "response": "", "reasoning_tokens": 99, "thinking_cut_off": True}
    assert cut_off_line(3, 10) == "3 of 10 answers cut off while thinking"


# ---------------------------------------------------------------- the generation loop


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def scripted(text: str):
    """What the test models answer an input: a third cut off while thinking (an unclosed
    tag), the rest a thinking block then an answer."""
    n = _digest(text)
    if n % 3 == 0:
        return f"<think>thought {n % 1000}"
    return f"<think>thought {n % 1000}</think>answer {n % 97}"


@register_model("thinking_text_model")
class ThinkingTextModel(ModelBase):
    """Answers text with `<think>` blocks, as a server without a reasoning parser does."""

    def respond(self, file_inputs):
        return [scripted(x) for x in file_inputs]


@register_model("plain_text_model")
class PlainTextModel(ModelBase):
    def respond(self, file_inputs):
        return [f"answer {_digest(x) % 97}" for x in file_inputs]


def split_named(name: str):
    return next(s for s in splits_for("mixeval_hard") if s.name == name)


def run(data_path: Path, out: Path, model: str, *extra: str) -> int:
    return evaluate_main(["--model_name", model, "--benchmark", "mixeval_hard", "--version", VERSION,
                          "--batch_size", "4", "--data_path", str(data_path), "--output_dir", str(out),
                          "--limit", "9", "--inference_only", *extra])


def test_the_loop_keeps_the_thinking_beside_the_answer_and_counts_the_cut_offs(data_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(data_path, out, "thinking_text_model") == 0
    printed = capsys.readouterr().out
    vdir = out / "thinking_text_model" / "mixeval_hard" / VERSION
    for split in SPLITS:
        lines = read_jsonl(vdir / f"thinking_text_model_{split}.jsonl")
        assert len(lines) == 9
        expected_cut = 0
        for line in lines:
            raw = scripted(line["formated_input"])
            cut = "</think>" not in raw
            expected_cut += cut
            assert "<think>" not in line["response"] and "thought" not in line["response"]
            assert line["reasoning"] == raw[len("<think>"):].split("</think>")[0]
            assert line["response"] == ("" if cut else raw.split("</think>")[1])
            assert line["thinking_cut_off"] is cut
        assert 0 < expected_cut < 9  # both kinds in each split, so the counts are worth checking
        status = json.loads((vdir / f"status_{split}.json").read_text())
        assert status["status"]["thinking"] == {"answers": 9, "with_thinking": 9, "cut_off": expected_cut}
        assert f"{split}: {expected_cut} of 9 answers were cut off while thinking" in printed
    assert "raise --max_new_tokens" in printed


def test_a_resumed_split_counts_the_cut_offs_already_on_disk(data_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(data_path, out, "thinking_text_model", "--limit", "4") == 0
    assert run(data_path, out, "thinking_text_model") == 0  # 5 more per split
    vdir = out / "thinking_text_model" / "mixeval_hard" / VERSION
    for split in SPLITS:
        lines = read_jsonl(vdir / f"thinking_text_model_{split}.jsonl")
        status = json.loads((vdir / f"status_{split}.json").read_text())
        assert status["status"]["thinking"]["cut_off"] == sum(x["thinking_cut_off"] for x in lines)
        assert status["status"]["thinking"]["answers"] == len(lines) == 9


def test_no_tags_keeps_the_text_whole_and_binds_the_resume(data_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(data_path, out, "thinking_text_model", "--reasoning_tags", "none", "--limit", "3") == 0
    vdir = out / "thinking_text_model" / "mixeval_hard" / VERSION
    lines = read_jsonl(vdir / "thinking_text_model_close_freeform_hard.jsonl")
    assert [x["response"] for x in lines] == [scripted(x["formated_input"]) for x in lines]
    assert all("reasoning" not in x and "thinking_cut_off" not in x for x in lines)
    status = json.loads((vdir / "status_close_freeform_hard.json").read_text())
    assert "thinking" not in status["status"]
    capsys.readouterr()
    assert run(data_path, out, "thinking_text_model") == 2
    err = capsys.readouterr().err
    assert "--reasoning_tags none" in err and "--reasoning_tags (not given)" in err


def test_a_model_that_does_not_think_writes_the_lines_it_wrote_before(data_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(data_path, out, "plain_text_model") == 0
    vdir = out / "plain_text_model" / "mixeval_hard" / VERSION
    for split in SPLITS:
        items = load_split(str(data_path), VERSION, split_named(split), limit=9)
        lines = read_jsonl(vdir / f"plain_text_model_{split}.jsonl")
        # the item's own keys, then the response: nothing else
        assert [list(line) for line in lines] == [[*item, "response"] for item in items]
        status = json.loads((vdir / f"status_{split}.json").read_text())
        assert set(status["status"]) == {"batch_id", "time_elapsed", "status"}
    assert "cut off while thinking" not in capsys.readouterr().out


@pytest.mark.parametrize("flag, value, words", [
    ("--reasoning_tags", "<think>", "--reasoning_tags: expected OPEN,CLOSE"),
    ("--chat_template_kwargs", "not json", "--chat_template_kwargs is not valid JSON"),
    ("--chat_template_kwargs", "[1]", "--chat_template_kwargs must be a JSON object"),
    ("--model_gen_kwargs", "{temperature: 0}", "--model_gen_kwargs is not valid JSON"),
    ("--model_gen_kwargs", "0", "--model_gen_kwargs must be a JSON object, like '{\"temperature\": 0}'"),
    ("--thinking_budget", "-1", "expected a whole number >= 0"),
    ("--reasoning_effort", "huge", "invalid choice"),
    ("--model_price", "1", "expected INPUT,OUTPUT"),
    ("--model_mode", "cheap", "invalid choice"),
])
def test_bad_thinking_flags_are_one_line(data_path, tmp_path, capsys, flag, value, words):
    try:
        code = run(data_path, tmp_path / "out", "plain_text_model", flag, value)
    except SystemExit as e:  # argparse's own refusal
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not list((tmp_path / "out").rglob("*.jsonl"))  # nothing generated


def test_the_readme_section_on_models_that_think_names_only_real_flags():
    """README "Evaluating models that think": every flag it names is a flag of
    ``python -m mix_eval.evaluate`` (vLLM's own ``--reasoning-parser`` aside)."""
    import re

    from conftest import REPO

    from mix_eval.evaluate import build_parser

    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## Evaluating models that think")
    section = text[start:text.index("\n## ", start + 1)]
    named = set(re.findall(r"(--[a-z_]+)(?![\w-])", section))
    known = {o for a in build_parser()._actions for o in a.option_strings}
    assert {"--reasoning_effort", "--thinking_budget", "--reasoning_tags", "--chat_template_kwargs",
            "--model_price", "--model_mode"} <= named
    assert named - known == set()
