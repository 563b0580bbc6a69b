"""A judge is worked out once (`mix_eval.judges.resolved`), and the factory, the scoring
run and the manifest read that one value (issue 23, point 1)."""
from __future__ import annotations

import pytest

from mix_eval.errors import MixEvalError
from mix_eval.judges.factory import JudgeFactory
from mix_eval.judges.resolved import resolve_judge
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

FF, MC = SplitKind.FREE_FORM, SplitKind.MULTIPLE_CHOICE


def test_a_reasoning_judge_at_a_compatible_server(clean_env):
    clean_env.setenv("MODEL_PARSER_API", "sk-test")
    judge = resolve_judge(JudgeSettings(freeform_judge="gpt-5-mini", api_base_url="http://127.0.0.1:9/v1"), FF)
    assert (judge.name, judge.kind, judge.provider, judge.price) == ("gpt-5-mini", "live", "openai", (0.25, 2.00))
    assert judge.request.style == "reasoning" and judge.identity == "gpt-5-mini|reasoning_effort=minimal"
    assert judge.record()["params"] == {"max_completion_tokens": 4096, "reasoning_effort": "minimal",
                                      "response_format": {"type": "text"}}
    assert judge.endpoint() == ("openai", "http://127.0.0.1:9/v1")
    assert resolve_judge(JudgeSettings(multichoice_judge="gpt-5-mini", judge_mode="batch",
                                       judge_price=(1.0, 3.0)), MC).kind == "batch"
    assert resolve_judge(JudgeSettings(judge_price=(1.0, 3.0)), MC).price == (1.0, 3.0)  # the user's over the table


def test_the_default_endpoint_and_azure(clean_env):
    clean_env.setenv("MODEL_PARSER_API", "sk-test")
    assert resolve_judge(JudgeSettings(), FF).endpoint() == ("openai", "https://api.openai.com/v1")
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:7/v1")
    assert resolve_judge(JudgeSettings(), FF).endpoint() == ("openai", "http://127.0.0.1:7/v1")
    clean_env.delenv("MODEL_PARSER_API")
    for var, value in (("OPENAI_API_TYPE", "azure"), ("OPENAI_API_KEY", "k"), ("OPENAI_API_BASE", "https://x.azure"),
                       ("OPENAI_API_VERSION", "2024-10-21")):
        clean_env.setenv(var, value)
    assert resolve_judge(JudgeSettings(), FF).endpoint() == ("azure", "https://x.azure")


def test_a_missing_key_names_the_variable(clean_env):
    with pytest.raises(MixEvalError, match="MODEL_PARSER_API"):
        resolve_judge(JudgeSettings(), FF)
    with pytest.raises(MixEvalError, match="k_ant"):
        resolve_judge(JudgeSettings(freeform_judge="claude-haiku-4-5"), FF)


def test_a_local_judge_is_its_weights_and_revision(clean_env):
    judge = resolve_judge(JudgeSettings(judge_model_id="org/judge-7b", judge_revision="abc123"), MC)
    assert (judge.kind, judge.provider, judge.identity, judge.price) == ("local", "local", "org/judge-7b@abc123", None)
    assert judge.record() == {"provider": "local", "backend": "hf", "revision": "abc123"}
    assert resolve_judge(JudgeSettings(judge_model_id="org/judge-7b"), MC).identity == "org/judge-7b"
    priced = resolve_judge(JudgeSettings(judge_model_id="org/judge-7b", judge_price=(0.1, 0.2)), MC)
    assert priced.price == (0.1, 0.2)


def test_the_factory_resolves_each_split_s_judge_once(clean_env, monkeypatch):
    clean_env.setenv("MODEL_PARSER_API", "sk-test")
    import mix_eval.judges.factory as factory_module

    calls = []
    real = factory_module.resolve_judge
    monkeypatch.setattr(factory_module, "resolve_judge", lambda s, k: calls.append(k) or real(s, k))
    factory = JudgeFactory(JudgeSettings())
    first = factory.resolved(FF)
    assert factory.resolved(FF) is first and calls == [FF]
    factory.resolved(MC)
    assert calls == [FF, MC]
