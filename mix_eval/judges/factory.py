"""Judge backends built from the judge settings: the API judge, or a local model."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from mix_eval.errors import MixEvalError
from mix_eval.folders import batch_journal_path
from mix_eval.judges.judge import Judge
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
    from mix_eval.llm.providers import provider_entry

    for kind in SplitKind:
        if settings.parser(kind) != "model":
            continue
        request = judge_request(settings, kind)
        if settings.judge_mode == "batch" and not provider_entry(request.provider).batch_api:
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
    from mix_eval.llm.providers import provider_entry

    flags: dict[str, list[str]] = {}
    for kind in SplitKind:
        if settings.parser(kind) == "model" and provider_entry(judge_request(settings, kind).provider).openai_compatible:
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


def _local(factory: "JudgeFactory", name: str, kind: SplitKind) -> Judge:
    from mix_eval.judges.local import LocalJudge

    settings = factory.settings
    logger.info("loading the local judge %s", name)
    return LocalJudge(name, batch_size=settings.batch_size_judge, max_gpu_memory=settings.max_gpu_memory_judge,
                      backend=settings.backend, revision=settings.judge_revision)


def _live(factory: "JudgeFactory", name: str, kind: SplitKind) -> Judge:
    from mix_eval.judges.api import ApiJudge, judge_client_config
    from mix_eval.judges.request import judge_request

    request = judge_request(factory.settings, kind)
    config = judge_client_config(factory.settings, name, request.provider)
    return ApiJudge(config, request=request, progress=factory.progress)


def _batch(factory: "JudgeFactory", name: str, kind: SplitKind) -> Judge:
    from mix_eval.judges.api import judge_client_config
    from mix_eval.judges.batch_api_judge import BatchApiJudge
    from mix_eval.judges.request import judge_request

    request = judge_request(factory.settings, kind)
    config = judge_client_config(factory.settings, name, request.provider)
    return BatchApiJudge(config, batch_journal_path(factory.run_dir, name), request, progress=factory.progress)


# The judge backends by kind: a local model (--judge_model_id), or the API judge in each
# of the judge modes (`settings.JUDGE_MODES`).
JUDGE_KINDS: dict[str, Callable[["JudgeFactory", str, SplitKind], Judge]] = {
    "local": _local, "live": _live, "batch": _batch}


def judge_kind(settings: JudgeSettings) -> str:
    """The `JUDGE_KINDS` entry the settings ask for."""
    return "local" if settings.judge_model_id else settings.judge_mode


class JudgeFactory:
    """Builds judge backends lazily, once per run (a local judge loads once)."""

    def __init__(self, settings: JudgeSettings, progress: bool = True, run_dir: Optional[Path] = None):
        self.settings = settings
        self.progress = progress
        self.run_dir = Path(run_dir) if run_dir is not None else Path(".")  # batch mode: its batch journals
        self._judges: dict[str, Judge] = {}

    def get(self, kind: SplitKind) -> Judge:
        name = self.settings.judge(kind)
        if name not in self._judges:
            self._judges[name] = JUDGE_KINDS[judge_kind(self.settings)](self, name, kind)
        return self._judges[name]

    def close(self) -> None:
        for backend in self._judges.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        self._judges.clear()
