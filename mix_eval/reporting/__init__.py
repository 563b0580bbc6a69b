"""The report of a response directory: where each scored model stands against the
published leaderboard, as ``report.html`` (self-contained) and ``report.md``, and every
item's answer and verdicts beside it, as ``samples.html`` (the answers explorer).

``collect`` reads the scored folders; ``compare`` places them on the leaderboard and
says when a comparison is not like for like; ``content`` words the report once;
``svg``, ``html`` and ``markdown`` render it; ``samples`` gathers the items and
``samples_page`` renders the explorer. `write_report` is the entry point
(`python -m mix_eval.report`, and `evaluate` / `compute_metrics` after scoring).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mix_eval.errors import MixEvalError
from mix_eval.folders import REPORT_HTML_FILE, REPORT_MARKDOWN_FILE, SAMPLES_FILE
from mix_eval.settings import ReportSettings
from mix_eval.system.files import write_text_atomic

logger = logging.getLogger("mix_eval")


@dataclass
class ReportFiles:
    html: Path
    markdown: Path
    samples: Path  # the answers explorer
    runs: int  # scored folders in the report


def write_report(settings: ReportSettings) -> ReportFiles:
    """Write ``<model_response_dir>/report.html``, ``report.md`` and ``samples.html``
    (atomically), of the same scored folders."""
    from mix_eval.reporting import content, html, markdown
    from mix_eval.reporting.collect import collect
    from mix_eval.reporting.samples import write_samples

    runs = collect(settings)
    view = content.build(runs, str(Path(settings.model_response_dir)))
    root = Path(settings.model_response_dir)
    files = ReportFiles(root / REPORT_HTML_FILE, root / REPORT_MARKDOWN_FILE, root / SAMPLES_FILE, len(runs))
    write_text_atomic(files.html, html.render(view))
    write_text_atomic(files.markdown, markdown.render(view))
    write_samples(runs, root)
    return files


def report_after_scoring(model_response_dir: str, echo: Callable[[str], Any] = print) -> None:
    """The report of the whole response directory, after a scoring run. The scores are
    saved already: a report that cannot be written is a warning, not a failed run."""
    try:
        files = write_report(ReportSettings(model_response_dir=model_response_dir))
    except (MixEvalError, OSError) as e:
        logger.warning("the report was not written: %s (python -m mix_eval.report writes it again)", e)
        return
    echo(f"Report: {files.html} (and {files.markdown.name} beside it); every answer and verdict: {files.samples}")
