"""The codebase keeps a shape a newcomer can hold in their head: small modules, no import cycles, and a matching
core that works on plain documents (no ORM, no runtime wiring, no web framework).

Imports are read from the source (``ast``), every one of them: at module level, inside functions and under
``TYPE_CHECKING`` alike, so a cycle cannot hide behind a lazy import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("matcher", "api")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80
WEB_FRAMEWORKS = ("fastapi", "starlette")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (absolute names; ``from x import y`` yields ``x.y`` when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def _project_imports(name: str) -> set[str]:
    out = set()
    for target in _imports(name, MODULES[name]):
        while target not in MODULES and "." in target:
            target = target.rpartition(".")[0]
        if target in MODULES and target != name:
            out.add(target)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_project_modules() -> None:
    graph = {name: _project_imports(name) for name in MODULES}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above would pass on a finder that finds nothing: this one must find a planted cycle."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_domain_never_imports_a_web_framework() -> None:
    offenders = {
        name: sorted(t for t in _imports(name, path) if t.split(".")[0] in WEB_FRAMEWORKS)
        for name, path in MODULES.items()
        if name.startswith("matcher")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_matching_works_on_plain_documents() -> None:
    """``matcher.matching`` imports no ORM model, database library, runtime wiring or web framework."""
    forbidden = ("sqlmodel", "sqlalchemy", "matcher.runtime", "api", *WEB_FRAMEWORKS)
    offenders = {}
    for name, path in MODULES.items():
        if not name.startswith("matcher.matching"):
            continue
        bad = [
            t
            for t in _imports(name, path)
            if t.endswith(".models") or any(t == f or t.startswith(f + ".") for f in forbidden)
        ]
        if bad:
            offenders[name] = bad
    assert offenders == {}


def _spans(tree: ast.AST) -> Iterator[tuple[str, str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield "class", node.name, node.end_lineno - node.lineno + 1  # type: ignore[operator]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield "function", node.name, node.end_lineno - node.lineno + 1  # type: ignore[operator]


def test_modules_classes_and_functions_stay_small() -> None:
    limits = {"class": MAX_CLASS_LINES, "function": MAX_FUNCTION_LINES}
    too_big = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"module {name}: {len(text.splitlines())} lines")
        for kind, what, lines in _spans(ast.parse(text)):
            if lines > limits[kind]:
                too_big.append(f"{kind} {name}.{what}: {lines} lines")
    assert too_big == []
