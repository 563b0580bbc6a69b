"""Models that think, on the loopback server: each route answers a thinking model's request
with thinking before the answer, in that protocol's own form, within the request's budget.

Knobs: ``thinking`` (``{model: form}``: the models that think; on the OpenAI chat route,
its Azure twin and the Batch API, the form is ``"tags"``, ``<think>...</think>`` then the
answer in ``content``, as a vLLM or llama.cpp server without a reasoning parser answers;
``"reasoning_content"``, the thinking in that field beside ``content``, as DeepSeek's API;
or ``"reasoning"``, as vLLM 0.30 and later with ``--reasoning-parser``, ``content`` null
when there is no answer. Anthropic's route answers ``thinking`` blocks, with a signature,
before the ``text`` block, whatever the form; Gemini's answers parts with ``thought: true``
before the answer's, and ``thoughtsTokenCount``, unless the form is ``"hidden"``, which
shows no thought parts and counts their tokens only) and ``thinking_length`` (words of
thinking: an int, or ``(fewest, most)``, each request's count chosen in that range by a
hash of its model and messages).

Words stand for tokens, as `OpenAIChat.usage` counts them (the tags count one each). The
thinking, then the answer (the ``reply`` function's text), are spent against the request's
budget (``max_completion_tokens`` or ``max_tokens``; Anthropic's ``max_tokens``; Gemini's
``maxOutputTokens``); the thinking alone is also capped by a thinking budget the request
gives (Anthropic's ``thinking.budget_tokens``, Gemini's ``thinkingBudget`` above 0). A budget
spent before the answer ends the reply inside the thinking with finish reason ``length``
(Anthropic ``max_tokens``, Gemini ``MAX_TOKENS``): an unclosed ``<think>`` for ``"tags"``,
``content`` "" (``"reasoning_content"``) or null (``"reasoning"``), no text block, no answer
part. A reply is a function of its request: the same request gets the same reply.

Records: ``thoughts``, one `Thought` per thinking reply sent, so that a test can count from
the server's own replies which answers were cut off while thinking.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

FORMS = ("tags", "reasoning_content", "reasoning")  # the OpenAI route's forms
HIDDEN = "hidden"  # Gemini: thoughts counted, not shown
OPEN, CLOSE = "<think>", "</think>"
WORD = "musing"  # every thinking word begins so: a test finds thinking wherever it leaked
ThinkingLength = Union[int, Tuple[int, int]]


@dataclass(frozen=True)
class Thought:
    """One thinking reply as sent: the thinking and the answer within the budget."""

    model: str
    question: str  # the content of the request's last message
    thinking: str  # the thinking sent (cut at the budget), words joined by spaces
    answer: str  # the answer sent ("" when the budget ran out first)
    finish: str  # "stop", or "length" when the budget ran out
    closed: bool  # the whole thinking was sent (with "tags": its closing tag too)
    thinking_tokens: int
    answer_tokens: int

    @property
    def cut_off(self) -> bool:
        """Whether the budget ran out before the answer began."""
        return self.finish == "length" and not self.answer


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ThinkingModels:
    """The ``thinking`` knobs and the thinking replies of every route."""

    def _init_thinking(self, thinking: Optional[Mapping[str, str]], thinking_length: ThinkingLength) -> None:
        self.thinking: Dict[str, str] = dict(thinking or {})
        self.thinking_length: ThinkingLength = thinking_length
        self._thoughts: List[Thought] = []
        self._thoughts_lock = threading.Lock()

    @property
    def thoughts(self) -> List[Thought]:
        with self._thoughts_lock:
            return list(self._thoughts)

    def reset(self) -> None:
        """Forget the records, the thoughts with them."""
        super().reset()  # type: ignore[misc]
        with self._thoughts_lock:
            self._thoughts.clear()

    def thinks(self, model: Any) -> bool:
        return model in self.thinking

    def think(self, model: str, messages: Any, answer: str, budget: Optional[int],
              thinking_budget: Optional[int] = None, tags: bool = False) -> Thought:
        """The thinking of ``model`` for ``messages``, then ``answer``, spent against
        ``budget`` (None: no limit); ``tags``: the thinking's tags cost a token each."""
        digest = hashlib.sha256(json.dumps([model, messages], sort_keys=True, ensure_ascii=False)
                                .encode("utf-8")).hexdigest()
        lo, hi = (self.thinking_length, self.thinking_length) if isinstance(self.thinking_length, int) \
            else self.thinking_length
        length = lo + int(digest[:8], 16) % (hi - lo + 1)
        if thinking_budget is not None and thinking_budget > 0:
            length = min(length, thinking_budget)
        words = [f"{WORD}{i}-{digest[8:14]}" for i in range(length)]
        spent = ([OPEN] if tags else []) + words + ([CLOSE] if tags else [])  # the thinking's tokens
        answer_words = answer.split()
        if budget is None:
            budget = len(spent) + len(answer_words)
        shown = answer_words[:max(0, budget - len(spent))]
        last = messages[-1].get("content", "") if isinstance(messages, list) and messages and \
            isinstance(messages[-1], dict) else ""
        thought = Thought(
            model=model, question=str(last), thinking=" ".join(words[:max(0, budget - (1 if tags else 0))]),
            # the answer as given when whole, else the words that fit
            answer=answer if len(shown) == len(answer_words) else " ".join(shown),
            finish="length" if budget < len(spent) + len(answer_words) else "stop",
            closed=budget >= len(spent), thinking_tokens=min(budget, len(spent)), answer_tokens=len(shown))
        with self._thoughts_lock:
            self._thoughts.append(thought)
        return thought

    # ---- the routes' answers

    def thinking_completion(self, body: Dict[str, Any], text: str, n: int) -> Dict[str, Any]:
        """A chat.completion of a thinking model, in the form ``thinking`` names for it."""
        model = body.get("model")
        form = self.thinking[model]
        budget = _int(body.get("max_completion_tokens")) or _int(body.get("max_tokens"))
        t = self.think(model, body.get("messages"), text, budget, tags=form == "tags")
        message: Dict[str, Any] = {"role": "assistant", "refusal": None}
        if form == "tags":
            message["content"] = f"{OPEN}\n{t.thinking}" + (f"\n{CLOSE}\n\n{t.answer}" if t.closed else "")
        elif form in ("reasoning_content", "reasoning"):
            message["content"] = t.answer if t.answer or form == "reasoning_content" else None
            message[form] = t.thinking
        else:
            raise ValueError(f"thinking form {form!r} of {model!r} is not one of {FORMS}")
        completion = t.thinking_tokens + t.answer_tokens
        # a server without a reasoning parser does not count the thinking apart
        details = {} if form == "tags" else {"completion_tokens_details": {"reasoning_tokens": t.thinking_tokens}}
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []) if isinstance(m, dict))
        return {
            "id": f"chatcmpl-fake-{n}", "object": "chat.completion", "created": 0, "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": t.finish, "logprobs": None, "message": message}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                      **details},
        }

    def thinking_message(self, body: Dict[str, Any], text: str, n: int) -> Dict[str, Any]:
        """An Anthropic message: thinking blocks (with a signature) before the text block."""
        model = body.get("model")
        asked = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
        t = self.think(model, body.get("messages"), text, _int(body.get("max_tokens")),
                       _int(asked.get("budget_tokens")))
        content: List[Dict[str, Any]] = [{"type": "thinking", "thinking": t.thinking,
                                          "signature": hashlib.sha256(t.thinking.encode()).hexdigest()}]
        if t.answer:
            content.append({"type": "text", "text": t.answer})
        return {"id": f"msg_fake_{n}", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": "max_tokens" if t.finish == "length" else "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": t.thinking_tokens + t.answer_tokens}}

    def thinking_candidates(self, model: str, body: Dict[str, Any], messages: List[Dict[str, Any]],
                            text: str, prompt_tokens: int) -> Dict[str, Any]:
        """A Gemini answer: parts with ``thought: true`` before the answer's (none shown for
        the form ``"hidden"``), and ``thoughtsTokenCount``."""
        config = body.get("generationConfig") or body.get("generation_config") or {}
        thinking_config = config.get("thinkingConfig") or config.get("thinking_config") or {}
        budget = _int(config.get("maxOutputTokens") or config.get("max_output_tokens"))
        t = self.think(model, messages, text, budget,
                       _int(thinking_config.get("thinkingBudget") or thinking_config.get("thinking_budget")))
        parts: List[Dict[str, Any]] = []
        if self.thinking[model] != HIDDEN:
            parts.append({"text": t.thinking, "thought": True})
        if t.answer:
            parts.append({"text": t.answer})
        candidate: Dict[str, Any] = {"content": {"parts": parts, "role": "model"},
                                     "finishReason": "MAX_TOKENS" if t.finish == "length" else "STOP", "index": 0}
        return {"candidates": [candidate],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": t.answer_tokens,
                                  "thoughtsTokenCount": t.thinking_tokens,
                                  "totalTokenCount": prompt_tokens + t.answer_tokens + t.thinking_tokens},
                "modelVersion": model}
