"""getppid() calls by process, for ``python -m bpfimport run --metrics``: a test makes a known
number of calls and finds them in the scrape under its own pid."""

from bpfimport.lang import Annotated, HashMap, comm, struct, tgid, tracepoint, u32, u64


@struct
class Proc:
    pid: u32 = 0
    comm: Annotated[bytes, 16] = b""


calls = HashMap(key=Proc, value=u64, max_entries=10240)


@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    calls[Proc(pid=tgid(), comm=comm())] += 1
    return 0


LICENSE = "GPL"
