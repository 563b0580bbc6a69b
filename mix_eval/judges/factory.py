"""Judge backends built from the judge settings: the API judge, or a local model."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

logger = logging.getLogger(__name__)


def check_judge_config(settings: JudgeSettings) -> None:
    """Stop before anything is generated or judged when the judge could not run."""
    if not settings.uses_model_judge:
        return
    if settings.judge_model_id:
        from mix_eval.models.factory import check_model_path

        check_model_path("--judge_model_id", settings.judge_model_id)
        if settings.backend == "vllm":
            from mix_eval.models.vllm_engine import require_vllm

            require_vllm()
        return
    from mix_eval.judges.api import judge_client_config

    for kind in SplitKind:
        judge_client_config(settings, settings.judge(kind))


class JudgeFactory:
    """Builds judge backends lazily, once per run (a local judge loads once)."""

    def __init__(self, settings: JudgeSettings, progress: bool = True, run_dir: Optional[Path] = None):
        self.settings = settings
        self.progress = progress
        self.run_dir = Path(run_dir) if run_dir is not None else Path(".")  # batch mode: its batch journals
        self._backends: dict[str, Any] = {}

    def get(self, kind: SplitKind) -> Any:
        name = self.settings.judge(kind)
        if name not in self._backends:
            if self.settings.judge_model_id:
                from mix_eval.judges.local import LocalJudge

                logger.info("loading the local judge %s", name)
                self._backends[name] = LocalJudge(
                    name, batch_size=self.settings.batch_size_judge,
                    max_gpu_memory=self.settings.max_gpu_memory_judge, backend=self.settings.backend,
                )
            elif self.settings.judge_mode == "batch":
                from mix_eval.judges.api import judge_client_config
                from mix_eval.judges.batch_judge import BatchJudge

                self._backends[name] = BatchJudge(judge_client_config(self.settings, name),
                                                  self.batch_journal(name), progress=self.progress)
            else:
                from mix_eval.judges.api import ApiJudge, judge_client_config

                self._backends[name] = ApiJudge(judge_client_config(self.settings, name), progress=self.progress)
        return self._backends[name]

    def batch_journal(self, judge: str) -> Path:
        """Batch mode: the journal of the batches of ``judge`` (in the run's folder, as a
        batch carries the requests of every model of the run)."""
        return self.run_dir / f".batch_journal_{judge.replace('/', '_')}.jsonl"

    def close(self) -> None:
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        self._backends.clear()
