"""Kernel types by name: ``kernel.NAME`` in annotations and casts, as type checkers accept them
(tests/test_type_checkers.py) and the compiler reads them (tests/compiler/test_kernel_data_kernel.py)."""

from bpfimport.lang import (
    ArrayMap,
    current_task,
    get_current_task,
    kernel,
    raw_tracepoint,
    u32,
    u64,
)

out = ArrayMap(key=u32, value=u64, max_entries=8)


@raw_tracepoint("sched_switch")
def typed(ctx) -> int:
    t: kernel.task_struct = current_task()
    same = kernel.task_struct(get_current_task())  # an address made a typed kernel pointer
    tid: kernel.pid_t = same.pid  # a typedef: its integer type
    parent: kernel.task_struct = t.real_parent
    out[0] = tid
    out[1] = t.tgid
    out[2] = parent.tgid
    out[3] = kernel.task_struct(ctx.args[1]).pid
    out[4] = t.mm.arg_start - t.mm.arg_end  # u64 arithmetic on kernel fields (wraps)
    return 0


LICENSE = "GPL"
