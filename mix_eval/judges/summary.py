"""The judge reports as the scoring run prints them: one line per judged file, loud
when verdicts were not really judged."""
from __future__ import annotations

from typing import Iterable

from mix_eval.judges.report import JudgeReport

__all__ = ["judge_summary_lines"]


def judge_summary_lines(reports: Iterable[JudgeReport]) -> list[str]:
    """Human-readable summary; loud when verdicts were not really judged."""
    lines = []
    for r in reports:
        text = (
            f"{r.split.problem_type} judge {r.judge}: {r.items} items, {r.judge_calls} judge calls, "
            f"{r.reused} replies reused, {r.rounds} round(s)"
        )
        if r.prompt_tokens or r.completion_tokens or r.cost_usd is not None:
            text += f"; {r.prompt_tokens} prompt + {r.completion_tokens} completion tokens ({r.judge_mode})"
            text += f", ${r.cost_usd:.4f}" if r.cost_usd is not None else ", cost unknown (give --judge_price)"
        if r.blocked or r.random_fallback:
            text += (
                f"; WARNING: {r.blocked} blocked by the API and {r.random_fallback} never judged "
                "(given a random verdict)"
            )
        lines.append(text)
    return lines
