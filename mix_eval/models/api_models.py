"""API models under evaluation, on the shared chat client (`mix_eval.llm`).

`ChatAPIModel` is the base of the suite's API models: the key, the endpoint, the client
on the provider its class names, the request (`mix_eval.llm.request.ChatRequest`: the
classic style, or the reasoning style with ``max_completion_tokens`` and an effort; a
thinking budget), and the request loop under the rules the judge keeps too
(`mix_eval.llm.refusals.RefusalRules`): an input the API refuses (HTTP 400) is asked
again up to 11 times and then answered with the reference's refusal text, but a model
that refuses its first requests, or more than half of a batch, is not asked on: the run
stops quoting the server (`ModelRefusedError`) and writes no answer for those items.
One class of it serves every OpenAI-compatible provider (OpenAI, DeepSeek, Yi,
Mistral's and DashScope's compatible endpoints, and any server a user runs: vLLM,
llama.cpp, TGI, SGLang, Ollama): what differs is data in the model's spec; the others
are in `mix_eval.models.sdk_models`. Rate limits, retries and fail-fast errors come from
the client; an item that still fails is left out of the response file, so the next run
retries just that item.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Optional, Union

from mix_eval.errors import ModelError
from mix_eval.llm.errors import APIBadRequestError
from mix_eval.llm.known_judges import known_judge
from mix_eval.llm.providers import OPENAI, provider_entry
from mix_eval.llm.refusals import Asked, RefusalRules, refusal_quote, refused_too_long
from mix_eval.llm.request import (
    CLASSIC, DEFAULT_REASONING_BUDGET, REASONING, STYLE_REFUSAL_CODES, ChatRequest,
)
from mix_eval.llm.results import ChatResult
from mix_eval.models.base_api import APIModelBase
from mix_eval.models.spec import ModelSpec
from mix_eval.settings import GEN_KWARGS_EXAMPLE, ModelSettings, json_object
from mix_eval.thinking import Answer, answer_from_chat, parse_tags

logger = logging.getLogger(__name__)

# Providers reached through their OpenAI-compatible endpoints, by the SDK the
# reference used: (base URL, the provider SDK's own key variable).
COMPATIBLE_ENDPOINTS = {
    "mistralai": ("https://api.mistral.ai/v1", None),
    "dashscope": ("https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
}
REFUSAL_TEXT = "Response not available due to content restrictions."
# The reference gives up on a prompt the provider keeps refusing after more than 10 refusals.
MAX_REFUSALS = 11
NO_KEY = "EMPTY"
# The status object's record of a request style switched for an unknown model (`ChatAPIModel.request_notes`).
REQUEST_STYLE_KEY = "request_style"


class ModelRefusedError(ModelError):
    """The model under evaluation refuses the requests: its answers would all be placeholders."""


class ChatAPIModel(APIModelBase):
    """A model behind a chat API, on the shared chat client: the base of the suite's API
    models. It owns the client, whose `Provider` it picks by name from the registry
    (`mix_eval.llm.providers.PROVIDERS`: `provider_name`), and the request loop; a
    subclass says where its key and base URL come from (`_endpoint`) and what its requests
    carry (`_base_params`, `_extra_params`)."""

    spec: ModelSpec
    provider_name = OPENAI
    by_id = False  # made from a model id of a known family (`mix_eval.models.catalog.spec_for_id`), not a catalog row

    def __init__(self, args: ModelSettings):
        super().__init__(args)
        from mix_eval.llm.client import ChatClient
        from mix_eval.llm.config import ClientConfig
        from mix_eval.llm.env import load_dotenv_once
        from mix_eval.llm.providers import make_provider

        spec = self.spec
        load_dotenv_once()
        self.model_name = spec.model_id
        base_url, key_var = self._endpoint(args)
        key = os.environ.get(key_var) if key_var else NO_KEY  # no variable: a server without keys
        if not key:
            raise ModelError(
                f"--model_name {spec.name} needs an API key: set {key_var} in the environment or .env "
                "(see .env.example)"
            )
        if spec.system_message:
            self.SYSTEM_MESSAGE = {"role": "system", "content": spec.system_message}
        request = self._request(args)
        shown = spec.name if spec.model_id == self.model_name else f"{self.model_name} (--model_name {spec.name})"
        self.asked = Asked(f"the model {shown}", request)
        self.client = ChatClient(ClientConfig(
            api_key=key, model=self.model_name, base_url=base_url, max_concurrency=self.parallel,
            key_setting=key_var or "--model_api_key_env", label=f"API of model {spec.name}",
        ), make_provider(self.provider_name))
        self.failures: dict[str, str] = {}
        self.tags = parse_tags(args.reasoning_tags)  # thinking in the text, kept apart from the answer
        if request.dropped():
            logger.warning("%s is asked in the reasoning style, which takes none of %s: left out of its requests",
                           spec.name, ", ".join(request.dropped()))

        self.batch = None  # --model_mode batch: the Batch API answers (`models.batch_api_model`)
        if args.model_mode == "batch":
            from mix_eval.models.batch_api_model import BatchGeneration

            self.batch = BatchGeneration(self, REFUSAL_TEXT)

    @property
    def request(self) -> ChatRequest:
        """How the model is asked now (an unknown model's style may have switched once)."""
        return self.asked.request

    @property
    def params(self) -> dict[str, Any]:
        """The request parameters beside model and messages."""
        return self.request.params()

    def request_notes(self) -> dict[str, Any]:
        """What the split's status object records of the requests: the style, when it was
        switched because the server refused the other one (none otherwise)."""
        asked = self.asked
        if asked.switched_from is None:
            return {}
        return {REQUEST_STYLE_KEY: {"style": asked.request.style, "switched_from": asked.switched_from,
                                    "server_said": asked.switch_reason, "params": sorted(asked.request.params())}}

    # -------------------------------------------------------- the request

    def _style(self, args: ModelSettings) -> tuple[str, bool]:
        """(request style, whether a table knows it). A catalog row is known (its o1 rows
        are reasoning models, as the table of known models says); a model named by its id
        is known when its family is (`mix_eval.llm.known_judges`), else it is asked in the
        classic style (the reasoning one when an effort is given) and may switch once."""
        known = known_judge(self.model_name)
        if known is not None:
            return known.style, True
        if self.by_id:
            return (REASONING if args.reasoning_effort else CLASSIC), False
        return CLASSIC, True

    def _request(self, args: ModelSettings) -> ChatRequest:
        """How this model is asked, from its spec and the flags; a flag that cannot apply to
        it is refused, naming the flag."""
        style, known = self._style(args)
        entry = provider_entry(self.provider_name)
        effort, budget = args.reasoning_effort, args.thinking_budget
        name = self.spec.name
        if effort is not None:
            if entry.effort_params is None:
                other = " (it takes --thinking_budget)" if entry.budget_params is not None else ""
                raise ModelError(f"--reasoning_effort cannot apply to {name}, a {self.provider_name} model{other}: "
                                 "leave the flag out")
            if entry.reasoning_token_param is not None and known and style != REASONING:
                raise ModelError(f"--reasoning_effort applies to reasoning models (gpt-5*, o-series, or a model "
                                 f"served with --model_name openai_compatible); {name} is not one: leave the flag out")
        if budget is not None:
            if entry.budget_params is None:
                other = " (reasoning models take --reasoning_effort)" if entry.effort_params is not None else ""
                raise ModelError(f"--thinking_budget cannot apply to {name}, a {self.provider_name} model{other}: "
                                 "leave the flag out")
            if budget < entry.min_budget:
                raise ModelError(f"--thinking_budget {budget}: {name} takes a thinking budget of at least "
                                 f"{entry.min_budget} tokens")
            if effort is not None:
                raise ModelError(f"give {name} one of --thinking_budget (a budget of thinking tokens) or "
                                 "--reasoning_effort (adaptive thinking at an effort), not both")
        from_table = known and not self.by_id  # a catalog row: its budget is the reference's
        reasoning_budget = args.max_new_tokens or DEFAULT_REASONING_BUDGET
        if style == REASONING and not from_table and not args.max_new_tokens:
            max_tokens = DEFAULT_REASONING_BUDGET
        else:
            max_tokens = self.closeended_max_new_tokens
        extra = self._base_params()
        extra.update(self._extra_params(args))
        return ChatRequest(self.model_name, self.provider_name, style, max_tokens, effort, budget, style_known=known,
                           extra=extra, reasoning_budget=reasoning_budget)

    # -------------------------------------------------------- configuration hooks

    def _base_params(self) -> dict[str, Any]:
        """The request parameters the reference sent beside model, messages, the token
        limit and the text format (`_request` adds those)."""
        return {}

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        """(base URL, the key's variable); None: the SDK's default URL, a server without keys."""
        spec = self.spec
        return spec.base_url, spec.env_keys[0] if spec.env_keys else None

    def _extra_params(self, args: ModelSettings) -> dict[str, Any]:
        return dict(self.spec.gen_kwargs or {})

    # -------------------------------------------------------- generation

    def batch_size_for(self, requested: int) -> int:
        """Batch mode: every pending item of a split at once."""
        if self.batch is not None:
            from mix_eval.models.batch_api_model import ALL_AT_ONCE

            return ALL_AT_ONCE
        return requested

    def start_split(self, version_dir: Any, split_name: str) -> None:
        """Where the split's files are (batch mode keeps its journal there)."""
        if self.batch is not None:
            self.batch.start_split(version_dir, split_name)

    def respond(self, file_inputs: list[str]) -> list[Union[Answer, str, None]]:
        """One call per input: the answer with its thinking apart (`mix_eval.thinking`);
        None where the API gave no response (retried next run)."""
        if self.batch is not None:
            return self.batch.respond(file_inputs)
        answers: dict[int, Union[Answer, str, None]] = {i: None for i in range(len(file_inputs))}
        _Requests(self, answers).run([(i, self.get_messages(x)) for i, x in enumerate(file_inputs)])
        return [answers[i] for i in range(len(file_inputs))]


class _Requests(RefusalRules):
    """One `ChatAPIModel.respond` call: a refused input is asked again up to `MAX_REFUSALS`
    times in all, then answered with `REFUSAL_TEXT`, as the reference did; but a model
    whose first requests are all refused, or that refuses more than half of a batch of two
    or more, stops the run (`ModelRefusedError`) and nothing of the batch is written."""

    first_over_life = True  # the model's first requests, over however many batches they take
    min_half = 2  # one refused input of a batch of one is a content filter, not a broken model

    def __init__(self, model: ChatAPIModel, answers: dict[int, Union[Answer, str, None]]):
        super().__init__(model.client, model.asked, MAX_REFUSALS)
        self.model = model
        self.answers = answers

    def answer(self, key: Any, result: ChatResult) -> None:
        self.answers[key] = answer_from_chat(result, self.model.tags)

    def on_failure(self, key: Any, error: Exception) -> None:
        self.model.failures[str(key)] = str(error)  # left out of the response file: asked next run

    def give_up(self, key: Any, error: APIBadRequestError) -> None:
        self.answers[key] = REFUSAL_TEXT

    def on_style_switch(self, old: ChatRequest, new: ChatRequest, why: str) -> None:
        logger.warning("%s refused the %s (the server said: %s); asking it in the %s, recorded in the split's "
                       "status file", self.asked.label, old.describe(), why, new.describe())

    def stop_error(self, refused: int, asked: int, errors: Mapping[Any, APIBadRequestError], *,
                   first: bool) -> Exception:
        reason, status = refusal_quote(errors)
        sample = next(iter(errors.values()))
        where = f"its first {asked} requests" if first else f"{refused} of a batch of {asked} requests"
        return ModelRefusedError(
            f"{self.asked.label} at {self.client.base_url} refused {where} ({status}); the server said: \"{reason}\". "
            f"{refusal_advice(sample, self.asked.request)} No answer was written for these items: a rerun asks "
            "them again."
        )


def refusal_advice(error: APIBadRequestError, request: ChatRequest) -> str:
    """What to do about a model that refuses the requests."""
    if refused_too_long(error):
        return ("The prompts are longer than this model's context: serve it with a longer context (vLLM: "
                "--max-model-len 8192 or more).")
    if error.code in STYLE_REFUSAL_CODES:
        return (f"The model does not take the {request.describe()}: a reasoning model takes --reasoning_effort "
                "(and --max_new_tokens for its budget); leave out --model_gen_kwargs it refuses "
                "(README: Evaluating models that think).")
    return ("Check the model id, the flags that shape its requests (--model_gen_kwargs, --reasoning_effort, "
            "--thinking_budget, --max_new_tokens) and that the server serves it as a chat model.")


class OpenAICompatibleModel(ChatAPIModel):
    """A chat model behind an OpenAI-compatible API, configured by its spec."""

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        base_url, key_var = super()._endpoint(args)
        for sdk in self.spec.sdk:
            if sdk in COMPATIBLE_ENDPOINTS:
                base_url, sdk_key = COMPATIBLE_ENDPOINTS[sdk]
                key_var = key_var or sdk_key
        return base_url, key_var


class OpenAICompatibleEndpoint(OpenAICompatibleModel):
    """`--model_name openai_compatible`: any server, from the command line.

    ``--model_base_url URL --model_id SERVED_ID [--model_api_key_env VAR]
    [--model_gen_kwargs JSON]``. No table knows the served model: it is asked in the
    classic style (the reasoning style when ``--reasoning_effort`` is given) and once in
    the other when the server refuses the first style's parameters.
    """

    def _style(self, args: ModelSettings) -> tuple[str, bool]:
        return (REASONING if args.reasoning_effort else CLASSIC), False

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        base_url = args.model_base_url
        if not base_url:
            raise ModelError("--model_name openai_compatible needs --model_base_url (e.g. http://localhost:8000/v1)")
        model_id = args.model_id
        if not model_id:
            raise ModelError("--model_name openai_compatible needs --model_id, the model name the server serves")
        self.model_name = model_id
        return base_url, args.model_api_key_env

    def _extra_params(self, args: ModelSettings) -> dict[str, Any]:
        return json_object("model_gen_kwargs", args.model_gen_kwargs, GEN_KWARGS_EXAMPLE)

