"""What judging one file took and how reliable its verdicts are: `JudgeReport`, with
its tokens and cost, as ``judge_report.json`` (beside ``score.json``) holds it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from mix_eval.llm.pricing import Price, cost_usd
from mix_eval.splits import SplitKind

__all__ = ["REPORT_COUNTS", "JudgeReport", "report_dict"]

# judge_report.json's counts of a split, in their order
REPORT_COUNTS = ("judge", "items", "judge_calls", "reused", "rounds", "blocked", "random_fallback", "invalid_replies")


@dataclass
class JudgeReport:
    """What judging one file took and how reliable its verdicts are."""

    split: SplitKind
    judge: str
    items: int = 0
    judge_calls: int = 0  # requests answered by the backend in this run
    reused: int = 0  # replies replayed from the journal or an earlier judged file
    rounds: int = 0
    blocked: int = 0
    random_fallback: int = 0
    invalid_replies: int = 0  # replies without a valid verdict (retried)
    # Not in as_dict's first keys: tokens of the replies behind the file, by the mode that
    # bought them; the live price (None: unknown); the mode when no reply says its own.
    tokens: dict[str, list[int]] = field(default_factory=dict)
    price: Optional[Price] = None
    default_mode: str = "live"
    request: dict[str, Any] = field(default_factory=dict)  # how the judge was asked (provider, style, params)
    calls: list[str] = field(default_factory=list)  # first and last call times (UTC) of the replies behind it

    def tally(self, entry: Mapping[str, Any]) -> None:
        """Count the tokens and the mode of one journal entry the judged file rests on."""
        at = entry.get("at")
        if isinstance(at, str):
            self.calls = [min(self.calls[0], at), max(self.calls[1], at)] if self.calls else [at, at]
        mode = entry.get("mode")
        if mode not in ("live", "batch"):
            return
        usage = entry.get("usage") or {}
        counts = self.tokens.setdefault(mode, [0, 0])
        counts[0] += _tokens(usage.get("prompt_tokens"))
        counts[1] += _tokens(usage.get("completion_tokens"))

    @property
    def judge_mode(self) -> str:
        modes = sorted(self.tokens)
        if not modes:
            return self.default_mode
        return modes[0] if len(modes) == 1 else "mixed"

    @property
    def prompt_tokens(self) -> int:
        return sum(c[0] for c in self.tokens.values())

    @property
    def completion_tokens(self) -> int:
        return sum(c[1] for c in self.tokens.values())

    @property
    def cost_usd(self) -> Optional[float]:
        """Dollars for the tokens at the judge's price (halved for batch), None when unknown."""
        if self.price is None:
            return None
        return round(sum(cost_usd(p, c, self.price, batch=mode == "batch") for mode, (p, c) in self.tokens.items()),
                     10)

    def counts(self) -> dict[str, Any]:
        """The split by its judged-file tag (``ff``, ``mp``) and the counts: all that a derived
        folder's judge_report.json holds (no call was made for it; a count its source cannot
        tell is None)."""
        return {"split": self.split.tag, **{name: getattr(self, name) for name in REPORT_COUNTS}}

    def as_dict(self) -> dict[str, Any]:
        """As judge_report.json holds it: the counts, then the mode, tokens, cost and request."""
        return {**self.counts(), "judge_mode": self.judge_mode,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd, **self.request,
                "first_call": self.calls[0] if self.calls else None,
                "last_call": self.calls[1] if self.calls else None}


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def report_dict(reports: Mapping[str, JudgeReport]) -> dict[str, Any]:
    """judge_report.json's content: each split's report under its label."""
    return {name: r.as_dict() for name, r in reports.items()}
