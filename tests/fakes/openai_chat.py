"""OpenAI's chat protocol on the loopback server: ``POST /v1/chat/completions`` (a valid
``chat.completion``) and ``GET /v1/models`` / ``GET /v1/models/{id}``.

Knobs of this protocol (also honoured by the Azure, Anthropic and Batch API routes that
go through it): ``models`` (a chat request for another model gets 404
``model_not_found``), ``retired`` (models shut down, answered as OpenAI answers them
since: 404 ``model_not_found`` "The model `<id>` has been deprecated, ...", on chat and
``GET /v1/models/{id}``), ``reasoning`` (models that take requests as OpenAI's reasoning
models do: HTTP 400 ``unsupported_parameter`` for ``max_tokens`` and ``unsupported_value``
for a temperature other than 1, in OpenAI's wording; they spend hidden reasoning tokens,
`REASONING_TOKENS` by ``reasoning_effort``, against ``max_completion_tokens``: a budget
smaller than the reasoning is all spent on it, and the reply is ``content: ""`` with
``finish_reason: "length"``; usage counts ``completion_tokens_details.reasoning_tokens``,
billed as output), ``max_context`` (a context length in tokens,
about 4 characters each: a longer prompt gets vLLM's HTTP 400 "This model's maximum
context length is N tokens. ..."), ``models_route`` (False: ``GET /v1/models/{id}`` is
unknown, 404 without a code, as on servers that only list ``/v1/models``).

Order for each chat request: scripted fault, permanent fault, key check, rate limit,
model check, parameter check, ``reply`` (which may return a Fault), latency, answer.
"""
from __future__ import annotations

import json
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional

from .faults import Fault, error_body

if TYPE_CHECKING:
    from .core import Handler, RecordedRequest

CHAT_PATH = "/chat/completions"
# hidden reasoning tokens a reasoning model bills as output, by reasoning_effort
REASONING_TOKENS = {"minimal": 0, "low": 64, "medium": 256, "high": 1024}


def is_chat_path(path: str) -> bool:
    return path.rstrip("/").endswith(CHAT_PATH)


def is_models_path(path: str) -> bool:
    return path.rstrip("/").endswith("/models") or "/models/" in path


