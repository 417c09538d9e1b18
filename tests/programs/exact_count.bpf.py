"""Counts getppid() calls made by one thread: the test knows exactly how many to expect."""

from bpfimport.lang import ArrayMap, Final, tid, tracepoint, u32, u64

THREAD: Final[u32] = 0
calls = ArrayMap(key=u32, value=u64, max_entries=1)
seen: u64 = 0


@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    global seen
    if tid() == THREAD:
        calls[0] += 1
        seen += 1
    return 0
