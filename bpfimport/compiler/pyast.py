"""Python's syntax trees for the compiler, without importing :mod:`ast` on every compile.

``ast`` is ``_ast``'s node classes plus helpers written in Python, and its
import pulls in ``enum`` for ``unparse``'s precedence table: 3.5 ms of a cold
compile (of ~45 ms of Python), for helpers the compiler calls only to word an
error.  This module is the same node classes (``_ast``'s, which ``ast``
re-exports) and the helpers a successful compile uses; the rest come from
``ast`` itself, imported on first use.  The compiler's modules import it as
``ast``, so they read as plain ``ast`` code.
"""

from __future__ import annotations

from _ast import *  # noqa: F403 - every node class, as ``ast`` re-exports them
from _ast import AST, PyCF_ONLY_AST, PyCF_TYPE_COMMENTS

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every cold compile
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, TypeVar

    Node = TypeVar("Node", bound=AST)


def parse(source: str | bytes, filename: str = "<unknown>", mode: str = "exec", *,
          type_comments: bool = False) -> Any:
    """``ast.parse`` (the same ``compile`` call)."""
    flags = PyCF_ONLY_AST | (PyCF_TYPE_COMMENTS if type_comments else 0)
    return compile(source, filename, mode, flags, _feature_version=-1)


def iter_fields(node: AST) -> Iterator[tuple[str, Any]]:
    """``ast.iter_fields``: (name, value) for each of the node's fields that is set."""
    for field in node._fields:
        try:
            yield field, getattr(node, field)
        except AttributeError:
            pass


def iter_child_nodes(node: AST) -> Iterator[AST]:
    """``ast.iter_child_nodes``: the node's direct children, in field order."""
    for _, value in iter_fields(node):
        if isinstance(value, AST):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, AST):
                    yield item


def walk(node: AST) -> Iterator[AST]:
    """``ast.walk``: the node and all its descendants, breadth first (the same order)."""
    queue = [node]
    for item in queue:  # the loop reaches what each step appends
        queue.extend(iter_child_nodes(item))
        yield item


_POSITION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def copy_location(new_node: Node, old_node: AST) -> Node:
    """``ast.copy_location``: ``old_node``'s position onto ``new_node``; the end fields are
    copied even when None (they are optional), the start fields only when set."""
    for attr in _POSITION:
        if attr not in old_node._attributes or attr not in new_node._attributes:
            continue
        value = getattr(old_node, attr, None)
        if value is not None or (attr.startswith("end_") and hasattr(old_node, attr)):
            setattr(new_node, attr, value)
    return new_node


def unparse(node: AST) -> str:
    """``ast.unparse`` (imports ``ast``: error messages only)."""
    import ast

    return ast.unparse(node)


def literal_eval(node_or_string: str | AST) -> Any:
    """``ast.literal_eval`` (imports ``ast``)."""
    import ast

    return ast.literal_eval(node_or_string)
