"""What a valid benchmark item, response line, judged line and journal line are, in one wording.

Each ``*_problem`` function returns what is wrong with one record, as the end of a
sentence that starts with where the record is (``item id '7' ...``, ``line 3 (id '7'):
...``), or None when the record is valid. Callers add the where and the fix.
"""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from mix_eval.prompts import OPTION_LETTERS
from mix_eval.splits import SplitKind

ITEM_FIELDS = ("problem_type", "context", "prompt", "target", "benchmark_name")
RESPONSE_FIELDS = ("id", "prompt", "target", "benchmark_name", "response")


def shown(value: Any, limit: int = 60) -> str:
    """A value as errors quote it: JSON, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shape_problem(record: Any, fields: Sequence[str], lacks: str = "lacks") -> Optional[str]:
    """A record is a JSON object with these fields."""
    if not isinstance(record, dict):
        return f"is a {type(record).__name__}, not an object"
    missing = [k for k in fields if k not in record]
    return f"{lacks} {', '.join(missing)}" if missing else None


def _not_text(record: dict[str, Any], key: str) -> Optional[str]:
    return None if isinstance(record[key], str) else f"has the {key} {shown(record[key])}, not text"


def _not_a_name(name: Any, *, allow_empty: bool = False) -> Optional[str]:
    if isinstance(name, str) and (name or allow_empty):
        return None
    return f"has the benchmark_name {shown(name)}, not a name"


def _options_problem(options: Any) -> Optional[str]:
    if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
        return f"has the options {shown(options)}, not a list of option texts"
    if len(options) > len(OPTION_LETTERS):
        return f"has {len(options)} options, more than the {len(OPTION_LETTERS)} letters A-Z"
    return None


def _choice_target_problem(target: Any, options: Optional[list[str]] = None) -> Optional[str]:
    """A multiple-choice target is one option index (within the options, when given)."""
    if not (isinstance(target, list) and len(target) == 1 and isinstance(target[0], int)
            and not isinstance(target[0], bool)):
        return f"has the target {shown(target)}; a multiple-choice target is one option index, like [2]"
    if options is not None and not 0 <= target[0] < len(options):
        return f"has the target {shown(target)}, outside its {len(options)} options (indices 0-{len(options) - 1})"
    return None


def _answers_target_problem(target: Any) -> Optional[str]:
    if not isinstance(target, list) or not target or not all(isinstance(t, str) for t in target):
        return f"has the target {shown(target)}; a free-form target is a list of answer texts"
    return None


def _question_problem(record: dict[str, Any], kind: SplitKind) -> Optional[str]:
    """The question of an item or response line: its options and target."""
    if kind.is_multichoice:
        return _options_problem(record["options"]) or _choice_target_problem(record["target"], record["options"])
    return _answers_target_problem(record["target"])


def item_problem(item: Any, kind: SplitKind) -> Optional[str]:
    """What is wrong with one item of a data file, or None."""
    problem = _shape_problem(item, ITEM_FIELDS + (("options",) if kind.is_multichoice else ()),
                             lacks="lacks the field(s)")
    if problem:
        return problem
    if item["problem_type"] != kind.problem_type:
        return f"has problem_type {item['problem_type']!r}, expected {kind.problem_type!r}"
    problem = _not_text(item, "prompt") or _not_a_name(item["benchmark_name"], allow_empty=True)
    if problem:
        return problem
    if item["context"] is not None and not isinstance(item["context"], str):
        return f"has the context {shown(item['context'])}, neither text nor null"
    if not isinstance(item["target"], list) or not item["target"]:
        return "has a target that is not a non-empty list"
    problem = _question_problem(item, kind)
    if problem:
        return problem
    if not kind.is_multichoice and item["benchmark_name"] == "QuAc":
        return "is a QuAc item, which the free-form prompt format does not support"
    return None


def keyed_line_problem(record: Any) -> Optional[str]:
    """What keeps a line from being resumed: it must be an object with an ``id``."""
    return _shape_problem(record, ("id",))


def journal_entry_problem(entry: Any) -> Optional[str]:
    """What keeps a judge-journal line from being replayed: it needs an id and a round."""
    problem = _shape_problem(entry, ("id", "round"))
    if problem:
        return problem
    try:
        int(entry["round"])
    except (ValueError, TypeError, OverflowError):
        return f"has the round {shown(entry['round'])}, not a number"
    for key, kinds, words in (("reply", (str, type(None)), "text or null"), ("digest", (str,), "text"),
                              ("outcome", (str,), "text"), ("usage", (dict, type(None)), "an object")):
        if key in entry and not isinstance(entry[key], kinds):
            return f"has the {key} {shown(entry[key])}, not {words}"
    return None


def response_line_problem(record: Any, kind: SplitKind) -> Optional[str]:
    """What is wrong with one response line for scoring, or None."""
    problem = _shape_problem(record, RESPONSE_FIELDS + (("options",) if kind.is_multichoice else ()))
    if problem:
        return problem
    rid = record["id"]
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or str(rid) == "":
        return f"has the id {shown(rid)}, not a string"
    if record["response"] is None:
        return ("has a null response (the model gave no answer for it): delete the line and rerun "
                "evaluate to generate it again")
    return (_not_text(record, "response") or _not_text(record, "prompt")
            or _not_a_name(record["benchmark_name"]) or _question_problem(record, kind))


def judged_line_problem(record: Any, kind: SplitKind, parser: str) -> Optional[str]:
    """What is wrong with one line of a judged file (``parser`` "rule" or "model"), or None."""
    needed = ["id", "benchmark_name"]
    if parser == "rule":
        needed.append("eval_result")
    elif kind.is_multichoice:
        needed += ["judge_option", "target"]
    else:
        needed.append("judge_score")
    problem = _shape_problem(record, needed) or _not_a_name(record["benchmark_name"])
    if problem or parser == "rule":
        return problem
    if not kind.is_multichoice:
        score = record["judge_score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
            return f"has the judge_score {shown(score)}, not a number from 0 to 1"
        return None
    problem = _choice_target_problem(record["target"])
    if problem:
        return problem
    if not isinstance(record["judge_option"], str):
        return f"has the judge_option {shown(record['judge_option'])}, not a letter"
    return None
