"""Local checkpoints that think (issue 23, items 4 and 6): ``--chat_template_kwargs`` reaches
the model's chat template on both engines, and a local model's text is split into thinking
and answer the same way whichever engine generated it.

The checkpoint is `tiny_thinking`: its template opens ``<think>`` (an empty thinking block
with ``enable_thinking`` false), ``<think>``/``</think>`` are ordinary tokens of its own,
and its random weights never close the thinking in a few tokens.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import read_jsonl, run_module
from mix_eval.evaluate import main as evaluate_main
from mix_eval.models.engine import Generation
from mix_eval.thinking import answer_fields

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
ON, OFF = '{"enable_thinking": true}', '{"enable_thinking": false}'


def argv(checkpoint: Path, data_path: Path, out: Path, *extra: str, model: str = "local_chat",
         limit: str = "6") -> list[str]:
    return ["--model_name", model, "--model_path", str(checkpoint), "--benchmark", "mixeval_hard",
            "--version", VERSION, "--batch_size", "4", "--limit", limit, "--dtype", "float32",
            "--data_path", str(data_path), "--output_dir", str(out), "--inference_only", *extra]


def vdir(out: Path, model: str = "local_chat") -> Path:
    return out / model / "mixeval_hard" / VERSION


def lines(out: Path, split: str, model: str = "local_chat") -> list[dict]:
    return read_jsonl(vdir(out, model) / f"{model}_{split}.jsonl")


def status(out: Path, split: str) -> dict:
    return json.loads((vdir(out) / f"status_{split}.json").read_text())


def chat_model(checkpoint: Path, kwargs: str | None, **generation):
    from mix_eval.api.registry import get_model
    from mix_eval.settings import GenerationSettings, ModelSettings

    settings = ModelSettings("local_chat", model_path=str(checkpoint),
                             generation=GenerationSettings(chat_template_kwargs=kwargs, **generation))
    return get_model("local_chat")(settings)


# ---------------------------------------------------------------- the template's switches


def test_enable_thinking_reaches_the_chat_template(tiny_thinking):
    """The same question renders three ways: the template's default and true open the
    thinking; false writes an empty thinking block, so the model answers at once."""
    from mix_eval.models.base import opens_thinking
    from mix_eval.thinking import DEFAULT_TAGS

    question = "What is 2+2?"
    rendered = {}
    for kwargs in (None, ON, OFF):
        model = chat_model(tiny_thinking, kwargs, max_new_tokens=1)
        rendered[kwargs] = model.render(question)
        model.close()
    assert rendered[ON].endswith(question + "</s>\n<|assistant|>\n<think>\n")
    assert rendered[OFF].endswith(question + "</s>\n<|assistant|>\n<think>\n\n</think>\n\n")
    assert rendered[None] == rendered[ON] != rendered[OFF]
    assert opens_thinking(rendered[ON], question, DEFAULT_TAGS)
    assert not opens_thinking(rendered[OFF], question, DEFAULT_TAGS)


def test_thinking_on_with_few_tokens_cuts_off_every_answer_and_a_rerun_at_another_value_is_refused(
        tiny_thinking, data_path, tmp_path, capsys):
    out = tmp_path / "on"
    assert evaluate_main(argv(tiny_thinking, data_path, out, "--max_new_tokens", "8",
                              "--chat_template_kwargs", ON)) == 0
    printed = capsys.readouterr().out
    for split in SPLITS:
        assert f"{split}: 6 of 6 answers were cut off while thinking" in printed
        assert status(out, split)["status"]["thinking"] == {"answers": 6, "with_thinking": 6, "cut_off": 6}
        assert status(out, split)["args"]["chat_template_kwargs"] == ON
        for line in lines(out, split):
            assert line["response"] == ""  # no answer began: the judge sees nothing of the thinking
            assert line["reasoning"] and "<think>" not in line["reasoning"]
            assert line["thinking_cut_off"] is True
            assert line["reasoning_tokens"] == line["usage"]["completion_tokens"] == 8  # no stop token
            assert line["usage"]["prompt_tokens"] > 20
    manifest = json.loads((vdir(out) / "run_manifest.json").read_text())
    assert manifest["generation"]["settings"]["chat_template_kwargs"] == ON

    before = {p.name: p.read_bytes() for p in vdir(out).iterdir()}
    assert evaluate_main(argv(tiny_thinking, data_path, out, "--max_new_tokens", "8",
                              "--chat_template_kwargs", OFF)) == 2
    err = capsys.readouterr().err
    assert "--chat_template_kwargs" in err and ON in err and OFF in err
    assert "Traceback" not in err
    after = {p.name: p.read_bytes() for p in vdir(out).iterdir() if p.name != "error.log"}
    assert after == {k: v for k, v in before.items() if k != "error.log"}


def test_thinking_off_answers_at_once_in_plain_lines(tiny_thinking, tiny_chat, data_path, tmp_path, capsys):
    """enable_thinking false: the prompt closes an empty block, the text is the answer, no
    answer is cut off, and the lines are a model's that does not think: no new key."""
    out = tmp_path / "off"
    assert evaluate_main(argv(tiny_thinking, data_path, out, "--max_new_tokens", "8",
                              "--chat_template_kwargs", OFF)) == 0
    assert "cut off while thinking" not in capsys.readouterr().out
    for split in SPLITS:
        assert "thinking" not in status(out, split)["status"]
        answers = lines(out, split)
        assert all(list(d)[-3:] == ["formated_input", "id", "response"] for d in answers)
        assert not any(key in d for d in answers for key in ("reasoning", "thinking_cut_off", "usage"))
        assert all(d["response"].strip() and "<think>" not in d["response"] for d in answers)


