"""Maps of maps: BPF code finds an inner map through an ArrayOfMaps or a HashOfMaps and
counts into it; user space puts the inner maps in, swaps them and reads them.  ``sel``
holds the inputs the test chooses, ``out`` what the programs saw."""

from bpfimport.lang import (
    ArrayMap,
    ArrayOfMaps,
    HashMap,
    HashOfMaps,
    i64,
    raw_tracepoint,
    tgid,
    tracepoint,
    u32,
    u64,
)

counts_a = HashMap(key=u32, value=u64, max_entries=64)
counts_b = HashMap(key=u32, value=u64, max_entries=64)
by_slot = ArrayOfMaps(key=u32, value=counts_a, max_entries=4)
by_name = HashOfMaps(key=u64, value=counts_a, max_entries=8)
sel = ArrayMap(key=u32, value=u64, max_entries=4)
preset = ArrayOfMaps(key=u32, value=counts_a, max_entries=4, initial=[counts_a, None, counts_b])
out = ArrayMap(key=u32, value=i64, max_entries=16)


@raw_tracepoint("sys_enter")  # run with test_run()
def count(ctx) -> int:
    inner = by_slot[sel[0]]
    if inner:
        inner[7] += 1
        v = inner.lookup(7)
        out[0] = -1
        if v:
            out[0] = v
    else:
        out[0] = -2
    out[1] = 1 if by_slot.lookup(sel[1]) is None else 0
    by_slot[sel[1]][5] += 2  # nothing when the slot is empty
    out[2] = by_slot[sel[1]].update(9, 90)  # -ENOENT when the slot is empty
    out[3] = 9 in by_slot[sel[0]]
    h = by_name.lookup(sel[2])
    if h is not None:
        h[3] = h.get(3, 100) + 1
        out[4] = h[3]
        out[5] = h.delete(4)
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def count_getppid(ctx) -> int:
    """Counts the test's getppid() calls into whichever map slot 3 holds."""
    if tgid() == sel[3]:
        by_slot[3][tgid()] += 1
    return 0


@raw_tracepoint("sys_enter")  # run with test_run()
def count_preset(ctx) -> int:
    """Counts into the maps the slots held from load on (``initial=``)."""
    preset[0][11] += 1
    preset[2][11] += 10
    preset[1][11] += 100  # slot 1 starts empty: nothing
    return 0
