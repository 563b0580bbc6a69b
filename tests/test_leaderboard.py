"""The published leaderboard shipped as package data: both tables load, typed, with
unpublished cells as None (never 0), and the columns the report compares exist."""
from __future__ import annotations

import csv

import pytest

from mix_eval.leaderboard import COLUMNS, FILES, KINDS, OVERALL_COLUMN, PUBLISHED, SOURCE, load_table


def test_both_tables_load_with_every_model():
    chat, base = load_table("chat"), load_table("base")
    assert len(chat) == 52 and len(base) == 21
    assert {r.kind for r in chat} == {"chat"} and {r.kind for r in base} == {"base"}
    assert len({r.model for r in chat}) == 52 and len({r.model for r in base}) == 21


def test_values_are_typed_and_unpublished_cells_are_none():
    chat = {r.model: r for r in load_table("chat")}
    gpt4o = chat["GPT-4o-2024-05-13"]
    assert (gpt4o.mixeval, gpt4o.mixeval_hard, gpt4o.arena_elo) == (87.9, 64.7, 1287)
    assert isinstance(gpt4o.arena_elo, int)
    assert gpt4o.benchmark_scores("mixeval_hard") == {"TriviaQA": 70.3, "MMLU": 57.1, "DROP": 67.5}
    o1 = chat["OpenAI o1-preview"]  # Hard only: MixEval and its columns are not published
    assert o1.mixeval is None and o1.arena_elo is None and o1.mixeval_hard == 72.0
    assert o1.benchmark_scores("mixeval") == {} and o1.overall("mixeval") is None
    gemma = chat["Gemma-1.1-7B-IT"]
    assert (gemma.overall("mixeval"), gemma.overall("mixeval_hard")) == (69.6, 39.1)
    base = {r.model: r for r in load_table("base")}
    assert base["LLaMA-3-70B"].benchmark_scores("mixeval")["BoolQ"] == 81.7
    assert base["LLaMA-3-70B"].arena_elo is None  # the base table has no Elo column


@pytest.mark.parametrize("kind", KINDS)
def test_every_cell_of_the_files_is_read(kind):
    """Against the CSV read without the loader: a number where the file has one, None where it is empty."""
    with open(FILES[kind], newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    rows = load_table(kind)
    assert [r.model for r in rows] == [rec["model"] for rec in records]
    empty = 0
    for row, rec in zip(rows, records):
        for column, text in rec.items():
            if column in ("model", "Arena_Elo_0527"):
                continue
            if text == "":
                empty += 1
                assert row.columns[column] is None
            else:
                assert row.columns[column] == float(text)
    assert empty > 0 if kind == "chat" else empty == 0


@pytest.mark.parametrize("kind", KINDS)
def test_the_compared_columns_exist_and_the_name_says_where_and_when(kind):
    header = FILES[kind].read_text(encoding="utf-8").splitlines()[0].split(",")
    for benchmark, columns in COLUMNS.items():
        assert OVERALL_COLUMN[benchmark] in header
        present = [c for c in columns if c in header]
        assert len(present) >= 3, (kind, benchmark)
    assert FILES[kind].name == f"mixeval_leaderboard_{kind}_{PUBLISHED}.csv"
    assert "mixeval.github.io" in SOURCE and PUBLISHED in SOURCE
