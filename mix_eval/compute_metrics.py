"""`python -m mix_eval.compute_metrics`: score response files.

Scoring (judges, rule parsers, aggregation) is being built; until it lands,
`evaluate` runs with ``--inference_only``.
"""
from __future__ import annotations

import argparse

from mix_eval.errors import MixEvalError


def check_scoring_config(args: argparse.Namespace) -> None:
    """Stop before any generation when scoring could not run afterwards."""
    raise MixEvalError(
        "scoring is not available in this version yet; run with --inference_only to "
        "generate responses (they are kept, and can be scored later)"
    )


def compute_metrics_p(args: argparse.Namespace) -> None:
    check_scoring_config(args)
