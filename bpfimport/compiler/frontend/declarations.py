"""Module level: imports, maps, structs, globals, constants, LICENSE and function signatures.

A ``.bpf.py`` module holds declarations only.  Anything else at module level
is user-space code, which belongs in the Python module that imports this one.
"""

from __future__ import annotations

from ...kinds import KEYED_OPS, MAP_KINDS, PROGRAM_KINDS, MapKind
from .. import pyast as ast
from ..lang_structs import LANG_STRUCTS
from ..tables import (
    CTYPES_MODULE,
    IGNORED_DECORATORS,
    IGNORED_IMPORTS,
    LANG_NAMES,
    RESERVED_NAMES,
    TYPING_MODULES,
    importable,
)
from ..types import (
    CHAR,
    CTX_PTR,
    I32,
    I64,
    SCALAR_NAMES,
    VOID,
    ArrayType,
    BoolType,
    BpfType,
    IntType,
    MapRefType,
    PtrType,
    StructType,
)
from . import probes
from .model import FunctionDecl, GlobalDecl, MapDecl, ModuleModel, ProbeArg, Source
from .resolve import (
    CTYPES_NAMES,
    builtin_name,
    const_int,
    const_value,
    is_zero,
    resolve_type,
    zero_spelling,
)
from .sections import SectionProblem, check_arguments, check_section

USER_SPACE_HINT = (
    "a .bpf.py file holds only BPF declarations (imports, maps, structs, globals, "
    "programs); user-space code belongs in the Python module that imports it"
)
# The longest BTF name the kernel takes: btf_name_valid_identifier (kernel/bpf/btf.c) reads up
# to KSYM_NAME_LEN characters and wants the NUL right after, so 512 since Linux 5.19 (128 before);
# measured on 6.18: 512 loads, 513 makes the kernel reject the BTF.
BTF_NAME_MAX = 512
LICENSE_MAX = 63  # libbpf copies the license into char license[64] (bpf_object__init_license)
TYPE_HINT = ("use u8/u16/u32/u64/i8/i16/i32/i64, c_char * N (Annotated[bytes, N]), "
             "u64 * N (Annotated[list[u64], N]), or a @struct class")


def kind_type(name: str) -> BpfType:
    """A type a map kind implies (``kinds.MapKind.default_key``...): ``u32`` or ``u64[127]``."""
    base, _, count = name.partition("[")
    ty = SCALAR_NAMES[base]
    return ArrayType(ty, int(count.rstrip("]"))) if count else ty


def analyze_module(source: Source, tree: ast.Module, module_name: str) -> ModuleModel:
    model = ModuleModel(source, module_name)
    analyzer = _Declarations(model)
    for stmt in tree.body:
        analyzer.statement(stmt)
    if not any(f.section for f in model.functions.values()):
        raise source.error(
            None, f"{source.filename} declares no BPF program",
            "decorate a function with a program decorator, e.g. @tracepoint(\"syscalls/sys_enter_execve\")",
        )
    if any(m.map_kind.events for m in model.maps.values()):
        from .events import infer_event_types  # only modules with event maps pay for the pass

        infer_event_types(model)  # the last fact codegen needs: the model is final from here
    return model


