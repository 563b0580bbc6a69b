"""The report as GitHub-flavoured Markdown: headings, tables and quotes, no HTML.

Values read from files are escaped so that a model name cannot open a tag, a link or
a table cell (`escape_md`)."""
from __future__ import annotations

import re

from mix_eval.folders import SAMPLES_FILE
from mix_eval.reporting.content import (
    CALIBRATION_HEADING,
    CHART_HEADING,
    CUT_OFF_HEADING,
    FACTS_HEADING,
    JUDGE_HEADING,
    MODEL_HEADING,
    NOT_COMPARABLE,
    NOT_COMPARABLE_TAIL,
    SAMPLES_LINK,
    SCORES_HEADING,
    TITLE,
    Chart,
    ModelView,
    ReportView,
    RunView,
    Table,
)

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~&])")


def escape_md(text: str) -> str:
    """Backslash-escape what Markdown (and a GFM table) would read as markup."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def table(t: Table) -> str:
    lines = ["| " + " | ".join(escape_md(h) for h in t.headers) + " |",
             "| " + " | ".join("---" for _ in t.headers) + " |"]
    for i, row in enumerate(t.rows):
        cells = [escape_md(c) for c in row]
        if i in t.highlight:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart_table(c: Chart) -> str:
    """A chart's numbers as a table: one row per group, one column per series."""
    rows = [[label] + ["—" if b.value is None else f"{b.value:.1f}" for b in bars] for label, bars in c.groups]
    return table(Table(["benchmark"] + c.series, rows))


def _run(r: RunView) -> list[str]:
    out = [f"### {escape_md(r.title)}", ""]
    if r.warnings:
        out += [f"> **{NOT_COMPARABLE}** {escape_md('; '.join(r.warnings))}. {NOT_COMPARABLE_TAIL}", ""]
    for note in r.notes:
        out += [f"> {escape_md(note)}", ""]
    if r.cut_off:
        out += [f"> **{CUT_OFF_HEADING}** " + " ".join(escape_md(line) for line in r.cut_off), ""]
    out += [f"Overall: **{escape_md(r.overall)}**", ""]
    shift = [f"{CALIBRATION_HEADING}: {escape_md(r.calibration)}", ""] if r.calibration else []
    for i, rank in enumerate(r.ranks):
        out += [f"Rank, {escape_md(rank.heading)}: **{escape_md(rank.label)}**", ""]
        out += (shift if i == 0 else []) + [table(rank.neighbours), ""]
    if not r.ranks:
        out += shift
    if r.chart:
        out += [f"{CHART_HEADING}. {escape_md(r.chart.caption)}", ""]
        out += [chart_table(r.chart), ""]
    out += [f"{SCORES_HEADING}:", "", table(r.scores), ""]
    if r.model:
        out += [f"{MODEL_HEADING}:", ""] + ([escape_md(r.thinking_settings), ""] if r.thinking_settings else [])
        out += [table(r.model), ""]
    if r.judge:
        out += [f"{JUDGE_HEADING}:", "", table(r.judge), ""]
    out += [f"{FACTS_HEADING}:", "", table(r.facts), ""]
    return out


def _model(m: ModelView) -> list[str]:
    out = [f"## {escape_md(m.model)} ({escape_md(m.kind)})", ""]
    for r in m.runs:
        out += _run(r)
    return out


def render(view: ReportView) -> str:
    """The Markdown document."""
    out = [f"# {TITLE}", "",
           f"{escape_md(view.root)} · written {escape_md(view.generated)}", "",
           f"{SAMPLES_LINK} [{escape_md(SAMPLES_FILE)}]({SAMPLES_FILE})", ""]
    if view.comparison:
        out += ["## Comparison", "", table(view.comparison), ""]
        for c in view.comparison_charts:
            out += [escape_md(c.caption), "", chart_table(c), ""]
    for m in view.models:
        out += _model(m)
    out += ["---", ""] + [f"{escape_md(n)}  " for n in view.footnotes]
    return "\n".join(out).rstrip() + "\n"
