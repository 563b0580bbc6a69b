"""``--model_mode batch``: an OpenAI model under evaluation answers through the Batch API.

The generation loop hands the model every pending item of a split at once
(`batch_size_for`); their requests, each the very body a live call sends
(`llm.providers.openai.request_body` with the model's parameters), go into batches on
`mix_eval.llm.batch_api.BatchAPI`, the machinery of batch judging: input files split
at the API's limits, a journal of every upload and batch (``.batch_journal_<split>.jsonl``
in the model's folder) so that a rerun after a kill at any step collects the batches
instead of buying them again, a failed or expired batch resubmitted only for what it
did not do, and a Ctrl-C that stops polling but leaves the batches running. The journal
also keeps every reply until the response file holds it (``keep_replies``).

A reply is read by the same provider ``parse`` and `mix_eval.thinking.answer_from_chat`
as a live one, so the response lines equal a live run's given the same replies. A
request the API refuses (HTTP 400 in the batch's error file) is answered with the
reference's refusal text, unless most of the split's requests are refused: then the
run stops quoting the server and writes no placeholder (a rerun asks those again). A
request that failed otherwise is left for the next run, as live.

Only OpenAI's own endpoint (or a server given with ``--model_base_url`` that speaks its
Batch API) can do this: `mix_eval.models.factory.check_model_mode` refuses any other
model before any work.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Union

from mix_eval.errors import ModelError
from mix_eval.folders import model_batch_journal_path
from mix_eval.llm.batch_api import BatchAPI, BatchOutcome, BatchRequest, journal_spend
from mix_eval.llm.errors import APIConfigError
from mix_eval.llm.providers.openai import request_body
from mix_eval.llm.refusals import most_refused
from mix_eval.responses import BATCH_STATUS_KEY
from mix_eval.thinking import Answer, answer_from_chat

logger = logging.getLogger(__name__)

__all__ = ["BatchGeneration", "batch_status"]

ALL_AT_ONCE = 10 ** 9  # the generation loop's batch size in batch mode: every pending item


def batch_status(version_dir: Path, split_name: str) -> dict[str, Any]:
    """The status object's entry for a split generated (in part) through the Batch API:
    ``{"batch": {"batches": [ids], "replies": R, "prompt_tokens": P, "completion_tokens": C}}``,
    the replies bought that way and their tokens (billed at `pricing.BATCH_DISCOUNT` of
    the live price); ``{}`` for a split generated live."""
    spend = journal_spend(model_batch_journal_path(version_dir, split_name))
    return {BATCH_STATUS_KEY: spend} if spend else {}


def request_ident(body: dict[str, Any]) -> str:
    """A request's name across runs: the digest of its body (the same body is the same
    request; a changed parameter is another)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class BatchGeneration:
    """The Batch API side of one `api_models.ChatAPIModel` (see the module doc): the generation
    loop says which split comes (`start_split`), then asks for all its answers at once."""

    def __init__(self, model: Any, refusal_text: str):
        self.model = model
        self.refusal_text = refusal_text  # a refused request's answer, as live
        self.journal: Optional[Path] = None

    def start_split(self, version_dir: Path, split_name: str) -> None:
        self.journal = model_batch_journal_path(version_dir, split_name)

    def respond(self, file_inputs: list[str]) -> list[Union[Answer, str, None]]:
        """Every input's answer: `Answer`, the refusal text, or None (failed: asked next run)."""
        if self.journal is None:
            raise ModelError("--model_mode batch keeps a journal in the model's folder: generate through "
                             "mix_eval.evaluate (or call start_split first)")
        model = self.model
        bodies = [request_body(model.model_name, model.get_messages(x), dict(model.params)) for x in file_inputs]
        requests = [BatchRequest(request_ident(body), body) for body in bodies]
        outcomes: dict[int, BatchOutcome] = {}
        api = BatchAPI(model.client.config, self.journal, keep_replies=True, desc="generating (batch)")
        logger.info("%s: %d request(s) through the Batch API (journal %s)", model.model_name, len(requests),
                    self.journal)
        try:
            api.run(requests, outcomes.__setitem__)
        except APIConfigError as e:
            if e.status_code == 404:
                raise ModelError(f"{e}; --model_mode batch needs a server with OpenAI's Batch API (/files, "
                                 "/batches): leave --model_mode out to call this one live") from None
            raise
        refused = {i: o for i, o in outcomes.items() if o.result is None and o.status == 400}
        if refused and most_refused(len(refused), len(requests)):
            raise self._refused_error(refused, len(requests))
        answers: list[Union[Answer, str, None]] = []
        failed = 0
        for i in range(len(requests)):
            outcome = outcomes[i]
            if outcome.result is not None:
                answers.append(answer_from_chat(outcome.result, model.tags))
            elif i in refused:
                answers.append(self.refusal_text)
            else:
                failed += 1
                model.failures[str(i)] = outcome.error or f"HTTP {outcome.status}"
                answers.append(None)
        if refused:
            logger.warning("%s: %d of %d request(s) refused by the API (HTTP 400) in the batch, answered with "
                           "the refusal text (%s)", model.model_name, len(refused), len(requests),
                           _most_common(refused))
        if failed:
            logger.warning("%s: %d request(s) failed in the batch (%s); a rerun asks just those", model.model_name,
                           failed, _most_common({i: o for i, o in outcomes.items() if i not in refused
                                                 and o.result is None}))
        return answers

    def _refused_error(self, refused: dict[int, BatchOutcome], asked: int) -> ModelError:
        sample = next(iter(refused.values()))
        where = f"the API of model {self.model.model_name} at {self.model.client.config.display_url}"
        return ModelError(
            f"{where} refused {len(refused)} of the {asked} requests of the batch (HTTP 400{' ' + sample.code if sample.code else ''}); the server "
            f"said: \"{_most_common(refused)}\". No placeholder answer was written; the replies received are kept "
            f"in {self.journal} and a rerun asks only the refused requests. Check the model's request parameters "
            "(--max_new_tokens, --reasoning_effort, --model_gen_kwargs).")


def _most_common(outcomes: dict[int, BatchOutcome]) -> str:
    reason, _ = Counter(o.error or f"HTTP {o.status}" for o in outcomes.values()).most_common(1)[0]
    return reason
