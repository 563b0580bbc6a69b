"""The published MixEval leaderboard, shipped as package data.

Two tables, as published on the MixEval website (mixeval.github.io; its repository's
tables as of 2024-10-30): ``mixeval_leaderboard_chat_2024-10-30.csv`` (52 chat models)
and ``mixeval_leaderboard_base_2024-10-30.csv`` (21 base models). Scores are on the
site's 0-100 scale; an empty cell is a score the site does not publish ("-" there)
and is read as None, never as 0. The site says most models were tested on 2024-06-01
and that scores of later versions are aggregated into the same table.

Columns name a benchmark as the site does (``MMLU``, ``TriviaQA-Hard``); `COLUMNS`
maps them to the keys of a ``score.json`` of each benchmark (``MMLU``, ``TriviaQA``).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

from mix_eval.errors import MixEvalError

HERE = Path(__file__).resolve().parent
PUBLISHED = "2024-10-30"
SOURCE = f"the MixEval leaderboard as published on mixeval.github.io (its tables as of {PUBLISHED})"
KINDS = ("chat", "base")
FILES = {kind: HERE / f"mixeval_leaderboard_{kind}_{PUBLISHED}.csv" for kind in KINDS}

# The overall column of each benchmark (the --benchmark name), and its per-benchmark
# columns mapped to score.json keys. Only these are compared with a run's scores.
OVERALL_COLUMN = {"mixeval": "MixEval", "mixeval_hard": "MixEval-Hard"}
COLUMNS = {
    "mixeval": {"TriviaQA": "TriviaQA", "MMLU": "MMLU", "DROP": "DROP", "HellaSwag": "HellaSwag",
                "CommonsenseQA": "CommonsenseQA", "BoolQ": "BoolQ"},
    "mixeval_hard": {"TriviaQA-Hard": "TriviaQA", "MMLU-Hard": "MMLU", "DROP-Hard": "DROP"},
}
ELO_COLUMN = "Arena_Elo_0527"


def percent(value: float) -> float:
    """A score.json value on the leaderboard's scale: × 100, one decimal."""
    return round(value * 100, 1)


@dataclass(frozen=True)
class LeaderboardRow:
    """One model of a published table; None where the site publishes no score."""

    model: str
    kind: str  # "chat" or "base"
    mixeval: Optional[float]
    mixeval_hard: Optional[float]
    arena_elo: Optional[int]
    columns: dict[str, Optional[float]] = field(default_factory=dict)  # every score column, by its name

    def overall(self, benchmark: str) -> Optional[float]:
        """The published overall score of ``benchmark`` (``mixeval`` or ``mixeval_hard``)."""
        return self.mixeval if benchmark == "mixeval" else self.mixeval_hard

    def benchmark_scores(self, benchmark: str) -> dict[str, float]:
        """The published per-benchmark scores of ``benchmark``, by score.json key (0-100)."""
        return {key: self.columns[col] for col, key in COLUMNS[benchmark].items()
                if self.columns.get(col) is not None}


def _number(path: Path, line: int, column: str, text: str) -> Optional[float]:
    text = text.strip()
    if text in ("", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        raise MixEvalError(f"{path}, line {line}, column {column}: {text!r} is not a number") from None


@lru_cache(maxsize=None)
def load_table(kind: str) -> tuple[LeaderboardRow, ...]:
    """The rows of one published table (``chat`` or ``base``), in the site's order."""
    if kind not in FILES:
        raise ValueError(f"no leaderboard table {kind!r}; expected one of {', '.join(KINDS)}")
    path = FILES[kind]
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, record in enumerate(csv.DictReader(f), start=2):
            values = {col: _number(path, line, col, text) for col, text in record.items() if col != "model"}
            elo = values.pop(ELO_COLUMN, None)
            rows.append(LeaderboardRow(
                model=record["model"].strip(), kind=kind,
                mixeval=values.get(OVERALL_COLUMN["mixeval"]), mixeval_hard=values.get(OVERALL_COLUMN["mixeval_hard"]),
                arena_elo=None if elo is None else int(elo), columns=values,
            ))
    return tuple(rows)
