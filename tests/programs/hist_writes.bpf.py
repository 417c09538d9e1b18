"""Histograms of write(2) sizes on two file descriptors the test chooses.

Three shapes: a log2 histogram (``log2(count)``), a linear one (hundreds of
bytes, the last bucket catching everything from 900 up) and a keyed one (one
log2 histogram per fd: a struct key holding the bucket).
"""

from bpfimport.lang import *


@struct
class WriteArgs:  # the syscalls/sys_enter_write record: common fields, nr, fd, buf, count
    common: u64
    nr: i64
    fd: u64
    buf: u64
    count: u64


@struct
class FdSlot:
    fd: u32
    slot: u32


FD_A: Final[u64] = 0
FD_B: Final[u64] = 0
LAST: Final[u64] = 9

sizes = HashMap(key=u32, value=u64, max_entries=64)
hundreds = ArrayMap(key=u32, value=u64, max_entries=16)
by_fd = HashMap(key=FdSlot, value=u64, max_entries=256)


@tracepoint("syscalls/sys_enter_write")
def on_write(ctx) -> int:
    a = WriteArgs()
    probe_read_kernel(a, 40, ctx)
    if a.fd != FD_A and a.fd != FD_B:
        return 0
    sizes[log2(a.count)] += 1
    hundreds[min(a.count // 100, LAST)] += 1
    by_fd[FdSlot(fd=a.fd, slot=log2(a.count))] += 1
    return 0
