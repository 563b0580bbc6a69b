"""The OpenAI Batch API (and Azure OpenAI's global batch): chat requests answered
within 24 hours at half the price, outside the per-minute rate limits.

`BatchAPI.run` takes requests (an identity and the very body a live call sends), writes
them into JSONL input files (``custom_id``, ``method``, ``url``, ``body``; at most
50,000 requests or 200 MB per file), uploads each (``purpose="batch"``), creates a batch
on the chat completions endpoint with a 24 h window, polls until every batch ends (a
progress bar from the batches' request counts), downloads the output and error files
and hands each request its outcome, matched by ``custom_id``.

Nothing is paid twice. A journal (JSONL, each line forced to disk) records every step
before or as it happens: the requests of an input file and its id once uploaded, that
a batch is being created from it, the batch id once created, and when its results were
handed over. A rerun after a kill at any moment reads it and collects the batches that
exist instead of creating others for the same requests: a batch whose creation was
cut off is looked up among the account's batches by its input file. A Ctrl-C stops
polling but leaves the batches running (they are paid for); the rerun collects them.
A batch that failed, expired or was cancelled hands over what it completed, and only
the rest is submitted again.

With ``keep_replies`` the journal also keeps every reply (the output line's response)
before its batch is marked collected, and a rerun hands a request its kept reply
instead of asking again: for a caller that saves the replies only once all of them
are in (an evaluated model's response file), so a kill between the download and that
save costs nothing. Refusals and failures are not kept: a rerun asks them again.
"""
from __future__ import annotations

import io
import json
import logging
import os
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from mix_eval.llm.config import ClientConfig
from mix_eval.llm.errors import APIAuthError, APIConfigError, TransientAPIError
from mix_eval.llm.results import ChatResult
from mix_eval.records.jsonl import Mode, cut_torn_tail, read_jsonl
from mix_eval.system.files import append_lines_durably
from mix_eval.system.interrupt import STOP

logger = logging.getLogger(__name__)

__all__ = ["BatchAPI", "BatchOutcome", "BatchRequest", "journal_spend", "poll_interval_from_env"]

MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200 * 1024 * 1024
COMPLETION_WINDOW = "24h"
POLL_ENV = "MIX_EVAL_BATCH_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 30.0
TERMINAL = ("completed", "failed", "expired", "cancelled")
CREATE_ATTEMPTS = 4
TRANSFER_TIMEOUT = 900.0  # seconds for an upload or a download (files of up to 200 MB)
MAX_FRUITLESS = 3  # batches in a row that end with nothing done: stop, naming the last one's errors


def poll_interval_from_env() -> float:
    """Seconds between two polls of a batch: ``MIX_EVAL_BATCH_POLL_SECONDS``, else 30."""
    text = os.environ.get(POLL_ENV)
    if not text:
        return DEFAULT_POLL_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise APIConfigError(f"{POLL_ENV}={text!r} is not a number of seconds >= 0")
    return value


