"""Judge backends built from the judge settings: the API judge, or a local model."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from mix_eval.errors import MixEvalError
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

logger = logging.getLogger(__name__)


def check_judge_config(settings: JudgeSettings) -> None:
    """Stop before anything is generated or judged when the judge could not run: no key,
    a flag that does not fit the judge, or a judge that was shut down (its endpoint is
    asked: `mix_eval.judges.retired`)."""
    if not settings.uses_model_judge:
        return
    if settings.judge_model_id:
        from mix_eval.models.engine import engine_class
        from mix_eval.models.factory import check_model_path

        check_model_path("--judge_model_id", settings.judge_model_id)
        engine_class(settings.backend).check_available()
        return
    from mix_eval.judges.api import judge_client_config
    from mix_eval.judges.request import judge_request

    for kind in SplitKind:
        if settings.parser(kind) != "model":
            continue
        request = judge_request(settings, kind)
        if settings.judge_mode == "batch" and request.provider != "openai":
            raise MixEvalError(f"--judge_mode batch sends the judge requests to the OpenAI (or Azure) Batch API; "
                               f"the judge {request.model} is a {request.provider} model: use --judge_mode live")
        judge_client_config(settings, request.model, request.provider)
    check_not_retired(settings)


def check_not_retired(settings: JudgeSettings) -> None:
    """Stop, within seconds, when an API judge is known to be shut down and its endpoint
    confirms it (`mix_eval.judges.retired`). Azure deployments are named by their owners:
    they are not asked."""
    from mix_eval.judges.api import judge_client_config
    from mix_eval.judges.request import judge_request
    from mix_eval.judges.retired import endpoint_says_gone, retired_error
    from mix_eval.llm.known_judges import known_judge

    flags: dict[str, list[str]] = {}
    for kind in SplitKind:
        if settings.parser(kind) == "model" and judge_request(settings, kind).provider == "openai":
            flags.setdefault(settings.judge(kind), []).append("--" + kind.judge_flag)
    for judge, judge_flags in flags.items():
        known = known_judge(judge)
        if known is None or not known.retired():
            continue
        config = judge_client_config(settings, judge)
        if config.is_azure:
            continue
        gone = endpoint_says_gone(config)
        if gone is not None:
            raise retired_error(judge, config.display_url, gone, tuple(judge_flags)) or MixEvalError(gone)
        logger.warning("the judge %s was shut down by OpenAI on %s, but %s still serves it; its scores are "
                       "comparable with the leaderboard's only if it is the same model", judge, known.shutdown,
                       config.display_url)


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
                    revision=self.settings.judge_revision,
                )
            else:
                from mix_eval.judges.api import judge_client_config
                from mix_eval.judges.request import judge_request

                request = judge_request(self.settings, kind)
                config = judge_client_config(self.settings, name, request.provider)
                if self.settings.judge_mode == "batch":
                    from mix_eval.judges.batch_judge import BatchJudge

                    self._backends[name] = BatchJudge(config, self.batch_journal(name), request,
                                                      progress=self.progress)
                else:
                    from mix_eval.judges.api import ApiJudge

                    self._backends[name] = ApiJudge(config, request=request, progress=self.progress)
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
