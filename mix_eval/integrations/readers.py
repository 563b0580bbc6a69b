"""The readers of other frameworks' runs, by framework, and the import itself: read a
run (`ImportedRun`), write it as a response folder (`mix_eval.integrations.writer`). A
reader's module is imported only when its framework is asked for, so the command line
starts without any framework installed."""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Callable, Optional

from mix_eval.errors import MixEvalError
from mix_eval.integrations.imported import ImportedRun
from mix_eval.integrations.writer import write_imported_run

__all__ = ["READERS", "reader_for", "import_run"]

# framework -> "module:function" reading its run from a path
READERS: dict[str, str] = {
    "inspect": "mix_eval.integrations.inspect_import:read_inspect_log",
    "lm_eval": "mix_eval.integrations.lm_eval_import:read_lm_eval_samples",
}


def reader_for(framework: str) -> Callable[[str], ImportedRun]:
    """The reader of ``framework`` (its module imported now)."""
    if framework not in READERS:
        raise MixEvalError(f"--framework {framework}: choose one of {', '.join(sorted(READERS))}")
    module, function = READERS[framework].split(":")
    return getattr(importlib.import_module(module), function)


def import_run(framework: str, path: str | os.PathLike, output_dir: str | os.PathLike, *,
               output_name: Optional[str] = None, data_path: Optional[str] = None) -> tuple[ImportedRun, Path]:
    """Read a framework's run at ``path`` and write it as a response folder; return the run
    and the folder."""
    if not Path(path).exists():
        raise MixEvalError(f"{path}: no such file or folder (the {framework} run to import)")
    run = reader_for(framework)(str(path))
    return run, write_imported_run(run, output_dir, output_name=output_name, data_path=data_path)
