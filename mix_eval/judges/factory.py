"""Judge backends built from the judge settings: the API judge, or a local model."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Optional

from mix_eval.errors import MixEvalError
from mix_eval.folders import batch_journal_path
from mix_eval.judges.judge import Judge
from mix_eval.judges.resolved import ResolvedJudge, resolve_judge
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
    from mix_eval.llm.providers import provider_entry

    judges = {kind: resolve_judge(settings, kind) for kind in SplitKind if settings.parser(kind) == "model"}
    for judge in judges.values():  # a missing key stopped the resolving
        if settings.judge_mode == "batch" and not provider_entry(judge.provider).batch_api:
            raise MixEvalError(f"--judge_mode batch sends the judge requests to the OpenAI (or Azure) Batch API; "
                               f"the judge {judge.name} is a {judge.provider} model: use --judge_mode live")
    check_not_retired(judges)


def check_not_retired(judges: dict[SplitKind, ResolvedJudge]) -> None:
    """Stop, within seconds, when an API judge is known to be shut down and its endpoint
    confirms it (`mix_eval.judges.retired`). Azure deployments are named by their owners:
    they are not asked."""
    from mix_eval.judges.retired import endpoint_says_gone, retired_error
    from mix_eval.llm.known_judges import known_judge
    from mix_eval.llm.providers import provider_entry

    flags: dict[str, list[str]] = {}
    configs: dict[str, Any] = {}
    for kind, judge in judges.items():
        if provider_entry(judge.provider).openai_compatible:
            flags.setdefault(judge.name, []).append("--" + kind.judge_flag)
            configs[judge.name] = judge.config
    for judge, judge_flags in flags.items():
        known = known_judge(judge)
        if known is None or not known.retired():
            continue
        config = configs[judge]
        if config.is_azure:
            continue
        gone = endpoint_says_gone(config)
        if gone is not None:
            raise retired_error(judge, config.display_url, gone, tuple(judge_flags)) or MixEvalError(gone)
        logger.warning("the judge %s was shut down by OpenAI on %s, but %s still serves it; its scores are "
                       "comparable with the leaderboard's only if it is the same model", judge, known.shutdown,
                       config.display_url)


def _local(factory: "JudgeFactory", judge: "ResolvedJudge") -> Judge:
    from mix_eval.judges.local import LocalJudge

    settings = factory.settings
    logger.info("loading the local judge %s", judge.name)
    return LocalJudge(judge.name, batch_size=settings.batch_size_judge, max_gpu_memory=settings.max_gpu_memory_judge,
                      backend=judge.backend, revision=judge.revision)


def _live(factory: "JudgeFactory", judge: "ResolvedJudge") -> Judge:
    from mix_eval.judges.api import ApiJudge

    return ApiJudge(judge.config, request=judge.request, progress=factory.progress)


def _batch(factory: "JudgeFactory", judge: "ResolvedJudge") -> Judge:
    from mix_eval.judges.batch_api_judge import BatchApiJudge

    return BatchApiJudge(judge.config, batch_journal_path(factory.run_dir, judge.name), judge.request,
                         progress=factory.progress)


# The judge backends by kind: a local model (--judge_model_id), or the API judge in each
# of the judge modes (`settings.JUDGE_MODES`).
JUDGE_KINDS: dict[str, Callable[["JudgeFactory", "ResolvedJudge"], Judge]] = {
    "local": _local, "live": _live, "batch": _batch}


class JudgeFactory:
    """Resolves each judge of a run once (`judges.resolved`) and builds its backend lazily,
    once per run (a local judge loads once)."""

    def __init__(self, settings: JudgeSettings, progress: bool = True, run_dir: Optional[Path] = None):
        self.settings = settings
        self.progress = progress
        self.run_dir = Path(run_dir) if run_dir is not None else Path(".")  # batch mode: its batch journals
        self._resolved: dict[SplitKind, ResolvedJudge] = {}
        self._judges: dict[str, Judge] = {}

    def resolved(self, kind: SplitKind) -> "ResolvedJudge":
        """The judge of ``kind``'s split, worked out once."""
        if kind not in self._resolved:
            self._resolved[kind] = resolve_judge(self.settings, kind)
        return self._resolved[kind]

    def get(self, kind: SplitKind) -> Judge:
        judge = self.resolved(kind)
        if judge.name not in self._judges:
            self._judges[judge.name] = JUDGE_KINDS[judge.kind](self, judge)
        return self._judges[judge.name]

    def close(self) -> None:
        for backend in self._judges.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        self._judges.clear()
