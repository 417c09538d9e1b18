"""A small emitter of LLVM IR text.

Why text and not ``llvmlite.ir``: BTF needs debug metadata with cycles (a
subprogram's retained parameters point back at the subprogram), which
llvmlite's IR objects cannot build without recursing in their hashing.  Text
gives us every construct the BPF backend understands; llvmlite parses and
verifies it, so a mistake here is caught as an internal error, never as a
wrong program.
"""

from __future__ import annotations

from ..types import BpfType, mem_llvm


def ir_string(data: bytes) -> str:
    """``data`` as an LLVM IR string literal: every byte LLVM would read as syntax (``"``,
    ``\\``) or that is not printable ASCII becomes ``\\XX``, so the object holds exactly
    ``data`` (``\\70`` written verbatim would otherwise be read back as ``p``)."""
    out = []
    for b in data:
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C):
            out.append(chr(b))
        else:
            out.append(f"\\{b:02X}")
    return '"' + "".join(out) + '"'


class Value:
    """An IR operand with the compiler type of what it holds.

    Scalars are SSA values; for aggregates (structs, arrays) ``ref`` is the
    address of the memory holding the value.
    """

    __slots__ = ("ty", "ref", "home")

    def __init__(self, ty: BpfType, ref: str, home: str | None = None) -> None:
        self.ty = ty
        self.ref = ref
        # A scalar just read from a local: the local's stack slot, which map helpers can
        # take as a key pointer directly instead of a fresh copy (as clang passes &key)
        self.home = home

    @property
    def llvm(self) -> str:
        return "ptr" if self.ty.aggregate else self.ty.llvm

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Value) and (self.ty, self.ref) == (other.ty, other.ref)

    def __hash__(self) -> int:
        return hash((self.ty, self.ref))

    def __repr__(self) -> str:
        return f"Value({self.ty!r}, {self.ref!r})"


class Block:
    """A basic block; compared by identity."""

    __slots__ = ("label", "lines", "terminated", "placed")

    def __init__(self, label: str) -> None:
        self.label = label
        self.lines: list[str] = []
        self.terminated = False
        self.placed = False  # in the function's layout yet


class FunctionIR:
    """One function's blocks and the counter that names its temporaries."""

    def __init__(self, name: str, ret: str, params: list[tuple[str, str]], header_extra: str) -> None:
        self.name = name
        self.ret = ret
        self.params = params  # (llvm type, name)
        self.header_extra = header_extra  # linkage/attributes/section/!dbg after the signature
        self.linkage = "dso_local"
        self.allocas: list[str] = []
        self.blocks: list[Block] = []  # in layout order
        self._created: list[Block] = []
        self._count = 0
        self._labels: dict[str, int] = {}

    def tmp(self, hint: str = "t") -> str:
        self._count += 1
        return f"%{hint}{self._count}"

    def new_block(self, hint: str) -> Block:
        """A block that joins the layout when code is first placed in it (see ``place``)."""
        n = self._labels.get(hint, 0)
        self._labels[hint] = n + 1
        block = Block(hint if hint == "entry" else f"{hint}.{n}")
        self._created.append(block)
        return block

    def place(self, block: Block) -> None:
        """Lay blocks out in the order code is written into them, i.e. source order.

        Blocks are made before their code (a branch needs its targets), so
        appending at creation would put an ``if``'s join block before the
        blocks of its body, and LLVM keeps much of that layout: extra jumps.
        """
        if not block.placed:
            block.placed = True
            self.blocks.append(block)

    def all_blocks(self) -> list[Block]:
        for block in self._created:
            self.place(block)
        return self.blocks

    def text(self) -> str:
        params = ", ".join(f"{t} noundef %{n}" for t, n in self.params)
        out = [f"define {self.linkage} {self.ret} @{self.name}({params}) {self.header_extra} {{"]
        for i, block in enumerate(self.all_blocks()):
            out.append(f"{block.label}:")
            if i == 0:
                out.extend(self.allocas)
            out.extend(block.lines)
        out.append("}")
        return "\n".join(out)


