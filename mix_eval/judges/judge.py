"""What the rounds need from a judge backend (the API judge live or through the Batch
API, a local model): the `Judge` protocol, the outcomes it reports for each
request, and the errors with which it stops a run."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Protocol

from mix_eval.errors import MixEvalError

if TYPE_CHECKING:
    from mix_eval.judges.request import JudgeRequest

__all__ = ["OK", "BLOCKED", "ERROR", "JudgedCallback", "Judge", "JudgeRefusedError",
           "JudgeUnavailableError"]

# The outcome of one request.
OK = "ok"  # a reply (its text; a verdict or not)
BLOCKED = "blocked"  # the API refused it as bad (HTTP 400), repeatedly: the reply is the server's reason
ERROR = "error"  # no reply (asked again next round)

JudgedCallback = Callable[..., None]  # (key, outcome, reply, usage=None)


class Judge(Protocol):
    """Answers judge requests. ``on_result(key, outcome, reply, usage=None)`` is called as
    each one finishes, with an outcome above; ``usage`` is the reply's
    ``{"prompt_tokens", "completion_tokens"}`` when the API reported it. Fatal problems (a
    bad key) raise instead. ``round_no`` says which round asks (0: a probe), so a backend
    that keeps requests across runs (the Batch API) tells a round's requests from the same
    messages asked again in a later round.

    ``mode``: one of `settings.JUDGE_MODES`, ``live`` or ``batch``: what the replies cost
    (the Batch API's half the live price), and whether a round that got no reply probes
    the judge (a batch that ran to its end shows the judge is up: no probe).
    ``request``: how an API judge is asked now, which may differ from how it was first
    asked (an unknown model asked in the other style); None for a local judge."""

    name: str
    mode: str
    request: Optional[JudgeRequest]

    def complete(
        self,
        requests: list[tuple[str, list[dict[str, str]]]],
        on_result: JudgedCallback,
        *,
        round_no: int = 1,
    ) -> None: ...


class JudgeUnavailableError(MixEvalError):
    """A whole round of judge requests got no answer at all: the judge is down.

    Random verdicts for every item (the reference's fallback) would be a silent
    random score, so the run stops instead; the journal keeps what was judged."""


class JudgeRefusedError(MixEvalError):
    """The judge refused (HTTP 400) the first requests of a round, or most of them: a
    judge that cannot take the requests, not a few blocked items. Nothing is scored."""
