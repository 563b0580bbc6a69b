"""Judge backends built from the judge settings: the API judge, or a local model."""
from __future__ import annotations

import logging
from typing import Any

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

    def __init__(self, settings: JudgeSettings, progress: bool = True):
        self.settings = settings
        self.progress = progress
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
            else:
                from mix_eval.judges.api import ApiJudge, judge_client_config

                self._backends[name] = ApiJudge(judge_client_config(self.settings, name), progress=self.progress)
        return self._backends[name]

    def close(self) -> None:
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        self._backends.clear()
