"""The user's cache folder for what mix_eval makes once and keeps: the demo's tiny
checkpoint, benchmark versions fetched from the Hub."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MIX_EVAL_CACHE``, else ``$XDG_CACHE_HOME/mix_eval``, else ``~/.cache/mix_eval``.

    Never the installed package: site-packages may be read-only, and a reinstall would
    throw away what was fetched.
    """
    if os.environ.get("MIX_EVAL_CACHE"):
        return Path(os.environ["MIX_EVAL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "mix_eval"