def test_the_split_is_one_function_of_the_engines_output(tiny_thinking):
    """`local_answer`, called by every engine's model on the same `Generation`s: plain
    text when the model did not think; otherwise the thinking apart, cut off when never
    closed, the thinking's tokens counted up to the closing tag however it is spelled."""
    from transformers import AutoTokenizer

    from mix_eval.models.base import local_answer
    from mix_eval.models.engine import generations
    from mix_eval.thinking import DEFAULT_TAGS, Answer

    tok = AutoTokenizer.from_pretrained(tiny_thinking)
    eos = tok.eos_token_id

    def decode(ids):
        return tok.decode(list(ids), skip_special_tokens=True)

    def gen(text, stopped=True):
        ids = tok.encode(text, add_special_tokens=False)
        (g,) = generations(tok, [30], [[*ids, eos] if stopped else ids], [eos])
        return g, len(ids)

    def split(text, opened=True, stopped=True, tags=DEFAULT_TAGS):
        g, n = gen(text, stopped)
        return local_answer(g, tags, opened, decode), n

    plain, _ = split("Paris.", opened=False)
    assert plain == "Paris."  # a model that did not think: its line is the reference's
    assert split("Paris.", tags=None)[0] == "Paris."  # --reasoning_tags none: never split

    cut, n = split("hmm, let me", stopped=False)
    assert cut == Answer("", "hmm, let me", n, True, 30, n)
    stopped, n = split("hmm")
    assert stopped.cut_off and stopped.reasoning_tokens == n  # the stop token is not thinking

    closed, _ = split("hmm</think>\n\nParis.")
    thinking = len(tok.encode("hmm</think>", add_special_tokens=False))
    assert closed.text == "Paris." and closed.reasoning == "hmm" and not closed.cut_off
    assert closed.reasoning_tokens == thinking and closed.completion_tokens > thinking
    assert answer_fields(closed) == {"response": "Paris.", "reasoning": "hmm", "reasoning_tokens": thinking,
                                     "thinking_cut_off": False,
                                     "usage": {"prompt_tokens": 30, "completion_tokens": closed.completion_tokens}}
    # inside a thinking the prompt opened, the model opens the tag again and never closes it
    again, n = split("first <think> then more", stopped=False)
    assert again == Answer("", "first <think> then more", n, True, 30, n)
    # the model opened the tag itself (Qwen3), closed and answered; then ran out before answering
    own, _ = split("<think>a</think>B", opened=False)
    assert (own.text, own.reasoning, own.cut_off) == ("B", "a", False)
    assert own.reasoning_tokens == len(tok.encode("<think>a</think>", add_special_tokens=False))
    late, _ = split("<think>a</think>", opened=False, stopped=False)
    assert late.cut_off and late.text == ""
    # a closing tag of several tokens: counted up to its last piece
    pieces, _ = split("hmm[/T] B", tags=("[T]", "[/T]"))
    assert (pieces.text, pieces.reasoning) == ("B", "hmm")
    assert pieces.reasoning_tokens == len(tok.encode("hmm[/T]", add_special_tokens=False)) > 2
    # an engine that answers text alone: the split, tokens unknown
    text_only = local_answer(Generation("a</think>B"), DEFAULT_TAGS, True, decode)
    assert text_only == Answer("B", "a", None, False, None, None)
    assert answer_fields(text_only) == {"response": "B", "reasoning": "a", "thinking_cut_off": False}


