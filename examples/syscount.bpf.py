"""Count system calls per process, in the kernel (the app: syscount.py)."""

from bpfimport.lang import *


@struct
class Key:
    pid: u32
    comm: c_char * 16


counts = HashMap(key=Key, value=u64, max_entries=10240)


@tracepoint("raw_syscalls/sys_enter")
def count_syscalls(ctx) -> int:
    counts[Key(pid=tgid(), comm=comm())] += 1
    return 0


LICENSE = "GPL"
