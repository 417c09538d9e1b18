"""Counts for the Prometheus export tests: write(2) calls on one file descriptor the test chooses.

A struct-keyed counter (pid and comm: a char array label), a log2 histogram of sizes,
a keyed log2 histogram (one per fd), a per-CPU array and an array of struct values
(written from user space), so each shape of export is checked against the maps.
"""

from bpfimport.lang import (
    Annotated,
    ArrayMap,
    Final,
    HashMap,
    PerCpuArrayMap,
    RingBuffer,
    comm,
    log2,
    struct,
    tgid,
    tracepoint,
    u32,
    u64,
)


@struct
class Who:
    pid: u32 = 0
    comm: Annotated[bytes, 16] = b""


@struct
class FdSlot:
    fd: u32 = 0
    slot: u32 = 0


@struct
class Totals:
    calls: u64 = 0
    size: u64 = 0


FD: Final[u64] = 0

by_who = HashMap(key=Who, value=u64, max_entries=64)
sizes = HashMap(key=u32, value=u64, max_entries=64)
by_fd = HashMap(key=FdSlot, value=u64, max_entries=64)
per_cpu = PerCpuArrayMap(key=u32, value=u64, max_entries=4)
totals = ArrayMap(key=u32, value=Totals, max_entries=2)
events = RingBuffer(max_entries=4096)  # holds no counts: not exported


@tracepoint("syscalls/sys_enter_write")
def on_write(ctx) -> int:
    if ctx.fd != FD:
        return 0
    by_who[Who(pid=tgid(), comm=comm())] += 1
    sizes[log2(ctx.count)] += 1
    by_fd[FdSlot(fd=ctx.fd, slot=log2(ctx.count))] += 1
    per_cpu[0] += 1
    per_cpu[1] += ctx.count
    return 0


LICENSE = "GPL"
