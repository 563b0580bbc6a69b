"""The API judge: an OpenAI-compatible chat API (OpenAI, Azure OpenAI, vLLM, ...), or
Anthropic's or Google's, on the shared chat client.

Requests follow the judge's style (`mix_eval.judges.request`): the reference's
``max_tokens`` 999 and text ``response_format`` for classic judges, the reasoning
models' parameters for gpt-5* and the o-series. Concurrency, rate limits and retries
belong to the chat client (`mix_eval.llm`); this module adds the judge's rules for
requests the API refuses as bad (HTTP 400):

* each distinct reason the server gives is logged once, as the server worded it;
* a judge whose style is not known is asked once in the other style when the server
  refuses the first style's parameters, and keeps the style that worked;
* a judge that refuses the first requests of a round, or more than half of them,
  stops the run (`JudgeRefusedError`, quoting the server): such a judge would turn
  every item into a placeholder verdict;
* a request too long for the judge's context is refused the same way every time: it
  is blocked at once, not asked again;
* any other refusal (a content filter) is asked again up to ten times, then the item is
  "blocked", as in the reference.
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from typing import Any, Mapping, Optional

from mix_eval.errors import MixEvalError
from mix_eval.folders import JUDGE_REPORT_FILE, SCORE_FILE
from mix_eval.judges.judge import BLOCKED, ERROR, OK, JudgeRefusedError, JudgedCallback
from mix_eval.judges.request import STYLE_REFUSAL_CODES, JudgeRequest
from mix_eval.judges.retired import retired_error
from mix_eval.llm.client import ChatClient
from mix_eval.llm.config import ClientConfig
from mix_eval.llm.env import load_dotenv_once
from mix_eval.llm.errors import APIBadRequestError, APIConfigError
from mix_eval.llm.providers import make_provider
from mix_eval.llm.refusals import AskAgain, Pass, RefusalRetry
from mix_eval.llm.results import ChatResult
from mix_eval.settings import JudgeSettings

logger = logging.getLogger(__name__)

MAX_BLOCKED = 10
FIRST_REQUESTS = 10  # a round whose first this many replies are all refusals stops the run
NO_KEY_NEEDED = "EMPTY"  # sent to self-hosted servers that want no key
# Providers other than OpenAI-compatible ones: the key's variable, as the evaluated models use it.
PROVIDER_KEYS = {"anthropic": "k_ant", "gemini": "k_g"}
_TOO_LONG = re.compile(r"(?i)maximum context length|context_length_exceeded|context window|prompt is too long|"
                       r"too many (input )?tokens")


def judge_client_config(settings: JudgeSettings, judge_model: str, provider: str = "openai") -> ClientConfig:
    """The judge API's settings from the flags and the environment (or `.env`).

    OpenAI-compatible: ``MODEL_PARSER_API`` (OpenAI, or the server of ``--api_base_url``);
    else Azure when ``OPENAI_API_TYPE=azure`` with ``OPENAI_API_KEY``, ``OPENAI_API_BASE``
    and ``OPENAI_API_VERSION``. Anthropic and Gemini judges: the key the evaluated models
    of that provider use (``k_ant``, ``k_g``).
    """
    load_dotenv_once()
    common: dict[str, Any] = dict(
        model=judge_model,
        max_concurrency=settings.api_parallel_num,
        timeout=60.0,
        label="judge API",
    )
    if provider in PROVIDER_KEYS:
        var = PROVIDER_KEYS[provider]
        key = os.environ.get(var)
        if not key:
            raise MixEvalError(f"the judge {judge_model} is a {provider} model: set its key {var} in the environment "
                               "or .env (the variable the evaluated models of that provider use)")
        return ClientConfig(api_key=key, key_setting=var, **common)
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


def too_long(error: APIBadRequestError) -> bool:
    """Whether the server refused the request as longer than the judge's context."""
    return bool(_TOO_LONG.search(f"{error.code or ''} {error.server_message or ''}"))


class _StyleRefused(AskAgain):
    """The server refused the style's parameters: ask again in the other style."""


