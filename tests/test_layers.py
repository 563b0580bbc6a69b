"""The shape of the package: dependencies run downhill, no import circles, no
argparse below the command line. Read from the source (every import, at module level
or inside a function), so a lazy import cannot hide a circle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "mix_eval"

# Layers, top to bottom; a module may import its own layer and those below it. An entry
# names a module, or a package and so the modules in it; the root package `mix_eval` names
# only its own __init__ (else every module would fall into the bottom layer unseen).
ROOT = "mix_eval"
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("command line", ("mix_eval.evaluate", "mix_eval.compute_metrics", "mix_eval.utils",
                      "mix_eval.demo", "mix_eval.__main__",
                      "mix_eval.models.__main__", "mix_eval.report", "mix_eval.compare_judges",
                      "mix_eval.calibrate", "mix_eval.bundle", "mix_eval.cli", "mix_eval.import_run",
                      "mix_eval.integrations.lm_eval.__main__")),
    ("pipeline", ("mix_eval.pipeline", "mix_eval.calibration.run", "mix_eval.integrations")),
    ("scoring and generation", ("mix_eval.scoring", "mix_eval.generation", "mix_eval.reporting",
                                "mix_eval.manifest", "mix_eval.run_bundle")),
    ("judges and models", ("mix_eval.judges", "mix_eval.models", "mix_eval.api", "mix_eval.calibration.cost")),
    ("client, data, prompts, records", ("mix_eval.llm", "mix_eval.data", "mix_eval.subset", "mix_eval.prompts",
                                      "mix_eval.responses", "mix_eval.records", "mix_eval.splits",
                                      "mix_eval.settings", "mix_eval.engines", "mix_eval.batching",
                                      "mix_eval.leaderboard", "mix_eval.calibration", "mix_eval.folders",
                                      "mix_eval.thinking")),
    ("files", ("mix_eval.errors", "mix_eval.system", ROOT)),
]
COMMAND_LINE = LAYERS[0][1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, importer: str, level: int, is_package: bool) -> str:
    if level == 0:
        return name
    base = importer.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([name] if name else []))


def imports_of(module: str) -> set[str]:
    """Every module ``module`` imports (names of project modules resolved to the module)."""
    path = MODULES[module]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", module, node.level, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return found


def project_imports(module: str) -> set[str]:
    return {m for m in imports_of(module) if m in MODULES and m != module}


def layer_of(module: str) -> int:
    """The layer of the entry naming ``module``, else of the innermost package entry holding it."""
    best, best_len = None, -1
    for rank, (_, names) in enumerate(LAYERS):
        for name in names:
            holds = module == name or (name != ROOT and module.startswith(name + "."))
            if holds and len(name) > best_len:
                best, best_len = rank, len(name)
    assert best is not None, f"{module} has no layer in tests/test_layers.py: add it"
    return best


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_a_new_module_has_no_layer_until_it_is_given_one():
    with pytest.raises(AssertionError, match="mix_eval.brand_new has no layer"):
        layer_of("mix_eval.brand_new")
    # in a package that has its layer, a new module has that layer
    assert layer_of("mix_eval.judges.brand_new") == layer_of("mix_eval.judges")
    assert layer_of(ROOT) == len(LAYERS) - 1


def test_every_entry_names_a_module_or_package():
    stale = [name for _, names in LAYERS for name in names if name not in MODULES]
    assert not stale, f"entries of tests/test_layers.py that name no module: {stale}"


def test_dependencies_run_downhill():
    uphill = []
    for module in MODULES:
        for target in project_imports(module):
            if target == "mix_eval":
                continue
            if layer_of(target) < layer_of(module):
                uphill.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                              f"({LAYERS[layer_of(target)][0]})")
    assert not uphill, "\n".join(uphill)


def test_no_import_circles():
    graph = {m: project_imports(m) - {"mix_eval"} for m in MODULES}
    # Tarjan's strongly connected components: a component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_argparse_only_in_the_command_line_layer():
    below = [m for m in MODULES if "argparse" in imports_of(m) and layer_of(m) != 0]
    assert not below, below


def test_the_checker_sees_imports_inside_functions(tmp_path):
    # the checker itself: an import inside a function counts
    assert "mix_eval.pipeline" in project_imports("mix_eval.evaluate")
    assert "mix_eval.scoring.run" in project_imports("mix_eval.compute_metrics")


@pytest.mark.parametrize("shell", ["mix_eval.evaluate", "mix_eval.compute_metrics",
                                   "mix_eval.utils.check_eval_complete", "mix_eval.report",
                                   "mix_eval.compare_judges", "mix_eval.calibrate", "mix_eval.bundle",
                                   "mix_eval.import_run"])
def test_command_line_shells_are_thin(shell):
    lines = MODULES[shell].read_text(encoding="utf-8").count("\n")
    assert lines <= 110, f"{shell} has {lines} lines: move the work below the command line"


def test_every_parser_is_made_by_new_parser_which_refuses_abbreviations():
    from mix_eval.cli.flags import new_parser

    assert new_parser("p", "d").allow_abbrev is False
    makers = [m for m, path in MODULES.items() if "ArgumentParser(" in path.read_text(encoding="utf-8")]
    assert makers == ["mix_eval.cli.flags"], makers
