"""biolatency's kernel side: block I/O latency, from issue (or queueing, -Q) to completion.

Raw tracepoints hand over the `struct request *` (CO-RE relocated reads): block_rq_issue starts
the clock for a request, keyed by its address, and block_rq_complete stops it. With -Q the clock
starts at block_rq_insert, when the request enters the I/O scheduler's queue; a request that
bypasses that queue starts at issue. Latencies go into a log2 histogram of microseconds
(milliseconds with -m), one per disk with -D, keyed by the disk's name.
"""

from typing import Final

from bpfimport.lang import (
    BPF_NOEXIST,
    Annotated,
    HashMap,
    kernel,
    ktime,
    log2,
    raw_tracepoint,
    struct,
    u32,
    u64,
)

MILLISECONDS: Final[bool] = False  # -m
PER_DISK: Final[bool] = False  # -D
QUEUED: Final[bool] = False  # -Q: include the time queued in the kernel


@struct
class DiskSlot:
    disk: Annotated[bytes, 32] = b""  # gendisk.disk_name
    slot: u32 = 0


start = HashMap(key=u64, value=u64, max_entries=10240)  # request address -> start time
dist = HashMap(key=u32, value=u64, max_entries=64)
dist_by_disk = HashMap(key=DiskSlot, value=u64, max_entries=4096)


@raw_tracepoint("block_rq_insert")
def on_insert(ctx) -> int:
    if QUEUED:
        start[ctx.args[0]] = ktime()
    return 0


@raw_tracepoint("block_rq_issue")
def on_issue(ctx) -> int:
    # with -Q a request that was inserted keeps its earlier start
    if QUEUED:
        start.update(ctx.args[0], ktime(), BPF_NOEXIST)
    else:
        start[ctx.args[0]] = ktime()
    return 0


@raw_tracepoint("block_rq_complete")
def on_complete(ctx) -> int:
    rq_addr: u64 = ctx.args[0]
    t = start.lookup(rq_addr)
    if t is None:
        return 0
    delta = ktime() - t
    del start[rq_addr]
    if MILLISECONDS:
        delta = delta // 1000000
    else:
        delta = delta // 1000
    if PER_DISK:
        key = DiskSlot(slot=log2(delta))
        rq = kernel.request(rq_addr)
        key.disk = rq.q.disk.disk_name
        dist_by_disk[key] += 1
    else:
        dist[log2(delta)] += 1
    return 0


LICENSE = "GPL"
