"""API models: one chat call per item, `--batch_size` calls in flight.

A subclass implements ``get_response(formatted_input) -> str`` (one call, retries
included); the engine's batches are answered concurrently. The models of the suite
(`mix_eval.models.api_models`) instead override ``respond`` to send whole batches
through the chat client the judges use too (`mix_eval.llm`: provider SDKs, rate
limits, retries).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from mix_eval.models.base import ModelBase
from mix_eval.models.spec import DEFAULT_MAX_NEW_TOKENS


def chat_messages(prompt: str, system_message: Optional[dict[str, str]] = None,
                  user_template: Any = None) -> list[dict[str, str]]:
    """What an API chat model sends for one formatted input: its system message, when it
    has one, then the input as the user's turn. One home, so that another framework asking
    the same model (`mix_eval.integrations.inspect_task`) sends the same messages."""
    user = user_template(prompt) if user_template is not None else {"role": "user", "content": prompt}
    return [user] if system_message is None else [dict(system_message), user]


class APIModelBase(ModelBase):
    """Base class of models behind a remote API."""

    kind = "api"

    def __init__(self, args: Any):
        super().__init__(args)
        self.model_name: Optional[str] = None
        self.MAX_NEW_TOKENS = getattr(args, "max_new_tokens", None) or DEFAULT_MAX_NEW_TOKENS["api"]
        self.closeended_max_new_tokens = self.MAX_NEW_TOKENS
        self.SYSTEM_MESSAGE: Optional[dict[str, str]] = None
        self.USER_MESSAGE_TEMPLATE = lambda x: {"role": "user", "content": x}
        self.ASSISTANT_MESSAGE_TEMPLATE = lambda x: {"role": "assistant", "content": x}
        self.parallel = max(1, int(getattr(args, "batch_size", 1) or 1))

    def get_messages(self, prompt: str) -> list[dict[str, str]]:
        return chat_messages(prompt, self.SYSTEM_MESSAGE, self.USER_MESSAGE_TEMPLATE)

    def get_response(self, formatted_input: str) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement get_response")

    def respond(self, file_inputs: list[str]) -> list[str]:
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(file_inputs) or 1)) as pool:
            return list(pool.map(self.get_response, file_inputs))
