"""``m.update(...)`` through the kernel's batch update (issue 9, item 5).

Each map kind the kernel batches is written with ``update()`` and read back
key by key; that the batch syscall did the writing is shown by making the
one-by-one path (``Map.set``) fail.  Errors keep dict.update's meaning: the
entries before the failing one are written.
"""

from __future__ import annotations

import pytest

from bpfimport.errors import BpfError
from bpfimport.runtime import libbpf
from bpfimport.runtime.maps import Map
from tests.conftest import program_module


@pytest.fixture
def batch(kernel, tmp_path):
    with program_module(tmp_path, "batch.bpf.py") as mod:
        yield mod


@pytest.fixture
def no_single_writes(monkeypatch):
    """``m[k] = v`` one by one raises: only a batch write can succeed."""
    def refuse(self, key, value, flags=0):
        raise AssertionError(f"one-by-one write of {key!r} to {self.name}: the batch path was not used")

    monkeypatch.setattr(Map, "set", refuse)


def test_hash_map_takes_a_dict_in_batches(batch, no_single_writes, monkeypatch):
    import bpfimport.runtime.maps as maps

    monkeypatch.setattr(maps, "_BATCH_BYTES", 1200)  # 256 entries (the least) a syscall: 16 batches
    data = {k * 7919 % 4096: k * 3 + (1 << 40) for k in range(4000)}
    batch.h.update(data)
    assert len(batch.h) == len(data)
    assert {k: batch.h[k] for k in data} == data
    batch.h.update([(1, 5), (2, 6)], **{})  # pairs, written over what was there
    assert (batch.h[1], batch.h[2]) == (5, 6)


def test_array_map_percpu_maps_structs_and_lru(batch, no_single_writes):
    ncpu = libbpf.num_possible_cpus()
    batch.a.update({i: i * i for i in range(16)})
    assert [batch.a[i] for i in range(16)] == [i * i for i in range(16)]

    batch.ph.update({1: 7, 2: [10 + c for c in range(ncpu)]})  # one value for all CPUs, or a list
    assert batch.ph[1] == [7] * ncpu
    assert batch.ph[2] == [10 + c for c in range(ncpu)]
    batch.pa.update({i: [i * 100 + c for c in range(ncpu)] for i in range(8)})
    assert [batch.pa[i] for i in range(8)] == [[i * 100 + c for c in range(ncpu)] for i in range(8)]

    batch.s.update([((1, 2), (5, b"ab")), (batch.Key(3, 4), batch.Val(x=6, name=b"cdef"))])
    assert {(k.a, k.b): (v.x, v.name) for k, v in batch.s.items()} == {(1, 2): (5, b"ab"),
                                                                        (3, 4): (6, b"cdef")}
    batch.lru.update({k: -k for k in range(100)})
    assert {k: batch.lru[k] for k in range(100)} == {k: -k for k in range(100)}


def test_negative_values_into_unsigned_types_wrap_as_single_writes_do(batch):
    batch.h.update({1: -1, 2: 3})  # struct.pack refuses -1 for "Q": encoded one by one, wrapping
    assert (batch.h[1], batch.h[2]) == (2**64 - 1, 3)
    batch.flags.update({1: True, 2: 0})  # bools: struct's "?" would take any truthy value
    assert (batch.flags[1], batch.flags[2]) == (True, False)
    with pytest.raises(ValueError, match="is not a bool"):
        batch.flags.update({3: True, 4: 5})
    assert batch.flags[3] is True  # written before the bad one, as dict.update would


def test_a_bad_value_raises_its_error_after_the_entries_before_it(batch):
    with pytest.raises(OverflowError, match="out of range for u64"):
        batch.h.update({10: 1, 11: 2**64, 12: 3})
    assert batch.h.get(10) == 1 and 11 not in batch.h and 12 not in batch.h
    with pytest.raises(ValueError, match="element #1 is not a"):
        batch.h.update([(20, 1), (21, 2, 3)])


def test_a_full_map_raises_after_writing_what_fits(batch):
    with pytest.raises(BpfError, match="map is full: max_entries=8"):
        batch.small.update({k: k for k in range(20)})
    assert len(batch.small) == 8
    assert all(batch.small[k] == k for k in batch.small.keys())


def test_an_index_out_of_range_raises_as_a_single_write(batch):
    with pytest.raises(KeyError, match="index 16 is out of range"):
        batch.a.update({15: 1, 16: 2, 3: 4})
    assert batch.a[15] == 1 and batch.a[3] == 0


def test_without_kernel_batches_it_writes_one_by_one(batch, monkeypatch):
    import errno

    calls = []

    def no_batch(*args):
        calls.append(args)
        return -errno.EINVAL  # a kernel without BPF_MAP_UPDATE_BATCH: the count stays as given

    lib = libbpf.lib()
    monkeypatch.setattr(lib, "bpf_map_update_batch", no_batch)
    batch.h.update({1: 2, 3: 4})
    assert len(calls) == 1 and not batch.h._batch_ok  # tried once, then never again
    batch.h.update({5: 6, 7: 8})
    assert len(calls) == 1
    assert {k: batch.h[k] for k in (1, 3, 5, 7)} == {1: 2, 3: 4, 5: 6, 7: 8}
