"""Maps of maps in the kernel: programs find inner maps through an ArrayOfMaps and a
HashOfMaps and count into them; user space puts maps in, swaps and removes them, and reads
the counts from the inner maps' own handles."""

from __future__ import annotations

import errno
import os

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import BpfError
from bpfimport.errors import MapError
from tests.conftest import program_module


@pytest.fixture
def mm(kernel, bpf_dir):
    with program_module(bpf_dir, "maps_of_maps.bpf.py") as mod:
        yield mod


def outs(mod, n: int = 6) -> list[int]:
    return [mod.out[i] for i in range(n)]


def test_user_space_puts_maps_in_and_reads_their_ids(mm) -> None:
    assert len(mm.by_slot) == 0 and mm.by_slot.keys() == []
    mm.by_slot[0] = mm.counts_a
    mm.by_slot[2] = mm.counts_b.fd  # a map handle or its fd
    assert mm.counts_a.id != mm.counts_b.id
    assert mm.by_slot[0] == mm.counts_a.id and mm.by_slot[2] == mm.counts_b.id
    assert sorted(mm.by_slot.items()) == [(0, mm.counts_a.id), (2, mm.counts_b.id)]
    del mm.by_slot[0]
    assert 0 not in mm.by_slot and len(mm.by_slot) == 1
    with pytest.raises(KeyError):
        mm.by_slot[0]
    with pytest.raises(TypeError, match="slots take a map"):
        mm.by_slot[1] = "counts_a"


def test_programs_count_into_the_inner_map_the_slot_holds(mm) -> None:
    mm.by_slot[0] = mm.counts_a
    mm.sel[0], mm.sel[1], mm.sel[2] = 0, 1, 42  # slot 1 and key 42 hold nothing
    mm.count.test_run()
    # inner[7] counted and read back; slot 1 empty: None, += skipped, update -ENOENT
    assert outs(mm) == [1, 1, -errno.ENOENT, 0, 0, 0]
    assert mm.counts_a.items() == [(7, 1)]
    mm.by_name[42] = mm.counts_b  # a HashOfMaps, keyed by u64
    mm.by_slot[1] = mm.counts_b
    mm.count.test_run()
    assert outs(mm) == [2, 0, 0, 0, 101, -errno.ENOENT]
    assert mm.counts_a.items() == [(7, 2)]
    assert sorted(mm.counts_b.items()) == [(3, 101), (5, 2), (9, 90)]


def test_swapping_a_slot_at_run_time_moves_the_counting(mm) -> None:
    mm.by_slot[0] = mm.counts_a
    mm.count.test_run()
    mm.by_slot[0] = mm.counts_b  # one update: the next lookup finds the new map
    mm.count.test_run()
    mm.count.test_run()
    assert mm.counts_a[7] == 1 and mm.counts_b[7] == 2
    assert mm.out[3] == 1  # `9 in by_slot[sel[0]]`: counts_b got 9 from the first slot-1 write
    del mm.by_slot[0]
    mm.count.test_run()
    assert mm.out[0] == -2  # the slot is empty: `if inner:` is false


def test_an_attached_program_counts_real_events_into_the_swapped_maps(mm, tracing) -> None:
    me = os.getpid()
    mm.sel[3] = me
    mm.by_slot[3] = mm.counts_a
    with mm.count_getppid.attach():
        for _ in range(5):
            os.getppid()
        mm.by_slot[3] = mm.counts_b
        for _ in range(3):
            os.getppid()
        del mm.by_slot[3]
        os.getppid()  # no map in the slot: nothing counted, nothing refused
    assert mm.counts_a[me] == 5
    assert mm.counts_b[me] == 3


def test_the_kernel_refuses_a_map_unlike_the_template(mm) -> None:
    with pytest.raises(BpfError) as info:
        mm.by_slot[1] = mm.sel  # an ArrayMap of 4, not a HashMap of 64
    assert info.value.errno == errno.EINVAL
    with pytest.raises(BpfError):
        mm.by_slot[1] = mm.by_name  # a map of maps is no inner map


def test_initial_slots_hold_their_maps_from_load_on(mm) -> None:
    """``initial=[counts_a, None, counts_b]``: libbpf fills the slots as it loads."""
    assert sorted(mm.preset.items()) == [(0, mm.counts_a.id), (2, mm.counts_b.id)]
    mm.count_preset.test_run()
    assert mm.counts_a.items() == [(11, 1)]
    assert mm.counts_b.items() == [(11, 10)]  # and slot 1, empty, took nothing
    mm.preset[1] = mm.counts_a  # user space changes them as any other slot
    mm.count_preset.test_run()
    assert mm.counts_a[11] == 102


def test_maps_made_from_python_fill_slots_and_outlive_their_handle(mm) -> None:
    """``Map.create()``: as many inner maps as the slots need, not only the declared ones."""
    made = [mm.counts_a.create(f"made{i}") for i in range(3)]
    try:
        assert len({m.id for m in made} | {mm.counts_a.id}) == 4  # new maps
        assert all(len(m) == 0 and m.kind == "HashMap" and m.max_entries == 64 for m in made)
        for i, m in enumerate(made):
            mm.by_name[100 + i] = m
        mm.sel[2] = 101
        mm.count.test_run()
        assert made[1].items() == [(3, 101)] and made[0].items() == made[2].items() == []
        made[1][3] = 5  # a handle like any other: user space reads and writes it
        mm.count.test_run()
        assert made[1][3] == 6
        # the rest of a map handle's surface: no module, so never pinned, loaded until closed
        assert made[0].loaded and made[0].pin_path is None
        made[0].unpin()  # nothing pinned: nothing to do
    finally:
        for m in made:
            m.close()
    with pytest.raises(BpfError, match="closed"):
        made[1].items()
    assert not made[1].loaded
    assert made[1].items_if_loaded() is None  # an exporter's read of a closed one: no samples
    with mm.counts_a.create("held") as held:  # a close() during an operation in another thread
        fd = held.fd
        with held._obj.using(held.name) as live:  # what every operation holds
            held.close()
            os.fstat(fd)  # still open: the number cannot be reused under the operation
            assert live is not None and not held.loaded
        with pytest.raises(OSError):
            os.fstat(fd)  # closed once the operation ended
    mm.count.test_run()  # the kernel keeps the map while the slot holds it
    assert mm.out[4] == 7
    with mm.sel.create() as arr:  # an ArrayMap like sel: every index, zero
        assert arr.items() == [(0, 0), (1, 0), (2, 0), (3, 0)]
        with pytest.raises(BpfError):
            mm.by_slot[0] = arr  # not like the HashMap template


def test_create_refuses_kinds_it_cannot_copy(mm) -> None:
    with pytest.raises(MapError, match="not a ArrayOfMaps"):
        mm.by_slot.create()
    with pytest.raises(ValueError, match="a map name is"):
        mm.counts_a.create("no spaces")
