"""The score table printed after a model is scored, boxed like the reference's PrettyTable."""
from __future__ import annotations


def format_table(scores: dict[str, float]) -> str:
    """A two-column table (Split, Score)."""
    rows = [(str(k), str(v)) for k, v in scores.items()]
    w1 = max([len("Split")] + [len(r[0]) for r in rows]) + 2
    w2 = max([len("Score")] + [len(r[1]) for r in rows]) + 2
    rule = f"+{'-' * w1}+{'-' * w2}+"
    lines = [rule, f"|{'Split'.center(w1)}|{'Score'.center(w2)}|", rule]
    lines += [f"|{a.center(w1)}|{b.center(w2)}|" for a, b in rows]
    lines.append(rule)
    return "\n".join(lines)