def test_a_prompt_opens_thinking_only_in_what_the_template_added():
    from mix_eval.models.base import opens_thinking
    from mix_eval.thinking import DEFAULT_TAGS

    question = "Is <think> a tag?"
    assert opens_thinking(f"<u>{question}<a><think>\n", question, DEFAULT_TAGS)
    assert not opens_thinking(f"<u>{question}<a><think></think>", question, DEFAULT_TAGS)
    assert not opens_thinking(f"<u>{question}<a>", question, DEFAULT_TAGS)  # the question's tag is not the template's
    assert not opens_thinking(f"<u>{question}<a><think>", question, None)
    assert opens_thinking(f"<u>x<a>[T]", "x", ("[T]", "[/T]"))


def test_engines_cut_new_tokens_at_the_first_stop_and_say_why_they_ended(tiny_thinking):
    from transformers import AutoTokenizer

    from mix_eval.models.engine import generations

    tok = AutoTokenizer.from_pretrained(tiny_thinking)
    eos, close = tok.eos_token_id, tok.convert_tokens_to_ids("</think>")
    hi = tok.encode("Hi", add_special_tokens=False)
    done, cut = generations(tok, [12, 7], [[*hi, close, eos, eos, eos], [*hi, *hi]], [eos])
    assert done == Generation("Hi</think>", (*hi, close, eos), 12, "stop")  # the tags stay in the text
    assert cut == Generation("HiHi", (*hi, *hi), 7, "length")
    assert done.completion_tokens == len(hi) + 2


# ---------------------------------------------------------------- the budget of a thinking model


def test_a_thinking_model_on_the_chat_default_budget_is_warned_once(tiny_thinking, tiny_chat, data_path, tmp_path,
                                                                    caplog, monkeypatch):
    """No --max_new_tokens: one warning at the first batch with answers cut off, naming the
    default, the count and the fix. (The chat default, 512, is made 2 to keep this quick.)"""
    import logging

    from mix_eval.models import spec

    def warnings() -> list[str]:
        found = [r.getMessage() for r in caplog.records if "runs on its default" in r.getMessage()]
        caplog.clear()
        return found

    caplog.set_level(logging.WARNING, logger="mix_eval")
    assert chat_model(tiny_thinking, None).closeended_max_new_tokens == 512 == spec.DEFAULT_MAX_NEW_TOKENS["chat"]
    monkeypatch.setitem(spec.DEFAULT_MAX_NEW_TOKENS, "chat", 2)
    assert evaluate_main(argv(tiny_thinking, data_path, tmp_path / "default", limit="6")) == 0
    warned = warnings()
    assert len(warned) == 1, warned  # once, though both splits' batches were cut off
    assert ("runs on its default of 2 new tokens (no --max_new_tokens): 4 of 4 answers cut off while thinking in "
            "one batch already; give the thinking room with --max_new_tokens (e.g. 8192;") in warned[0]
    assert status(tmp_path / "default", "close_freeform_hard")["status"]["thinking"]["cut_off"] == 6

    for checkpoint, extra, name in ((tiny_thinking, ("--max_new_tokens", "2"), "given"),  # given: no warning
                                    (tiny_thinking, ("--chat_template_kwargs", OFF), "off"),  # none cut off
                                    (tiny_chat, (), "plain")):  # a model that does not think
        assert evaluate_main(argv(checkpoint, data_path, tmp_path / name, *extra, limit="2")) == 0
        assert warnings() == []


def test_a_template_that_reads_no_switch_is_named(tiny_chat, caplog):
    """--chat_template_kwargs given to a template that renders the same prompt without it."""
    import logging

    caplog.set_level(logging.WARNING, logger="mix_eval.models.base")
    model = chat_model(tiny_chat, ON, max_new_tokens=2)
    (answer,) = model.respond(["What is 2+2?"])
    model.close()
    assert isinstance(answer, str)  # its text has no tag: a plain answer
    assert any("renders the same prompt without --chat_template_kwargs" in r.getMessage() for r in caplog.records)


def test_a_larger_budget_keeps_the_prompt_room(tiny_thinking, data_path, tmp_path, capsys):
    """The reference's input length, min(context, 12000) - new tokens, at the default budget
    and below; a larger budget keeps the prompt's room while the context allows; a budget
    the context cannot hold is one error."""
    from mix_eval.models.base import input_room

    assert input_room(4096, 12000, 512, 512) == input_room(4096, 12000, 512) == 3584
    assert input_room(32768, 12000, 8, 512) == 11992  # below the default: the reference's
    assert input_room(40960, 12000, 16384, 512) == 11488  # the reference's would be -4384
    assert input_room(8192, 12000, 6000, 512) == 2192  # as much as the context allows
    assert input_room(4096, 12000, 4096, 512) == 0
    assert chat_model(tiny_thinking, None, max_new_tokens=2048).max_input_length_closeend == 4096 - 2048
    code = evaluate_main(argv(tiny_thinking, data_path, tmp_path, "--max_new_tokens", "4096", limit="1"))
    assert code == 2
    err = capsys.readouterr().err
    assert "--max_new_tokens 4096 leaves no room for the prompt in the 4096-token context" in err


