"""Requests the API refuses as bad (HTTP 400), asked again, and the rules that stop
asking: the one loop of the judge and the evaluated API models.

A refusal is often a content filter that may let the same request through next time,
so the reference asks a refused request again, a fixed number of times (the judge 10,
the API models 11), and then gives up on its item: a judge's item is "blocked", a
model's answer is its refusal text. `RefusalRetry` does this over the chat client;
its caller says, by overriding the hooks, what a reply, a failure and a given-up item
become. After a Ctrl-C nothing more is sent and nothing is given up: the next run asks again.

`RefusalRules` adds the rules both the judge and the API models keep, because a model
that cannot be asked must not be scored (its answers would all be placeholders):

* each distinct reason the server gives is logged once, as the server worded it;
* a model whose request style no table knows is asked once in the other style when the
  server refuses the first style's parameters (`mix_eval.llm.request`), and keeps it;
* when the first `FIRST_REQUESTS` requests are all refused, or more than half of the
  requests of an attempt's first sending are, the asking stops with the caller's error,
  quoting the server (`RefusalRules.stop_error`);
* a request longer than the model's context is refused the same way every time: given
  up at once, not asked again.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Optional

from mix_eval.llm.client import ChatClient
from mix_eval.llm.errors import APIBadRequestError
from mix_eval.llm.pool import run_pool
from mix_eval.llm.request import STYLE_REFUSAL_CODES, ChatRequest, too_long
from mix_eval.llm.results import ChatResult
from mix_eval.system.interrupt import STOP, until_stopped

__all__ = ["AskAgain", "FIRST_REQUESTS", "Pass", "RefusalRetry", "RefusalRules", "Asked", "refused_too_long",
           "server_reason"]

logger = logging.getLogger(__name__)

FIRST_REQUESTS = 10  # when this many first requests are all refused, asking stops

Request = tuple[Hashable, list[dict[str, str]]]  # (key, messages)


class AskAgain(Exception):
    """Raised by `RefusalRetry.on_refusal` when the request must be worded otherwise:
    after `RefusalRetry.on_ask_again`, the requests of the pass not answered yet are sent
    again at once, with the new `RefusalRetry.params`, in the same attempt."""


@dataclass
class Pass:
    """One sending of an attempt's requests (an attempt has several when asked again)."""

    attempt: int  # 1 to `RefusalRetry.attempts`
    asked: int  # requests sent in this pass
    answered: int = 0  # replies so far
    refused: dict[Hashable, APIBadRequestError] = field(default_factory=dict)


class RefusalRetry:
    """Send requests through ``client`` and send the refused ones again, up to
    ``attempts`` times in all; then `give_up` each one still refused."""

    def __init__(self, client: ChatClient, attempts: int, *, progress: bool = False, desc: str = "API requests"):
        self.client = client
        self.attempts = attempts
        self.progress = progress
        self.desc = desc

    # ---- hooks

    def params(self) -> Mapping[str, Any]:
        """The request parameters beside model and messages."""
        raise NotImplementedError

    def on_reply(self, key: Hashable, result: ChatResult) -> None:
        """A reply."""

    def on_failure(self, key: Hashable, error: Exception) -> None:
        """A request that failed after the client's own retries (not a refusal)."""

    def on_refusal(self, key: Hashable, error: APIBadRequestError, sent: Pass) -> None:
        """A refusal, as it comes (``sent.refused`` holds it already); may raise `AskAgain`,
        or an error that stops the asking."""

    def on_ask_again(self, why: AskAgain) -> None:
        """Change what `params` gives before the pass is sent again."""

    def after_attempt(self, refused: Mapping[Hashable, APIBadRequestError], asked: int, attempt: int) -> None:
        """After each attempt, before anything is given up; may raise to stop the asking."""

    def hopeless(self, error: APIBadRequestError) -> bool:
        """A refusal that asking again cannot change: given up at once."""
        return False

    def retrying(self, refused: int, attempt: int) -> None:
        """Before attempt ``attempt + 1`` sends the ``refused`` requests again."""

    def give_up(self, key: Hashable, error: APIBadRequestError) -> None:
        """A request refused every time (or hopelessly)."""
        raise NotImplementedError

    # ---- the loop

    def run(self, requests: list[Request]) -> None:
        pending = list(requests)
        refused: dict[Hashable, APIBadRequestError] = {}
        for attempt in range(1, self.attempts + 1):
            refused = self._send(pending, attempt)
            if STOP.requested:  # Ctrl-C: what was in flight is delivered; ask nothing more
                return
            self.after_attempt(refused, len(pending), attempt)
            for key, error in list(refused.items()):
                if self.hopeless(error):
                    self.give_up(key, error)
                    del refused[key]
            pending = [(k, m) for k, m in pending if k in refused]
            if not pending:
                return
            if attempt < self.attempts:
                self.retrying(len(pending), attempt)
        for key, _ in pending:
            self.give_up(key, refused[key])

    def _send(self, pending: list[Request], attempt: int) -> dict[Hashable, APIBadRequestError]:
        """Send ``pending`` once; return the refused ones."""
        while True:
            sent = Pass(attempt, len(pending))
            done: set[Hashable] = set()

            def deliver(key: Hashable, result: Any) -> None:
                if isinstance(result, ChatResult):
                    sent.answered += 1
                    done.add(key)
                    self.on_reply(key, result)
                elif isinstance(result, APIBadRequestError):
                    sent.refused[key] = result
                    self.on_refusal(key, result, sent)
                else:
                    done.add(key)
                    self.on_failure(key, result)

            params = self.params()
            try:
                run_pool(self.client, until_stopped((k, m, dict(params)) for k, m in pending), on_result=deliver,
                          progress=self.progress, desc=self.desc)
            except AskAgain as why:
                self.on_ask_again(why)
                pending = [(k, m) for k, m in pending if k not in done]
                continue
            return sent.refused


