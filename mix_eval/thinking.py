"""The thinking apart from the answer: what a model that reasons wrote, split in two.

Models that think before they answer hand the thinking back in one of several ways:
inside the text between tags (``<think>...</think>``: DeepSeek-R1 and its distills,
Qwen3, a vLLM or llama.cpp server without a reasoning parser), in a field beside the
answer (``reasoning_content``, ``reasoning``, Anthropic's thinking blocks, Gemini's
thought parts: the provider reads those into `mix_eval.llm.results.ChatResult`), or
not at all (OpenAI's hidden reasoning, counted in tokens only).

Whatever the way, a response line keeps the answer alone in ``response`` (what the judge
and the rule parsers read, as in the reference's files) and the thinking beside it
(`REASONING_KEY`), so no judge prompt ever contains it. An answer whose token budget ran
out before the answer began (an unclosed thinking tag, or finish reason ``length`` with
no answer) is marked `CUT_OFF_KEY`: it is counted, shown, and fixable by a larger
``--max_new_tokens`` or a lower ``--reasoning_effort``.

A model that does not think writes the same lines as before: none of these keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

__all__ = [
    "Answer", "CUT_OFF_KEY", "DEFAULT_TAGS", "REASONING_KEY", "REASONING_TOKENS_KEY", "USAGE_KEY",
    "Tags", "answer_from_chat", "answer_from_text", "answer_fields", "cut_off_advice", "cut_off_line",
    "is_cut_off", "parse_tags",
]

Tags = Optional[tuple[str, str]]  # (opening, closing) tag; None: the text is never split
DEFAULT_TAGS: tuple[str, str] = ("<think>", "</think>")
NO_TAGS = "none"  # --reasoning_tags none: keep the text whole

# The keys a response line carries beside ``response`` when the model thought.
REASONING_KEY = "reasoning"  # the thinking, as the model or server gave it
REASONING_TOKENS_KEY = "reasoning_tokens"  # tokens spent thinking, where the API counts them
CUT_OFF_KEY = "thinking_cut_off"  # true: the budget ran out before the answer began
USAGE_KEY = "usage"  # {"prompt_tokens", "completion_tokens"} of the answer, where known
LENGTH = "length"  # the finish reason of a reply cut by its token budget


@dataclass(frozen=True)
class Answer:
    """One model answer: ``text`` alone (the line's ``response``), the thinking beside it."""

    text: str
    reasoning: Optional[str] = None
    reasoning_tokens: Optional[int] = None
    cut_off: bool = False
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None

    @property
    def thought(self) -> bool:
        """Whether the model showed or spent any thinking."""
        return self.reasoning is not None or bool(self.reasoning_tokens) or self.cut_off


def parse_tags(value: Optional[str]) -> Tags:
    """``--reasoning_tags``: ``OPEN,CLOSE`` (default ``<think>,</think>``) or ``none``.
    Raises ValueError with what is wrong."""
    if value is None:
        return DEFAULT_TAGS
    if value.strip().lower() == NO_TAGS:
        return None
    parts = value.split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(f"expected OPEN,CLOSE (like <think>,</think>) or {NO_TAGS}, got {value!r}")
    return parts[0].strip(), parts[1].strip()


def answer_from_text(text: str, tags: Tags = DEFAULT_TAGS, *, opened: bool = False,
                     finish_reason: Optional[str] = None, prompt_tokens: Optional[int] = None,
                     completion_tokens: Optional[int] = None) -> Answer:
    """Split a model's text into thinking and answer.

    * ``OPEN thinking CLOSE answer``: the thinking between the first pair, the answer after;
    * ``thinking CLOSE answer`` (the chat template opened the tag, so the text begins
      inside it; ``opened`` says so when known): the same;
    * ``OPEN thinking`` never closed, or ``opened`` and no closing tag: all thinking, no
      answer, cut off;
    * no tag: the whole text is the answer.

    Whatever stands before the opening tag (usually blank) is kept in the answer.
    """
    common = dict(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    if tags is None:
        return Answer(text, cut_off=False, **common)
    open_tag, close_tag = tags
    if opened:  # the text begins inside the thinking (even if the model opened the tag again)
        text = open_tag + text
    start = text.find(open_tag)
    close = text.find(close_tag)
    if start != -1 and (close == -1 or start < close):  # OPEN ... [CLOSE ...]
        before, rest = text[:start], text[start + len(open_tag):]
        end = rest.find(close_tag)
        if end == -1:
            return Answer(before.strip(), rest.strip(), cut_off=True, **common)
        answer = " ".join(part for part in (before.strip(), rest[end + len(close_tag):].strip()) if part)
        return Answer(answer, rest[:end].strip(), cut_off=finish_reason == LENGTH and not answer, **common)
    if close != -1:  # the template opened the tag: the text begins inside it
        answer = text[close + len(close_tag):].strip()
        return Answer(answer, text[:close].strip(), cut_off=finish_reason == LENGTH and not answer, **common)
    return Answer(text, cut_off=bool(finish_reason == LENGTH and not text.strip() and completion_tokens), **common)


def answer_from_chat(result: Any, tags: Tags = DEFAULT_TAGS) -> Answer:
    """An API reply (`mix_eval.llm.results.ChatResult`) as an answer: the thinking from the
    reply's own field when the server put it there, else from the tags in its text. A
    reply with hidden reasoning and no answer whose budget ran out (finish reason
    ``length``, as OpenAI's reasoning models answer) is cut off."""
    usage = getattr(result, "usage", None)
    prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
    completion = getattr(usage, "completion_tokens", None) if usage is not None else None
    reasoning_tokens = getattr(result, "reasoning_tokens", None)
    reasoning = getattr(result, "reasoning", None)
    finish = getattr(result, "finish_reason", None)
    text = result.text or ""
    if reasoning is not None:
        inner = answer_from_text(text, tags, finish_reason=finish)
        if inner.reasoning is not None:  # thinking in both places: keep both, in order
            reasoning = f"{reasoning}\n\n{inner.reasoning}" if reasoning else inner.reasoning
        answer = inner.text
        cut = inner.cut_off or (finish == LENGTH and not answer.strip())
        return Answer(answer, reasoning, reasoning_tokens, cut, prompt, completion)
    inner = answer_from_text(text, tags, finish_reason=finish)
    cut = inner.cut_off or (finish == LENGTH and not inner.text.strip() and bool(reasoning_tokens))
    return Answer(inner.text, inner.reasoning, reasoning_tokens, cut, prompt, completion)


def answer_fields(answer: Union[str, Answer]) -> dict[str, Any]:
    """What a response line holds of an answer: ``response``, and the thinking keys only
    when the model thought (a plain answer's line is the reference's)."""
    if isinstance(answer, str):
        return {"response": answer}
    fields: dict[str, Any] = {"response": answer.text}
    if answer.reasoning is not None:
        fields[REASONING_KEY] = answer.reasoning
    if answer.reasoning_tokens is not None and (answer.reasoning_tokens or answer.thought):
        fields[REASONING_TOKENS_KEY] = answer.reasoning_tokens
    if answer.thought:
        fields[CUT_OFF_KEY] = answer.cut_off
    if answer.prompt_tokens is not None or answer.completion_tokens is not None:
        fields[USAGE_KEY] = {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens}
    return fields


def is_cut_off(line: Mapping[str, Any]) -> bool:
    """Whether a response line's answer was cut off while thinking."""
    return line.get(CUT_OFF_KEY) is True


def cut_off_line(cut: int, total: int) -> str:
    """The words every place uses for the count: "N of M answers cut off while thinking"."""
    return f"{cut} of {total} answers cut off while thinking"


def cut_off_advice() -> str:
    """How to fix answers cut off while thinking."""
    return ("raise --max_new_tokens (the thinking and the answer share it), or lower --reasoning_effort / "
            "--thinking_budget, and rerun into a new --output_dir")
