"""What a split's response file says about how the model answered: how many answers, how
many with thinking, how many cut off while thinking, and the tokens the model spent.

The response file is the truth (a status file's counts are the generation loop's running
tally): `check_eval_complete`, ``run_manifest.json`` and the report all count here, from
the lines, so the three say the same numbers. Tokens are the lines' own: ``usage``
(``prompt_tokens``, ``completion_tokens``, as the API reported them; OpenAI and Anthropic
count the thinking in the completion) and ``reasoning_tokens`` where the API counts them.
A file whose model did not think and whose lines carry no usage gives nothing to show.

An API model's tokens have a cost when its price is known: ``--model_price`` as its status
file recorded it, else the known models' table (`mix_eval.llm.pricing`); the tokens the
status file says the Batch API sold (its ``batch`` entry, ``--model_mode batch``) at half
that price. Else the cost is unknown (None), never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from mix_eval.llm.pricing import Price, cost_usd, priced
from mix_eval.records.jsonl import Mode, first_of_each_id, read_jsonl
from mix_eval.records.schema import keyed_line_problem
from mix_eval.responses import BATCH_STATUS_KEY
from mix_eval.thinking import CUT_OFF_KEY, REASONING_TOKENS_KEY, USAGE_KEY, cut_off_line, is_cut_off

__all__ = ["AnswerStats", "ModelCost", "is_api_model", "model_cost", "model_id", "read_answer_stats", "split_cost",
           "tally"]


def _count(value: Any) -> Optional[int]:
    """A token count as written in a line (an int >= 0), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class AnswerStats:
    """One split's answers, counted from its response lines (the first line of each id)."""

    answers: int = 0
    with_thinking: int = 0  # lines that carry the thinking keys (the model thought)
    cut_off: int = 0  # answers cut off while thinking
    prompt_tokens: int = 0  # summed over the lines with usage
    completion_tokens: int = 0
    reasoning_tokens: int = 0  # summed over the lines that count them
    with_usage: int = 0  # lines whose usage gave a token count
    with_reasoning_tokens: int = 0  # lines with a reasoning token count

    @property
    def thought(self) -> bool:
        """Whether there is thinking to show (the model thought, or an answer was cut off)."""
        return bool(self.with_thinking or self.cut_off)

    @property
    def has_tokens(self) -> bool:
        return bool(self.with_usage or self.with_reasoning_tokens)

    @property
    def cut_off_text(self) -> str:
        """"N of M answers cut off while thinking": the words every place uses."""
        return cut_off_line(self.cut_off, self.answers)

    def counts(self) -> dict[str, int]:
        """The counts as the status file and the manifest hold them."""
        return {"answers": self.answers, "with_thinking": self.with_thinking, "cut_off": self.cut_off}

    def tokens(self) -> dict[str, Optional[int]]:
        """The model's tokens as the manifest holds them (None: no line counted that kind)."""
        return {"prompt": self.prompt_tokens if self.with_usage else None,
                "completion": self.completion_tokens if self.with_usage else None,
                "reasoning": self.reasoning_tokens if self.with_reasoning_tokens else None,
                "answers_with_usage": self.with_usage}


def tally(lines: list[Mapping[str, Any]]) -> AnswerStats:
    """The stats of these response lines (one per item)."""
    thought = cut = prompt = completion = reasoning = with_usage = with_reasoning = 0
    for line in lines:
        thought += CUT_OFF_KEY in line
        cut += is_cut_off(line)
        usage = line.get(USAGE_KEY)
        if isinstance(usage, Mapping):
            p, c = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
            if p is not None or c is not None:
                with_usage += 1
                prompt += p or 0
                completion += c or 0
        r = _count(line.get(REASONING_TOKENS_KEY))
        if r is not None:
            with_reasoning += 1
            reasoning += r
    return AnswerStats(len(lines), thought, cut, prompt, completion, reasoning, with_usage, with_reasoning)


