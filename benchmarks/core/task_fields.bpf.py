"""Six fields of the running task, CO-RE relocated, sent to user space (benchmarks/core_bench.py)."""

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
    t = current_task()
    e = Task(pid=t.pid, tgid=t.tgid, ppid=t.real_parent.tgid, arg_start=t.mm.arg_start,
             vruntime=t.se.vruntime)
    e.comm = t.comm
    events.output(e)
    return 0


LICENSE = "GPL"
