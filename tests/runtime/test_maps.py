"""Map handles against real kernel maps: the dict protocol, conversions, batch reads."""

from __future__ import annotations

import ctypes

import pytest

from bpfimport.errors import BpfError
from bpfimport.runtime import libbpf as L
from bpfimport.runtime.maps import MapError
from bpfimport.runtime.module import BpfModule
from tests import runtime_objects as RO
from tests.runtime_objects import PutArgs, bound


def test_description_needs_no_kernel() -> None:
    m = bound(RO.main)
    assert m.counts.name == "counts"
    assert m.counts.kind == "HashMap"
    assert m.counts.max_entries == 1024
    assert m.counts.key_type is ctypes.c_uint32
    assert m.counts.value_type is ctypes.c_uint64
    assert m.events.value_type is m.Event
    assert m.names.key_type is ctypes.c_char * 8
    assert not m.__bpf_object__.loaded


def test_hash_map_dict_protocol(mod: BpfModule) -> None:
    c = mod.counts
    assert len(c) == 0
    with pytest.raises(KeyError):
        c[1]
    assert c.get(1) is None
    assert c.get(1, 5) == 5
    assert 1 not in c
    c[1] = 10
    c[2] = 20
    c[3] = 2**64 - 1
    assert c[1] == 10
    assert c.get(2) == 20
    assert c[3] == 2**64 - 1
    assert 2 in c
    assert len(c) == 3
    assert sorted(c) == [1, 2, 3]
    assert sorted(c.keys()) == [1, 2, 3]
    assert sorted(c.values()) == [10, 20, 2**64 - 1]
    assert sorted(c.items()) == [(1, 10), (2, 20), (3, 2**64 - 1)]
    del c[2]
    assert 2 not in c
    with pytest.raises(KeyError):
        del c[2]
    c.clear()
    assert len(c) == 0
    assert c.items() == []


def test_program_writes_are_visible(mod: BpfModule) -> None:
    mod.put.test_run(ctx=PutArgs(7, 0, 42))
    assert mod.counts[7] == 42
    assert mod.counts.items() == [(7, 42)]


def test_integer_range_is_checked(mod: BpfModule) -> None:
    with pytest.raises(OverflowError):
        mod.counts[2**32] = 1
    with pytest.raises(OverflowError):
        mod.counts[1] = 2**64
    with pytest.raises(TypeError):
        mod.counts["x"] = 1
    mod.counts[1] = -1  # negative values wrap into unsigned types, as in C
    assert mod.counts[1] == 2**64 - 1
    assert 2**40 not in mod.counts


def test_array_map(mod: BpfModule) -> None:
    a = mod.arr
    assert len(a) == 8
    assert a[0] == 0 and a[7] == 0
    assert 7 in a
    assert 8 not in a
    with pytest.raises(KeyError):
        a[8]
    a[3] = 33
    assert a[3] == 33
    assert a.items() == [(i, 33 if i == 3 else 0) for i in range(8)]
    assert a.items(batch=False) == a.items()
    assert list(a) == list(range(8))
    with pytest.raises(MapError) as info:
        del a[3]
    assert isinstance(info.value, TypeError) and "cannot be deleted" in str(info.value)
    with pytest.raises(KeyError):
        a[8] = 1
    a.clear()
    assert a.values() == [0] * 8


def test_percpu_maps(mod: BpfModule) -> None:
    ncpu = L.num_possible_cpus()
    p = mod.pcpu
    assert p[0] == [0] * ncpu
    p[1] = 5  # one value: every CPU
    assert p[1] == [5] * ncpu
    p[2] = list(range(ncpu))
    assert p[2] == list(range(ncpu))
    with pytest.raises(ValueError, match="one per possible CPU"):
        p[2] = [1] * (ncpu + 1)
    assert dict(p.items())[2] == list(range(ncpu))
    assert p.items() == p.items(batch=False)
    h = mod.pchash
    h[10] = [i * 2**40 for i in range(ncpu)]
    h[11] = 1
    assert h[10] == [i * 2**40 for i in range(ncpu)]
    assert sorted(h.items()) == [(10, [i * 2**40 for i in range(ncpu)]), (11, [1] * ncpu)]
    assert sorted(h.items(batch=False)) == sorted(h.items())


