"""What user space may write into maps: struct fields range-checked like scalars, update
flags, per-CPU values given as lists, and the truth value of a map (issue 5, items 5 and 10)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SOURCE = """\
from bpfimport.lang import *

@struct
class Key:
    pid: u32

@struct
class Val:
    n: u8

@struct
class Inner:
    a: u16
    b: i8

@struct
class Outer:
    inner: Inner
    arr: u32 * 3
    name: c_char * 4
    flag: bool

by_pid = HashMap(key=Key, value=Val, max_entries=64)
nested = HashMap(key=u32, value=Outer, max_entries=8)
plain = HashMap(key=u32, value=u64, max_entries=8)
slots = ArrayMap(key=u32, value=u32, max_entries=4)
vec = PerCpuArrayMap(key=u32, value=u32 * 3, max_entries=2)
pc = PerCpuHashMap(key=u32, value=u64, max_entries=8)

@syscall
def touch(ctx):
    plain[1] = 1
    return 0
"""


@pytest.fixture
def mod(kernel: None, bpf_dir: Path):  # type: ignore[no-untyped-def]
    import bpfimport  # noqa: F401 - installs the import hook

    (bpf_dir / "inputs.bpf.py").write_text(SOURCE)
    m = importlib.import_module("inputs_bpf")
    yield m
    m.close()


# ---- item 5: struct fields are range-checked -------------------------------------------------


def test_an_out_of_range_struct_field_is_refused_not_truncated(mod) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: (2**32 + 5,) used to store pid=5, overwriting key 5 with n=44."""
    m = mod.by_pid
    m[(5,)] = (1,)
    with pytest.raises(OverflowError, match=r"struct Key field pid: 4294967301 is out of range "
                                            r"for u32 \(-2147483648\.\.4294967295\)"):
        m[(2**32 + 5,)] = (1,)
    with pytest.raises(OverflowError, match=r"struct Val field n: 300 is out of range for u8"):
        m[(6,)] = (300,)
    with pytest.raises(OverflowError, match="field pid"):
        m[{"pid": 2**40}] = {"n": 1}
    with pytest.raises(OverflowError, match="field n"):
        m[(7,)] = {"n": -200}
    assert m[(5,)].n == 1, "key 5 was overwritten"
    assert [k.pid for k in m.keys()] == [5]


def test_struct_instances_refuse_out_of_range_fields_when_built_or_assigned(mod) -> None:  # type: ignore[no-untyped-def]
    Key, Val = mod.Key, mod.Val
    with pytest.raises(OverflowError, match="struct Key field pid"):
        Key(2**32 + 5)
    with pytest.raises(OverflowError, match="struct Val field n"):
        Val(n=256)
    k = Key(5)
    with pytest.raises(OverflowError, match="struct Key field pid"):
        k.pid = 2**32 + 5
    assert k.pid == 5  # unchanged, not truncated
    k.pid = -1  # negatives wrap into unsigned fields, as for scalar map keys
    assert k.pid == 2**32 - 1
    with pytest.raises(TypeError, match="struct Key has 1 fields, got 2 values"):
        Key(1, 2)
    mod.by_pid[Key(9)] = Val(200)
    assert mod.by_pid[Key(9)].n == 200


