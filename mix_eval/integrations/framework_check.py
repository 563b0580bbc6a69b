"""Whether an optional evaluation framework is installed, in the range of versions the
tests ran on: one line naming the `pip install` to run when it is not, and the version
found beside the range when it is outside it."""
from __future__ import annotations

import importlib
from importlib import metadata
from typing import Optional

from mix_eval.errors import MixEvalError

__all__ = ["FrameworkError", "REQUIREMENTS", "installed_version", "require_framework"]

# extra -> the framework's versions the tests ran on (setup.py's extras say the same)
REQUIREMENTS = {
    "inspect": "inspect-ai>=0.3.285,<0.4",
    # 0.4.11 sends other messages (a space before the prompt, a "type" key)
    "lm-eval": "lm-eval[api]>=0.4.12,<0.5",
}


class FrameworkError(MixEvalError):
    """An optional framework is missing, or installed at a version outside the tested range."""


def installed_version(distribution: str) -> Optional[str]:
    """The installed version of a distribution (None: not installed)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def require_framework(requirement: str, extra: str, module: str) -> str:
    """Check that ``module`` imports and its distribution meets ``requirement``
    (``"inspect-ai>=0.3.285,<0.4"``); return the installed version."""
    from packaging.requirements import Requirement

    wanted = Requirement(requirement)
    version = installed_version(wanted.name)
    fix = f"pip install -e '.[{extra}]' (or pip install '{requirement}')"
    if version is not None and not wanted.specifier.contains(version, prereleases=True):
        raise FrameworkError(f"{wanted.name} {version} is installed, but mix_eval supports {requirement} "
                             f"(the versions its tests ran on): {fix}")
    try:
        importlib.import_module(module)
    except ImportError:
        version = None
    if version is None:
        raise FrameworkError(f"{wanted.name} is not installed: {fix}")
    return version
