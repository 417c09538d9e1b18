"""Name, type and constant resolution shared by declarations and function bodies."""

from __future__ import annotations

from .. import pyast as ast
from ..lang_structs import LANG_STRUCTS, lang_struct
from ..tables import LANG_CONSTANTS, PYTHON_BUILTIN_NAMES, importable
from ..types import (
    CHAR,
    SCALAR_NAMES,
    ArrayType,
    BoolType,
    BpfType,
    PtrType,
    StructType,
)
from .model import ModuleModel

CTYPES_NAMES = {n for n in SCALAR_NAMES if n.startswith("c_")}
# The pointer types of bpfimport.lang: UserPtr[T] points into user memory, KernelPtr[T] kernel.
POINTER_MARKERS = {"UserPtr": "user", "KernelPtr": "kernel"}


def builtin_name(model: ModuleModel, node: ast.expr) -> str | None:
    """The bpfimport.lang / ctypes / typing name an expression refers to, if any.

    ``u32`` (imported), ``ctypes.c_uint32``, ``bl.ktime`` (``import bpfimport.lang as bl``)
    and the Python builtins the compiler gives a meaning (``int``, ``print``, ``range``).
    """
    if isinstance(node, ast.Name):
        if node.id in model.names:
            return model.names[node.id]
        if model.defined(node.id):
            return None
        if node.id in PYTHON_BUILTIN_NAMES:
            return node.id
        return None
    if isinstance(node, ast.Attribute):
        dotted = dotted_name(node.value)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        module = model.modules.get(head)
        if module is None:
            return None
        full = module + ("." + rest if rest else "")
        if importable(full):
            return node.attr
    return None


def dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def const_int(model: ModuleModel, node: ast.expr) -> int | None:
    """Fold an integer constant expression (literals, module constants, operators) or None."""
    value = const_value(model, node)
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int) else None


FOLD_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
    ast.LShift: lambda a, b: a << b,
    ast.RShift: lambda a, b: a >> b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitXor: lambda a, b: a ^ b,
}


def const_value(model: ModuleModel, node: ast.expr) -> int | str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)):
        return node.value
    if isinstance(node, ast.Name) and node.id in model.constants:
        return model.constants[node.id]
    if isinstance(node, (ast.Name, ast.Attribute)) and builtin_name(model, node) in LANG_CONSTANTS:
        return LANG_CONSTANTS[builtin_name(model, node)]  # type: ignore[index]
    if isinstance(node, ast.UnaryOp):
        v = const_value(model, node.operand)
        if isinstance(v, int):
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return v
            if isinstance(node.op, ast.Invert):
                return ~v
            if isinstance(node.op, ast.Not):
                return int(not v)
    if isinstance(node, ast.Call) and builtin_name(model, node.func) == "ip4" and len(node.args) == 1 \
            and not node.keywords and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):  # BLOCKED = ip4("10.0.0.1"): a constant
        from ...headers import ip4

        try:
            return ip4(node.args[0].value)
        except ValueError:
            return None  # the codegen reports it at its use
    if isinstance(node, ast.BinOp) and type(node.op) in FOLD_BINOPS:
        a = const_value(model, node.left)
        b = const_value(model, node.right)
        if isinstance(a, int) and isinstance(b, int):
            if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and b == 0:
                return None
            if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= b < 4096:
                return None
            if isinstance(node.op, ast.Pow) and not 0 <= b < 4096:
                return None
            return FOLD_BINOPS[type(node.op)](a, b)
    return None


# The largest type a map key or value may be: the kernel's limit on a map value (KMALLOC_MAX_SIZE
# is larger, but no BPF map takes values over a few MiB in practice; 16 MiB keeps sizes in range).
MAX_TYPE_SIZE = 1 << 24


