"""The API judge: an OpenAI-compatible chat API (OpenAI, Azure OpenAI, vLLM, ...), or
Anthropic's or Google's, on the shared chat client.

Requests follow the judge's style (`mix_eval.judges.request`): the reference's
``max_tokens`` 999 and text ``response_format`` for classic judges, the reasoning
models' parameters for gpt-5* and the o-series. Concurrency, rate limits and retries
belong to the chat client (`mix_eval.llm`); this module adds the judge's rules for
requests the API refuses as bad (HTTP 400):

* the rules every API model is asked under (`mix_eval.llm.refusals.RefusalRules`):
  each reason logged once, the other request style tried once for an unknown judge, a
  judge that refuses the first requests of a round, or more than half of them, stopped
  (`JudgeRefusedError`, quoting the server: such a judge would turn every item into a
  placeholder verdict), context-length refusals not asked again;
* any other refusal (a content filter) is asked again up to ten times, then the item is
  "blocked", as in the reference.
"""
from __future__ import annotations

import logging
import os
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
from mix_eval.llm.providers import AZURE, OPENAI, make_provider, provider_entry
from mix_eval.llm.refusals import Asked, RefusalRules, refusal_quote, refused_too_long
from mix_eval.llm.results import ChatResult
from mix_eval.settings import JudgeSettings

logger = logging.getLogger(__name__)

MAX_BLOCKED = 10
NO_KEY_NEEDED = "EMPTY"  # sent to self-hosted servers that want no key


def judge_client_config(settings: JudgeSettings, judge_model: str, provider: str = OPENAI) -> ClientConfig:
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
    entry = provider_entry(provider)
    if not entry.openai_compatible:
        var = entry.key_var
        key = os.environ.get(var)
        if not key:
            raise MixEvalError(f"the judge {judge_model} is a {provider} model: set its key {var} in the environment "
                               "or .env (the variable the evaluated models of that provider use)")
        return ClientConfig(api_key=key, key_setting=var, **common)
    key = os.environ.get("MODEL_PARSER_API")
    if key:
        return ClientConfig(api_key=key, base_url=settings.api_base_url, key_setting="MODEL_PARSER_API", **common)
    if os.environ.get("OPENAI_API_TYPE", "").lower() == AZURE:
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
    """A judge backend on the shared chat client (see the module doc)."""

    mode = "live"

    def __init__(self, config: ClientConfig, request: Optional[JudgeRequest] = None, *, progress: bool = True,
                 blocked_pause: float = 1.0):
        request = request or JudgeRequest(config.model, style_known=True)
        self.client = ChatClient(config, make_provider(request.provider))
        self.name = config.model
        self.progress = progress
        self.blocked_pause = blocked_pause
        self.asked = Asked(f"the judge {self.name}", request)

    @property
    def request(self) -> JudgeRequest:
        """How the judge is asked now (its style may have switched once)."""
        return self.asked.request

    @property
    def reasons(self) -> Counter:
        """Every refusal's reason, as the server gave it."""
        return self.asked.reasons

    def complete(self, requests: list[tuple[str, list[dict[str, str]]]],
                 on_result: JudgedCallback, *, round_no: int = 1) -> None:
        try:
            _Round(self, on_result, round_no).run(requests)
        except APIConfigError as e:
            raise retired_or(e, self.name) from None

    def refusal_error(self, refused: int, asked: int, round_no: int, errors: Mapping[Any, APIBadRequestError], *,
                      first: bool = False) -> JudgeRefusedError:
        """The error that stops a run whose judge refuses the requests."""
        reason, status = refusal_quote(errors)
        sample = next(iter(errors.values()))
        where = f"the first {asked}" if first else f"{refused} of the {asked}"
        return JudgeRefusedError(
            f"the judge {self.name} at {self.client.base_url} refused {where} request(s) of round {round_no} "
            f"({status}); the server said: \"{reason}\". {refusal_advice(sample, self.request)} Nothing was scored "
            f"and no {SCORE_FILE} written; the judgments received so far are saved."
        )

    @property
    def stats(self) -> dict[str, Any]:
        return self.client.stats.as_dict()


class _Round(RefusalRules):
    """One `ApiJudge.complete` call: the refusal rules of every API model, a round's verdicts."""

    def __init__(self, judge: ApiJudge, on_result: JudgedCallback, round_no: int):
        super().__init__(judge.client, judge.asked, MAX_BLOCKED, progress=judge.progress, desc="judging")
        self.judge = judge
        self.on_result = on_result
        self.round_no = round_no

    def answer(self, key: Any, result: ChatResult) -> None:
        self.on_result(key, OK, result.text, usage_dict(result))

    def on_failure(self, key: Any, error: Exception) -> None:
        logger.warning("judge request %s failed: %s", key, error)  # judged again next round
        self.on_result(key, ERROR, None)

    def stop_error(self, refused: int, asked: int, errors: Mapping[Any, APIBadRequestError], *,
                   first: bool) -> Exception:
        return self.judge.refusal_error(refused, asked, self.round_no, errors, first=first)

    def on_style_switch(self, old: Any, new: Any, why: str) -> None:
        logger.warning("the judge %s refused the %s request style (server said: %s); asking it in the "
                       "%s style, which is recorded in %s", self.judge.name, old.style, why,
                       new.style, JUDGE_REPORT_FILE)

    def retrying(self, refused: int, attempt: int) -> None:
        logger.warning("%d judge request(s) refused by the API (HTTP 400); retrying (%d/%d)",
                       refused, attempt, MAX_BLOCKED)
        time.sleep(self.judge.blocked_pause)

    def give_up(self, key: Any, error: APIBadRequestError) -> None:
        self.on_result(key, BLOCKED, error.server_message)


def refusal_advice(error: APIBadRequestError, request: JudgeRequest) -> str:
    """What to do about a judge that refuses the requests."""
    if refused_too_long(error):
        return ("The judge prompts are longer than this judge's context: serve it with a longer context (vLLM: "
                "--max-model-len 8192 or more) or pick a judge with a longer one.")
    if error.code in STYLE_REFUSAL_CODES:
        return (f"The judge does not take the {request.describe()}; see README: Judging after GPT-3.5.")
    return "Check that this model can serve as a judge (README: Judging after GPT-3.5)."


def retired_or(error: APIConfigError, judge: str) -> MixEvalError:
    """The error of a judge the endpoint does not know: a retired judge's own message
    when the judge is known to be shut down, else ``error`` itself."""
    if error.status_code == 404:
        retired = retired_error(judge, error.base_url or "", error.server_message)
        if retired is not None:
            return retired
    return error