def test_nested_structs_arrays_chars_and_bools_are_checked(mod) -> None:  # type: ignore[no-untyped-def]
    n = mod.nested
    n[1] = ((1, -2), [1, 2, 3], b"ab", True)
    got = n[1]
    assert (got.inner.a, got.inner.b, list(got.arr), got.name, got.flag) == (1, -2, [1, 2, 3], b"ab", True)
    bad = [
        (((2**16, 0), [0, 0, 0], b"", False), OverflowError, "struct Inner field a"),
        (((0, 128), [0, 0, 0], b"", False), OverflowError, "struct Inner field b"),
        (((0, 0), [0, 2**32, 0], b"", False), OverflowError, "struct Outer field arr"),
        (((0, 0), [0, 0], b"", False), ValueError, "struct Outer field arr"),
        (((0, 0), [0, 0, 0], b"abcde", False), ValueError, "struct Outer field name"),
        (((0, 0), [0, 0, 0], b"", 2), ValueError, "struct Outer field flag"),
        ({"inner": {"a": -40000, "b": 0}}, OverflowError, "struct Inner field a"),
        ({"inner": {"zz": 1}}, TypeError, "struct Inner has no field 'zz'"),
    ]
    for value, exc, msg in bad:
        with pytest.raises(exc, match=msg):
            n[2] = value
    assert 2 not in n
    o = mod.Outer()
    with pytest.raises(OverflowError, match="struct Inner field a"):
        o.inner = (2**16, 0)
    with pytest.raises(OverflowError, match="struct Outer field arr"):
        o.arr = [1, 2, 2**33]
    with pytest.raises(ValueError, match="struct Outer field name: 5 bytes do not fit"):
        o.name = b"abcde"
    o.name = b"xy"
    o.inner = (7, -7)
    o.arr = [4, 5, 6]  # a list is accepted for an array field, checked
    n[3] = o
    assert (n[3].inner.a, n[3].inner.b, list(n[3].arr), n[3].name) == (7, -7, [4, 5, 6], b"xy")
    with pytest.raises(OverflowError, match="field pid"):  # set() encodes as m[k] = v does
        mod.by_pid.set((2**33,), (0,))


# ---- item 10: update flags -------------------------------------------------------------------


def test_update_flags_are_checked(mod) -> None:  # type: ignore[no-untyped-def]
    p = mod.plain
    with pytest.raises(OverflowError, match=r"flags must be 0\.\.2\*\*64-1"):
        p.set(1, 1, flags=2**70)
    with pytest.raises(OverflowError, match="flags"):
        p.set(1, 1, flags=-1)
    with pytest.raises(TypeError, match="flags must be an int"):
        p.set(1, 1, flags="x")
    with pytest.raises(TypeError, match="flags must be an int"):
        p.set(1, 1, flags=1.0)
    assert 1 not in p, "a refused write must not happen as BPF_ANY"
    p.set(1, 1, flags=1)  # BPF_NOEXIST
    from bpfimport.errors import BpfError

    with pytest.raises(BpfError, match="File exists"):
        p.set(1, 2, flags=1)
    p.set(1, 3, flags=2)  # BPF_EXIST
    assert p[1] == 3


# ---- item 10: per-CPU values given as lists --------------------------------------------------


def test_a_per_cpu_array_value_may_be_a_list(mod) -> None:  # type: ignore[no-untyped-def]
    from bpfimport.runtime import libbpf as L

    ncpu = L.num_possible_cpus()
    v = mod.vec
    v[0] = (1, 2, 3)  # one value for every CPU
    v[1] = [4, 5, 6]  # the same, as a list (was: "needs N values (one per possible CPU)")
    assert v[0] == [[1, 2, 3]] * ncpu
    assert v[1] == [[4, 5, 6]] * ncpu
    v[0] = [[i, i, i] for i in range(ncpu)]  # one value per CPU
    assert v[0] == [[i, i, i] for i in range(ncpu)]
    with pytest.raises(OverflowError):
        v[0] = [1, 2, 2**32]
    with pytest.raises(ValueError, match="3 elements"):
        v[0] = [1, 2]
    # a per-CPU map of scalars: a list still means one value per CPU
    with pytest.raises(ValueError, match=f"needs {ncpu} values"):
        mod.pc[1] = [1] * (ncpu + 1)


# ---- item 10: the truth value of a map -------------------------------------------------------


def test_a_map_is_true_when_it_has_entries_like_a_dict(mod) -> None:  # type: ignore[no-untyped-def]
    p = mod.plain
    assert not p and len(p) == 0
    p[4] = 4
    assert p and len(p) == 1
    del p[4]
    assert not p
    assert mod.slots  # an ArrayMap has every index: len() is max_entries
    assert len(mod.slots) == 4
    mod.pc[1] = 1
    assert mod.pc
    assert isinstance(bool(mod.nested), bool)
    assert not mod.nested