def resolve_type(model: ModuleModel, node: ast.expr | None) -> BpfType | None:
    """A type expression (annotation, ``key=``/``value=``) → type, or None if it is not one."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            inner = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
        ast.copy_location(inner, node)
        for sub in ast.walk(inner):
            ast.copy_location(sub, node)
        return resolve_type(model, inner)
    if isinstance(node, ast.Name) and node.id in model.structs:
        return model.structs[node.id]
    if isinstance(node, ast.Attribute) and builtin_name(model, node.value) == "kernel":
        return kernel_type(model, node)
    name = builtin_name(model, node)
    if name is not None and name in SCALAR_NAMES:
        return SCALAR_NAMES[name]
    if name is not None and name in LANG_STRUCTS:  # FibLookup: a struct bpfimport.lang provides
        return lang_struct(name)
    if isinstance(node, ast.Subscript) and builtin_name(model, node.value) == "Annotated":
        return annotated_type(model, node.slice)
    if name in POINTER_MARKERS:  # bare UserPtr / KernelPtr: an address in that memory
        return PtrType(None, space=POINTER_MARKERS[name])
    if isinstance(node, ast.Subscript):
        space = POINTER_MARKERS.get(builtin_name(model, node.value) or "")
        if space is not None:
            pointee = resolve_type(model, node.slice)
            return PtrType(pointee, space=space) if pointee is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        elem = resolve_type(model, node.left)
        count = const_int(model, node.right)
        if elem is not None and count is not None and 0 < count and elem.size * count <= MAX_TYPE_SIZE:
            return ArrayType(elem, count)
        return None
    if isinstance(node, ast.Call) and builtin_name(model, node.func) == "str" and len(node.args) == 1:
        count = const_int(model, node.args[0])  # pythonbpf's str(16)
        if count is not None and 0 < count <= MAX_TYPE_SIZE:
            return ArrayType(CHAR, count)
    return None


def annotated_type(model: ModuleModel, args: ast.expr) -> BpfType | None:
    """``Annotated[bytes, N]`` is ``c_char * N``, ``Annotated[list[T], N]`` is ``T * N``.

    The array spellings type checkers accept (``c_char * 16`` is not a type expression to
    them); any other ``Annotated[T, ...]`` is just ``T``.
    """
    if not isinstance(args, ast.Tuple) or len(args.elts) < 2:
        return None
    base, count = args.elts[0], const_int(model, args.elts[1])
    if count is None:
        return resolve_type(model, base)
    elem = _sequence_element(model, base)
    if elem is None or not 0 < count or elem.size * count > MAX_TYPE_SIZE:
        return None
    return ArrayType(elem, count)


def _sequence_element(model: ModuleModel, node: ast.expr) -> BpfType | None:
    """The element type of ``bytes`` (a char) or ``list[T]``, the Python side of an array."""
    if isinstance(node, ast.Name) and node.id == "bytes" and not model.defined("bytes"):
        return CHAR
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id == "list" and not model.defined("list")):
        return resolve_type(model, node.slice)
    return None


def kernel_type(model: ModuleModel, node: ast.Attribute) -> BpfType:
    """``kernel.NAME``: the kernel's struct or union NAME (a kernel pointer to one), or its
    typedef or enum NAME (the integer type); a CompileError naming close matches if none."""
    from ..core import KernelTypeError, named_type

    try:
        return named_type(node.attr)
    except KernelTypeError as e:
        raise model.source.error(node, e.message, e.hint) from None


def is_zero(model: ModuleModel, node: ast.expr, ty: BpfType) -> bool:
    """Whether ``node`` spells the zero of ``ty``.

    ``0`` is every type's zero (also ``False`` and a cast such as ``u32(0)``); ``b""`` (any
    all-NUL string) a char array's; ``[]`` an array's; ``S()`` a struct ``S``'s. BPF memory
    starts zeroed, so these are the only defaults a ``@struct`` field may carry, and the
    spellings type checkers accept where a global or local is declared zero.
    """
    if isinstance(node, ast.Call) and not node.keywords and len(node.args) <= 1:
        called = resolve_type(model, node.func)  # S(), u32(0): a cast of the same kind of type
        if called is not None and (called == ty or not (called.aggregate or ty.aggregate)):
            if not node.args:
                return True
            node = node.args[0]
    if isinstance(node, ast.List):
        return not node.elts and isinstance(ty, ArrayType)
    if isinstance(node, ast.Constant) and isinstance(node.value, (bytes, str)):
        text = node.value
        blank = not text.strip(b"\0") if isinstance(text, bytes) else not text.strip("\0")
        return blank and isinstance(ty, ArrayType) and ty.elem == CHAR
    return const_int(model, node) == 0


def zero_spelling(ty: BpfType) -> str:
    """How to write ``ty``'s zero (for hints): ``0``, ``False``, ``b""``, ``[]`` or ``S()``."""
    if isinstance(ty, StructType):
        return f"{ty.name}()"
    if isinstance(ty, ArrayType):
        return 'b""' if ty.elem == CHAR else "[]"
    return "False" if isinstance(ty, BoolType) else "0"