class OpenAIChat:
    """The chat and models endpoints, and the chat.completion every OpenAI-style route answers."""

    def _init_openai(self, retired: Optional[Iterable[str]], reasoning: Optional[Iterable[str]],
                     max_context: Optional[int]) -> None:
        self.retired = set(retired or ())
        self.reasoning = set(reasoning or ())
        self.max_context = max_context
        self.models_route = True

    # ---- answers

    def reasoning_spent(self, body: Dict[str, Any]) -> Optional[int]:
        """The hidden reasoning tokens a reasoning model spends on this request (None: not a
        reasoning model): its effort's, at most the whole ``max_completion_tokens``."""
        if body.get("model") not in self.reasoning:
            return None
        reasoning = REASONING_TOKENS.get(body.get("reasoning_effort"), 256)
        budget = body.get("max_completion_tokens")
        return min(reasoning, budget) if isinstance(budget, int) else reasoning

    def out_of_budget(self, body: Dict[str, Any]) -> bool:
        """Whether a reasoning model's budget ran out while it reasoned (no answer left)."""
        spent, budget = self.reasoning_spent(body), body.get("max_completion_tokens")
        return spent is not None and isinstance(budget, int) and budget < REASONING_TOKENS.get(
            body.get("reasoning_effort"), 256)

    def usage(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        """A chat.completion's usage: words of the messages and of the text (a stand-in
        for tokens), plus the hidden reasoning of a reasoning model."""
        prompt_tokens = sum(len(str(m.get("content", "")).split())
                            for m in body.get("messages", []) if isinstance(m, dict))
        completion_tokens = len(text.split())
        details = {}
        reasoning = self.reasoning_spent(body)
        if reasoning is not None:  # hidden reasoning, billed as output
            completion_tokens += reasoning
            details = {"completion_tokens_details": {"reasoning_tokens": reasoning}}
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens, **details}

    def chat_completion(self, body: Dict[str, Any], text: str, n: int) -> Dict[str, Any]:
        """The ``n``-th chat.completion, answering ``text`` (a thinking model's: `fakes.thinking`;
        ``""`` and finish reason ``length`` when a reasoning model's budget ran out while it
        reasoned)."""
        if self.thinks(body.get("model")):
            return self.thinking_completion(body, text, n)
        finish = "stop"
        if self.out_of_budget(body):
            text, finish = "", "length"
        return {
            "id": f"chatcmpl-fake-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake-model"), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": self.usage(body, text),
        }

    def _completion(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        return self.chat_completion(body, text, self._next_id())

    def _late_answer(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """A hanging request ends as a chat.completion saying "late"."""
        return self._completion(body, "late")

    # ---- checks

    def _model_refusal(self, model: Any) -> Optional[Fault]:
        """404 for a retired model, or one the server does not have."""
        if model in self.retired:
            return Fault("404", code="model_not_found", message=(
                f"The model `{model}` has been deprecated, learn more here: "
                "https://platform.openai.com/docs/deprecations"))
        if self.models is not None and model not in self.models:
            return Fault("404", message=f"The model `{model}` does not exist or you do not have access to it.")
        return None

    def _parameter_refusal(self, model: Any, body: Dict[str, Any]) -> Optional[Fault]:
        """400 for what a reasoning model does not take, or a prompt longer than the context."""
        if model in self.reasoning:
            if "max_tokens" in body:
                return Fault("400", code="unsupported_parameter", message=(
                    "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                    "'max_completion_tokens' instead."))
            if body.get("temperature", 1) != 1:
                return Fault("400", code="unsupported_value", message=(
                    f"Unsupported value: 'temperature' does not support {body['temperature']} with this model. "
                    "Only the default (1) value is supported."))
        if self.max_context is not None:
            tokens = sum(len(str(m.get("content", ""))) for m in body["messages"] if isinstance(m, dict)) // 4
            if tokens >= self.max_context:
                return Fault("400", code=400, error_type="BadRequestError", message=(
                    f"This model's maximum context length is {self.max_context} tokens. However, your prompt "
                    f"contains at least {self.max_context + 1} input tokens, and the model requires at least 1 "
                    "output token to be generated. Please reduce the length of the input prompt. "
                    "(parameter=input_tokens, value=" + str(tokens) + ")"))
        return None

    # ---- routes

    def _chat(self, h: "Handler", rec: "RecordedRequest") -> None:
        self._chat_answer(h, rec, self._completion)

    def _chat_answer(self, h: "Handler", rec: "RecordedRequest",
                     answer: Callable[[Dict[str, Any], str], Dict[str, Any]]) -> None:
        """A chat request checked in OpenAI's order (see the module doc), answered by ``answer(body, text)``."""
        fault = self._next_fault()
        if fault is not None:
            return self._fault(h, rec, fault)
        if self.api_key is not None and self._bearer(rec) != self.api_key:
            return self._fault(h, rec, Fault("401", message=(
                f"Incorrect API key provided: {self._bearer(rec)}. You can find your API key "
                "at https://platform.openai.com/account/api-keys.")))
        if self._rate_limited(h, rec):
            return None
        body = rec.body if isinstance(rec.body, dict) else {}
        model = body.get("model")
        refusal = self._model_refusal(model)
        if refusal is not None:
            return self._fault(h, rec, refusal)
        if not isinstance(body.get("messages"), list):
            return self._fault(h, rec, Fault("400", message="'messages' is a required property"))
        refusal = self._parameter_refusal(model, body)
        if refusal is not None:
            return self._fault(h, rec, refusal)
        text = self._call_reply(body)
        if isinstance(text, Fault):
            return self._fault(h, rec, text)
        self._wait_latency()
        self._send(h, rec, 200, json.dumps(answer(body, str(text))).encode())

    def _models(self, h: "Handler", rec: "RecordedRequest") -> None:
        if self.api_key is not None and self._bearer(rec) != self.api_key:
            return self._fault(h, rec, Fault("401"))
        parts = rec.path.strip("/").split("/")
        if parts[-2:-1] == ["models"]:  # GET /v1/models/{id}
            model = urllib.parse.unquote(parts[-1])
            if not self.models_route:
                return self._send(h, rec, 404, json.dumps({"detail": "Not Found"}).encode(), count=False)
            refusal = self._model_refusal(model)
            if refusal is not None:
                return self._send(h, rec, 404, error_body(refusal.message or "", "invalid_request_error",
                                                          "model_not_found"), count=False)
            return self._send(h, rec, 200, json.dumps({"id": model, "object": "model", "created": 0,
                                                       "owned_by": "fake"}).encode(), count=False)
        ids = self.models if self.models is not None else ["fake-model"]
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ids]
        self._send(h, rec, 200, json.dumps({"object": "list", "data": data}).encode(), count=False)
