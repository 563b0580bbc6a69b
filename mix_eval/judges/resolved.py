"""A judge of a run, worked out once from the settings: which model, of which provider,
asked how, at what price, in which mode, at which endpoint (or as which local weights).

Before this value, the factory, the scoring run, the judge check and the run manifest
each worked these facts out again from the flags; now `resolve_judge` is the one place,
and the others read the `ResolvedJudge` it returns.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

if TYPE_CHECKING:
    from mix_eval.judges.request import JudgeRequest
    from mix_eval.llm.config import ClientConfig

__all__ = ["LOCAL", "ResolvedJudge", "resolve_judge"]

LOCAL = "local"  # the provider and the kind of a local Hugging Face judge (--judge_model_id)


@dataclass(frozen=True)
class ResolvedJudge:
    """One judge as the run uses it. ``kind``: the backend (`judges.factory.JUDGE_KINDS`:
    local, live or batch). An API judge has its ``request`` and client ``config``; a local
    judge its ``model_id``, ``revision`` and ``backend``."""

    name: str
    kind: str
    price: Optional[tuple[float, float]]
    request: Optional["JudgeRequest"] = None
    config: Optional["ClientConfig"] = None
    revision: Optional[str] = None
    backend: Optional[str] = None

    @property
    def is_local(self) -> bool:
        return self.kind == LOCAL

    @property
    def provider(self) -> str:
        return LOCAL if self.request is None else self.request.provider

    @property
    def identity(self) -> str:
        """What the judge's request digests are made of beside their messages: other weights
        (a pinned revision) or another effort give other verdicts, so they are part of it."""
        if self.request is None:
            return f"{self.name}@{self.revision}" if self.revision else self.name
        return self.request.identity

    def record(self) -> dict[str, Any]:
        """How the judge is asked, as judge_report.json records it."""
        if self.request is None:
            return {"provider": LOCAL, "backend": self.backend, "revision": self.revision}
        return self.request.as_dict()

    def endpoint(self) -> tuple[str, Optional[str]]:
        """(provider as the run manifest names it, endpoint URL) of an API judge: Azure's
        endpoint, a compatible server's URL, the OpenAI SDK's default (which
        ``OPENAI_BASE_URL`` moves), or the address of another provider's SDK."""
        from mix_eval.llm.config import OPENAI_DEFAULT_BASE_URL
        from mix_eval.llm.providers import AZURE, OPENAI, provider_entry

        assert self.request is not None and self.config is not None, "a local judge has no endpoint"
        config = self.config
        if not provider_entry(self.request.provider).openai_compatible:
            return self.request.provider, config.base_url
        if config.azure_endpoint:
            return AZURE, config.azure_endpoint
        if config.base_url:
            return OPENAI, config.base_url
        return OPENAI, os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL


def resolve_judge(settings: JudgeSettings, kind: SplitKind) -> ResolvedJudge:
    """The judge of ``kind``'s split. An API judge's key is looked up here: a missing one is
    a `MixEvalError` naming the variable to set."""
    from mix_eval.llm.pricing import price_for

    name = settings.judge(kind)
    if settings.judge_model_id:
        # a local judge has no known price: only the user's, when given
        price = price_for(name, settings.judge_price) if settings.judge_price is not None else None
        return ResolvedJudge(name, LOCAL, price, revision=settings.judge_revision, backend=settings.backend)
    from mix_eval.judges.api import judge_client_config
    from mix_eval.judges.request import judge_request

    request = judge_request(settings, kind)
    config = judge_client_config(settings, name, request.provider)
    return ResolvedJudge(name, settings.judge_mode, price_for(name, settings.judge_price), request, config)
