"""No import cycles between bpfimport's modules, and the layers import in one direction.

Every ``import`` in every module of the package counts: at the top, inside
functions and under ``TYPE_CHECKING`` (a lazy import hides a cycle from the
interpreter, not from a reader or a type checker).  An edge goes from a module
to the package module it names: ``from .x import y`` is an edge to ``x``, or to
``x.y`` when that is a module itself.  The parent packages an import runs
implicitly are not edges: every module would then depend on ``bpfimport``.

Cycles that other parts of the reshape are removing are listed in
:data:`ALLOWED` with the reason; each must still exist (so the list only
shrinks), and no other cycle may appear.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import bpfimport

PACKAGE = Path(bpfimport.__file__).parent

# Edges allowed to close a cycle for now, each (importer, imported) with its owner:
# the edge is a back-reference (under TYPE_CHECKING) the reshape of that layer removes.
ALLOWED: dict[tuple[str, str], str] = {
    # none left: the reshape removed the codegen mixins' and the runtime's back-references
}

# Layers that must not import each other at all (issue 7, item 1): the cache knows files,
# the compiler knows programs, the runtime never compiles.
FORBIDDEN = (
    ("bpfimport.cache", "bpfimport.compiler"),
    ("bpfimport.compiler", "bpfimport.cache"),
    ("bpfimport.compiler", "bpfimport.importer"),
    ("bpfimport.runtime", "bpfimport.compiler"),
    ("bpfimport.runtime", "bpfimport.cache"),
)


def module_names() -> dict[str, Path]:
    """Every module of the package: dotted name → file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name ``from <node.module>`` refers to, inside ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The package modules ``module`` imports, anywhere in its file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    yield sub
                elif target in modules:
                    yield target


@functools.cache
def _graph() -> dict[str, frozenset[str]]:
    """Parsed once per session (three tests read it; each parse of the package is ~0.25 s)."""
    modules = module_names()
    return {m: frozenset(imports(m, p, modules)) - {m} for m, p in modules.items()}


def graph() -> dict[str, set[str]]:
    return {m: set(edges) for m, edges in _graph().items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_walker_sees_every_kind_of_import() -> None:
    """The check itself: lazy, TYPE_CHECKING and relative imports are all edges."""
    edges = graph()
    assert "bpfimport.cache" in edges["bpfimport.importer"]  # `from . import cache`: a module
    assert "bpfimport.compiler" in edges["bpfimport.importer"]  # inside a function
    assert "bpfimport.runtime.module" in edges["bpfimport.importer"]  # inside a method
    assert "bpfimport.spec" in edges["bpfimport.importer"]  # only under TYPE_CHECKING
    assert "bpfimport.compiler.compiled" in edges["bpfimport.compiler.driver"]  # from .x import
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_package_modules() -> None:
    edges = graph()
    pruned = {m: {t for t in ts if (m, t) not in ALLOWED} for m, ts in edges.items()}
    assert cycles(pruned) == [], "import cycle(s); break them (or list an edge in ALLOWED, with why)"
    stale = [edge for edge in ALLOWED if edge[1] not in edges.get(edge[0], set())]
    assert not stale, f"these allowed edges are gone: remove them from ALLOWED: {stale}"


def test_the_layers_import_in_one_direction() -> None:
    bad = sorted((m, t) for m, ts in graph().items() for t in ts for a, b in FORBIDDEN
                 if _within(m, a) and _within(t, b))
    assert not bad, f"forbidden imports (importer, imported): {bad}"
