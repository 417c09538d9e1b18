"""biosnoop's kernel side: one event per block I/O with who issued it, where, and its latency.

block_io_start (Linux 6.5+) fires in the context of the task that made the request: it records
that task's pid and name for the request, keyed by the request's address. block_rq_issue stamps
the time the request went to the device (block_rq_insert the time it was queued, for -Q), and
block_rq_complete sends the event: the disk's name, read/write, start sector, size, and the
times. All reads of `struct request` go through CO-RE relocations.
"""

from bpfimport.lang import (
    BPF_NOEXIST,
    Annotated,
    HashMap,
    RingBuffer,
    comm,
    kernel,
    ktime,
    raw_tracepoint,
    struct,
    tgid,
    u32,
    u64,
)

REQ_OP_MASK = 0xFF  # the low bits of cmd_flags: the operation


@struct
class Who:
    pid: u32 = 0
    comm: Annotated[bytes, 16] = b""


@struct
class Times:
    insert: u64 = 0  # queued (block_rq_insert), 0 when not seen
    issue: u64 = 0  # sent to the device


@struct
class Event:
    ts: u64 = 0  # completion, ktime ns
    delta: u64 = 0  # issue -> completion, ns
    queued: u64 = 0  # insert -> issue, ns (0: not seen)
    sector: u64 = 0
    size: u32 = 0  # bytes
    pid: u32 = 0
    op: u32 = 0  # REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard ...
    comm: Annotated[bytes, 16] = b""
    disk: Annotated[bytes, 32] = b""


who = HashMap(key=u64, value=Who, max_entries=10240)
times = HashMap(key=u64, value=Times, max_entries=10240)
events = RingBuffer(max_entries=1024 * 1024)


@raw_tracepoint("block_io_start")
def on_io_start(ctx) -> int:
    w = Who(pid=tgid())
    comm(w.comm)
    who[ctx.args[0]] = w
    return 0


@raw_tracepoint("block_rq_insert")
def on_insert(ctx) -> int:
    times[ctx.args[0]] = Times(insert=ktime())
    return 0


@raw_tracepoint("block_rq_issue")
def on_issue(ctx) -> int:
    rq_addr: u64 = ctx.args[0]
    now = ktime()
    t = times.lookup(rq_addr)
    if t is None:
        times.update(rq_addr, Times(issue=now), BPF_NOEXIST)
    else:
        t.issue = now
    return 0


@raw_tracepoint("block_rq_complete")
def on_complete(ctx) -> int:
    rq_addr: u64 = ctx.args[0]
    t = times.lookup(rq_addr)
    if t is None:
        return 0
    now = ktime()
    e = events.reserve(Event)
    if e:
        rq = kernel.request(rq_addr)
        e.ts = now
        e.delta = now - t.issue
        if t.insert != 0:
            e.queued = t.issue - t.insert
        e.sector = rq.__sector
        e.size = ctx.args[2]  # nr_bytes: what completed
        e.op = rq.cmd_flags & REQ_OP_MASK
        e.disk = rq.q.disk.disk_name
        w = who.lookup(rq_addr)
        if w:
            e.pid = w.pid
            e.comm = w.comm
        events.submit(e)
    del times[rq_addr]
    del who[rq_addr]
    return 0


LICENSE = "GPL"
