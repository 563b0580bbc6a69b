"""A scored run against the published leaderboard: is it like for like, where would it
rank, and which leaderboard models are near it.

Scores are compared on the leaderboard's scale (``score.json`` × 100, one decimal, as
the site publishes them). A run that is not like for like (another judge than the
leaderboard's, a rule parser, a ``--limit`` run, fewer items than the benchmark) still
gets a place, but labelled "would rank ~N (not comparable: ...)", never a plain rank.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from mix_eval.leaderboard import COLUMNS, KINDS, OVERALL_COLUMN, LeaderboardRow, load_table, percent
from mix_eval.reporting.collect import ScoredRun, is_default_judge
from mix_eval.settings import DEFAULT_JUDGE

BENCHMARK_TITLES = OVERALL_COLUMN  # the leaderboard names its overall columns by the benchmarks' names
NEIGHBOURS = 2  # leaderboard models shown above and below
CHART_MODELS = 3  # leaderboard models drawn beside the run


def caveats(run: ScoredRun) -> list[str]:
    """Why the run is not like for like with the leaderboard (empty when it is)."""
    found: list[str] = []
    parsers = {s.parser for s in run.splits}
    if "rule" in parsers:
        rule_splits = [s.kind.label.replace("_", "-") for s in run.splits if s.parser == "rule"]
        found.append("rule parser" + ("" if len(rule_splits) == 2 else f" ({rule_splits[0]})"))
    if None in parsers:
        found.append("no judged file, so the parser and judge are unknown")
    judges = sorted({s.judge for s in run.splits if s.parser == "model" and not is_default_judge(s.judge)})
    for judge in judges:
        found.append(f"judge {judge}, not the leaderboard's {DEFAULT_JUDGE}")
    limit = run.facts.limit if run.facts else None
    if limit:
        found.append(f"--limit {limit} run")
    short = [s for s in run.splits if s.items is not None and s.expected is not None and s.items < s.expected]
    if short and not limit:
        found.append("partial run: " + ", ".join(f"{s.items} of {s.expected} {s.kind.label.replace('_', '-')} items"
                                                  for s in short))
    return found


def notes(run: ScoredRun) -> list[str]:
    """What the reader should know that does not make the run incomparable."""
    found: list[str] = []
    if run.derived_from is not None:
        source = run.derived_from.get("source")
        found.append("derived from the MixEval run" + (f" ({source})" if source else "")
                     + ": the leaderboard's MixEval-Hard scores were taken the same way")
    for s in run.splits:
        random = int(s.report.get("random_fallback") or 0)
        blocked = int(s.report.get("blocked") or 0)
        if random or blocked:
            label = s.kind.label.replace("_", "-")
            found.append(f"{label}: {random} item(s) never got a valid verdict (scored at random), "
                         f"{blocked} blocked by the API")
    return found


@dataclass
class Placement:
    """Where a run's overall score falls in one published table."""

    table: str  # "chat" or "base"
    benchmark: str
    score: float  # the run's, on the leaderboard's scale
    rank: int  # 1-based, among the table's models with a published score and this run
    of: int
    above: list[LeaderboardRow] = field(default_factory=list)  # nearest last
    below: list[LeaderboardRow] = field(default_factory=list)  # nearest first
    rank_range: Optional[tuple[int, int]] = None  # the ranks of the interval's ends
    caveats: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return not self.caveats

    def label(self) -> str:
        """``#12 of 53``, or ``would rank ~12 of 53 (not comparable: rule parser)``."""
        if self.comparable:
            return f"#{self.rank} of {self.of}"
        return f"would rank ~{self.rank} of {self.of} (not comparable: {'; '.join(self.caveats)})"


def _rank(rows: list[LeaderboardRow], benchmark: str, score: float) -> int:
    return 1 + sum(1 for r in rows if (r.overall(benchmark) or 0) > score)


def tables_for(run: ScoredRun) -> tuple[str, ...]:
    """The tables a run is ranked in: its kind's, or both when the kind is unknown."""
    return (run.kind,) if run.kind in KINDS else KINDS


def place(run: ScoredRun, table: str) -> Optional[Placement]:
    """The run's place in one published table (None when the table has no such column)."""
    rows = sorted((r for r in load_table(table) if r.overall(run.benchmark) is not None),
                  key=lambda r: -(r.overall(run.benchmark) or 0))
    if not rows:
        return None
    score = percent(run.overall)
    rank = _rank(rows, run.benchmark, score)
    placement = Placement(table, run.benchmark, score, rank, len(rows) + 1,
                          above=rows[max(0, rank - 1 - NEIGHBOURS):rank - 1],
                          below=rows[rank - 1:rank - 1 + NEIGHBOURS],
                          caveats=caveats(run))
    interval = run.intervals.get("overall")
    if interval is not None:
        placement.rank_range = (_rank(rows, run.benchmark, percent(interval.high)),
                                _rank(rows, run.benchmark, percent(interval.low)))
    return placement


def chart_models(run: ScoredRun, table: str) -> list[LeaderboardRow]:
    """Up to `CHART_MODELS` leaderboard models nearest the run's overall score that
    publish per-benchmark scores the run also has; highest score first."""
    ours = set(run.parts)
    score = percent(run.overall)
    usable = [r for r in load_table(table)
              if r.overall(run.benchmark) is not None and set(r.benchmark_scores(run.benchmark)) & ours]
    nearest = sorted(usable, key=lambda r: abs((r.overall(run.benchmark) or 0) - score))[:CHART_MODELS]
    return sorted(nearest, key=lambda r: -(r.overall(run.benchmark) or 0))


def shared_columns(run: ScoredRun, rows: list[LeaderboardRow]) -> list[str]:
    """The score.json keys both the run and every chart model have, in the site's order."""
    keys = [key for key in COLUMNS[run.benchmark].values() if key in run.parts]
    return [k for k in keys if all(k in r.benchmark_scores(run.benchmark) for r in rows)]
