"""``@struct(packed=True)``: wire and record layouts without padding (issue 8, item 5).

The layout is checked three ways: the object's BTF (what libbpf and bpftool read), the
runtime's ctypes class (what user space decodes), and the bytes a program writes in the
kernel, compared with ``struct.pack``'s packed layout of the same fields."""

from __future__ import annotations

import struct

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import CompileError
from bpfimport.btf import Kind, read_object
from bpfimport.compiler import compile_source

SOURCE = '''
from bpfimport.lang import *


@struct
class Inner:
    x: u16
    y: u32


@struct(packed=True)
class Wire:
    kind: u8
    length: u32
    stamp: u64
    inner: Inner
    tail: i16


@struct
class Holder:
    flag: u8
    wire: Wire
    after: u32


wires = HashMap(key=u32, value=Wire, max_entries=4)
holders = ArrayMap(key=u32, value=Holder, max_entries=2)


@syscall
def bump(ctx) -> int:
    v = wires.lookup(0)
    if v:
        w = Wire(kind=v.kind + 1, length=v.length * 2, stamp=v.stamp + 1, tail=v.tail - 1)
        w.inner.x = v.inner.x
        w.inner.y = v.inner.y + 5
        wires[1] = w
        h = Holder(flag=7, after=v.length)
        h.wire = w
        h.wire.stamp += 10
        holders[0] = h
    return 0
'''
# struct.pack's "<" is packed: no padding; Inner keeps its own (x, 2 bytes padding, y)
WIRE = struct.Struct("<BIQHxxIh")
HOLDER = struct.Struct("<B" + WIRE.format[1:] + "I")  # Holder: u8, Wire at 1 (align 1), u32 at 24


def test_packed_layout_in_btf_and_spec() -> None:
    compiled = compile_source(SOURCE, "/virtual/wire.bpf.py", "wire_bpf")
    spec = {s.name: s for s in compiled.spec.structs}
    wire = spec["Wire"]
    assert (wire.size, wire.align) == (WIRE.size, 1) == (23, 1)
    assert [(f.name, f.offset) for f in wire.fields] == [
        ("kind", 0), ("length", 1), ("stamp", 5), ("inner", 13), ("tail", 21)]
    assert [(f.name, f.offset) for f in spec["Holder"].fields] == [("flag", 0), ("wire", 1), ("after", 24)]
    btf = read_object(compiled.object).spec
    (t,) = btf.types_by_name("Wire", Kind.STRUCT)
    assert t.size == 23  # type: ignore[attr-defined]
    assert [(m.name, m.bit_offset) for m in t.members] == [  # type: ignore[attr-defined]
        ("kind", 0), ("length", 8), ("stamp", 40), ("inner", 104), ("tail", 168)]


def test_the_runtime_class_has_the_packed_layout(bpf_dir) -> None:
    import ctypes

    (bpf_dir / "wire.bpf.py").write_text(SOURCE)
    import wire_bpf as mod

    assert ctypes.sizeof(mod.Wire) == 23 and mod.Wire.stamp.offset == 5
    w = mod.Wire(kind=1, length=2, stamp=3, tail=-4)
    w.inner.y = 9
    assert bytes(w) == WIRE.pack(1, 2, 3, 0, 9, -4)


def test_a_packed_struct_round_trips_through_maps_in_the_kernel(kernel, bpf_dir) -> None:
    (bpf_dir / "wire_rt.bpf.py").write_text(SOURCE)
    import wire_rt_bpf as mod

    with mod:
        mod.wires[0] = WIRE.pack(0xFE, 0x1234_5678, 2**63 + 1, 0xBEEF, 0xC0FFEE, -300)
        mod.bump.test_run()
        out = mod.wires[1]
        assert bytes(out) == WIRE.pack(0xFF, 0x2468_ACF0, 2**63 + 2, 0xBEEF, 0xC0FFEE + 5, -301)
        assert (out.kind, out.length, out.stamp, out.inner.y, out.tail) == (
            0xFF, 0x2468_ACF0, 2**63 + 2, 0xC0FFEE + 5, -301)
        h = mod.holders[0]
        assert bytes(h) == HOLDER.pack(7, 0xFF, 0x2468_ACF0, 2**63 + 12, 0xBEEF, 0xC0FFEE + 5, -301,
                                       0x1234_5678)


@pytest.mark.parametrize("deco,message", [
    ("@struct(packed=1)", "packed= takes True or False"),
    ("@struct(pack=True)", "@struct() has no argument 'pack'"),
    ("@struct(True)", "@struct(...) takes keyword arguments only"),
])
def test_struct_options_errors(deco: str, message: str) -> None:
    src = f"from bpfimport.lang import *\n{deco}\nclass S:\n    a: u32\n" \
          "@syscall\ndef p(ctx) -> int:\n    return 0\n"
    with pytest.raises(CompileError) as info:
        compile_source(src, "/virtual/s.bpf.py", "s_bpf")
    assert message in info.value.msg
    assert info.value.lineno == 2 and info.value.hint
