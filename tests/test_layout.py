"""The code stays readable: no module over 500 lines, no class over 25 methods, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "src" / "voxrelay").rglob("*.py"))
TESTS = sorted((ROOT / "tests").rglob("*.py"))
DECLARATIVE = {"src/voxrelay/realtime/events.py"}
"""Event definitions: one small class per protocol event, long by nature."""
MAX_LINES = 500
MAX_METHODS = 25


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", SOURCES + TESTS, ids=rel)
def test_module_is_at_most_500_lines(path: Path) -> None:
    if rel(path) in DECLARATIVE:
        return
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{rel(path)} has {lines} lines; split it by responsibility"


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_classes_have_at_most_25_methods(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = [
                n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            assert len(methods) <= MAX_METHODS, (
                f"{rel(path)}: class {node.name} has {len(methods)} methods"
            )


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT / "src").with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def runtime_imports(path: Path) -> set[str]:
    """voxrelay modules `path` imports when it loads (not under TYPE_CHECKING, not in functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("voxrelay"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("voxrelay"))
    return out


def test_no_import_cycles_between_modules() -> None:
    """Modules (package `__init__` re-exports aside) never import each other in a loop."""
    modules = {module_name(p): p for p in SOURCES if p.name != "__init__.py"}
    graph = {name: runtime_imports(path) & modules.keys() for name, path in modules.items()}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not cycles, "import cycles: " + "; ".join(sorted(set(cycles))[:5])
