"""What judging the reference responses will cost, said before the first judge call.

Tokens are estimated, not counted: the judge messages' characters at about four per
token (no tokenizer of an API judge is at hand), plus a short reply per request (the
protocol asks for brief reasoning and a verdict). One request per item: items the judge
must be asked again cost more, replies already journaled by an earlier run cost nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from mix_eval.judges.protocol import judge_messages, judged_response
from mix_eval.llm.pricing import Price, cost_usd, price_for
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

CHARS_PER_TOKEN = 4
REPLY_TOKENS = 60  # a brief reasoning and "[[verdict]]", as the protocol's examples answer


@dataclass
class CostEstimate:
    """The estimated tokens and dollars of one judge's requests."""

    judge: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    price: Optional[Price] = None  # live, per million tokens; None: unknown
    batch: bool = False

    @property
    def usd(self) -> Optional[float]:
        if self.price is None:
            return None
        return cost_usd(self.prompt_tokens, self.completion_tokens, self.price, batch=self.batch)


def estimate(judge: JudgeSettings, lines: Mapping[SplitKind, list[list[dict[str, Any]]]]) -> list[CostEstimate]:
    """One estimate per judge of asking it once about every response line (``lines[kind]``:
    the response files of that kind)."""
    found: dict[str, CostEstimate] = {}
    for kind, files in lines.items():
        name = judge.judge(kind)
        # a local judge costs nothing unless a price is given; an API judge at its known price
        price = None if judge.judge_model_id and judge.judge_price is None else price_for(name, judge.judge_price)
        entry = found.setdefault(name, CostEstimate(name, price=price, batch=judge.judge_mode == "batch"))
        for records in files:
            for record in records:
                messages = judge_messages(record, kind, judged_response(record, kind, False))
                chars = sum(len(m["content"]) for m in messages)
                entry.requests += 1
                entry.prompt_tokens += -(-chars // CHARS_PER_TOKEN)
                entry.completion_tokens += REPLY_TOKENS
    return list(found.values())


def describe(estimates: list[CostEstimate]) -> list[str]:
    """The lines printed before judging starts."""
    lines = []
    for e in estimates:
        tokens = f"~{e.prompt_tokens:,} input + ~{e.completion_tokens:,} output tokens"
        if e.price is None:
            money = ("price unknown, so no dollar figure (give the judge's live price with --judge_price "
                     "INPUT,OUTPUT)")
        else:
            mode = "Batch API, half the live price" if e.batch else "live"
            money = (f"about ${e.usd:.2f} ({mode}; live price ${e.price[0]:.2f} / ${e.price[1]:.2f} per million "
                     "input / output tokens)")
        lines.append(f"Estimated cost of judge {e.judge}: {e.requests:,} requests, {tokens}: {money}.")
    lines.append(f"Estimate: ~{CHARS_PER_TOKEN} characters per token, {REPLY_TOKENS} tokens per reply, one request "
                 "per item; replies already in the journal (an earlier run into this folder) cost nothing. A "
                 "reasoning judge also bills its hidden reasoning tokens as output, which this leaves out.")
    return lines