class _Declarations:
    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self.src = model.source

    def err(self, node: ast.AST | None, message: str, hint: str | None = None) -> Exception:
        return self.src.error(node, message, hint)

    # ------------------------------------------------------------ dispatch
    def statement(self, stmt: ast.stmt) -> None:
        handler = getattr(self, "stmt_" + type(stmt).__name__, None)
        if handler is None:
            raise self.err(stmt, f"{_describe(stmt)} is not allowed at module level in a .bpf.py file",
                           USER_SPACE_HINT)
        handler(stmt)

    def stmt_Import(self, stmt: ast.Import) -> None:
        for alias in stmt.names:
            self.check_module(stmt, alias.name)
            if alias.asname:
                self.model.modules[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.model.modules[head] = head

    def stmt_ImportFrom(self, stmt: ast.ImportFrom) -> None:
        module = stmt.module or ""
        if stmt.level:
            raise self.err(stmt, "relative imports are not supported in a .bpf.py file",
                           "import from bpfimport.lang (or ctypes) by absolute name")
        self.check_module(stmt, module)
        if module in IGNORED_IMPORTS:
            return
        for alias in stmt.names:
            if alias.name == "*":
                star = CTYPES_NAMES if module == CTYPES_MODULE else (
                    {"Final", "Annotated"} if module in TYPING_MODULES else set(LANG_NAMES)
                )
                for name in star:
                    self.model.names[name] = name
                continue
            known = self.known_in(module, alias.name)
            if not known:
                raise self.err(stmt, f"'{alias.name}' cannot be imported from {module} in a .bpf.py file",
                               f"the names bpfimport.lang provides are: {', '.join(sorted(LANG_NAMES)[:12])}, ...")
            self.model.names[alias.asname or alias.name] = alias.name

    def known_in(self, module: str, name: str) -> bool:
        if module == CTYPES_MODULE:
            return name in CTYPES_NAMES or name in ("c_char_p",)
        if module in TYPING_MODULES:
            return name in ("Final", "Any", "Annotated")
        return name in LANG_NAMES or name in CTYPES_NAMES or name in ("BPF", "trace_pipe", "trace_fields")

    def check_module(self, stmt: ast.stmt, module: str) -> None:
        if not (importable(module) or module in IGNORED_IMPORTS):
            raise self.err(stmt, f"'import {module}' is not allowed in a .bpf.py file",
                           "BPF code can use bpfimport.lang, ctypes and typing.Final; " + USER_SPACE_HINT)

    def stmt_Expr(self, stmt: ast.Expr) -> None:
        value = stmt.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return  # a docstring
        if (isinstance(value, ast.Call) and builtin_name(self.model, value.func) == "compile"
                and not value.args and not value.keywords):
            return  # pythonbpf's trailing compile()
        raise self.err(stmt, f"{_describe(stmt)} at module level would run user-space code",
                       USER_SPACE_HINT)

    def stmt_Pass(self, stmt: ast.Pass) -> None:
        return

    # ------------------------------------------------------------ assignments
    def stmt_Assign(self, stmt: ast.Assign) -> None:
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise self.err(stmt, "module-level assignment must bind one name",
                           "write one declaration per line, e.g. counts = HashMap(...)")
        name = stmt.targets[0].id
        self.declare(stmt.targets[0], name, stmt.value, None)

    def stmt_AnnAssign(self, stmt: ast.AnnAssign) -> None:
        if not isinstance(stmt.target, ast.Name):
            raise self.err(stmt, "module-level annotated assignment must bind a name")
        if stmt.value is None:
            raise self.err(stmt, f"global '{stmt.target.id}' needs an initial value",
                           f"e.g. {stmt.target.id}: u64 = 0")
        self.declare(stmt.target, stmt.target.id, stmt.value, stmt.annotation)

    def declare(self, target: ast.expr | ast.stmt, name: str, value: ast.expr, annotation: ast.expr | None) -> None:
        self.check_new_name(target, name)
        if name == "LICENSE":
            text = const_value(self.model, value)
            if not isinstance(text, str):
                raise self.err(value, "LICENSE must be a string", 'LICENSE = "GPL"')
            self.check_license(value, text)
            self.model.license, self.model.license_line = text, target.lineno
            return
        if isinstance(value, ast.Call) and self.map_kind(value.func):
            if annotation is not None and not self.map_kind(annotation):
                raise self.err(annotation, "a map's annotation must be its map type")
            self.check_name(target, name)
            self.model.maps[name] = self.map_decl(name, value)
            return
        if annotation is None:
            folded = const_value(self.model, value)
            if folded is None and isinstance(value, ast.Call):
                raise self.err(value, f"'{name} = {ast.unparse(value.func)}(...)' at module level would "
                               "run user-space code", USER_SPACE_HINT)
            if folded is None:
                raise self.err(value, f"'{name} = ...' at module level must be a constant, a map or "
                               "an annotated global", "for a mutable global write e.g. "
                               f"{name}: u64 = 0; for a constant, an integer expression")
            if isinstance(folded, str):
                self.src.utf8(value, folded, f"constant '{name}'")
            self.model.constants[name] = folded  # folded away: any Python name will do
            return
        self.check_name(target, name)
        self.global_decl(name, target, value, annotation)

    def global_decl(self, name: str, target: ast.expr | ast.stmt, value: ast.expr,
                    annotation: ast.expr) -> None:
        final = False
        ann: ast.expr | None = annotation
        if isinstance(ann, ast.Subscript) and builtin_name(self.model, ann.value) == "Final":
            final, ann = True, ann.slice
        elif builtin_name(self.model, annotation) == "Final":
            final, ann = True, None
        ty = resolve_type(self.model, ann) if ann is not None else I64
        if ty is None:
            raise self.err(ann, f"unknown type for global '{name}'", TYPE_HINT)
        self.check_local_only(ann, ty, f"global '{name}'")
        initial = self.initial_value(value, ty, name)
        zero = initial == 0 or (isinstance(initial, bytes) and not any(initial))
        section = ".rodata" if final else (".bss" if zero else ".data")
        self.model.globals[name] = GlobalDecl(name, ty, section, initial, final, target.lineno)

    def initial_value(self, value: ast.expr, ty: BpfType, name: str) -> int | bytes:
        """An integer; a string or bytes for a char array; or any type's zero (``is_zero``)."""
        if is_zero(self.model, value, ty):
            return bytes(ty.size) if ty.aggregate else 0
        # c_uint64(5) spelling (pythonbpf) or a plain constant
        if (isinstance(value, ast.Call) and len(value.args) <= 1 and not value.keywords
                and resolve_type(self.model, value.func) is not None):
            value = value.args[0] if value.args else ast.Constant(0)
        folded = const_value(self.model, value)
        if isinstance(ty, (IntType, BoolType)):
            if not isinstance(folded, int):
                raise self.err(value, f"global '{name}' needs a constant initial value")
            if not isinstance(ty, BoolType) and not ty.fits(folded):
                raise self.err(value, f"{folded} does not fit in {ty} (global '{name}')",
                               f"{ty} holds {ty.min}..{ty.max}")
            return int(folded)
        if isinstance(ty, ArrayType) and ty.elem == CHAR:
            data = value.value if isinstance(value, ast.Constant) and isinstance(value.value, bytes) else None
            if isinstance(folded, str):
                data = self.src.utf8(value, folded, f"the initial value of '{name}'")
            if data is not None:
                if len(data) > ty.length:
                    raise self.err(value, f"string of {len(data)} bytes does not fit in {ty}")
                return data.ljust(ty.length, b"\0")
        raise self.err(value, f"global '{name}' of type {ty} can only start as zero",
                       f"initialise it to {zero_spelling(ty)} and fill it from a program or from user space")

    # ------------------------------------------------------------ maps
    def map_kind(self, node: ast.expr) -> str | None:
        name = builtin_name(self.model, node)
        return name if name in MAP_KINDS else None

    def map_decl(self, name: str, call: ast.Call) -> MapDecl:
        kind = self.map_kind(call.func)
        assert kind is not None
        args: dict[str, ast.expr] = {}
        positional = ["key", "value", "max_entries", "flags"]
        if len(call.args) > len(positional):
            raise self.err(call, f"{kind}() takes at most {len(positional)} positional arguments")
        for pname, arg in zip(positional, call.args):
            args[pname] = arg
        for kw in call.keywords:
            if kw.arg is None:
                raise self.err(kw.value, "**kwargs is not supported in a map declaration")
            canonical = {"key_type": "key", "value_type": "value"}.get(kw.arg, kw.arg)
            takes_initial = MAP_KINDS[kind].value == "map"
            if canonical not in ("key", "value", "max_entries", "flags", "key_size", "value_size") \
                    and not (canonical == "initial" and takes_initial):
                raise self.err(kw.value, f"{kind}() has no argument '{kw.arg}'",
                               "use key=, value=, max_entries=, flags="
                               + (", initial=" if takes_initial else ""))
            if canonical in args:
                raise self.err(kw.value, f"{kind}() got '{canonical}' twice")
            args[canonical] = kw.value
        mk = MAP_KINDS[kind]
        key = self.map_type_arg(mk, "key", args.get("key"), call)
        value = self.map_type_arg(mk, "value", args.get("value"), call)
        if key is None and mk.default_key is not None:
            key = kind_type(mk.default_key)
        if value is None and mk.default_value is not None:
            value = kind_type(mk.default_value)
        if mk.fixed_value is not None:
            value = kind_type(mk.fixed_value)
        if mk.shape is not None:
            MAP_SHAPES[mk.shape](self, mk, key, value, args, call)
        # the kernel fixes these at 4 bytes; accept pythonbpf's key_size=c_int32 spelling
        key_size = 4 if mk.key == "int4" else None
        value_size = 4 if mk.value == "int4" else None
        max_entries = self.map_entries(mk, args.get("max_entries"), call)
        flags = mk.required_flags
        if "flags" in args:
            flags_v = const_int(self.model, args["flags"])
            if flags_v is None or not 0 <= flags_v < 1 << 32:
                raise self.err(args["flags"], "flags must be a constant from 0 to 2**32 - 1")
            flags |= flags_v
        initial: tuple[tuple[int, str], ...] = ()
        if "initial" in args:
            assert isinstance(value, MapRefType)
            initial = self.initial_slots(mk, key, value, max_entries, args["initial"])
        return MapDecl(name, kind, key, value, max_entries, flags, call.lineno, key_size, value_size,
                       initial=initial)

    def initial_slots(self, mk: MapKind, key: BpfType | None, template: MapRefType,
                      max_entries: int, node: ast.expr) -> tuple[tuple[int, str], ...]:
        """``initial=[a, b]`` (slot i holds the i-th map; None leaves it empty) or
        ``initial={0: a, 3: b}``: maps declared above, like the template, put in at load
        (libbpf fills the slots from the relocations of C's ``.values = {...}``)."""
        hint = f"e.g. initial=[{template.template.name}] or initial={{0: {template.template.name}}}"
        if isinstance(node, (ast.List, ast.Tuple)):
            pairs: list[tuple[int, ast.expr, ast.expr]] = [(i, e, e) for i, e in enumerate(node.elts)]
        elif isinstance(node, ast.Dict):
            pairs = []
            for k, v in zip(node.keys, node.values):
                slot = const_int(self.model, k) if k is not None else None
                if slot is None or k is None:
                    raise self.err(k or v, "initial={...} keys must be constant slot numbers", hint)
                pairs.append((slot, k, v))
        else:
            raise self.err(node, f"{mk.name}(initial=...) takes a list or a dict of maps", hint)
        if not (isinstance(key, IntType) and key.bits == 32):
            raise self.err(node, f"initial= needs a {mk.name} with u32 keys (libbpf fills the "
                           "slots by 4-byte index)", hint)
        slots: dict[int, str] = {}
        for slot, knode, vnode in pairs:
            if isinstance(vnode, ast.Constant) and vnode.value is None:
                continue
            if not 0 <= slot < max_entries:
                raise self.err(knode, f"slot {slot} is outside {mk.name} of max_entries="
                               f"{max_entries}")
            if slot in slots:
                raise self.err(knode, f"slot {slot} is given twice")
            inner = self.model.maps.get(vnode.id) if isinstance(vnode, ast.Name) else None
            if inner is None or not isinstance(vnode, ast.Name):
                raise self.err(vnode, "initial= holds maps declared above the map of maps", hint)
            t = template.template
            if (inner.kind, inner.key, inner.value, inner.max_entries, inner.flags) \
                    != (t.kind, t.key, t.value, t.max_entries, t.flags):
                raise self.err(vnode, f"'{vnode.id}' is not like the template '{t.name}'",
                               "an inner map has the template's kind, key, value, max_entries "
                               "and flags")
            slots[slot] = vnode.id
        return tuple(sorted(slots.items()))

    def map_entries(self, mk: MapKind, node: ast.expr | None, call: ast.Call) -> int:
        """max_entries: a constant, or 0 for a kind libbpf sizes to the CPU count."""
        if node is None:
            if mk.entries == "cpus":
                return 0
            raise self.err(call, f"{mk.name}() needs max_entries=", f"e.g. {mk.declaration_example()}")
        max_entries = const_int(self.model, node)
        if max_entries is None or not 0 < max_entries < 1 << 32:
            raise self.err(node, "max_entries must be a constant from 1 to 2**32 - 1")
        return 0 if mk.entries == "cpus" else max_entries

    def map_type_arg(self, mk: MapKind, what: str, node: ast.expr | None,
                     call: ast.Call) -> BpfType | None:
        """The key or value type, as the kind's rule for it says (``MapKind.key``/``value``)."""
        rule = mk.key if what == "key" else mk.value
        if rule in ("none", "int4"):
            return None  # not a type (ignored, as before: pythonbpf passes key_size=...)
        if node is None:
            if rule == "optional":
                return None
            raise self.err(call, f"{mk.name}() needs {what}=", f"e.g. {mk.declaration_example()}")
        if rule == "map":
            return self.inner_template(mk, node)
        ty = resolve_type(self.model, node)
        if ty is None or isinstance(ty, PtrType):
            raise self.err(node, f"unknown {what} type for {mk.name}", TYPE_HINT)
        self.check_local_only(node, ty, f"{mk.name}'s {what}")
        return ty

    def inner_template(self, mk: MapKind, node: ast.expr) -> MapRefType:
        """A map of maps' ``value=``: a map declared above, whose kind, key, value and size
        every inner map has (libbpf makes a template map of it to create the outer map)."""
        inner = self.model.maps.get(node.id) if isinstance(node, ast.Name) else None
        if inner is None:
            raise self.err(node, f"{mk.name}(value=...) takes a map declared above it, the "
                           "template of its inner maps", f"e.g. inner = HashMap(key=u32, value=u64, "
                           f"max_entries=64) and then {mk.declaration_example()}")
        if inner.map_kind.ops != KEYED_OPS:
            raise self.err(node, f"a {inner.kind} cannot be the inner map of a {mk.name}",
                           "inner maps are hash, array, per-CPU, LRU or LPM-trie maps")
        return MapRefType(inner)

    def array_of_maps_shape(self, mk: MapKind, key: BpfType | None, value: BpfType | None,
                            args: dict[str, ast.expr], call: ast.Call) -> None:
        """An array of maps is indexed like an array: 4-byte slot numbers."""
        if not (isinstance(key, IntType) and key.bits == 32):
            raise self.err(args.get("key", call), f"{mk.name} keys are u32 slot numbers",
                           f"e.g. {mk.declaration_example()} (or HashOfMaps for other keys)")

    def check_local_only(self, node: ast.expr | None, ty: BpfType, where: str) -> None:
        """Structs of bpfimport.lang (FibLookup) live in locals only: user space has no class
        for them, and their overlapping union members have no BTF layout."""
        while isinstance(ty, ArrayType):
            ty = ty.elem
        if isinstance(ty, StructType) and ty.name in LANG_STRUCTS \
                and self.model.structs.get(ty.name) is not ty:
            raise self.err(node, f"{ty.name} can only be the type of a local variable, not of "
                           f"{where}", "copy the fields you keep into a @struct of your own")

    def lpm_shape(self, mk: MapKind, key: BpfType | None, value: BpfType | None,
                  args: dict[str, ast.expr], call: ast.Call) -> None:
        """An LPM trie's key: the prefix length in bits (a u32), then the data it applies to."""
        first = key.fields[0] if isinstance(key, StructType) and key.fields else None
        if first is None or not (isinstance(first.type, IntType) and first.type.bits == 32) \
                or key is None or key.size <= 4:
            raise self.err(args.get("key", call), f"{mk.name} needs a @struct key whose first "
                           "field is the prefix length (u32) followed by the data",
                           f"e.g. {mk.declaration_example()}")

    def stack_trace_shape(self, mk: MapKind, key: BpfType | None, value: BpfType | None,
                          args: dict[str, ast.expr], call: ast.Call) -> None:
        """A stack trace map: u32 stack ids to arrays of 8-byte addresses (the kernel's layout)."""
        if not (isinstance(key, IntType) and key.bits == 32):
            raise self.err(args.get("key", call), f"{mk.name} keys are u32 stack ids",
                           "leave key= out: it is implied")
        if not (isinstance(value, ArrayType) and isinstance(value.elem, IntType)
                and value.elem.bits == 64):
            raise self.err(args.get("value", call), f"{mk.name} values are arrays of u64 "
                           "addresses", "leave value= out (127 deep), or give the depth: "
                           "value=u64 * 32")

    def redirect_shape(self, mk: MapKind, key: BpfType | None, value: BpfType | None,
                       args: dict[str, ast.expr], call: ast.Call) -> None:
        """A redirect map: u32 keys; values the kernel's sizes (a u32 ifindex, queue size or
        socket fd, or with a program fd after it: uapi's bpf_devmap_val / bpf_cpumap_val)."""
        if not (isinstance(key, IntType) and key.bits == 32):
            raise self.err(args.get("key", call), f"{mk.name} keys are u32",
                           "leave key= out: it is implied")
        sizes = REDIRECT_VALUE_SIZES[mk.name]
        if value is None or value.size not in sizes:
            raise self.err(args.get("value", call), f"{mk.name} values are "
                           f"{' or '.join(f'{n} bytes' for n in sizes)}",
                           f"leave value= out (a u32), e.g. {mk.declaration_example()}")

    # ------------------------------------------------------------ structs
    def stmt_ClassDef(self, stmt: ast.ClassDef) -> None:
        packed: bool | None = None
        for deco in stmt.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if builtin_name(self.model, target) == "struct":
                packed = self.struct_options(deco) if isinstance(deco, ast.Call) else False
        if packed is None:
            raise self.err(stmt, f"class '{stmt.name}' is not a @struct",
                           "decorate BPF data types with @struct (from bpfimport.lang)")
        if stmt.bases or stmt.keywords:
            raise self.err(stmt, f"@struct class '{stmt.name}' cannot have base classes")
        self.check_new_name(stmt, stmt.name)
        self.check_name(stmt, stmt.name)
        members: list[tuple[str, BpfType]] = []
        for item in stmt.body:
            if isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant):
                continue  # docstring
            if isinstance(item, ast.Pass):
                continue
            if not isinstance(item, ast.AnnAssign) or not isinstance(item.target, ast.Name):
                raise self.err(item, f"@struct '{stmt.name}' may contain only annotated fields",
                               "e.g. pid: u32")
            fname = item.target.id
            self.check_name(item, fname)
            if any(fname == m for m, _ in members):
                raise self.err(item, f"field '{fname}' is declared twice")
            ftype = resolve_type(self.model, item.annotation)
            if ftype is None or (isinstance(ftype, PtrType)):
                raise self.err(item.annotation, f"unknown type for field '{fname}'", TYPE_HINT)
            self.check_local_only(item.annotation, ftype, f"field '{fname}'")
            if item.value is not None:
                self.check_field_default(stmt.name, fname, item.annotation, ftype, item.value)
            members.append((fname, ftype))
        if not members:
            raise self.err(stmt, f"@struct '{stmt.name}' has no fields", "add fields such as pid: u32")
        self.model.structs[stmt.name] = StructType.layout(stmt.name, members, stmt.lineno, packed)

    def struct_options(self, deco: ast.Call) -> bool:
        """``@struct(packed=True)``: whether the layout has no padding (a wire or record format)."""
        if deco.args:
            raise self.err(deco, "@struct(...) takes keyword arguments only", "@struct(packed=True)")
        packed = False
        for kw in deco.keywords:
            if kw.arg != "packed":
                raise self.err(kw.value if kw.arg is None else kw, f"@struct() has no argument "
                               f"'{kw.arg}'", "@struct(packed=True) lays fields out without padding")
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool)):
                raise self.err(kw.value, "packed= takes True or False", "@struct(packed=True)")
            packed = kw.value.value
        return packed

    def check_field_default(self, struct: str, fname: str, annotation: ast.expr, ftype: BpfType,
                            value: ast.expr) -> None:
        """A field's default can only be its zero (``pid: u32 = 0``, ``comm: ... = b""``).

        A BPF struct starts zeroed (``S()``, and every field ``S(a=1)`` leaves out), so the
        default changes nothing: it is there because type checkers see a ``@struct`` as a
        dataclass, which wants every field without a default in the call. Any other default
        would be a promise the struct does not keep.
        """
        if is_zero(self.model, value, ftype):
            return
        zero = zero_spelling(ftype)
        raise self.err(value, f"field '{fname}' of @struct '{struct}' can only default to its zero "
                       f"({zero}): BPF structs start zeroed",
                       f"write {fname}: {ast.unparse(annotation)} = {zero} and set the value "
                       f"when constructing, {struct}({fname}=...), or after")

    # ------------------------------------------------------------ functions
    def stmt_FunctionDef(self, stmt: ast.FunctionDef) -> None:
        self.check_new_name(stmt, stmt.name)
        self.check_name(stmt, stmt.name)
        program: tuple[str, str] | None = None
        role = "subprogram"
        for deco in stmt.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            name = builtin_name(self.model, target)
            if name in IGNORED_DECORATORS:
                continue
            if name in ("map", "bpfglobal"):
                role = name
                continue
            if name in PROGRAM_KINDS:
                if program is not None:
                    raise self.err(deco, f"'{stmt.name}' has two program decorators")
                program = (name, self.section_of(name, deco))
                continue
            raise self.err(deco, f"unknown decorator on '{stmt.name}'",
                           "use a program decorator such as @tracepoint(...), @xdp or @section(...)")
        if role == "map":
            self.seed_map(stmt)
        elif role == "bpfglobal":
            self.seed_global(stmt)
        else:
            self.function(stmt, program)

    def section_of(self, kind: str, deco: ast.expr) -> str:
        spec = PROGRAM_KINDS[kind]
        if spec.args == 0:
            if isinstance(deco, ast.Call):
                raise self.err(deco, f"@{kind} takes no arguments", f"write @{kind}")
            return spec.section
        if not isinstance(deco, ast.Call) or deco.keywords or len(deco.args) != spec.args:
            example = ", ".join(['"..."'] * spec.args)
            raise self.err(deco, f"@{kind} takes {spec.args} string argument(s)", f"@{kind}({example})")
        values = []
        for arg in deco.args:
            v = const_value(self.model, arg)
            if not isinstance(v, str) or not v:
                raise self.err(arg, f"@{kind} needs a constant string")
            self.src.utf8(arg, v, f"the @{kind} argument")
            values.append(v)
        section = spec.section.format(*values)
        try:
            check_arguments(spec, values)
            check_section(section)
        except SectionProblem as e:
            raise self.err(deco.args[e.index] if e.index is not None else deco, e.message, e.hint) from None
        return section

    def function(self, stmt: ast.FunctionDef, program: tuple[str, str] | None) -> None:
        args = stmt.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
            raise self.err(stmt, f"'{stmt.name}' uses *args, **kwargs, keyword-only or default "
                           "parameters, which BPF functions do not support",
                           "use plain positional parameters")
        for arg in args.args:
            self.check_name(arg, arg.arg)
        probe_args: tuple[ProbeArg, ...] = ()
        if program is not None:
            if not args.args:
                raise self.err(stmt, f"program '{stmt.name}' must take its context as its first "
                               "parameter", f"def {stmt.name}(ctx) -> int:")
            ctx = args.args[0]
            # the context, whatever its annotation says (c_void_p is the usual one)
            if ctx.annotation is not None:
                resolve_type(self.model, ctx.annotation)  # still an error if it names nothing
            params: list[tuple[str, BpfType]] = [(ctx.arg, CTX_PTR)]
            probe_args = probes.probe_args(self.model, stmt, PROGRAM_KINDS[program[0]], args.args[1:])
        else:
            params = [(arg.arg, self.subprogram_param(stmt, arg)) for arg in args.args]
        if len(params) > 5:
            raise self.err(stmt, f"'{stmt.name}' has {len(params)} parameters; BPF passes at most 5",
                           "pass fewer values, or group them in a map or global")
        ret = self.return_type(stmt, program is not None)
        self.model.functions[stmt.name] = FunctionDecl(
            stmt.name, stmt, params, ret,
            program[1] if program else None, program[0] if program else None, probe_args,
        )

    def subprogram_param(self, stmt: ast.FunctionDef, arg: ast.arg) -> BpfType:
        if arg.annotation is None:
            raise self.err(arg, f"parameter '{arg.arg}' of subprogram '{stmt.name}' needs a type",
                           f"annotate it, e.g. {arg.arg}: u64")
        ty = resolve_type(self.model, arg.annotation)
        if ty is None or ty.aggregate:
            raise self.err(arg.annotation, f"unsupported type for parameter '{arg.arg}'",
                           "subprogram parameters are integers (u8..u64, i8..i64) or bool")
        return ty

    def return_type(self, stmt: ast.FunctionDef, is_program: bool) -> BpfType:
        ann = stmt.returns
        if ann is None:
            if is_program:
                return I32
            returns_value = any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(stmt))
            return I64 if returns_value else VOID
        if isinstance(ann, ast.Constant) and ann.value is None:
            if is_program:
                raise self.err(ann, "a BPF program returns an integer", "-> int")
            return VOID
        ty = resolve_type(self.model, ann)
        if ty is None or ty.aggregate or isinstance(ty, PtrType):
            raise self.err(ann, f"unsupported return type for '{stmt.name}'",
                           "return an integer type: int, u32, i64, c_int64, ...")
        return ty

    def seed_map(self, stmt: ast.FunctionDef) -> None:
        """pythonbpf: ``@map def counts() -> HashMap: return HashMap(...)``."""
        body = [s for s in stmt.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if (len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call)
                or not self.map_kind(body[0].value.func)):
            raise self.err(stmt, f"@map function '{stmt.name}' must be 'return MapType(...)'",
                           "or declare it directly: counts = HashMap(key=u32, value=u64, max_entries=1024)")
        self.model.maps[stmt.name] = self.map_decl(stmt.name, body[0].value)

    def seed_global(self, stmt: ast.FunctionDef) -> None:
        """pythonbpf: ``@bpfglobal def LICENSE() -> str: return "GPL"`` or a typed global."""
        body = [s for s in stmt.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
            raise self.err(stmt, f"@bpfglobal function '{stmt.name}' must be a single return of its value")
        value = body[0].value
        if stmt.name == "LICENSE":
            self.declare(stmt, "LICENSE", value, None)
            return
        if stmt.returns is None:
            raise self.err(stmt, f"@bpfglobal '{stmt.name}' needs a return annotation giving its type",
                           f"def {stmt.name}() -> c_uint64: ...")
        self.global_decl(stmt.name, stmt, value, stmt.returns)

    # ------------------------------------------------------------ guards
    def check_license(self, node: ast.expr, text: str) -> None:
        """The kernel checks the license as a C string, and libbpf hands it over from a 64-byte
        buffer: a NUL or more than 63 bytes would make it check something else than written."""
        data = self.src.utf8(node, text, "LICENSE")
        if not data:
            raise self.err(node, "LICENSE is empty; the kernel decides from it which helpers "
                           "programs may call", 'e.g. LICENSE = "GPL" or "Dual BSD/GPL"')
        if b"\0" in data:
            raise self.err(node, "LICENSE holds a NUL character; the kernel would read the license "
                           "only up to it", 'e.g. LICENSE = "GPL" or "Dual BSD/GPL"')
        if len(data) > LICENSE_MAX:
            raise self.err(node, f"LICENSE is {len(data)} bytes; libbpf passes only the first "
                           f"{LICENSE_MAX} to the kernel", 'e.g. LICENSE = "GPL" or "Dual BSD/GPL"')

    def check_new_name(self, node: ast.AST, name: str) -> None:
        if self.model.defined(name):
            raise self.err(node, f"'{name}' is declared twice in this module")
        if name in RESERVED_NAMES:
            raise self.err(node, f"'{name}' is reserved for the module's own handle methods",
                           "choose another name")
        if name.startswith("__") and name.endswith("__"):
            raise self.err(node, f"'{name}' is a reserved Python name")
        if name in self.model.names and name != "LICENSE":
            raise self.err(node, f"'{name}' shadows the imported name '{self.model.names[name]}'",
                           "choose another name")

    def check_name(self, node: ast.AST, name: str) -> None:
        """Names of programs, maps, globals, structs, fields and parameters become BTF names,
        which the kernel accepts only as ASCII identifiers of at most KSYM_NAME_LEN characters
        (btf_name_valid_identifier): refused here, at the definition, not at load time."""
        if not name.isascii():
            raise self.err(node, f"'{name}' is not an ASCII name; names in a BPF object (BTF) must be",
                           "use letters a-z, A-Z, digits and _ for module-level names, fields and parameters")
        if len(name) > BTF_NAME_MAX:
            raise self.err(node, f"'{name[:24]}...' is {len(name)} characters long; the kernel's BTF "
                           f"check allows names of at most {BTF_NAME_MAX}", "choose a shorter name")


def _describe(stmt: ast.AST) -> str:
    names = {
        "If": "an if statement", "For": "a for loop", "While": "a while loop",
        "With": "a with statement", "Try": "a try statement", "Expr": "an expression statement",
        "AsyncFunctionDef": "an async function", "Delete": "del", "AugAssign": "an augmented assignment",
        "Global": "global", "Nonlocal": "nonlocal", "Raise": "raise", "Assert": "assert",
        "Return": "return", "Break": "break", "Continue": "continue", "Match": "a match statement",
        "TypeAlias": "a type alias", "AsyncFor": "async for", "AsyncWith": "async with",
    }
    return names.get(type(stmt).__name__, type(stmt).__name__)


# MapKind.shape -> its check of a declaration's key and value types
MAP_SHAPES = {
    "lpm": _Declarations.lpm_shape,
    "stack_trace": _Declarations.stack_trace_shape,
    "array_of_maps": _Declarations.array_of_maps_shape,
    "redirect": _Declarations.redirect_shape,
}
# The value sizes the kernel takes for each redirect map (4: the u32 alone; 8: with a program fd).
REDIRECT_VALUE_SIZES = {"DevMap": (4, 8), "DevMapHash": (4, 8), "CpuMap": (4, 8), "XskMap": (4,)}

__all__ = ["analyze_module", "USER_SPACE_HINT"]

