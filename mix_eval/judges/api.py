"""The API judge: any OpenAI-compatible chat API (OpenAI, Azure OpenAI, vLLM, ...).

Requests are the reference's: the judge messages, ``max_tokens`` 999, a text
``response_format``. Concurrency, rate limits and retries belong to the chat client
(`mix_eval.llm`); this module adds the judge's own rule for requests the API
refuses as bad (HTTP 400, e.g. a content filter): ten refusals make an item
"blocked", as in the reference.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Optional

from mix_eval.errors import MixEvalError
from mix_eval.judges.runner import BLOCKED, ERROR, OK
from mix_eval.llm.batch import run_batch
from mix_eval.llm.client import ChatClient
from mix_eval.llm.config import ClientConfig
from mix_eval.llm.env import load_dotenv_once
from mix_eval.llm.errors import APIBadRequestError
from mix_eval.llm.results import ChatResult
from mix_eval.settings import JudgeSettings
from mix_eval.utils.interrupt import STOP, until_stopped

logger = logging.getLogger(__name__)

JUDGE_PARAMS = {"max_tokens": 999, "response_format": {"type": "text"}}
MAX_BLOCKED = 10
NO_KEY_NEEDED = "EMPTY"  # sent to self-hosted servers that want no key


def judge_client_config(settings: JudgeSettings, judge_model: str) -> ClientConfig:
    """The judge API's settings from the flags and the environment (or `.env`).

    ``MODEL_PARSER_API`` (OpenAI, or the server of ``--api_base_url``); else Azure
    when ``OPENAI_API_TYPE=azure`` with ``OPENAI_API_KEY``, ``OPENAI_API_BASE`` and
    ``OPENAI_API_VERSION``.
    """
    load_dotenv_once()
    common: dict[str, Any] = dict(
        model=judge_model,
        max_concurrency=settings.api_parallel_num,
        timeout=60.0,
        label="judge API",
    )
    key = os.environ.get("MODEL_PARSER_API")
    if key:
        return ClientConfig(api_key=key, base_url=settings.api_base_url, key_setting="MODEL_PARSER_API", **common)
    if os.environ.get("OPENAI_API_TYPE", "").lower() == "azure":
        missing = [v for v in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_API_VERSION") if not os.environ.get(v)]
        if missing:
            raise MixEvalError(
                f"OPENAI_API_TYPE=azure, but {', '.join(missing)} is not set: set it in the environment or .env"
            )
        return ClientConfig(
            api_key=os.environ["OPENAI_API_KEY"], azure_endpoint=os.environ["OPENAI_API_BASE"],
            api_version=os.environ["OPENAI_API_VERSION"], key_setting="OPENAI_API_KEY", **common,
        )
    if settings.api_base_url:
        logger.info("no MODEL_PARSER_API set; calling %s without a key", settings.api_base_url)
        return ClientConfig(api_key=NO_KEY_NEEDED, base_url=settings.api_base_url, key_setting="MODEL_PARSER_API",
                            **common)
    raise MixEvalError(
        "the model parser (an LLM judge) needs an API key: set MODEL_PARSER_API in the environment or in "
        ".env (or the Azure variables OPENAI_API_TYPE=azure, OPENAI_API_KEY, OPENAI_API_BASE, "
        "OPENAI_API_VERSION). Alternatives: a local judge with --judge_model_id, the rule parsers "
        "(--free_form_parser rule --multi_choice_parser rule), or --inference_only."
    )


def usage_dict(result: ChatResult) -> Optional[dict[str, Any]]:
    """A reply's tokens as the journal keeps them (None: the API reported none)."""
    if result.usage is None:
        return None
    return {"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens}


class ApiJudge:
    """A judge backend on the shared chat client."""

    def __init__(self, config: ClientConfig, *, progress: bool = True, blocked_pause: float = 1.0):
        self.client = ChatClient(config)
        self.name = config.model
        self.progress = progress
        self.blocked_pause = blocked_pause

    mode = "live"

    def complete(self, requests: list[tuple[str, list[dict[str, str]]]],
                 on_result: Callable[..., None], *, round_no: int = 1) -> None:
        pending = list(requests)
        for attempt in range(1, MAX_BLOCKED + 1):
            refused: set[str] = set()

            def deliver(key: Any, result: Any) -> None:
                if isinstance(result, ChatResult):
                    on_result(key, OK, result.text, usage_dict(result))
                elif isinstance(result, APIBadRequestError):
                    refused.add(key)
                else:  # transient failure after all retries: judged again next round
                    logger.warning("judge request %s failed: %s", key, result)
                    on_result(key, ERROR, None)

            run_batch(self.client, until_stopped((k, m, dict(JUDGE_PARAMS)) for k, m in pending),
                      on_result=deliver, progress=self.progress, desc="judging")
            if STOP.requested:  # Ctrl-C: what was in flight is delivered; ask nothing more
                return
            pending = [(k, m) for k, m in pending if k in refused]
            if not pending:
                return
            if attempt < MAX_BLOCKED:
                logger.warning("%d judge request(s) refused by the API (HTTP 400); retrying (%d/%d)",
                               len(pending), attempt, MAX_BLOCKED)
                time.sleep(self.blocked_pause)
        for key, _ in pending:
            on_result(key, BLOCKED, None)

    @property
    def stats(self) -> dict[str, Any]:
        return self.client.stats.as_dict()
