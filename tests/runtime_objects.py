"""BPF objects for the runtime tests, compiled from ``tests/programs/runtime_*.bpf.py``.

The runtime is tested against what the compiler really produces (maps, BTF,
global sections, line info), so the two cannot drift apart.  Two objects need
something the language cannot express; each is the compiler's own IR with one
small, checked splice, re-emitted by the compiler's backend:

* ``main``: ``put`` stores TARGET into its context (a syscall program writing
  its ctx back), which the language has no spelling for;
* ``bad_btf``: program parameters without names, BTF the kernel rejects.

Each builder returns ``(object bytes, ObjectSpec)`` and is cached: each object
is compiled once per test session (a few milliseconds).
"""

from __future__ import annotations

import ctypes
import functools
import re
from collections.abc import Callable

from bpfimport.compiler import CompiledModule, compile_source
from bpfimport.compiler.backend import emit_object
from bpfimport.compiler.elf import Elf
from bpfimport.options import DEFAULT_OPTIONS
from bpfimport.runtime.module import BpfModule, bind_module
from bpfimport.spec import ObjectSpec
from tests.conftest import PROGRAMS

Built = tuple[bytes, ObjectSpec]


@functools.cache
def compiled(filename: str, module_name: str) -> CompiledModule:
    """``tests/programs/FILENAME`` through the real compiler, default options."""
    path = PROGRAMS / filename
    return compile_source(path.read_bytes(), str(path), module_name)


def reemit(c: CompiledModule, ir: str) -> bytes:
    """Emit patched IR as the compiler would; the data layout must not have moved."""
    obj = emit_object(ir, DEFAULT_OPTIONS.cpu, DEFAULT_OPTIONS.opt_level)
    assert _data_symbols(obj) == _data_symbols(c.object), "a splice moved a map or a global"
    return obj


def _data_symbols(obj: bytes) -> list[tuple[str, int]]:
    """Object symbols (maps, globals) and their offsets: what the spec's offsets come from."""
    return sorted((s.name, s.value) for s in Elf(obj).symbols if s.kind == 1)  # STT_OBJECT


def _splice(ir: str, pattern: str, replace: str | Callable[[re.Match[str]], str]) -> str:
    """Apply one regex substitution that must match exactly once (else the IR shape changed)."""
    out, n = re.subn(pattern, replace, ir, flags=re.MULTILINE | re.DOTALL)
    assert n == 1, f"expected one match of {pattern!r} in the compiler's IR, found {n}"
    return out


def store_into_ctx(ir: str, func: str, offset: int, global_name: str, llvm_type: str) -> str:
    """Before ``func``'s return, store global ``global_name`` at byte ``offset`` of its ctx."""
    store = (f"  %splice.p = getelementptr inbounds i8, ptr %arg.ctx, i64 {offset}\n"
             f"  %splice.v = load {llvm_type}, ptr @{global_name}, align 4\n"
             f"  store {llvm_type} %splice.v, ptr %splice.p, align 4\n")
    pattern = rf"(^define [^\n]*@{func}\(ptr noundef %arg\.ctx\)[^\n]*\n.*?\n)(  ret )"
    return _splice(ir, pattern, lambda m: m.group(1) + store + m.group(2))


@functools.cache
def main() -> Built:
    """Maps of every dict-like and event kind, globals in all three sections, several program types.

    ``put``'s context is :class:`PutArgs`: it stores ``value`` under ``key`` in
    ``counts``, counts ``hits``, writes TARGET into ``out`` and returns ``scale``.
    """
    c = compiled("runtime_main.bpf.py", "main_bpf")
    layout = [(f.name, f.offset) for f in c.spec.struct("PutArgs").fields]
    assert layout == [(n, getattr(PutArgs, n).offset) for n, _ in PutArgs._fields_], layout
    return reemit(c, store_into_ctx(c.ir, "put", PutArgs.out.offset, "TARGET", "i32")), c.spec


@functools.cache
def bad() -> Built:
    """A program the verifier rejects: a map value used without a None check."""
    c = compiled("runtime_bad.bpf.py", "bad_bpf")
    return c.object, c.spec


@functools.cache
def bad_btf() -> Built:
    """An object whose BTF the kernel rejects: program parameters without names."""
    c = compiled("runtime_big.bpf.py", "badbtf_bpf")
    ir = _splice(c.ir, r'(!DILocalVariable\()name: "ctx", (arg: 1)', r"\1\2")
    return reemit(c, ir), c.spec


@functools.cache
def fentry() -> Built:
    """A tracing (fentry) program: refused by kernels in lockdown or without the type."""
    c = compiled("runtime_fentry.bpf.py", "fentry_bpf")
    return c.object, c.spec


@functools.cache
def big() -> Built:
    """One large hash map (and a per-CPU one) for bulk reads."""
    c = compiled("runtime_big.bpf.py", "big_bpf")
    return c.object, c.spec


class PutArgs(ctypes.Structure):
    """The context of ``main``'s syscall program ``put`` (``struct PutArgs`` in its source)."""

    _fields_ = [("key", ctypes.c_uint32), ("out", ctypes.c_uint32), ("value", ctypes.c_uint64)]


def bound(builder: Callable[[], Built] = main) -> BpfModule:
    """A module bound to one of the objects above, as an import would bind it."""
    data, spec = builder()
    return module_of(data, spec)


def module_of(data: bytes, spec: ObjectSpec) -> BpfModule:
    """A module of handles over compiled ``data``/``spec``, bound without the import hook."""
    mod = BpfModule(spec.name)
    bind_module(mod, spec, data)
    return mod
