"""Per-provider facts live in one table, `mix_eval.llm.providers.PROVIDERS` (issue 23,
point 1), as engines live in `mix_eval.engines`: no other module of the package compares
a provider's name as a string (``==``, ``!=``, ``in``). Read from the source with `ast`,
so the check needs no run."""
from __future__ import annotations

import ast

from conftest import REPO

from mix_eval.llm.providers import PROVIDERS

PACKAGE = REPO / "mix_eval"
TABLE = PACKAGE / "llm" / "providers" / "__init__.py"
NAMES = {"openai", "anthropic", "gemini", "reka", "azure"}


def _names_in(node: ast.AST) -> set[str]:
    """The provider names a comparison operand spells: a string, or strings in a tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value.lower()} & NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_names_in(e) for e in node.elts)) if node.elts else set()
    return set()


def compared_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every provider name compared as a string in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                                                 for op in node.ops):
            for operand in (node.left, *node.comparators):
                found += [(node.lineno, name) for name in _names_in(operand)]
    return sorted(found)


def test_the_check_finds_what_it_looks_for():
    assert compared_names('if p == "openai": pass') == [(1, "openai")]
    assert compared_names('x = p != "Anthropic"\ny = p in ("gemini", "reka")') == [(1, "anthropic"), (2, "gemini"),
                                                                                   (2, "reka")]
    assert compared_names('ok = t.lower() == "azure"') == [(1, "azure")]
    assert compared_names('make("openai"); d = {"openai": 1}; s = "openai" + x') == []


def test_no_module_compares_a_provider_name_outside_the_table():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == TABLE:
            continue
        offenders += [f"{path.relative_to(REPO)}:{line}: {name}"
                      for line, name in compared_names(path.read_text(encoding="utf-8"))]
    assert not offenders, "provider names compared outside llm/providers PROVIDERS:\n" + "\n".join(offenders)


def test_every_provider_has_its_facts_and_a_model_class():
    from mix_eval.models.sdk_models import MODEL_CLASSES

    assert set(PROVIDERS) == set(MODEL_CLASSES)
    for name, entry in PROVIDERS.items():
        assert entry.key_var and entry.token_param, name
        assert not entry.style_can_switch or entry.reasoning_token_param, name  # a switch needs another style
