"""A retired judge, named as such: MixEval's own judge, gpt-3.5-turbo-0125, was shut down on 2026-10-23.

The date alone does not decide: an Azure deployment or a compatible server may still
serve a model under that name. So a judge the table of known judges
(`mix_eval.llm.known_judges`) calls shut down is asked about at its endpoint before
anything is generated or judged: ``GET /models/{id}`` (free), and where the endpoint
has no such route, one chat request of one token. Only a 404 stops the run, with one
message: which judge, since when, what the leaderboard's scores mean then, the
substitutes and the flags that pick one.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from mix_eval.errors import MixEvalError
from mix_eval.llm.known_judges import KNOWN_JUDGES, known_judge

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 10.0  # seconds for each of the two checks
SUGGESTED = ("gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-mini")  # substitutes offered (the first: OpenAI's own)


class RetiredJudgeError(MixEvalError):
    """The judge was shut down, and its endpoint confirms it."""


def retired_error(judge: str, url: str, server_message: Optional[str],
                  flags: tuple[str, ...] = ("--freeform_judge", "--multichoice_judge")) -> Optional[RetiredJudgeError]:
    """The message for ``judge`` when the table says it is shut down (None otherwise)."""
    known = known_judge(judge)
    if known is None or not known.retired():
        return None
    substitute = known.substitute or SUGGESTED[0]
    others = [m for m in SUGGESTED if m != substitute]
    price = KNOWN_JUDGES[substitute].price if substitute in KNOWN_JUDGES else None
    priced = f" (${price[0]:.2f} / ${price[1]:.2f} per million input / output tokens)" if price else ""
    said = f": {server_message}" if server_message else ""
    pick = " ".join(f"{flag} {substitute}" for flag in flags)
    return RetiredJudgeError(
        f"the judge {judge} was shut down by OpenAI on {known.shutdown.isoformat()}, and the judge API at {url} "
        f"confirms it (HTTP 404{said}). The MixEval leaderboard's scores were made by this judge; scores from "
        f"another judge are labelled with that judge and may differ (measure how much: python -m "
        f"mix_eval.calibrate). Pick a substitute: {pick} -- {substitute} is the one OpenAI names{priced}; "
        f"{' and '.join(others)} work too (README: Judging after GPT-3.5)."
    )


def endpoint_says_gone(config: Any) -> Optional[str]:
    """The server's 404 message when the endpoint says the model does not exist, else None."""
    import openai

    from mix_eval.llm.providers.openai import sdk_client

    client = sdk_client(config, asynchronous=False, api_key=config.api_key, max_retries=0, timeout=PROBE_TIMEOUT)
    try:
        client.models.retrieve(config.model)
        return None
    except openai.NotFoundError as e:
        body = e.body if isinstance(e.body, dict) else {}
        if body.get("code") == "model_not_found":
            return str(body.get("message") or e)
    except openai.OpenAIError:
        pass  # no such route, or no answer: ask the chat endpoint
    finally:
        client.close()
    return _chat_gone(config)


def _chat_gone(config: Any) -> Optional[str]:
    from dataclasses import replace

    from mix_eval.llm.pool import run_pool
    from mix_eval.llm.errors import APIConfigError, LLMClientError

    quick = replace(config, max_retries=0, timeout=PROBE_TIMEOUT, max_concurrency=1)
    try:
        run_pool(quick, [("probe", [{"role": "user", "content": "ping"}], {"max_tokens": 1})])
    except APIConfigError as e:
        if e.status_code == 404:
            return e.server_message or str(e)
    except LLMClientError:
        pass  # another problem: the run reports it in its own words
    return None
