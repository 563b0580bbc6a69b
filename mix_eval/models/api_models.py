"""API models under evaluation, on the shared chat client (`mix_eval.llm`).

`ChatAPIModel` is the base of the suite's API models: the key, the endpoint, the client
on the provider its class names, and the request loop, in which an input the API
refuses (HTTP 400) is asked again up to 11 times and then answered with the
reference's refusal text (`mix_eval.llm.refusals`). One class of it serves every
OpenAI-compatible provider (OpenAI, DeepSeek, Yi, Mistral's and DashScope's compatible
endpoints, and any server a user runs: vLLM, llama.cpp, TGI, SGLang, Ollama): what
differs is data in the model's spec; the others are in `mix_eval.models.sdk_models`.
Rate limits, retries and fail-fast errors come from the client; an item that still
fails is left out of the response file, so the next run retries just that item.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Optional, Union

from mix_eval.errors import ModelError
from mix_eval.llm.errors import APIBadRequestError
from mix_eval.llm.refusals import RefusalRetry
from mix_eval.llm.results import ChatResult
from mix_eval.models.base_api import APIModelBase
from mix_eval.models.spec import ModelSpec
from mix_eval.settings import ModelSettings
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


class ChatAPIModel(APIModelBase):
    """A model behind a chat API, on the shared chat client: the base of the suite's API
    models. It owns the client, whose `Provider` it picks by name from the registry
    (`mix_eval.llm.providers.PROVIDERS`: `provider_name`), and the request loop; a
    subclass says where its key and base URL come from (`_endpoint`) and what its requests
    carry (`_base_params`, `_extra_params`)."""

    spec: ModelSpec
    provider_name = "openai"

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
        self.params: dict[str, Any] = self._base_params()
        self.params.update(self._extra_params(args))
        self.client = ChatClient(ClientConfig(
            api_key=key, model=self.model_name, base_url=base_url, max_concurrency=self.parallel,
            key_setting=key_var or "--model_api_key_env", label=f"API of model {spec.name}",
        ), make_provider(self.provider_name))
        self.failures: dict[str, str] = {}
        self.tags = parse_tags(args.reasoning_tags)  # thinking in the text, kept apart from the answer
        self.batch = None  # --model_mode batch: the Batch API answers (`models.batch_api_model`)
        if args.model_mode == "batch":
            from mix_eval.models.batch_api_model import BatchGeneration

            self.batch = BatchGeneration(self, REFUSAL_TEXT)

    # -------------------------------------------------------- configuration hooks

    def _base_params(self) -> dict[str, Any]:
        """The request parameters the reference sent (beside model and messages)."""
        raise NotImplementedError

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


class _Requests(RefusalRetry):
    """One `ChatAPIModel.respond` call: a refused input is asked again up to `MAX_REFUSALS`
    times in all, then answered with `REFUSAL_TEXT`, as the reference did."""

    def __init__(self, model: ChatAPIModel, answers: dict[int, Union[Answer, str, None]]):
        super().__init__(model.client, MAX_REFUSALS)
        self.model = model
        self.answers = answers

    def params(self) -> dict[str, Any]:
        return self.model.params

    def on_reply(self, key: Any, result: ChatResult) -> None:
        self.answers[key] = answer_from_chat(result, self.model.tags)

    def on_failure(self, key: Any, error: Exception) -> None:
        self.model.failures[str(key)] = str(error)  # left out of the response file: asked next run

    def give_up(self, key: Any, error: APIBadRequestError) -> None:
        self.answers[key] = REFUSAL_TEXT


class OpenAICompatibleModel(ChatAPIModel):
    """A chat model behind an OpenAI-compatible API, configured by its spec."""

    def _base_params(self) -> dict[str, Any]:
        """The reference's request: max tokens (o1: max_completion_tokens), text format."""
        token_param = "max_completion_tokens" if self.spec.model_id.startswith("o1") else "max_tokens"
        return {token_param: self.closeended_max_new_tokens, "response_format": {"type": "text"}}

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
    [--model_gen_kwargs JSON]``.
    """

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
        raw = args.model_gen_kwargs
        if not raw:
            return {}
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ModelError(f"--model_gen_kwargs is not valid JSON ({e.msg}): {raw}") from None
        if not isinstance(extra, dict):
            raise ModelError(f"--model_gen_kwargs must be a JSON object, like '{{\"temperature\": 0}}', not {raw}")
        return extra