def test_struct_values(mod: BpfModule) -> None:
    Event = mod.Event
    assert issubclass(Event, ctypes.Structure)
    e = mod.events
    e[1] = Event(pid=1, ts=2, comm=b"bash")
    e[2] = (3, 4, b"sh")
    e[3] = {"pid": 5, "ts": 6}
    got = e[1]
    assert isinstance(got, Event)
    assert (got.pid, got.ts, got.comm) == (1, 2, b"bash")
    assert (e[2].pid, e[2].comm) == (3, b"sh")
    assert e[3].ts == 6 and e[3].comm == b""
    items = sorted(e.items(), key=lambda kv: kv[0])
    assert [(k, v.pid) for k, v in items] == [(1, 1), (2, 3), (3, 5)]
    assert all(isinstance(v, Event) for v in e.values())
    with pytest.raises(TypeError):
        e[4] = 12


def test_struct_and_char_keys(mod: BpfModule) -> None:
    Key = mod.Key
    p = mod.pairs
    p[Key(1, 2)] = -7
    p[(3, 4)] = 8
    assert p[Key(1, 2)] == -7
    assert p[(3, 4)] == 8
    assert sorted((k.a, k.b, v) for k, v in p.items()) == [(1, 2, -7), (3, 4, 8)]
    n = mod.names
    n[b"bash"] = 1
    n["zsh"] = 2
    assert n[b"bash"] == 1
    assert sorted(n.items()) == [(b"bash", 1), (b"zsh", 2)]
    with pytest.raises(ValueError):
        n[b"123456789"] = 3
    for k in n:  # keys read back round-trip
        assert k in n


def test_array_values(mod: BpfModule) -> None:
    mod.arrs[1] = [1, 2, 3, 65535]
    assert mod.arrs[1] == [1, 2, 3, 65535]
    assert mod.arrs.items() == [(1, [1, 2, 3, 65535])]
    with pytest.raises(ValueError):
        mod.arrs[2] = [1, 2]


def test_lru_map(mod: BpfModule) -> None:
    for i in range(10):
        mod.lru[i] = i * i
    assert sorted(mod.lru.items()) == [(i, i * i) for i in range(10)]


def test_queue_map(mod: BpfModule) -> None:
    q = mod.queue
    assert q.peek() is None
    q.push(1)
    q.push(2)
    assert q.peek() == 1
    assert q.pop_value() == 1
    assert q.pop_value() == 2
    assert q.pop_value() is None
    with pytest.raises(MapError):
        q[0]


def test_update_flags_and_full_map(kernel: None) -> None:
    m = bound(RO.main)
    try:
        m.counts.set(1, 1, flags=1)  # BPF_NOEXIST
        with pytest.raises(BpfError):
            m.counts.set(1, 2, flags=1)
        with pytest.raises(BpfError, match="map is full"):
            for i in range(2000):
                m.counts[i] = i
    finally:
        m.close()


def counted_libbpf(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, int]:
    """Count calls to these libbpf functions (the handles look them up on ``L.lib()`` per call)."""
    lib = L.lib()
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(lib, name)

        def counting(*args, _name=name, _real=real):  # type: ignore[no-untyped-def]
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setattr(lib, name, counting)
    return calls


