"""The score table printed after a model is scored, boxed like the reference's PrettyTable."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

CI_HEADER = "95% CI"


def format_interval(low: float, high: float) -> str:
    """``[0.512, 0.563]``: an interval at the 3 decimals of the split scores."""
    return f"[{low:.3f}, {high:.3f}]"


def format_score(value: float) -> str:
    """A score at 3 decimals, as the split scores are: a combined score (kept unrounded in
    score.json, as the reference keeps it) is printed at the same precision as its parts."""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_table(scores: Mapping[str, float],
                 intervals: Optional[Mapping[str, tuple[float, float]]] = None) -> str:
    """A two-column table (Split, Score), with a third (95% CI) when intervals are given."""
    header = ["Split", "Score"] + ([CI_HEADER] if intervals is not None else [])
    rows = []
    for key, value in scores.items():
        row = [str(key), format_score(value)]
        if intervals is not None:
            row.append(format_interval(*intervals[key]) if key in intervals else "")
        rows.append(row)
    return format_grid(header, rows)


def format_grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A boxed table of any number of columns, each cell centred (the reference's look)."""
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) + 2 for i in range(len(header))]
    rule = "+" + "+".join("-" * w for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(c.center(w) for c, w in zip(cells, widths)) + "|"

    return "\n".join([rule, line(header), rule] + [line(r) for r in rows] + [rule])