@dataclass(frozen=True)
class BatchRequest:
    """One request: ``ident`` names it across runs (the same ident is the same request,
    asked for the same purpose), ``body`` is the chat completion body."""

    ident: str
    body: dict[str, Any]


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch made of one request: a reply, or the HTTP status, message and code of
    its error (``status`` 400: the API refused the request; others: it failed)."""

    result: Optional[ChatResult] = None
    status: Optional[int] = None
    error: Optional[str] = None
    code: Optional[str] = None


_EVENT_FIELDS = {"file": ("file_id", "requests"), "creating": ("file_id",), "batch": ("batch_id", "file_id"),
                 "reply": ("ident", "response"), "done": ("batch_id",)}


def _event_problem(event: Any) -> Optional[str]:
    if not isinstance(event, dict) or event.get("event") not in _EVENT_FIELDS:
        return "not a batch journal event"
    missing = [k for k in _EVENT_FIELDS[event["event"]] if k not in event]
    if missing:
        return f"lacks {', '.join(missing)}"
    wrong = [k for k in ("file_id", "batch_id", "ident") if k in event and not isinstance(event[k], str)]
    if "requests" in event and not (isinstance(event["requests"], list)
                                    and all(isinstance(r, str) for r in event["requests"])):
        wrong.append("requests")
    if "time" in event and (isinstance(event["time"], bool) or not isinstance(event["time"], (int, float))):
        wrong.append("time")
    return f"has a {wrong[0]} of the wrong type" if wrong else None


class _Journal:
    """The batch journal: which input files and batches carry which requests."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.files: dict[str, list[str]] = {}  # input file id -> request idents, in line order
        self.creating: dict[str, float] = {}  # input file id -> when a batch was asked for
        self.batches: dict[str, str] = {}  # batch id -> input file id, in creation order
        self.done: set[str] = set()  # batches whose results were handed over
        self.replies: dict[str, list[dict[str, Any]]] = defaultdict(list)  # ident -> kept responses (keep_replies)
        if self.path.exists():
            content = read_jsonl(self.path, Mode.TOLERANT, check=_event_problem)
            cut_torn_tail(content)  # a torn last line from a kill: that step is done again
            for bad in content.bad:
                logger.warning("%s, %s: skipping an unreadable batch journal line (%s)", self.path, bad.where(),
                               bad.problem)
            for line in content.lines:
                self._apply(line.record)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "file":
            self.files[event["file_id"]] = list(event["requests"])
        elif kind == "creating":
            self.creating[event["file_id"]] = float(event.get("time", 0))
        elif kind == "batch":
            self.batches[event["batch_id"]] = event["file_id"]
            self.creating.pop(event["file_id"], None)
        elif kind == "reply":
            self.replies[event["ident"]].append(event["response"])
        elif kind == "done":
            self.done.add(event["batch_id"])

    def add(self, **event: Any) -> None:
        self.add_all([event])

    def add_all(self, events: list[dict[str, Any]]) -> None:
        """Append events, forced to disk together."""
        if not events:
            return
        now = time.time()
        for event in events:
            event.setdefault("time", now)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_lines_durably(self.path, [json.dumps(event) for event in events])
        for event in events:
            self._apply(event)


