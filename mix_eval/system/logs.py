"""A logger held quieter for a while (at least WARNING), for work whose info lines would
drown what the caller prints: a replay that asks nobody, a rescoring inside a check."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator

__all__ = ["quieter"]


@contextlib.contextmanager
def quieter(name: str) -> Iterator[None]:
    """Within the block, the logger ``name`` passes warnings and errors only."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)