def most_refused(refused: int, asked: int) -> bool:
    """The rule that stops the asking: more than half of a sending refused (a model or a
    judge that cannot be asked), not a content filter's few."""
    return refused * 2 > asked


def refusal_quote(errors: Mapping[Hashable, APIBadRequestError]) -> tuple[str, str]:
    """What a stop quotes of the refusals: (the reason the server gave most often, as it
    worded it; the status and code, e.g. ``HTTP 400 invalid_request_error``)."""
    reason, _ = Counter(server_reason(e) for e in errors.values()).most_common(1)[0]
    sample = next(iter(errors.values()))
    return reason, f"HTTP {sample.status_code}{' ' + sample.code if sample.code else ''}"


def server_reason(error: APIBadRequestError) -> str:
    """A refusal's reason, as the server worded it."""
    return error.server_message or str(error)


def refused_too_long(error: APIBadRequestError) -> bool:
    """Whether the server refused the request as longer than the model's context."""
    return too_long(error.code, error.server_message)


class _StyleRefused(AskAgain):
    """The server refused the style's parameters: ask again in the other style."""


@dataclass
class Asked:
    """What one model (a judge or a model under evaluation) was asked and answered, over
    the asking's lifetime: its request (switched in place when the style changes), the
    refusals' reasons, and the answers and refusals before its first answer."""

    label: str  # "the judge gpt-4.1-mini", "the model gpt_4o": for messages
    request: Any  # a `ChatRequest` (or what offers its params, can_switch_style and other_style)
    reasons: Counter = field(default_factory=Counter)
    answered: int = 0
    refused_before_answer: int = 0
    switched_from: Optional[str] = None  # the style refused before the style in use, if any
    switch_reason: Optional[str] = None  # what the server said of it


class RefusalRules(RefusalRetry):
    """`RefusalRetry` with the rules of the module doc over an `Asked`.

    ``first_over_life``: the first-requests rule counts the requests of the asking's whole
    life until its first answer (a model under evaluation, asked one batch at a time);
    otherwise those of each sending (a judge's round). ``min_half``: the smallest sending
    the more-than-half rule applies to."""

    first_over_life = False
    min_half = 1

    def __init__(self, client: ChatClient, asked: Asked, attempts: int, *, progress: bool = False,
                 desc: str = "API requests"):
        super().__init__(client, attempts, progress=progress, desc=desc)
        self.asked = asked

    # ---- what the caller says

    def answer(self, key: Hashable, result: ChatResult) -> None:
        """A reply."""
        raise NotImplementedError

    def stop_error(self, refused: int, asked: int, errors: Mapping[Hashable, APIBadRequestError], *,
                   first: bool) -> Exception:
        """The error that stops the asking (the rules above)."""
        raise NotImplementedError

    def on_style_switch(self, old: ChatRequest, new: ChatRequest, why: str) -> None:
        """After the request style changed (logged by the caller)."""

    # ---- the rules

    def params(self) -> Mapping[str, Any]:
        return self.asked.request.params()

    def on_reply(self, key: Hashable, result: ChatResult) -> None:
        self.asked.answered += 1
        self.answer(key, result)

    def note_refusal(self, error: APIBadRequestError) -> None:
        """Count a refusal's reason; log it the first time it is given."""
        reason = server_reason(error)
        self.asked.reasons[reason] += 1
        if self.asked.reasons[reason] == 1:
            logger.warning("%s refused a request (HTTP %s%s): %s", self.asked.label, error.status_code,
                           f" {error.code}" if error.code else "", reason)

    def on_refusal(self, key: Hashable, error: APIBadRequestError, sent: Pass) -> None:
        if self.asked.request.can_switch_style and error.code in STYLE_REFUSAL_CODES:
            raise _StyleRefused(server_reason(error))
        self.note_refusal(error)
        asked = self.asked
        if not asked.answered:
            asked.refused_before_answer += 1
        if self.first_over_life:
            if not asked.answered and asked.refused_before_answer >= FIRST_REQUESTS:
                raise self.stop_error(asked.refused_before_answer, asked.refused_before_answer, sent.refused,
                                      first=True)
        elif sent.attempt == 1 and not sent.answered and len(sent.refused) >= min(FIRST_REQUESTS, sent.asked):
            raise self.stop_error(len(sent.refused), len(sent.refused), sent.refused, first=True)

    def on_ask_again(self, why: AskAgain) -> None:
        old = self.asked.request
        self.asked.request = old.other_style()
        self.asked.switched_from, self.asked.switch_reason = old.style, str(why)
        self.on_style_switch(old, self.asked.request, str(why))

    def after_attempt(self, refused: Mapping[Hashable, APIBadRequestError], asked: int, attempt: int) -> None:
        if attempt == 1 and asked >= self.min_half and most_refused(len(refused), asked):
            raise self.stop_error(len(refused), asked, refused, first=False)

    def hopeless(self, error: APIBadRequestError) -> bool:
        return refused_too_long(error)  # refused the same way every time