def read_answer_stats(path: Path) -> Optional[AnswerStats]:
    """The stats of a response file (None when there is no file). Lines a kill or another
    program damaged are left out, as the generation loop would redo them."""
    path = Path(path)
    if not path.is_file():
        return None
    content = read_jsonl(path, Mode.TOLERANT, check=keyed_line_problem)
    firsts, _ = first_of_each_id(content.lines)
    return tally([line.record for line in firsts])


# ---------------------------------------------------------------- what the tokens cost


def _spec(args: Mapping[str, Any]) -> Any:
    name = args.get("model_name")
    if not name:
        return None
    from mix_eval.models.catalog import get_spec

    return get_spec(str(name))


def is_api_model(args: Mapping[str, Any]) -> bool:
    """Whether a status file's model answered through an API (its catalog kind, or an endpoint given)."""
    spec = _spec(args)
    return (spec is not None and spec.kind == "api") or bool(args.get("model_base_url"))


def model_id(args: Mapping[str, Any]) -> Optional[str]:
    """The checkpoint or API model id a status file's model was: its flags, else the catalog's."""
    spec = _spec(args)
    path = args.get("model_path") or args.get("model_id")
    if not path and spec is not None and not spec.is_local:
        path = spec.model_id
    return str(path) if path else None


@dataclass(frozen=True)
class ModelCost:
    """What an API model's answers of a split cost (``usd`` None: the price is not known)."""

    usd: Optional[float]
    price: Optional[Price]  # live, dollars per million (input, output) tokens
    source: Optional[str]  # `mix_eval.llm.pricing.GIVEN` (--model_price) or `KNOWN`
    mode: str  # --model_mode of the run that wrote the status file: live or batch
    batch_tokens: int = 0  # the tokens (prompt and completion) the Batch API sold, at half the price
    tokens: int = 0  # all the split's tokens

    @property
    def through_batch(self) -> str:
        """"all", "part" or "" of the tokens bought through the Batch API."""
        if not self.batch_tokens:
            return ""
        return "all" if self.batch_tokens >= self.tokens else "part"

    def manifest(self) -> dict[str, Any]:
        """The keys a split's manifest entry holds of it."""
        return {"cost_usd": self.usd,
                "price": None if self.price is None else {"input": self.price[0], "output": self.price[1],
                                                          "from": self.source},
                "model_mode": self.mode}


def _batch_tokens(status: Mapping[str, Any]) -> tuple[int, int]:
    batch = status.get(BATCH_STATUS_KEY)
    batch = batch if isinstance(batch, Mapping) else {}
    return _count(batch.get("prompt_tokens")) or 0, _count(batch.get("completion_tokens")) or 0


def split_cost(prompt_tokens: int, completion_tokens: int, status: Mapping[str, Any], price: Price) -> float:
    """Dollars for a split's tokens at the live ``price``, those the status object says the
    Batch API sold at its price (a split may be made partly live, partly in batches)."""
    bp, bc = _batch_tokens(status)
    live = cost_usd(max(0, prompt_tokens - bp), max(0, completion_tokens - bc), price)
    return live + cost_usd(bp, bc, price, batch=True)


def model_cost(stats: AnswerStats, status_file: Mapping[str, Any]) -> Optional[ModelCost]:
    """The cost of a split's answers from its status file's ``args`` and ``status`` (None:
    not an API model, or no line counted tokens)."""
    args, status = (v if isinstance(v, Mapping) else {} for v in (status_file.get("args"), status_file.get("status")))
    if not stats.with_usage or not is_api_model(args):
        return None
    price, source = priced(model_id(args), args.get("model_price"))
    usd = None
    if price is not None:
        usd = round(split_cost(stats.prompt_tokens, stats.completion_tokens, status, price), 6)
    tokens = stats.prompt_tokens + stats.completion_tokens
    return ModelCost(usd, price, source, str(args.get("model_mode") or "live"), min(sum(_batch_tokens(status)), tokens),
                     tokens)
