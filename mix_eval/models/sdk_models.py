"""API models whose providers speak their own protocol, through their SDKs, and which
model class a catalog spec's SDK gets (`SDK_PROVIDERS`, `MODEL_CLASSES`).

Each model class names its provider (`ChatAPIModel.provider_name`, a name in
`mix_eval.llm.providers.PROVIDERS`, where judges find theirs too): the shared chat
client does rate limits, retries and fail-fast errors for all of them. This module
holds the model side only: the request each model sends (as the reference did), where
its key and base URL come from, and which SDK it needs. The SDKs are optional:
``pip install -e .[providers]`` (or the one SDK named in the error message).

* Claude: ``anthropic`` (``k_ant``; ``ANTHROPIC_BASE_URL`` moves it).
* Gemini: ``google-genai`` (``k_g``; ``GOOGLE_GEMINI_BASE_URL`` moves it). The reference
  used ``google.generativeai``, which Google no longer maintains; ``google-genai`` sends
  the same request (``v1beta`` ``models/{model}:generateContent`` with the same
  contents, generation config and safety settings), so it is used instead.
* Reka: ``reka-api`` (``k_reka``; ``REKA_BASE_URL`` moves it), its maintained chat API.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any, Optional

from mix_eval.errors import ModelError
from mix_eval.llm.providers.gemini import vertex_settings
from mix_eval.models.api_models import COMPATIBLE_ENDPOINTS, ChatAPIModel, OpenAICompatibleModel
from mix_eval.settings import ModelSettings

GEMINI_HARM_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)


def _module_found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):   # a missing parent package (``google``) raises
        return False


def require_sdk(module: str, pip_name: str, model: str) -> None:
    """Stop with the pip command when the model's SDK is not installed."""
    if not _module_found(module):
        raise ModelError(
            f"--model_name {model} needs the {pip_name} package: pip install {pip_name} "
            "(or pip install -e '.[providers]' for every provider SDK)"
        )


class AnthropicModel(ChatAPIModel):
    """Claude models: ``messages.create(model, max_tokens=1536, messages)``, as the reference.

    ``--thinking_budget N`` (Claude 4.5 and earlier): ``thinking={"type": "enabled",
    "budget_tokens": N}`` with ``max_tokens`` N + the answer's budget (1536, or
    ``--max_new_tokens``), since Anthropic wants ``max_tokens`` above the budget.
    ``--reasoning_effort E`` (Claude 4.6 and later): ``thinking={"type": "adaptive"}`` and
    ``output_config={"effort": E}``. The table of providers says so
    (`mix_eval.llm.providers.PROVIDERS`)."""

    provider_name = "anthropic"

    def __init__(self, args: ModelSettings):
        require_sdk("anthropic", "anthropic", self.spec.name)
        super().__init__(args)

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        return None, self.spec.env_keys[0]  # the SDK reads ANTHROPIC_BASE_URL when set


class GeminiModel(ChatAPIModel):
    """Gemini models, as the reference's ``google.generativeai`` calls, on ``google-genai``.

    One user message, ``candidate_count=1``, ``max_output_tokens=1536`` and the four
    harm categories set to ``BLOCK_NONE``; an answer blocked by the safety filters is
    a refusal (retried, then `REFUSAL_TEXT`). ``--thinking_budget N``:
    ``thinking_config={"thinking_budget": N, "include_thoughts": True}`` (the thinking
    shares ``max_output_tokens``; 0 turns it off where the model allows). Key: ``k_g``; or Vertex AI (see
    `vertex_settings`). Base URL: ``GOOGLE_GEMINI_BASE_URL`` (the SDK's own variable).
    """

    provider_name = "gemini"

    def __init__(self, args: ModelSettings):
        require_sdk("google.genai", "google-genai", self.spec.name)
        super().__init__(args)
        from google.genai import types

        try:
            types.GenerateContentConfig(**self.params)
        except Exception as e:  # noqa: BLE001 - pydantic's message names the bad field
            raise ModelError(f"{self.spec.name}: the generation settings are not valid for Gemini's "
                             f"GenerateContentConfig: {e}") from None

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        base_url = self.spec.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or None
        if vertex_settings() is not None:
            return base_url, None  # Vertex AI authenticates with Google Cloud credentials
        return base_url, self.spec.env_keys[0]

    def _base_params(self) -> dict[str, Any]:
        return {
            "candidate_count": 1,
            "safety_settings": [{"category": c, "threshold": "BLOCK_NONE"} for c in GEMINI_HARM_CATEGORIES],
        }


class RekaModel(ChatAPIModel):
    """Reka models on the ``reka-api`` SDK's chat API.

    The reference called the legacy ``reka.chat(prompt, model_name=...)`` (one human
    turn, no length, so the server's default applied); the maintained API sends one
    user message with ``max_tokens`` = 1536, the suite's API budget (its default, 1024,
    would cut answers short). Key: ``k_reka``. Base URL: ``REKA_BASE_URL`` (default
    ``https://api.reka.ai/v1``).
    """

    provider_name = "reka"

    def __init__(self, args: ModelSettings):
        require_sdk("reka", "reka-api", self.spec.name)
        try:
            from reka.client import AsyncReka  # noqa: F401 - the legacy `reka` package lacks it
        except ImportError:
            raise ModelError(
                f"--model_name {self.spec.name} needs the reka-api package (version 3 or later); "
                "the installed `reka` module is another one: pip install -U reka-api"
            ) from None
        super().__init__(args)

    def _endpoint(self, args: ModelSettings) -> tuple[Optional[str], Optional[str]]:
        base_url = self.spec.base_url or os.environ.get("REKA_BASE_URL") or None
        return base_url, self.spec.env_keys[0]



# The model class of each provider, by the provider's name in `mix_eval.llm.providers.PROVIDERS`.
MODEL_CLASSES: dict[str, type[ChatAPIModel]] = {
    cls.provider_name: cls for cls in (OpenAICompatibleModel, AnthropicModel, GeminiModel, RekaModel)}
# The provider of each SDK that catalog specs name (`ModelSpec.sdk`; no SDK: OpenAI-compatible).
SDK_PROVIDERS = {"openai": "openai", **{sdk: "openai" for sdk in COMPATIBLE_ENDPOINTS}, "anthropic": "anthropic",
                 "google.generativeai": "gemini", "google.genai": "gemini", "reka": "reka"}
