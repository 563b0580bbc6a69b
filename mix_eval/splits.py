"""The two kinds of split, free-form and multiple-choice, and every name each goes by.

The reference spells one kind five ways: ``free-form`` (data file, ``problem_type``),
``ff`` (judged files), ``free_form`` (report keys, Hub split), ``close_freeform`` (split
names), ``free_form_parser`` / ``freeform_judge`` (flags). They all live here, so code
asks the kind instead of pairing strings by position. Standard library only.
"""
from __future__ import annotations

from enum import Enum


class SplitKind(Enum):
    """Free-form or multiple-choice; the value is the items' ``problem_type``."""

    FREE_FORM = ("free-form", "ff", "free_form", "close_freeform", "free_form_parser", "freeform_judge")
    MULTIPLE_CHOICE = ("multiple-choice", "mp", "multiple_choice", "close_multichoice",
                       "multi_choice_parser", "multichoice_judge")

    def __new__(cls, problem_type: str, *_names: str) -> "SplitKind":
        member = object.__new__(cls)
        member._value_ = problem_type
        return member

    def __init__(self, problem_type: str, tag: str, label: str, split_stem: str,
                 parser_flag: str, judge_flag: str) -> None:
        self.problem_type = problem_type  # "free-form": data items, data file name
        self.tag = tag  # "ff": judged file names (judge_results_ff_...)
        self.label = label  # "free_form": judge_report.json keys, the Hub's split name
        self.split_stem = split_stem  # "close_freeform": split names, before a benchmark suffix
        self.parser_flag = parser_flag  # "free_form_parser": compute_metrics' flag choosing rule or model
        self.judge_flag = judge_flag  # "freeform_judge": compute_metrics' flag naming the API judge

    @property
    def file_name(self) -> str:
        """The data file of this kind: ``free-form.json``."""
        return f"{self.problem_type}.json"

    @property
    def is_multichoice(self) -> bool:
        return self is SplitKind.MULTIPLE_CHOICE

    def split_name(self, benchmark: str) -> str:
        """The split's name in a benchmark: ``close_freeform`` or ``close_freeform_hard``."""
        return self.split_stem + ("_hard" if benchmark == "mixeval_hard" else "")
