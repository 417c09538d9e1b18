"""One BPF function from start to end: the dispatch tables, and the driver that uses them.

The tables say which function lowers each kind of ast node (mypyc's
``irbuild`` shape): expressions from ``expressions.py`` and calls from
``calls.py``, statements from ``statements.py``.  Adding a construct is a
function in its family's module and a row in its table.
"""

from __future__ import annotations

from .. import pyast as ast
from ..frontend.model import FunctionDecl, ProbeArg
from ..types import BoolType, PtrType
from .builder import FunctionBuilder
from .calls import expr_call
from .expressions import EXPRESSIONS
from .ir import Value
from .statements import STATEMENTS
from .values import Local

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from .builder import ExprTable, ModuleCodegen, StmtTable

EXPRESSION_TABLE: ExprTable = {**EXPRESSIONS, ast.Call: expr_call}
STATEMENT_TABLE: StmtTable = STATEMENTS  # (one name per table, for symmetry)


def start_function(module: ModuleCodegen, decl: FunctionDecl) -> FunctionBuilder:
    """A builder for ``decl``, before anything is lowered (``module.current`` for errors)."""
    return FunctionBuilder(module, decl, EXPRESSION_TABLE, STATEMENT_TABLE)


def lower_function(fb: FunctionBuilder) -> str:
    """The IR text of the function ``fb`` was started for."""
    decl = fb.decl
    fb.at(decl.node)
    for name, ty in decl.params:
        slot = fb.alloca(ty, name)
        fb.b.store(ty.llvm, f"%arg.{name}", slot, ty.align)
        fb.locals[name] = Local(ty, slot)
    for arg in decl.probe_args:
        probe_argument(fb, arg)
    fb.collect_globals(decl.node)
    fb.block_of(decl.node.body)
    if not fb.b.block.terminated:
        fb.at_end()
        fb.return_default()
    for block in fb.fn.all_blocks():
        if not block.terminated:  # blocks nothing reaches, e.g. after a return in a loop
            fb.b.unreachable(block)
    return fb.fn.text()


def probe_argument(fb: FunctionBuilder, arg: ProbeArg) -> None:
    """A kprobe/uprobe parameter: its register, loaded from ``struct pt_regs`` (the context)
    and narrowed to the parameter's type (integers keep their low bits, as the callee would)."""
    ctx = f"%arg.{fb.decl.params[0][0]}"
    raw = fb.b.load("i64", fb.b.byte_gep(ctx, arg.offset), 8)
    ty = arg.ty
    if isinstance(ty, PtrType):
        value = fb.b.cast("inttoptr", "i64", raw, "ptr")
    elif isinstance(ty, BoolType):
        byte = fb.b.cast("trunc", "i64", raw, "i8")
        value = fb.b.icmp("ne", "i8", byte, "0")
    elif ty.size < 8:
        value = fb.b.cast("trunc", "i64", raw, ty.llvm)
    else:
        value = raw
    slot = fb.alloca(ty, arg.name)
    fb.store(Value(ty, value), ty, slot, fb.decl.node)
    fb.locals[arg.name] = Local(ty, slot)


__all__ = ["EXPRESSION_TABLE", "STATEMENT_TABLE", "lower_function", "start_function"]
