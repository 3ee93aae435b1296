"""The package layout's contracts: the import graph has no circle, and only the envs know their ids."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gigpo_gym", "trainer", "wrappers")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    """The project modules ``path`` imports, at module level or inside functions (a lazy import is still an arrow)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # "from . import distributed"
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: {m for m in _imports(path, name) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_project_import_graph_has_no_circle():
    graph = import_graph()
    assert "trainer.models.tiny" in graph["trainer.models.presets"]  # the graph sees the package's own arrows
    assert find_cycle(graph) is None


@pytest.mark.parametrize("package", ["trainer", "wrappers"])
def test_no_module_outside_the_envs_branches_on_an_env_id(package):
    """Env knowledge (descriptions, splits, columns, experts) comes from the env's card, not from its id's text."""
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            literals = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if isinstance(node, ast.Compare | ast.Call) and any(
                text.startswith(("ALFWorld", "WebShop")) for text in literals
            ):
                if isinstance(node, ast.Call) and not (
                    isinstance(node.func, ast.Attribute) and node.func.attr in ("startswith", "endswith")
                ):
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# the README lists these as moved or removed: they must be gone, and every other documented path must resolve
GONE = (
    "trainer.train",
    "trainer.eval",
    "trainer.quickstart",
    "trainer.tiny",
    "trainer.train.env_kwargs_of",
    "trainer.eval.DEFAULT_SPLITS",
    "wrappers.prompting.ENV_DESCRIPTIONS",
    "trainer.evaluation.ALFWORLD_COLUMNS",
)


def _resolves(dotted: str) -> bool:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_import_path_the_readme_names_resolves_and_the_moved_ones_are_gone():
    import re

    text = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`((?:trainer|wrappers|gigpo_gym)(?:\.[A-Za-z_]\w*)+)", text))
    for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL):
        for module, names in re.findall(r"^from ([\w.]+) import ([\w, ]+)$", block, re.MULTILINE):
            named.update(f"{module}.{name.strip()}" for name in names.split(","))
    assert len(named) > 30  # the README documents its API by these paths
    assert [name for name in sorted(named) if name not in GONE and not _resolves(name)] == []
    assert [name for name in GONE if _resolves(name)] == []
