"""What the report says, once, as plain tables and sentences; `html` and `markdown`
render it. Values are plain text here (escaping is the renderers' job)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from mix_eval.calibration.record import judge_label
from mix_eval.folders import SCORE_FILE
from mix_eval.leaderboard import SOURCE
from mix_eval.llm.pricing import GIVEN
from mix_eval.reporting.collect import ScoredRun, is_default_judge
from mix_eval.reporting.compare import (
    BENCHMARK_TITLES,
    Placement,
    caveats,
    chart_models,
    notes,
    percent,
    place,
    shared_columns,
    tables_for,
)
from mix_eval.reporting.svg import Bar
from mix_eval.scoring.answer_stats import AnswerStats, ModelCost
from mix_eval.thinking import cut_off_advice, cut_off_line

VERSION_NOTE = ("The benchmark version is shown, not flagged: the leaderboard's site says most of its models were "
                "tested on 2024-06-01 and that later versions' scores are aggregated into the same table, as they "
                "vary little between versions.")
SCALE_NOTE = f"Scores are {SCORE_FILE}'s × 100 (the leaderboard's scale)."
# The page's fixed wording, which both renderers use
TITLE = "Where does the model stand? MixEval report"
NOT_COMPARABLE = "Not like for like with the leaderboard:"
NOT_COMPARABLE_TAIL = "Its rank is an indication only."
CHART_HEADING = "Per benchmark, beside leaderboard models near it"
SCORES_HEADING = "Scores"
JUDGE_HEADING = "Judge health"
MODEL_HEADING = "Model health"  # the model's answers: thinking, cut off while thinking, tokens, cost
CUT_OFF_HEADING = "Cut off while thinking:"
FACTS_HEADING = "Run facts"
CALIBRATION_HEADING = "Judge shift"
SAMPLES_LINK = "Every item, the model's answer and each judge's verdict, with filters:"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    highlight: set[int] = field(default_factory=set)  # rows that are the run itself


@dataclass
class Chart:
    title: str
    series: list[str]
    groups: list[tuple[str, list[Bar]]]
    caption: str


@dataclass
class RankView:
    heading: str  # "MixEval, chat models"
    label: str  # "#12 of 53" or "would rank ~12 of 53 (not comparable: ...)"
    comparable: bool
    neighbours: Table


@dataclass
class RunView:
    title: str  # "MixEval-Hard 2024-06-01"
    anchor: str
    warnings: list[str]  # not like for like
    notes: list[str]
    overall: str  # "39.1 [37.0, 41.2]"
    ranks: list[RankView]
    calibration: Optional[str]  # the judge's measured shift from the leaderboard, or how to measure it
    scores: Table
    chart: Optional[Chart]
    judge: Optional[Table]
    facts: Table
    model: Optional[Table] = None  # the model's answers per split, when it thought, was asked to or counted tokens
    thinking_settings: Optional[str] = None  # how the model was asked to think (with ``model``)
    cut_off: list[str] = field(default_factory=list)  # per split with answers cut off while thinking, and the fix


@dataclass
class ModelView:
    model: str
    kind: str
    runs: list[RunView]


@dataclass
class ReportView:
    generated: str
    root: str
    comparison: Optional[Table]
    comparison_charts: list[Chart]
    models: list[ModelView]
    footnotes: list[str]


def _score_text(run: ScoredRun, key: str) -> str:
    return f"{percent(run.scores[key]):.1f}"


def _interval_text(run: ScoredRun, key: str) -> str:
    interval = run.intervals.get(key)
    return f"{percent(interval.low):.1f} – {percent(interval.high):.1f}" if interval else "—"


def _overall(run: ScoredRun) -> str:
    interval = run.intervals.get("overall")
    text = _score_text(run, "overall")
    return f"{text} [{percent(interval.low):.1f}, {percent(interval.high):.1f}]" if interval else text


def _rank_view(run: ScoredRun, placement: Placement) -> RankView:
    rows: list[list[str]] = []
    position = placement.rank - len(placement.above)
    for row in placement.above:
        rows.append([str(position), row.model, f"{row.overall(run.benchmark):.1f}"])
        position += 1
    you = f"{run.model} (this run{'' if placement.comparable else ', not comparable'})"
    rows.append([("" if placement.comparable else "~") + str(placement.rank), you, f"{placement.score:.1f}"])
    highlight = {len(rows) - 1}
    for row in placement.below:
        position += 1
        rows.append([str(position), row.model, f"{row.overall(run.benchmark):.1f}"])
    label = placement.label()
    if placement.rank_range and placement.rank_range[0] != placement.rank_range[1]:
        label += f"; {placement.rank_range[0]}–{placement.rank_range[1]} within the score's interval"
    title = BENCHMARK_TITLES[run.benchmark]
    return RankView(f"{title}, {placement.table} models", label, placement.comparable,
                    Table(["rank", "model", title], rows, highlight))


def calibration_text(run: ScoredRun) -> Optional[str]:
    """The measured shift of the run's judge (its calibration), said beside the rank; for
    another judge than the leaderboard's with no calibration, how to measure it. The
    scores themselves are never adjusted."""
    judges = run.judges
    if judges is None:
        return None
    title = BENCHMARK_TITLES[run.benchmark]
    calibration = run.calibration
    shift = calibration.mean_delta.get(title) if calibration else None
    if calibration is None or shift is None:
        if all(is_default_judge(j) for j in judges.values()):
            return None
        return (f"{judge_label(judges)} has no calibration here: python -m mix_eval.calibrate measures how far it "
                f"moves the reference models' scores from the leaderboard's on {title}.")
    shift = round(shift, 1)
    where = (f"+{shift:.1f} points above" if shift > 0 else f"{-shift:.1f} points below" if shift < 0
             else "level with")
    return (f"{calibration.judge} scored the reference models {where} the leaderboard on {title} (calibration of "
            f"{calibration.date}); the scores here are not adjusted.")


def _chart(run: ScoredRun, table: str, warnings: list[str]) -> Optional[Chart]:
    rows = chart_models(run, table)
    keys = shared_columns(run, rows)
    if not rows or not keys:
        return None
    groups = []
    for key in keys:
        interval = run.intervals.get(key)
        bars = [Bar(percent(run.scores[key]), *(percent(interval.low), percent(interval.high)) if interval else ())]
        bars += [Bar(r.benchmark_scores(run.benchmark)[key]) for r in rows]
        groups.append((key, bars))
    title = f"{run.model}: {BENCHMARK_TITLES[run.benchmark]} per benchmark beside {table} leaderboard models near it"
    caption = (f"The columns both the run and the leaderboard publish ({', '.join(keys)}); leaderboard models "
               f"nearest its overall score ({table} table).")
    if warnings:
        caption = f"Not like for like ({'; '.join(warnings)}). " + caption
    return Chart(title, [f"{run.model} (this run)"] + [r.model for r in rows], groups, caption)


def _judge_table(run: ScoredRun) -> Optional[Table]:
    if not any(s.parser for s in run.splits):
        return None
    rows = []
    for s in run.splits:
        r = s.report
        tokens = "—"
        if "prompt_tokens" in r or "completion_tokens" in r:
            tokens = f"{int(r.get('prompt_tokens') or 0):,} in / {int(r.get('completion_tokens') or 0):,} out"
        cost = "—"
        if "cost_usd" in r:
            cost = "unknown" if r["cost_usd"] is None else f"${float(r['cost_usd']):.4f}"
        items = "—" if s.items is None else (f"{s.items}" + (f" of {s.expected}" if s.expected else ""))
        rows.append([
            s.kind.label.replace("_", "-"),
            {"rule": "rule parser", "model": "model judge", None: "unknown (no judged file)"}[s.parser],
            s.judge or "—", items,
            str(r.get("random_fallback", "—")), str(r.get("blocked", "—")),
            str(r.get("judge_calls", "—")), str(r.get("reused", "—")), str(r.get("judge_mode", "—")),
            tokens, cost,
        ])
    return Table(["split", "parser", "judge", "items", "never judged (random)", "blocked", "judge calls",
                  "reused", "mode", "tokens", "cost"], rows)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _tokens_text(a: AnswerStats) -> str:
    if not a.has_tokens:
        return "—"
    text = f"{a.prompt_tokens:,} in / {a.completion_tokens:,} out" if a.with_usage else "—"
    if a.with_reasoning_tokens:
        text += f" ({a.reasoning_tokens:,} thinking)"
    if a.with_usage and a.with_usage < a.answers:
        text += f", counted on {a.with_usage:,} answers"
    return text


def _cost_text(cost: Optional[ModelCost]) -> str:
    if cost is None:
        return "—"
    if cost.usd is None:
        return "unknown (no price: give --model_price INPUT,OUTPUT)"
    where = "--model_price" if cost.source == GIVEN else "list price"
    batch = {"all": ", Batch API", "part": ", partly Batch API"}.get(cost.through_batch, "")
    return f"${cost.usd:.4f} ({where}{batch})"


def _model_table(run: ScoredRun) -> Optional[Table]:
    """Per split: the answers, how many with thinking, how many cut off while thinking (the
    words every place uses), the model's tokens and their cost; None for a model that did
    not think, was not asked to and whose lines count no tokens (the report as it was)."""
    if not any(s.answers is not None and (s.answers.thought or s.answers.has_tokens) for s in run.splits) \
            and not _thinking_settings(run):
        return None
    rows = []
    for s in run.splits:
        a = s.answers
        if a is None:
            rows.append([s.kind.label.replace("_", "-"), "— (no response file)", "—", "—", "—", "—"])
            continue
        cut = f"{cut_off_line(a.cut_off, a.answers)} ({_share(a.cut_off, a.answers)})" if a.thought else "—"
        rows.append([s.kind.label.replace("_", "-"), f"{a.answers}", f"{a.with_thinking}" if a.thought else "—", cut,
                     _tokens_text(a), _cost_text(s.cost)])
    return Table(["split", "answers", "with thinking", "cut off while thinking", "model tokens", "model cost"], rows)


def cut_off_notes(run: ScoredRun) -> list[str]:
    """A line per split whose answers were cut off while thinking, then the fix."""
    lines = [f"{s.kind.label.replace('_', '-')}: {cut_off_line(s.answers.cut_off, s.answers.answers)} "
             f"({_share(s.answers.cut_off, s.answers.answers)}; no answer after the thinking, "
             "scored as an empty answer)"
             for s in run.splits if s.answers is not None and s.answers.cut_off]
    if lines:
        lines.append(f"To fix: {cut_off_advice()}.")
    return lines


# The flags that say how the model was asked to think, as the model health section shows them, and
# what an unset one means.
THINKING_FACTS = (("reasoning_effort", "the model's default"), ("thinking_budget", "the model's default"),
                  ("reasoning_tags", "<think>,</think>"), ("chat_template_kwargs", "none"))


def _thinking_settings(run: ScoredRun) -> Optional[str]:
    """How the model was asked to think, for a model that thought or was asked to (else None)."""
    args = run.facts.args if run.facts else {}
    if not any(args.get(flag) is not None for flag, _ in THINKING_FACTS) and \
            not any(s.answers is not None and s.answers.thought for s in run.splits):
        return None
    return "Asked to think with " + "; ".join(
        f"--{flag} {args[flag]}" if args.get(flag) is not None else f"--{flag} not given ({default})"
        for flag, default in THINKING_FACTS) + "."


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _facts_table(run: ScoredRun) -> Table:
    f = run.facts
    args = f.args if f else {}
    model = args.get("model_name") or "—"
    where = args.get("model_path") or args.get("model_id") or "—"
    limit = "none" if f else "—"
    if f and f.limit:
        limit = str(f.limit)
    rows = [
        ["model", str(model)],
        ["model path or id", str(where)],
        ["kind", run.kind or "unknown"],
        ["backend", str(args.get("backend") or ("hf" if f else "—"))],
        ["benchmark, version", f"{BENCHMARK_TITLES[run.benchmark]} {run.version}"],
        ["generated", (f.generated or "—") + ("" if f.complete else " (not complete)") if f else
         "— (no status file: responses made elsewhere)"],
        ["time taken (generation)", _duration(f.time_elapsed) if f else "—"],
        ["--limit", limit],
        ["scored", run.scored],
        ["folder", str(run.vdir)],
    ]
    if run.derived_from is not None:
        rows.append(["derived from", str(run.derived_from.get("source", "the MixEval run"))])
    if run.interval_meta:
        meta = run.interval_meta
        rows.append(["intervals", f"{float(meta.get('confidence', 0.95)) * 100:.0f}% {meta.get('method', '')}"
                                  f" ({meta.get('resamples', '?')} resamples, seed {meta.get('seed', '?')})"])
    return Table(["fact", "value"], rows)


def run_view(run: ScoredRun) -> RunView:
    warnings = caveats(run)
    placements = [p for p in (place(run, t) for t in tables_for(run)) if p is not None]
    chart = None
    for table in tables_for(run):
        chart = _chart(run, table, warnings)
        if chart:
            break
    if run.intervals:
        scores = Table(["benchmark", "score", "95% interval"],
                       [[k, _score_text(run, k), _interval_text(run, k)] for k in run.scores], {0})
    else:  # no score_intervals.json
        scores = Table(["benchmark", "score"], [[k, _score_text(run, k)] for k in run.scores], {0})
    return RunView(
        title=f"{BENCHMARK_TITLES[run.benchmark]} {run.version}",
        anchor=f"{run.model}-{run.benchmark}-{run.version}",
        warnings=warnings, notes=notes(run) + [f"could not read: {n}" for n in run.notes],
        overall=_overall(run), ranks=[_rank_view(run, p) for p in placements], calibration=calibration_text(run),
        scores=scores, chart=chart,
        judge=_judge_table(run), facts=_facts_table(run), model=_model_table(run), cut_off=cut_off_notes(run),
        thinking_settings=_thinking_settings(run),
    )


def _comparison(runs: list[ScoredRun]) -> tuple[Optional[Table], list[Chart]]:
    if len({r.model for r in runs}) < 2:
        return None, []
    rows = []
    for run in runs:
        placements = [p for p in (place(run, t) for t in tables_for(run)) if p is not None]
        rank = "; ".join(f"{p.table} {'#' if p.comparable else '~'}{p.rank} of {p.of}" for p in placements) or "—"
        rows.append([run.model, run.kind or "unknown", f"{BENCHMARK_TITLES[run.benchmark]} {run.version}",
                     _overall(run), rank, "; ".join(caveats(run)) or "like for like"])
    table = Table(["model", "kind", "benchmark", "overall", "rank on the leaderboard", "not like for like"], rows)
    charts = []
    for benchmark in BENCHMARK_TITLES:
        for version in sorted({r.version for r in runs if r.benchmark == benchmark}):
            chosen = [r for r in runs if r.benchmark == benchmark and r.version == version]
            if len(chosen) < 2:
                continue
            chosen.sort(key=lambda r: -r.overall)
            keys = ["overall"] + [k for k in chosen[0].parts if all(k in r.scores for r in chosen)]
            groups = []
            for key in keys:
                bars = []
                for r in chosen:
                    interval = r.intervals.get(key)
                    bars.append(Bar(percent(r.scores[key]),
                                    *(percent(interval.low), percent(interval.high)) if interval else ()))
                groups.append((key, bars))
            flagged = [r.model for r in chosen if caveats(r)]
            caption = f"{BENCHMARK_TITLES[benchmark]} {version}: every benchmark the models share."
            if flagged:
                caption += f" Not like for like: {', '.join(flagged)} (see their sections)."
            charts.append(Chart(f"{BENCHMARK_TITLES[benchmark]} {version}: the models of this folder",
                                [r.model for r in chosen], groups, caption))
    return table, charts


def build(runs: list[ScoredRun], root: str) -> ReportView:
    """The whole report of these scored folders."""
    models: dict[str, list[ScoredRun]] = {}
    for run in runs:
        models.setdefault(run.model, []).append(run)
    comparison, charts = _comparison(runs)
    views = [ModelView(model, next((r.kind for r in rs if r.kind), None) or "unknown kind", [run_view(r) for r in rs])
             for model, rs in models.items()]
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footnotes = [SCALE_NOTE, f"Leaderboard: {SOURCE}; shipped with mix_eval.", VERSION_NOTE,
                 "Like for like means: judged by gpt-3.5-turbo-0125 (the leaderboard's judge) on every item of the "
                 "benchmark. Anything else is labelled and its rank shown as \"~N\"."]
    return ReportView(generated, root, comparison, charts, views, footnotes)
