"""Count system calls per process, in the kernel (the app: syscount.py)."""

from bpfimport.lang import Annotated, HashMap, comm, struct, tgid, tracepoint, u32, u64


@struct
class Key:
    pid: u32
    comm: Annotated[bytes, 16]  # char[16]; c_char * 16 works too, but not for type checkers


counts = HashMap(key=Key, value=u64, max_entries=10240)


@tracepoint("raw_syscalls/sys_enter")
def count_syscalls(ctx) -> int:
    counts[Key(pid=tgid(), comm=comm())] += 1
    return 0


LICENSE = "GPL"
