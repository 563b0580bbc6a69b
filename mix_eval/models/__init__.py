"""Models: the registry's catalog and the backends behind one narrow interface.

`AVAILABLE_MODELS` maps every catalog name to its kind, without importing any
backend (the reference imported all of its model modules, and torch, here).
"""
from __future__ import annotations

from mix_eval.models.catalog import SPECS

AVAILABLE_MODELS: dict[str, str] = {name: spec.kind for name, spec in SPECS.items()}

__all__ = ["AVAILABLE_MODELS"]
