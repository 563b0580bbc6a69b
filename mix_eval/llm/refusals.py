"""Requests the API refuses as bad (HTTP 400), asked again: the one loop of the judge
and the evaluated API models.

A refusal is often a content filter that may let the same request through next time,
so the reference asks a refused request again, a fixed number of times (the judge 10,
the API models 11), and then gives up on its item: a judge's item is "blocked", a
model's answer is its refusal text. `RefusalRetry` does this over the chat client;
its caller says, by overriding the hooks, what a reply, a failure and a given-up item
become, and which refusals end the asking early (the judge's rules, `mix_eval.judges.api`).
After a Ctrl-C nothing more is sent and nothing is given up: the next run asks again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping

from mix_eval.llm.pool import run_pool
from mix_eval.llm.client import ChatClient
from mix_eval.llm.errors import APIBadRequestError
from mix_eval.llm.results import ChatResult
from mix_eval.system.interrupt import STOP, until_stopped

__all__ = ["AskAgain", "Pass", "RefusalRetry"]

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
