"""The API judge through the Batch API (`--judge_mode batch`): the requests of a round
go into batches instead of live calls; the rounds, verdicts, journal and judged files
are the runner's, exactly as in live mode.

Several judging jobs (every model of a `compute_metrics` run, both splits) may use one
`BatchApiJudge` at once, each from its own thread: a job is counted with `enroll()` and `leave()`, and its
requests wait in `complete` until every registered job is either waiting too or done;
then all of them go out together, in the same batch(es). Each job's ``on_result`` is
called (by the thread that runs the batch, while the job's own thread waits) before the
batch is marked collected, so a reply is journaled before the batch that bought it is
forgotten.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mix_eval.judges.api import usage_dict
from mix_eval.judges.judge import BLOCKED, ERROR, OK, JudgedCallback
from mix_eval.judges.protocol import messages_digest
from mix_eval.judges.request import JudgeRequest
from mix_eval.llm.batch_api import BatchAPI, BatchOutcome, BatchRequest
from mix_eval.llm.config import ClientConfig
from mix_eval.llm.providers.openai import request_body

logger = logging.getLogger(__name__)


@dataclass
class _Call:
    requests: list[tuple[str, list[dict[str, str]]]]
    on_result: JudgedCallback
    round_no: int
    finished: bool = False
    error: Optional[BaseException] = None
    items: list[BatchRequest] = field(default_factory=list)


class BatchApiJudge:
    """A judge backend on the Batch API (see the module doc); ``journal``: the batch
    journal, in the run's folder (batches carry the requests of several models)."""

    mode = "batch"

    def __init__(self, config: ClientConfig, journal: Path, request: Optional[JudgeRequest] = None, *,
                 progress: bool = True):
        self.name = config.model
        self.request = request or JudgeRequest(config.model, style_known=True)
        self.api = BatchAPI(config, journal, progress=progress)
        self._cond = threading.Condition()
        self._members = 0
        self._waiting: list[_Call] = []
        self._running = False

    def enroll(self) -> None:
        """Count one more job: batches wait for its requests until it calls `leave`.
        Enroll every job before any starts, so the first does not go out alone."""
        with self._cond:
            self._members += 1

    def leave(self) -> None:
        with self._cond:
            self._members -= 1
            self._cond.notify_all()

    def complete(self, requests: list[tuple[str, list[dict[str, str]]]],
                 on_result: JudgedCallback, *, round_no: int = 1) -> None:
        call = _Call(list(requests), on_result, round_no)
        with self._cond:
            self._waiting.append(call)
            self._cond.notify_all()
            while not call.finished:
                if not self._running and len(self._waiting) >= self._members:
                    group, self._waiting = self._waiting, []
                    self._running = True
                    break
                self._cond.wait()
            else:
                if call.error is not None:
                    raise call.error
                return
        try:
            self._send(group)
        except BaseException as e:
            for other in group:
                other.error = e
            raise
        finally:
            with self._cond:
                self._running = False
                for other in group:
                    other.finished = True
                self._cond.notify_all()

    def _send(self, group: list[_Call]) -> None:
        """One set of batches for every waiting job's requests."""
        owners: list[tuple[_Call, str]] = []
        items: list[BatchRequest] = []
        for call in group:
            for key, messages in call.requests:
                items.append(BatchRequest(
                    ident=f"{call.round_no}:{messages_digest(messages, self.request.identity)}",
                    body=request_body(self.name, messages, self.request.params())))
                owners.append((call, key))
        logger.info("judge %s: %d request(s) of %d job(s) through the Batch API", self.name, len(items), len(group))

        def deliver(index: int, outcome: BatchOutcome) -> None:
            call, key = owners[index]
            if outcome.result is not None:
                call.on_result(key, OK, outcome.result.text, usage_dict(outcome.result))
            elif outcome.status == 400:  # refused (a content filter): blocked, as after ten live 400s
                call.on_result(key, BLOCKED, outcome.error)
            else:
                logger.warning("judge request %s failed in its batch: %s", key, outcome.error)
                call.on_result(key, ERROR, None)

        self.api.run(items, deliver)

    @property
    def stats(self) -> dict[str, Any]:
        return {"batches_created": self.api.created}