def test_batch_and_walk_agree_on_a_large_map(kernel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """items() reads 100k entries in a few BPF_MAP_LOOKUP_BATCH calls, never key by key.

    How much faster that is is measured by benchmarks/bench.py (row 5, target >= 5x),
    not asserted here, where a loaded machine would make a timing flaky.
    """
    m = bound(RO.big)
    try:
        fd = m.big.fd
        lib = L.lib()
        n = 100_000
        k, v = ctypes.c_uint32(), ctypes.c_uint64()
        for i in range(n):
            k.value, v.value = i, i * 3
            assert lib.bpf_map_update_elem(fd, ctypes.byref(k), ctypes.byref(v), 0) == 0
        calls = counted_libbpf(monkeypatch, "bpf_map_lookup_batch", "bpf_map_get_next_key",
                               "bpf_map_lookup_elem")
        batched = m.big.items()
        assert calls["bpf_map_get_next_key"] == calls["bpf_map_lookup_elem"] == 0, calls
        assert 1 <= calls["bpf_map_lookup_batch"] <= n // 100, calls
        walked = m.big.items(batch=False)
        assert calls["bpf_map_get_next_key"] == n + 1 and calls["bpf_map_lookup_elem"] == n, calls
        monkeypatch.undo()
        assert len(batched) == n
        assert sorted(batched) == sorted(walked) == [(i, i * 3) for i in range(n)]
        assert len(m.big) == n
        assert sorted(m.big.keys()) == list(range(n))
        m.big.clear()
        assert len(m.big) == 0
    finally:
        m.close()


def test_percpu_batch_on_many_entries(kernel: None) -> None:
    m = bound(RO.big)
    try:
        ncpu = L.num_possible_cpus()
        for i in range(3000):
            m.pbig[i] = i
        items = m.pbig.items()
        assert len(items) == 3000
        assert sorted(items) == [(i, [i] * ncpu) for i in range(3000)]
        assert sorted(items) == sorted(m.pbig.items(batch=False))
    finally:
        m.close()


def test_clear_goes_on_past_an_entry_that_vanished(mod: BpfModule, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The kernel's delete batch stops at a missing key: clear() must still delete the rest."""
    c = mod.counts
    for k in (1, 2, 3):
        c[k] = k
    real = c._raw_items

    def snapshot_with_a_vanished_key(batch: bool, values: bool = True):  # type: ignore[no-untyped-def]
        kraw, vraw, n = real(batch, values)
        return (99).to_bytes(4, "little") + kraw, vraw, n + 1  # 99 was deleted meanwhile

    monkeypatch.setattr(c, "_raw_items", snapshot_with_a_vanished_key)
    c.clear()
    monkeypatch.undo()
    assert c.items() == []


def test_membership_of_a_map_without_keys_raises(mod: BpfModule) -> None:
    for m in (mod.rb, mod.pe, mod.queue):
        with pytest.raises(MapError):
            5 in m  # noqa: B015
        with pytest.raises(MapError):
            m.get(5)


def test_get_of_a_key_that_cannot_exist_gives_the_default(mod: BpfModule) -> None:
    assert 2**40 not in mod.counts
    assert mod.counts.get(2**40) is None
    assert mod.counts.get("x", 7) == 7
    assert mod.names.get(b"123456789", 0) == 0  # longer than char[8]


def test_bloom_filter_membership(mod: BpfModule) -> None:
    b = mod.bloom
    assert 5 not in b
    b.add(5)
    b.push(6)
    assert 5 in b and 6 in b
    assert 2**40 not in b  # cannot be a u32
    with pytest.raises(MapError, match="value in m"):
        b.peek()


def test_integer_ranges_follow_the_type() -> None:
    """Signed types take their C range; unsigned ones also the negatives that wrap; bool 0/1."""
    from bpfimport.runtime.codec import TypeSystem

    types = TypeSystem(RO.main()[1])
    i32, u32, i8, b = (types.codec(t) for t in ("i32", "u32", "i8", "bool"))
    assert i32.encode(2**31 - 1) == (2**31 - 1).to_bytes(4, "little")
    assert i32.decode(i32.encode(-2**31)) == -2**31
    for bad in (2**31, 3 * 10**9, -2**31 - 1):
        with pytest.raises(OverflowError, match=r"out of range for i32 \(-2147483648..2147483647\)"):
            i32.encode(bad)
    assert u32.decode(u32.encode(-1)) == 2**32 - 1
    with pytest.raises(OverflowError, match="u32"):
        u32.encode(2**32)
    with pytest.raises(OverflowError):
        i8.encode(128)
    assert b.decode(b.encode(True)) is True and b.decode(b.encode(0)) is False
    for bad in (200, 2, -1):
        with pytest.raises(ValueError, match="not a bool"):
            b.encode(bad)


def test_struct_writes_refuse_unknown_fields_and_other_structs() -> None:
    from bpfimport.runtime.codec import TypeSystem

    types = TypeSystem(RO.main()[1])
    key = types.codec("struct Key")  # {u32 a; u16 b}: 8 bytes
    assert key.encode({"a": 1, "b": 2}) == bytes([1, 0, 0, 0, 2, 0, 0, 0])
    with pytest.raises(TypeError, match="struct Key has no field 'c'"):
        key.encode({"a": 1, "c": 2})

    class Other(ctypes.Structure):  # same size, other fields
        _fields_ = [("x", ctypes.c_uint64)]

    class Same(ctypes.Structure):  # the same layout, e.g. the class from before a reload
        _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint16)]

    with pytest.raises(TypeError, match="expected struct Key"):
        key.encode(Other(5))
    assert key.encode(Same(1, 2)) == bytes([1, 0, 0, 0, 2, 0, 0, 0])