# ---------------------------------------------------------------- refused in one line


@pytest.mark.parametrize("model, value, message", [
    ("local_chat", "enable_thinking", "--chat_template_kwargs is not valid JSON"),
    ("local_chat", "[1, 2]", "--chat_template_kwargs must be a JSON object"),
    ("local_chat", '{"add_generation_prompt": false}', "--chat_template_kwargs cannot set add_generation_prompt"),
    ("local_base", ON, "local_base is a base model"),
    ("gpt_4o", ON, "gpt_4o is an API model, whose server renders its prompts: ask it to think with "
                   "--reasoning_effort or --thinking_budget"),
    ("vicuna_7b_v15", ON, "renders its prompts with a fixed template of the catalog"),
])
def test_chat_template_kwargs_that_cannot_apply_are_one_error(model, value, message, tiny_thinking, data_path,
                                                              tmp_path, capsys):
    code = evaluate_main(argv(tiny_thinking, data_path, tmp_path, "--chat_template_kwargs", value, model=model))
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert not list(tmp_path.rglob("status_*.json"))  # refused before any work


def test_a_bad_chat_template_kwargs_on_the_command_line_is_one_line(tiny_base, data_path, tmp_path):
    done = run_module("mix_eval.evaluate", *argv(tiny_base, data_path, tmp_path, "--chat_template_kwargs", ON,
                                                 model="local_base"), timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "local_base is a base model" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_chat_model_on_a_checkpoint_without_a_chat_template_is_one_error(tiny_base, data_path, tmp_path, capsys):
    code = evaluate_main(argv(tiny_base, data_path, tmp_path, "--chat_template_kwargs", ON, limit="1"))
    assert code == 2
    err = capsys.readouterr().err
    assert "has no chat template" in err and "(--chat_template_kwargs needs one)" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert not list(tmp_path.rglob("*_close_*.jsonl"))  # no answer written


def test_a_class_that_renders_its_own_prompts_refuses_the_kwargs(data_path, tmp_path, capsys):
    from mix_eval.api.registry import register_model
    from mix_eval.models.base import ModelBase

    @register_model("i23_own_prompts")
    class OwnPrompts(ModelBase):
        def respond(self, file_inputs):
            return ["A" for _ in file_inputs]

    code = evaluate_main(argv(tmp_path, data_path, tmp_path, "--chat_template_kwargs", ON, model="i23_own_prompts"))
    assert code == 2
    assert "the class of i23_own_prompts renders its prompts its own way: leave it out" in capsys.readouterr().err
    assert evaluate_main(argv(tmp_path, data_path, tmp_path, limit="1", model="i23_own_prompts")) == 0  # without: runs


# ---------------------------------------------------------------- hf and vLLM alike


def test_hf_and_vllm_split_the_same_texts_into_the_same_lines(tiny_thinking, data_path, tmp_path):
    """The float32 checkpoint decoded greedily on both engines: identical response lines,
    thinking, cut-offs and token counts included. A closing tag the random text often
    holds (``amri``, by --reasoning_tags) gives answers that closed their thinking beside
    answers cut off."""
    runs = {}
    for backend in ("hf", "vllm"):
        out = tmp_path / backend
        done = run_module("mix_eval.evaluate", *argv(tiny_thinking, data_path, out, "--max_new_tokens", "16",
                                                     "--chat_template_kwargs", ON, "--reasoning_tags", "<think>,amri",
                                                     "--backend", backend, limit="16"), timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[backend] = {split: lines(out, split) for split in SPLITS}
        assert all(status(out, s)["args"]["backend"] == backend for s in SPLITS)
    assert runs["vllm"] == runs["hf"]
    every = [d for split in SPLITS for d in runs["hf"][split]]
    closed = [d for d in every if not d["thinking_cut_off"]]
    assert closed and len(closed) < len(every)  # both kinds are compared
    assert all(d["response"] and d["usage"]["completion_tokens"] == 16 for d in closed)
    # cut off: no answer, the thinking up to the closing tag, or all 16 tokens when it never came
    assert all(d["response"] == "" and 0 < d["reasoning_tokens"] <= 16 for d in every if d["thinking_cut_off"])
    assert any(d["reasoning_tokens"] == 16 for d in every if d["thinking_cut_off"])
