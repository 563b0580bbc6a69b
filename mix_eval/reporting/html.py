"""The report as one self-contained HTML page.

Inline CSS and inline SVG only: no script, no stylesheet link, no font, no image, no
hyperlink but the one to the answers explorer beside it (``samples.html``), so the page
opens offline and reveals nothing to any server. Every value
read from a file (model names are the user's) is HTML-escaped. The layout is one
column that narrows with the window; tables scroll sideways inside their box; print
drops the colours of the page and keeps each section together where it can.
"""
from __future__ import annotations

from html import escape

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
from mix_eval.reporting.svg import bar_chart

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       background: #f6f8fa; }
main { max-width: 980px; margin: 0 auto; padding: 16px; }
header, section.model, section.comparison { background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
       padding: 16px; margin-bottom: 16px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 0 0 8px; overflow-wrap: anywhere; }
h3 { font-size: 1.05rem; margin: 20px 0 8px; border-top: 1px solid #d0d7de; padding-top: 12px; }
h4 { font-size: .95rem; margin: 14px 0 6px; }
.muted { color: #57606a; font-size: .9rem; }
.kind { display: inline-block; font-size: .8rem; padding: 1px 8px; border-radius: 10px; background: #ddf4ff;
        color: #0969da; vertical-align: middle; }
.overall { font-size: 2rem; font-weight: 600; }
.rank { font-size: 1.1rem; font-weight: 600; }
.warning { border-left: 5px solid #cf222e; background: #ffebe9; padding: 8px 12px; margin: 8px 0; }
.warning strong { color: #a40e26; }
.note { border-left: 5px solid #0969da; background: #ddf4ff; padding: 8px 12px; margin: 8px 0; }
.table { overflow-x: auto; margin: 6px 0; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f6f8fa; }
tr.you td { background: #fff8c5; font-weight: 600; }
figure { margin: 8px 0; }
.chart-box { overflow-x: auto; }
figcaption { color: #57606a; font-size: .85rem; }
svg.chart { max-width: 760px; display: block; font-family: inherit; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; }
.grid > div { flex: 1 1 300px; min-width: 0; }
footer { color: #57606a; font-size: .85rem; }
@media (max-width: 600px) {
  main { padding: 6px; }
  header, section.model, section.comparison { padding: 10px; }
  .overall { font-size: 1.6rem; }
  table { font-size: .8rem; width: 100%; }
  th, td { padding: 3px 4px; overflow-wrap: break-word; }
  figure .chart-box svg.chart { min-width: 480px; }
}
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  header, section.model, section.comparison { border: none; padding: 0; }
  section.model { break-before: page; }
  .run, figure, table { break-inside: avoid; }
  .warning, .note, tr.you td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .table { overflow: visible; }
}
"""


def _is_number(text: str) -> bool:
    stripped = text.lstrip("~#$").replace(",", "").replace(".", "", 1)
    return stripped.isdigit()


def table(t: Table, css_class: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = []
    for i, row in enumerate(t.rows):
        cells = "".join(f'<td class="num">{escape(c)}</td>' if _is_number(c) else f"<td>{escape(c)}</td>" for c in row)
        body.append(f'<tr class="you">{cells}</tr>' if i in t.highlight else f"<tr>{cells}</tr>")
    cls = f' class="{css_class}"' if css_class else ""
    return f'<div class="table"><table{cls}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def chart(c: Chart) -> str:
    return (f'<figure><div class="chart-box">{bar_chart(c.title, c.series, c.groups)}</div>'
            f"<figcaption>{escape(c.caption)}</figcaption></figure>")


def _run(r: RunView) -> str:
    out = [f'<div class="run" id="{escape(r.anchor)}"><h3>{escape(r.title)}</h3>']
    if r.warnings:
        out.append(f'<div class="warning not-comparable" role="note"><strong>{NOT_COMPARABLE}</strong> '
                   f"{escape('; '.join(r.warnings))}. {NOT_COMPARABLE_TAIL}</div>")
    for note in r.notes:
        out.append(f'<div class="note" role="note">{escape(note)}</div>')
    if r.cut_off:
        out.append(f'<div class="warning cut-off" role="note"><strong>{CUT_OFF_HEADING}</strong> '
                   + "<br>".join(escape(line) for line in r.cut_off) + "</div>")
    out.append('<div class="grid"><div>')
    out.append(f'<div class="muted">overall</div><div class="overall">{escape(r.overall)}</div>')
    for rank in r.ranks:
        out.append(f'<div class="muted">{escape(rank.heading)}</div><div class="rank">{escape(rank.label)}</div>')
    if r.calibration:
        out.append(f'<div class="muted">{CALIBRATION_HEADING}</div>'
                   f'<div class="calibration">{escape(r.calibration)}</div>')
    out.append("</div><div>")
    for rank in r.ranks:
        out.append(f"<h4>Nearest on the leaderboard: {escape(rank.heading)}</h4>{table(rank.neighbours, 'rank-table')}")
    out.append("</div></div>")
    if r.chart:
        out.append(f"<h4>{CHART_HEADING}</h4>{chart(r.chart)}")
    out.append(f'<h4>{SCORES_HEADING}</h4>{table(r.scores, "scores")}')
    if r.model:
        settings = f'<p class="thinking-settings">{escape(r.thinking_settings)}</p>' if r.thinking_settings else ""
        out.append(f'<h4>{MODEL_HEADING}</h4>{settings}{table(r.model, "model-health")}')
    if r.judge:
        out.append(f'<h4>{JUDGE_HEADING}</h4>{table(r.judge, "judge")}')
    out.append(f'<h4>{FACTS_HEADING}</h4>{table(r.facts, "facts")}</div>')
    return "".join(out)


def _model(m: ModelView) -> str:
    runs = "".join(_run(r) for r in m.runs)
    heading = f'<h2>{escape(m.model)} <span class="kind">{escape(m.kind)}</span></h2>'
    return f'<section class="model">{heading}{runs}</section>'


def render(view: ReportView) -> str:
    """The page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>MixEval report: {escape(', '.join(m.model for m in view.models))}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<header><h1>{TITLE}</h1>",
        f'<div class="muted">{escape(view.root)} · written {escape(view.generated)}</div>',
        f'<p>{SAMPLES_LINK} <a href="{SAMPLES_FILE}">{SAMPLES_FILE}</a></p></header>',
    ]
    if view.comparison:
        parts.append(f'<section class="comparison"><h2>Comparison</h2>{table(view.comparison, "comparison")}')
        parts.extend(chart(c) for c in view.comparison_charts)
        parts.append("</section>")
    parts.extend(_model(m) for m in view.models)
    parts.append("<footer>" + "".join(f"<p>{escape(n)}</p>" for n in view.footnotes) + "</footer>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)