class ApiJudge:
    """A judge backend on the shared chat client (see the module doc)."""

    mode = "live"

    def __init__(self, config: ClientConfig, request: Optional[JudgeRequest] = None, *, progress: bool = True,
                 blocked_pause: float = 1.0):
        self.request = request or JudgeRequest(config.model, style_known=True)
        self.client = ChatClient(config, make_provider(self.request.provider))
        self.name = config.model
        self.progress = progress
        self.blocked_pause = blocked_pause
        self.reasons: Counter = Counter()  # every refusal's reason, as the server gave it

    def complete(self, requests: list[tuple[str, list[dict[str, str]]]],
                 on_result: JudgedCallback, *, round_no: int = 1) -> None:
        try:
            _Round(self, on_result, round_no).run(requests)
        except APIConfigError as e:
            raise retired_or(e, self.name) from None

    def note_refusal(self, error: APIBadRequestError) -> None:
        """Count a refusal's reason; log it the first time it is given."""
        reason = error.server_message or str(error)
        self.reasons[reason] += 1
        if self.reasons[reason] == 1:
            logger.warning("the judge %s refused a request (HTTP %s%s): %s", self.name, error.status_code,
                           f" {error.code}" if error.code else "", reason)

    def refusal_error(self, refused: int, asked: int, round_no: int, errors: Mapping[Any, APIBadRequestError], *,
                first: bool = False) -> JudgeRefusedError:
        """The error that stops a run whose judge refuses the requests."""
        reason, _ = Counter(e.server_message or str(e) for e in errors.values()).most_common(1)[0]
        sample = next(iter(errors.values()))
        where = f"the first {asked}" if first else f"{refused} of the {asked}"
        return JudgeRefusedError(
            f"the judge {self.name} at {self.client.base_url} refused {where} request(s) of round {round_no} "
            f"(HTTP {sample.status_code}{' ' + sample.code if sample.code else ''}); the server said: "
            f"\"{reason}\". {refusal_advice(sample, self.request)} Nothing was scored and no {SCORE_FILE} written; "
            "the judgments received so far are saved."
        )

    @property
    def stats(self) -> dict[str, Any]:
        return self.client.stats.as_dict()


class _Round(RefusalRetry):
    """One `ApiJudge.complete` call: the refusal-retry loop with the judge's rules."""

    def __init__(self, judge: ApiJudge, on_result: JudgedCallback, round_no: int):
        super().__init__(judge.client, MAX_BLOCKED, progress=judge.progress, desc="judging")
        self.judge = judge
        self.on_result = on_result
        self.round_no = round_no

    def params(self) -> dict[str, Any]:
        return self.judge.request.params()

    def on_reply(self, key: Any, result: ChatResult) -> None:
        self.on_result(key, OK, result.text, usage_dict(result))

    def on_failure(self, key: Any, error: Exception) -> None:
        logger.warning("judge request %s failed: %s", key, error)  # judged again next round
        self.on_result(key, ERROR, None)

    def on_refusal(self, key: Any, error: APIBadRequestError, sent: Pass) -> None:
        if self.judge.request.can_switch_style and error.code in STYLE_REFUSAL_CODES:
            raise _StyleRefused(error.server_message or str(error))
        self.judge.note_refusal(error)
        if sent.attempt == 1 and not sent.answered and len(sent.refused) >= min(FIRST_REQUESTS, sent.asked):
            raise self.judge.refusal_error(len(sent.refused), len(sent.refused), self.round_no, sent.refused,
                                           first=True)

    def on_ask_again(self, why: AskAgain) -> None:
        old = self.judge.request
        self.judge.request = old.other_style()
        logger.warning("the judge %s refused the %s request style (server said: %s); asking it in the "
                       "%s style, which is recorded in %s", self.judge.name, old.style, why,
                       self.judge.request.style, JUDGE_REPORT_FILE)

    def after_attempt(self, refused: Mapping[Any, APIBadRequestError], asked: int, attempt: int) -> None:
        if attempt == 1 and len(refused) * 2 > asked:
            raise self.judge.refusal_error(len(refused), asked, self.round_no, refused)

    def hopeless(self, error: APIBadRequestError) -> bool:
        return too_long(error)  # refused the same way every time

    def retrying(self, refused: int, attempt: int) -> None:
        logger.warning("%d judge request(s) refused by the API (HTTP 400); retrying (%d/%d)",
                       refused, attempt, MAX_BLOCKED)
        time.sleep(self.judge.blocked_pause)

    def give_up(self, key: Any, error: APIBadRequestError) -> None:
        self.on_result(key, BLOCKED, error.server_message)


def refusal_advice(error: APIBadRequestError, request: JudgeRequest) -> str:
    """What to do about a judge that refuses the requests."""
    if too_long(error):
        return ("The judge prompts are longer than this judge's context: serve it with a longer context (vLLM: "
                "--max-model-len 8192 or more) or pick a judge with a longer one.")
    if error.code in STYLE_REFUSAL_CODES:
        return (f"The judge does not take the {request.style} request style's parameters "
                f"({', '.join(request.params())}); see README: Judging after GPT-3.5.")
    return "Check that this model can serve as a judge (README: Judging after GPT-3.5)."


def retired_or(error: APIConfigError, judge: str) -> MixEvalError:
    """The error of a judge the endpoint does not know: a retired judge's own message
    when the judge is known to be shut down, else ``error`` itself."""
    if error.status_code == 404:
        retired = retired_error(judge, error.base_url or "", error.server_message)
        if retired is not None:
            return retired
    return error
