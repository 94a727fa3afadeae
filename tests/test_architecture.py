"""The layout rules of docs/architecture.md, checked on the source so they cannot drift.

Static reads of the files (no imports): the import graph of ``core/`` and ``ui/`` has no
cycles, no module imports another module's private names, ``core/`` never imports Streamlit,
pages only arrange widgets, and every module stays readable in one sitting.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "ui")
#: Longest module allowed (docs/architecture.md: most stay under ~400 lines).
MAX_MODULE_LINES = 700


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """``(module, names)`` of every import in ``path``, module-level or inside functions,
    except those under ``if TYPE_CHECKING:`` (annotations only, never executed)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield base, [alias.name for alias in node.names]


def _resolve(module: str, names: list[str]) -> list[str]:
    """The project modules an import statement loads (``from core.x import y`` may name a
    sub-module ``y``)."""
    found = []
    for name in names:
        if f"{module}.{name}" in MODULES:
            found.append(f"{module}.{name}")
    if module in MODULES:
        found.append(module)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names in _imports(path):
            graph[name].update(m for m in _resolve(module, names) if m != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_import_graph_has_no_cycles() -> None:
    graph = _graph()
    # A package's __init__ that re-exports its own modules is not a cycle of concepts.
    for name in graph:
        if MODULES[name].name == "__init__.py":
            graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    assert _cycles(graph) == []


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = [
        f"{name}: from {module} import {n}"
        for name, path in MODULES.items()
        for module, names in _imports(path)
        for n in names
        if n.startswith("_") and not n.startswith("__") and module.split(".")[0] in PACKAGES
    ]
    assert offenders == []


def test_core_never_imports_streamlit() -> None:
    offenders = [
        name
        for name, path in MODULES.items()
        if name.startswith("core")
        for module, _ in _imports(path)
        if module.split(".")[0] == "streamlit"
    ]
    assert offenders == []


@pytest.mark.parametrize("page", sorted((REPO / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_only_arrange_widgets(page: Path) -> None:
    """Pages import Streamlit and the ui package: no pandas, no models, no file parsing."""
    allowed = {"__future__", "streamlit", "ui"}
    used = {module.split(".")[0] for module, _ in _imports(page)}
    assert used <= allowed, f"{page.name} imports {sorted(used - allowed)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small_enough_to_read(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
