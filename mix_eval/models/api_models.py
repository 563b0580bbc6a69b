"""API models under evaluation, on the shared chat client (`mix_eval.llm`).

One class serves every OpenAI-compatible provider (OpenAI, DeepSeek, Yi, Mistral's
and DashScope's compatible endpoints, and any server a user runs: vLLM, llama.cpp,
TGI, SGLang, Ollama): what differs is data in the model's spec. Rate limits,
retries and fail-fast errors come from the client; an item that still fails is left
out of the response file, so the next run retries just that item.
"""
from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any, Optional

from mix_eval.errors import ModelError
from mix_eval.models.base_api import APIModelBase
from mix_eval.models.spec import ModelSpec
from mix_eval.settings import ModelSettings
from mix_eval.utils.interrupt import STOP, until_stopped

if TYPE_CHECKING:
    from mix_eval.llm.providers.base import Provider

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


class OpenAICompatibleModel(APIModelBase):
    """A chat model behind an OpenAI-compatible API, configured by its spec."""

    spec: ModelSpec

    def __init__(self, args: ModelSettings):
        super().__init__(args)
        from mix_eval.llm.client import ChatClient
        from mix_eval.llm.config import ClientConfig
        from mix_eval.llm.env import load_dotenv_once

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
        ), self._provider())
        self.failures: dict[str, str] = {}

    # -------------------------------------------------------- configuration hooks

    def _provider(self) -> Provider:
        """The API's protocol (default: OpenAI-compatible)."""
        from mix_eval.llm.providers.openai import OpenAIProvider

        return OpenAIProvider()

    def _base_params(self) -> dict[str, Any]:
        """The reference's request: max tokens (o1: max_completion_tokens), text format."""
        token_param = "max_completion_tokens" if self.spec.model_id.startswith("o1") else "max_tokens"
        return {token_param: self.closeended_max_new_tokens, "response_format": {"type": "text"}}

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        spec = self.spec
        base_url = spec.base_url
        key_var = spec.env_keys[0] if spec.env_keys else None
        for sdk in spec.sdk:
            if sdk in COMPATIBLE_ENDPOINTS:
                base_url, sdk_key = COMPATIBLE_ENDPOINTS[sdk]
                key_var = key_var or sdk_key
        return base_url, key_var

    def _extra_params(self, args: ModelSettings) -> dict[str, Any]:
        return dict(self.spec.gen_kwargs or {})

    # -------------------------------------------------------- generation

    def respond(self, file_inputs: list[str]) -> list[Optional[str]]:
        """One call per input; None where the API gave no response (retried next run)."""
        from mix_eval.llm.batch import run_batch
        from mix_eval.llm.errors import APIBadRequestError
        from mix_eval.llm.results import ChatResult

        answers: dict[int, Optional[str]] = {i: None for i in range(len(file_inputs))}
        pending = list(range(len(file_inputs)))
        for attempt in range(1, MAX_REFUSALS + 1):
            refused: list[int] = []

            def deliver(i: Any, result: Any) -> None:
                if isinstance(result, ChatResult):
                    answers[i] = result.text
                elif isinstance(result, APIBadRequestError):
                    refused.append(i)
                else:
                    self.failures[str(i)] = str(result)

            run_batch(self.client, until_stopped((i, self.get_messages(file_inputs[i]), dict(self.params))
                                                  for i in pending), on_result=deliver)
            if STOP.requested:  # Ctrl-C: unanswered items stay for the next run
                return [answers[i] for i in range(len(file_inputs))]
            pending = sorted(refused)
            if not pending:
                break
        for i in pending:  # refused every time: the reference's placeholder answer
            answers[i] = REFUSAL_TEXT
        return [answers[i] for i in range(len(file_inputs))]


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

