"""Inline SVG bar charts, written by hand: no plotting library, no external resource.

`bar_chart` draws horizontal grouped bars on a 0-100 scale: one group per label
(a benchmark, or a benchmark's overall score), one bar per series (the run, then
leaderboard models), with an interval's whisker where one is known. The SVG scales to
its container (``viewBox``, width 100%), so it reads in a narrow window and prints.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Optional

WIDTH = 640
LABEL_W = 150  # left column: the group labels
RIGHT_PAD = 44  # room for the value after the longest bar
BAR_H = 13
BAR_GAP = 3
GROUP_GAP = 12
LEGEND_ROW = 18
AXIS_H = 22
PALETTE = ("#1f6feb", "#8c959f", "#bf8700", "#57606a", "#2da44e", "#cf222e", "#8250df", "#0a3069")


@dataclass
class Bar:
    value: Optional[float]  # 0-100; None: not published (no bar, a dash)
    low: Optional[float] = None
    high: Optional[float] = None


def _x(value: float) -> float:
    span = WIDTH - LABEL_W - RIGHT_PAD
    return LABEL_W + span * max(0.0, min(100.0, value)) / 100.0


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def bar_chart(title: str, series: list[str], groups: list[tuple[str, list[Bar]]], *, css_class: str = "chart") -> str:
    """An inline ``<svg>``: ``groups`` of bars, one bar per ``series`` name in order.

    Every text is HTML-escaped here; the first series is drawn in the accent colour.
    """
    legend_h = LEGEND_ROW * ((len(series) + 1) // 2) + 6
    group_h = len(series) * (BAR_H + BAR_GAP) - BAR_GAP
    height = legend_h + len(groups) * (group_h + GROUP_GAP) + AXIS_H
    out = [f'<svg class="{css_class}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>"]
    for i, name in enumerate(series):  # legend, two columns
        lx = 8 + (i % 2) * (WIDTH // 2)
        ly = 4 + (i // 2) * LEGEND_ROW
        out.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="{lx + 18}" y="{ly + 10}" font-size="12"{weight}>{escape(_short(name, 44))}</text>')
    top = legend_h
    bottom = height - AXIS_H
    for tick in (0, 25, 50, 75, 100):  # grid and axis
        x = _x(tick)
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d7de" stroke-width="1"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 15}" font-size="11" text-anchor="middle" '
                   f'fill="#57606a">{tick}</text>')
    y = top
    for label, bars in groups:
        out.append(f'<text x="{LABEL_W - 8}" y="{y + group_h / 2 + 4:.1f}" font-size="12" text-anchor="end">'
                   f"{escape(_short(label, 22))}</text>")
        for i, bar in enumerate(bars):
            by = y + i * (BAR_H + BAR_GAP)
            colour = PALETTE[i % len(PALETTE)]
            if bar.value is None:
                out.append(f'<text x="{LABEL_W + 4}" y="{by + BAR_H - 3}" font-size="10" fill="#57606a">'
                           "not published</text>")
                continue
            x_end = _x(bar.value)
            out.append(f'<rect x="{LABEL_W}" y="{by}" width="{max(x_end - LABEL_W, 0.5):.1f}" height="{BAR_H}" '
                       f'fill="{colour}"><title>{escape(series[i])}: {_fmt(bar.value)}</title></rect>')
            value_x = x_end
            if bar.low is not None and bar.high is not None:
                lo, hi = _x(bar.low), _x(bar.high)
                mid = by + BAR_H / 2
                out.append(f'<path d="M{lo:.1f} {mid:.1f}H{hi:.1f}M{lo:.1f} {by + 2}V{by + BAR_H - 2}'
                           f'M{hi:.1f} {by + 2}V{by + BAR_H - 2}" stroke="#24292f" stroke-width="1.5" fill="none"/>')
                value_x = max(value_x, hi)
            out.append(f'<text x="{value_x + 4:.1f}" y="{by + BAR_H - 3}" font-size="10">{_fmt(bar.value)}</text>')
        y += group_h + GROUP_GAP
    out.append("</svg>")
    return "".join(out)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
