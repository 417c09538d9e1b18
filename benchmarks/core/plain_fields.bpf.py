"""The same program shape without kernel types: six values from helpers (benchmarks/core_bench.py)."""

from bpfimport.lang import *


@struct
class Task:
    pid: u32
    tgid: u32
    ppid: u32
    pad: u32
    arg_start: u64
    vruntime: u64
    comm: c_char * 16


events = RingBuffer(max_entries=64 * 1024)


@tracepoint("sched/sched_process_exec")
def on_exec(ctx) -> int:
    e = Task(pid=pid(), tgid=tgid(), ppid=uid(), arg_start=ktime(), vruntime=get_current_cgroup_id())
    e.comm = comm()
    events.output(e)
    return 0


LICENSE = "GPL"