def journal_spend(path: Path) -> Optional[dict[str, Any]]:
    """What a batch journal kept with ``keep_replies`` says was bought: the batch ids in
    creation order, and the replies with their tokens (as the API counted them); None
    when there is no journal or it names no batch."""
    if not Path(path).exists():
        return None
    journal = _Journal(path)
    if not journal.batches:
        return None
    replies = [r for kept in journal.replies.values() for r in kept]
    tokens = {"prompt_tokens": 0, "completion_tokens": 0}
    for response in replies:
        usage = (response.get("body") or {}).get("usage") if isinstance(response, dict) else None
        for name in tokens:
            value = usage.get(name) if isinstance(usage, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                tokens[name] += value
    return {"batches": list(journal.batches), "replies": len(replies), **tokens}


class BatchAPI:
    """Requests through the Batch API of an OpenAI(-compatible) or Azure OpenAI server.

    ``journal``: the batch journal's path (see the module doc). ``url``: the endpoint the
    input lines name (OpenAI ``/v1/chat/completions``, Azure ``/chat/completions``).
    """

    def __init__(self, config: ClientConfig, journal: Path, *, poll_interval: Optional[float] = None,
                 progress: bool = True, max_requests: int = MAX_REQUESTS_PER_FILE,
                 max_bytes: int = MAX_BYTES_PER_FILE, keep_replies: bool = False, desc: str = "judging (batch)"):
        self.config = config
        self.journal = _Journal(journal)
        self.poll_interval = poll_interval_from_env() if poll_interval is None else poll_interval
        self.progress = progress
        self.keep_replies = keep_replies
        self.desc = desc
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.url = "/chat/completions" if config.is_azure else "/v1/chat/completions"
        self._sdk: Any = None
        self.created = 0  # batches this object created
        self._last_errors = "no errors given"  # why the last batch that left requests undone did

    # ---- the SDK

    @property
    def sdk(self) -> Any:
        if self._sdk is None:
            from mix_eval.llm.providers.openai import sdk_client

            self._sdk = sdk_client(self.config, asynchronous=False, api_key=self.config.api_key, max_retries=5,
                                   timeout=max(self.config.timeout, 120.0))
        return self._sdk

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One Batch API call, its SDK errors turned into the client's error classes."""
        import openai

        cfg = self.config
        where = f"the {cfg.label} at {cfg.display_url}"
        try:
            return fn(*args, **kwargs)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise APIAuthError(f"{where} refused the key in {cfg.key_setting} while {what} (HTTP "
                               f"{e.status_code}); check the key", status_code=e.status_code,
                               base_url=cfg.display_url) from None
        except openai.NotFoundError:
            hint = (" (Azure: the deployment must be a global-batch deployment, and the API version one "
                    "with batch support)" if cfg.is_azure else "")
            raise APIConfigError(f"{where} answered HTTP 404 while {what}: it offers no Batch API there"
                                 f"{hint}", status_code=404, base_url=cfg.display_url) from None
        except openai.APIStatusError as e:
            raise TransientAPIError(f"{where} answered HTTP {e.status_code} while {what}: {e.message}; "
                                    "rerun the same command: the batches submitted so far are collected, "
                                    "not paid again", status_code=e.status_code, base_url=cfg.display_url) from None
        except openai.APIError as e:
            raise TransientAPIError(f"{where} could not be reached while {what} ({type(e).__name__}); rerun "
                                    "the same command: the batches submitted so far are collected, not paid "
                                    "again", base_url=cfg.display_url) from None

    # ---- the work

    def run(self, requests: list[BatchRequest], deliver: Callable[[int, BatchOutcome], None]) -> None:
        """Get every request answered: ``deliver(index, outcome)`` once per request, as its
        batch's results come in. Raises `StopRequested` after a Ctrl-C (the batches go on
        at the API; a rerun with the same requests collects them)."""
        pending = set(range(len(requests)))
        if self.keep_replies:
            self._reuse(requests, pending, deliver)
        fruitless = 0
        while pending:
            active = self._assign(requests, pending)
            before = len(pending)
            self._collect(requests, active, pending, deliver)
            fruitless = fruitless + 1 if len(pending) == before else 0
            if pending and fruitless >= MAX_FRUITLESS:
                raise TransientAPIError(
                    f"{fruitless} batches in a row at {self.config.display_url} ended without a single "
                    f"result ({self._last_errors}); fix the cause and rerun the same command")

    def _reuse(self, requests: list[BatchRequest], pending: set[int],
               deliver: Callable[[int, BatchOutcome], None]) -> None:
        """Hand each request a reply the journal kept for its ident (each kept reply once)."""
        kept = {ident: deque(responses) for ident, responses in self.journal.replies.items()}
        reused = 0
        for i in sorted(pending):
            queue = kept.get(requests[i].ident)
            if queue:
                outcome = self._outcome({"response": queue.popleft()})
                if outcome is not None and outcome.result is not None:
                    deliver(i, outcome)
                    pending.discard(i)
                    reused += 1
        if reused:
            logger.info("%d request(s) answered from the replies kept in %s (bought before)", reused,
                        self.journal.path)

    def _assign(self, requests: list[BatchRequest], pending: set[int]) -> dict[str, list[Optional[int]]]:
        """Batches to collect, each with the request index of each of its lines (None: a
        line no longer asked for): the journal's unfinished batches first, then new ones."""
        free: dict[str, deque[int]] = defaultdict(deque)
        for i in sorted(pending):
            free[requests[i].ident].append(i)

        def take(idents: list[str]) -> list[Optional[int]]:
            return [free[ident].popleft() if free.get(ident) else None for ident in idents]

        active: dict[str, list[Optional[int]]] = {}
        j = self.journal
        for batch_id, file_id in j.batches.items():
            if batch_id not in j.done:
                lines = take(j.files.get(file_id, []))
                if any(i is not None for i in lines):
                    active[batch_id] = lines
                    logger.info("resuming batch %s (%d requests)", batch_id, sum(i is not None for i in lines))
        for file_id in list(j.creating):  # a creation cut off: did the batch come to be?
            found = self._find_batch(file_id, j.creating[file_id])
            if found is not None:
                j.add(event="batch", batch_id=found, file_id=file_id)
                lines = take(j.files.get(file_id, []))
                if any(i is not None for i in lines):
                    active[found] = lines
                    logger.info("found batch %s, whose creation was interrupted", found)
                continue
            idents = j.files.get(file_id, [])
            if idents and all(len(free.get(x, ())) >= n for x, n in Counter(idents).items()):
                active[self._create(file_id)] = take(idents)
            else:
                j.creating.pop(file_id)
        rest = [i for queue in free.values() for i in queue]
        for chunk in self._chunks(sorted(rest), requests):
            file_id = self._upload([requests[i] for i in chunk])
            active[self._create(file_id)] = list(chunk)
        return active

    def _chunks(self, indices: list[int], requests: list[BatchRequest]) -> Iterator[list[int]]:
        chunk: list[int] = []
        size = 0
        for i in indices:
            n = len(self._line(len(chunk), requests[i]))
            if chunk and (len(chunk) >= self.max_requests or size + n > self.max_bytes):
                yield chunk
                chunk, size = [], 0
                n = len(self._line(0, requests[i]))
            chunk.append(i)
            size += n
        if chunk:
            yield chunk

    def _line(self, position: int, request: BatchRequest) -> bytes:
        line = {"custom_id": f"request-{position}", "method": "POST", "url": self.url, "body": request.body}
        return (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")

    def _upload(self, chunk: list[BatchRequest]) -> str:
        data = b"".join(self._line(n, r) for n, r in enumerate(chunk))
        name = f"mix_eval_batch_{int(time.time())}_{len(chunk)}.jsonl"
        uploaded = self._call("uploading a batch input file", self.sdk.files.create,
                              file=(name, io.BytesIO(data), "application/jsonl"), purpose="batch",
                              timeout=TRANSFER_TIMEOUT)
        self.journal.add(event="file", file_id=uploaded.id, requests=[r.ident for r in chunk])
        logger.info("uploaded %s: %d requests, %.1f MB", uploaded.id, len(chunk), len(data) / 1e6)
        return uploaded.id

    def _create(self, file_id: str) -> str:
        """A batch from an uploaded file. The SDK does not retry this call: a create whose
        answer was lost may have made the batch, so it is looked up before asking again."""
        self.journal.add(event="creating", file_id=file_id)
        since = time.time()
        for attempt in range(CREATE_ATTEMPTS):
            try:
                extra = {} if self.config.is_azure else {"metadata": {"created_by": "mix_eval"}}
                batch_id = self._call("creating a batch", self.sdk.with_options(max_retries=0).batches.create,
                                      input_file_id=file_id, endpoint=self.url,
                                      completion_window=COMPLETION_WINDOW, **extra).id
                self.created += 1
                break
            except TransientAPIError:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(min(30.0, 2.0 ** attempt))
                found = self._find_batch(file_id, since)
                if found is not None:
                    batch_id = found
                    break
        self.journal.add(event="batch", batch_id=batch_id, file_id=file_id)
        logger.info("created batch %s from %s", batch_id, file_id)
        return batch_id

    def _find_batch(self, file_id: str, since: float) -> Optional[str]:
        """The batch made from ``file_id``, if its creation reached the API (newest first;
        the search stops at batches older than the attempt)."""
        for batch in self._call("listing batches", self.sdk.batches.list, limit=100):
            if batch.input_file_id == file_id:
                return batch.id
            if batch.created_at and batch.created_at < since - 3600:
                break
        return None

    def _collect(self, requests: list[BatchRequest], active: dict[str, list[Optional[int]]],
                 pending: set[int], deliver: Callable[[int, BatchOutcome], None]) -> None:
        """Poll the batches until each ends, handing over each one's results as it ends."""
        bar = None
        if self.progress and active:
            from tqdm.auto import tqdm

            bar = tqdm(total=sum(sum(i is not None for i in lines) for lines in active.values()),
                       desc=self.desc, unit="req", dynamic_ncols=True)
        counts: dict[str, int] = {}
        try:
            waiting = dict(active)
            while waiting:
                for batch_id in list(waiting):
                    batch = self._call(f"polling batch {batch_id}", self.sdk.batches.retrieve, batch_id)
                    rc = batch.request_counts
                    counts[batch_id] = (rc.completed + rc.failed) if rc is not None else 0
                    if batch.status in TERMINAL:
                        self._hand_over(requests, batch, waiting.pop(batch_id), pending, deliver)
                if bar is not None:
                    bar.n = min(bar.total, sum(counts.values()))
                    bar.set_postfix_str(f"{len(waiting)} batch(es) running", refresh=False)
                    bar.refresh()
                if waiting:
                    if STOP.requested:
                        logger.warning("stopped polling; batch(es) %s keep running at the API (they are paid "
                                       "for): rerun the same command to collect them", ", ".join(waiting))
                        STOP.check()
                    time.sleep(self.poll_interval)
        finally:
            if bar is not None:
                bar.close()

    def _download(self, file_id: Optional[str]) -> list[dict[str, Any]]:
        if not file_id:
            return []
        content = self._call(f"downloading {file_id}", self.sdk.files.content, file_id, timeout=TRANSFER_TIMEOUT)
        lines = []
        for raw in content.text.splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                logger.warning("skipping an unreadable line of batch file %s", file_id)
        return lines

    def _hand_over(self, requests: list[BatchRequest], batch: Any, lines: list[Optional[int]], pending: set[int],
                   deliver: Callable[[int, BatchOutcome], None]) -> None:
        """Deliver a finished batch's results; what it did not do stays pending."""
        outcomes: dict[int, BatchOutcome] = {}
        kept: list[dict[str, Any]] = []
        for record in self._download(batch.output_file_id) + self._download(batch.error_file_id):
            try:
                position = int(str(record.get("custom_id", "")).rsplit("-", 1)[-1])
            except ValueError:
                continue
            if not 0 <= position < len(lines) or lines[position] is None:
                continue
            outcome = self._outcome(record)
            if outcome is not None:
                outcomes[position] = outcome
                if self.keep_replies and outcome.result is not None and lines[position] in pending:
                    kept.append({"event": "reply", "ident": requests[lines[position]].ident,
                                 "response": record["response"]})
        self.journal.add_all(kept)  # on disk before anyone is handed a reply
        for position, outcome in sorted(outcomes.items()):
            index = lines[position]
            if index in pending:
                deliver(index, outcome)
                pending.discard(index)
        missing = sum(1 for i in lines if i is not None and i in pending)
        if batch.status != "completed" or missing:
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            self._last_errors = "; ".join(f"{e.code}: {e.message}" for e in errors) or f"status {batch.status}"
            logger.warning("batch %s ended %s with %d request(s) not done (%s); they are submitted again",
                           batch.id, batch.status, missing, self._last_errors)
        self.journal.add(event="done", batch_id=batch.id, status=batch.status)

    def _outcome(self, record: dict[str, Any]) -> Optional[BatchOutcome]:
        """One output or error line: a reply, a refusal or failure, or None (not done:
        expired or cancelled before it ran)."""
        response = record.get("response")
        if not isinstance(response, dict):
            return None
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, dict):
            from openai.types.chat import ChatCompletion

            from mix_eval.llm.providers.openai import OpenAIProvider

            try:
                return BatchOutcome(result=OpenAIProvider().parse(ChatCompletion.model_validate(body)))
            except Exception as e:  # noqa: BLE001 - a malformed reply is a failed request
                return BatchOutcome(status=200, error=f"malformed reply ({type(e).__name__})")
        message = code = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = body["error"].get("message")
            code = body["error"].get("code") or body["error"].get("type")
        return BatchOutcome(status=status if isinstance(status, int) else None, error=message or f"HTTP {status}",
                            code=str(code) if code else None)
