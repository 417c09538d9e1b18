"""Which maps are power-of-two histograms: every key written to them is a ``log2()`` bucket.

The spec marks such a map (``MapSpec.histogram == "log2"``) so that user-space
tools that know nothing of the program print it as a histogram
(``python -m bpfimport run``).  A map qualifies when BPF code writes it
(``m[k] = v``, ``m[k] += n``, ``m.update(k, v)``) at least once and every key
written is a bucket: a ``log2(...)`` call, a local only ever bound to one, or
a ``@struct`` built with one in its bucket field (the field named ``slot``,
else the last: :func:`bpfimport.spec.slot_field`, the rule user space reads
keyed histograms by).  Anything else leaves the map a plain map; nothing here
can make a program fail to compile.
"""

from __future__ import annotations

from ...spec import slot_field
from .. import pyast as ast
from ..types import IntType, StructType
from .model import ModuleModel
from .resolve import builtin_name


def log2_histograms(model: ModuleModel) -> frozenset[str]:
    """The names of the maps whose every written key is a log2 bucket."""
    writes: dict[str, list[bool]] = {}
    for decl in model.functions.values():
        buckets = _bucket_locals(model, decl.node)
        for node in ast.walk(decl.node):
            for name, key in _written_keys(model, node):
                writes.setdefault(name, []).append(_is_bucket(model, key, buckets))
    found = set()
    for name, seen in writes.items():
        kty = model.maps[name].key
        shaped = isinstance(kty, IntType) or (isinstance(kty, StructType) and len(kty.fields) >= 2)
        if shaped and seen and all(seen):
            found.add(name)
    return frozenset(found)


def _map_name(model: ModuleModel, node: ast.expr) -> str | None:
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        node = node.func  # pythonbpf's m()
    if isinstance(node, ast.Name) and node.id in model.maps:
        return node.id
    return None


def _written_keys(model: ModuleModel, node: ast.AST) -> list[tuple[str, ast.expr]]:
    """(map name, key expression) for each map write ``node`` makes."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    out = []
    for t in targets:
        if isinstance(t, ast.Subscript) and (name := _map_name(model, t.value)) is not None:
            out.append((name, t.slice))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "update" and node.args \
            and (name := _map_name(model, node.func.value)) is not None:
        out.append((name, node.args[0]))
    return out


def _is_log2(model: ModuleModel, node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and builtin_name(model, node.func) == "log2"


def _bucket_locals(model: ModuleModel, fn: ast.FunctionDef) -> set[str]:
    """Locals every binding of which is a ``log2()`` call."""
    bound: dict[str, bool] = {}
    for node in ast.walk(fn):
        pairs: list[tuple[ast.expr, ast.expr | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign):
            pairs = [(node.target, node.value)]
        elif isinstance(node, (ast.AugAssign, ast.For)):
            pairs = [(node.target, None)]
        for target, value in pairs:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                    ok = target is name and value is not None and _is_log2(model, value)
                    bound[name.id] = bound.get(name.id, True) and ok
    return {name for name, ok in bound.items() if ok}


def _is_bucket(model: ModuleModel, key: ast.expr, buckets: set[str]) -> bool:
    if _is_log2(model, key) or (isinstance(key, ast.Name) and key.id in buckets):
        return True
    if isinstance(key, ast.Call) and isinstance(key.func, ast.Name) \
            and key.func.id in model.structs:
        struct = model.structs[key.func.id]
        names = [f.name for f in struct.fields]
        if len(names) < 2:
            return False
        slot = slot_field(names)
        given = dict(zip(names, key.args))
        given.update({kw.arg: kw.value for kw in key.keywords if kw.arg is not None})
        value = given.get(slot)
        return value is not None and _is_bucket(model, value, buckets)
    return False


__all__ = ["log2_histograms"]