class Builder:
    """Appends instructions to the current block, each tagged with the current source location."""

    def __init__(self, fn: FunctionIR) -> None:
        self.fn = fn
        self.block = fn.new_block("entry")
        fn.place(self.block)
        self.dbg: int | None = None  # metadata id of the current DILocation

    # ------------------------------------------------------------ plumbing
    def _suffix(self) -> str:
        return f", !dbg !{self.dbg}" if self.dbg is not None else ""

    def emit(self, text: str) -> None:
        if self.block.terminated:
            # Code after return/break cannot run, but later code may use what it
            # defines: give it a block of its own, which nothing jumps to.
            self.position(self.new_block("dead"))
        self.block.lines.append(f"  {text}{self._suffix()}")

    def assign(self, text: str, hint: str = "t") -> str:
        name = self.fn.tmp(hint)
        self.emit(f"{name} = {text}")
        return name

    def terminate(self, text: str) -> None:
        self.emit(text)
        self.block.terminated = True

    def position(self, block: Block) -> None:
        self.fn.place(block)
        self.block = block

    def new_block(self, hint: str) -> Block:
        return self.fn.new_block(hint)

    # ------------------------------------------------------------ memory
    def alloca(self, ty: BpfType, hint: str = "v", align: int | None = None) -> str:
        name = self.fn.tmp(hint)
        align = max(ty.align if align is None else align, 1)
        self.fn.allocas.append(f"  {name} = alloca {mem_llvm(ty)}, align {align}")
        return name

    def zero_at_entry(self, ty: BpfType, ptr: str) -> None:
        """Zero ``ptr`` (a ``ty`` stack slot) in the entry block, before any other code:
        a local then reads a defined zero on every path, as the verifier demands."""
        if ty.aggregate:
            self.fn.allocas.append(f"  call void @llvm.memset.p0.i64(ptr align {ty.align} {ptr}, "
                                   f"i8 0, i64 {ty.size}, i1 false)")
        else:
            zero = "null" if mem_llvm(ty) == "ptr" else "0"
            self.fn.allocas.append(f"  store {mem_llvm(ty)} {zero}, ptr {ptr}")

    def load(self, llvm_ty: str, ptr: str, align: int, volatile: bool = False) -> str:
        v = "volatile " if volatile else ""
        return self.assign(f"load {v}{llvm_ty}, ptr {ptr}, align {align}")

    def store(self, llvm_ty: str, value: str, ptr: str, align: int) -> None:
        self.emit(f"store {llvm_ty} {value}, ptr {ptr}, align {align}")

    def byte_gep(self, ptr: str, offset: int) -> str:
        if offset == 0:
            return ptr
        return self.assign(f"getelementptr inbounds i8, ptr {ptr}, i64 {offset}", "p")

    def byte_gep_dynamic(self, ptr: str, offset: str) -> str:
        """``ptr + offset`` bytes, for an ``i64`` offset known only at run time."""
        return self.assign(f"getelementptr inbounds i8, ptr {ptr}, i64 {offset}", "p")

    def unreachable(self, block: Block) -> None:
        """End a block nothing jumps to (e.g. after a return inside a loop)."""
        block.lines.append("  unreachable")
        block.terminated = True

    def memset(self, ptr: str, size: int, align: int) -> None:
        self.emit(f"call void @llvm.memset.p0.i64(ptr align {align} {ptr}, i8 0, i64 {size}, i1 false)")

    def memcpy(self, dst: str, src: str, size: int, align: int) -> None:
        self.emit(
            f"call void @llvm.memcpy.p0.p0.i64(ptr align {align} {dst}, ptr align {align} {src}, "
            f"i64 {size}, i1 false)"
        )

    # ------------------------------------------------------------ arithmetic
    def binop(self, op: str, llvm_ty: str, a: str, b: str) -> str:
        return self.assign(f"{op} {llvm_ty} {a}, {b}")

    def icmp(self, pred: str, llvm_ty: str, a: str, b: str) -> str:
        return self.assign(f"icmp {pred} {llvm_ty} {a}, {b}", "c")

    def select(self, cond: str, llvm_ty: str, a: str, b: str) -> str:
        return self.assign(f"select i1 {cond}, {llvm_ty} {a}, {llvm_ty} {b}")

    def cast(self, op: str, from_ty: str, value: str, to_ty: str) -> str:
        return self.assign(f"{op} {from_ty} {value} to {to_ty}")

    def atomicrmw(self, op: str, ptr: str, llvm_ty: str, value: str, align: int) -> str:
        # monotonic: counters need atomicity, not ordering; BPF then uses the plain lock-add form
        return self.assign(f"atomicrmw {op} ptr {ptr}, {llvm_ty} {value} monotonic, align {align}")

    # ------------------------------------------------------------ calls
    def call_helper(self, helper_id: int, ret: str, args: list[tuple[str, str]]) -> str:
        """Call a BPF helper the way clang does: through an inttoptr of its number."""
        argtypes = ", ".join(t for t, _ in args)
        argv = ", ".join(f"{t} {v}" for t, v in args)
        return self.assign(f"call {ret} ({argtypes}) inttoptr (i64 {helper_id} to ptr)({argv})", "r")

    def call(self, ret: str, name: str, args: list[tuple[str, str]]) -> str | None:
        argv = ", ".join(f"{t} {v}" for t, v in args)
        if ret == "void":
            self.emit(f"call void @{name}({argv})")
            return None
        return self.assign(f"call {ret} @{name}({argv})", "r")

    # ------------------------------------------------------------ CO-RE (compiler/core.py)
    def core_value(self, reloc: str, llvm_ty: str, seq: int) -> str:
        """The value a CO-RE relocation global stands for (libbpf patches the instruction);
        the passthrough keeps LLVM from moving or merging the read (``seq`` is unique)."""
        raw = self.assign(f"load {llvm_ty}, ptr {reloc}, align {8 if llvm_ty == 'i64' else 4}", "core")
        return self.assign(f"call {llvm_ty} @llvm.bpf.passthrough.{llvm_ty}.{llvm_ty}(i32 {seq}, "
                           f"{llvm_ty} {raw})", "core")

    def core_address(self, reloc: str, base: str, seq: int) -> str:
        """``base`` plus the relocated byte offset ``reloc`` stands for: a field's address."""
        offset = self.assign(f"load i64, ptr {reloc}, align 8", "core")
        address = self.byte_gep_dynamic(base, offset)
        return self.assign(f"call ptr @llvm.bpf.passthrough.p0.p0(i32 {seq}, ptr {address})", "core")

    # ------------------------------------------------------------ control flow
    def br(self, target: Block) -> None:
        self.terminate(f"br label %{target.label}")

    def cbr(self, cond: str, then: Block, other: Block) -> None:
        self.terminate(f"br i1 {cond}, label %{then.label}, label %{other.label}")

    def phi(self, llvm_ty: str, incoming: list[tuple[str, Block]]) -> str:
        pairs = ", ".join(f"[ {v}, %{b.label} ]" for v, b in incoming)
        return self.assign(f"phi {llvm_ty} {pairs}")

    def ret(self, llvm_ty: str, value: str | None) -> None:
        self.terminate(f"ret {llvm_ty} {value}" if value is not None else "ret void")


CORE_ATTRIBUTES = "#1"  # the attribute group of CO-RE relocation globals


def core_relocation_global(name: str, llvm_ty: str, di: int) -> str:
    """A CO-RE relocation as LLVM's BPF backend reads it: an external global named
    ``llvm.TYPE:KIND:LOCAL_VALUE$ACCESS`` with the root type's debug type (what clang's
    BPF passes make of ``__builtin_preserve_access_index``; see compiler/core.py)."""
    return f"{name} = external global {llvm_ty}, !llvm.preserve.access.index !{di} {CORE_ATTRIBUTES}"


def core_declarations() -> list[str]:
    """What a module with CO-RE relocations declares besides their globals."""
    return [
        "declare ptr @llvm.bpf.passthrough.p0.p0(i32, ptr)",
        "declare i32 @llvm.bpf.passthrough.i32.i32(i32, i32)",
        "declare i64 @llvm.bpf.passthrough.i64.i64(i32, i64)",
        f'attributes {CORE_ATTRIBUTES} = {{ "btf_ama" }}',
    ]
