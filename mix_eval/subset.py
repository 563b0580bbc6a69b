"""Which MixEval item each MixEval-Hard item is.

MixEval-Hard is drawn from MixEval: every Hard item equals a MixEval item field for
field. The ids do not say which: both files number their items from "0", so Hard's
"0" is mostly another question than MixEval's "0" (of the 500 + 500 Hard items of
2024-06-01, only 1 + 3 equal the MixEval item of the same id). An item is therefore
matched by its content (every field but the id); the MixEval item of the same id is
taken when its content is equal ("by id"), else one with equal content ("by content").
Both files repeat some questions (2024-06-01 Hard holds 500 free-form items but only
200 distinct ones), so the Hard copies of a question take the MixEval copies in turn.
Standard library only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

__all__ = ["HardMatch", "Matching", "item_content", "match_hard_items"]

# Fields added to a data item when it is read (`mix_eval.data.parse_items`), not part of it.
_NOT_CONTENT = ("id", "formated_input")


def item_content(item: Mapping[str, Any]) -> str:
    """What identifies an item: all its fields but the id, as canonical JSON."""
    return json.dumps({k: v for k, v in item.items() if k not in _NOT_CONTENT}, sort_keys=True)


@dataclass(frozen=True)
class HardMatch:
    hard_id: str
    source_id: str  # the MixEval item's id
    by_id: bool  # the MixEval item of the same id is the same question


@dataclass
class Matching:
    """The MixEval item of each Hard item (Hard's order), and the Hard items with none."""

    matches: list[HardMatch]
    unmatched: list[str]

    @property
    def by_id(self) -> int:
        return sum(1 for m in self.matches if m.by_id)

    @property
    def by_content(self) -> int:
        return sum(1 for m in self.matches if not m.by_id)


def match_hard_items(mixeval_items: Iterable[Mapping[str, Any]],
                     hard_items: Iterable[Mapping[str, Any]]) -> Matching:
    """Match each Hard item (with its ``id``) to a MixEval item of equal content."""
    mixeval = {str(item["id"]): item for item in mixeval_items}
    by_content: dict[str, list[str]] = {}
    for item_id, item in mixeval.items():
        by_content.setdefault(item_content(item), []).append(item_id)
    hard = [(str(item["id"]), item_content(item)) for item in hard_items]
    same_id = {hid for hid, content in hard if hid in mixeval and item_content(mixeval[hid]) == content}
    turn: dict[str, int] = {}
    matches, unmatched = [], []
    for hid, content in hard:
        if hid in same_id:
            matches.append(HardMatch(hid, hid, True))
            continue
        candidates = by_content.get(content)
        if not candidates:
            unmatched.append(hid)
            continue
        free = [c for c in candidates if c not in same_id] or candidates  # not already taken by id
        n = turn.get(content, 0)
        turn[content] = n + 1
        matches.append(HardMatch(hid, free[n % len(free)], False))
    return Matching(matches, unmatched)
