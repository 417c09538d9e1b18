"""exitsnoop's kernel side: each process exit, with its age and exit code.

sched_process_exit runs in the exiting task, so current_task() is the task that exits:
its start time, exit code and parent are read from its task_struct (CO-RE). By default
only a process's last thread (the group leader, pid == tgid) counts, as in bcc.
"""

from typing import Final

from bpfimport.lang import (
    Annotated,
    RingBuffer,
    comm,
    current_task,
    i32,
    ktime,
    struct,
    tgid,
    tid,
    tracepoint,
    u32,
    u64,
)

TARGET_PID: Final[u32] = 0  # -p PID (0: all)
PER_THREAD: Final[bool] = False  # --per-thread: every thread's exit
FAILED_ONLY: Final[bool] = False  # -x: non-zero exit codes only


@struct
class Event:
    start_time: u64 = 0  # ns since boot
    exit_time: u64 = 0
    pid: u32 = 0
    tid: u32 = 0
    ppid: u32 = 0
    exit_code: i32 = 0  # the kernel's wait status: code << 8 | signal
    comm: Annotated[bytes, 16] = b""


events = RingBuffer(max_entries=256 * 1024)


@tracepoint("sched/sched_process_exit")
def on_exit(ctx) -> int:
    pid = tgid()
    t = tid()
    if TARGET_PID != 0 and pid != TARGET_PID:
        return 0
    if not PER_THREAD and pid != t:
        return 0
    task = current_task()
    code = task.exit_code
    if FAILED_ONLY and code == 0:
        return 0
    e = events.reserve(Event)
    if e:
        e.start_time = task.start_time
        e.exit_time = ktime()
        e.pid = pid
        e.tid = t
        e.ppid = task.real_parent.tgid
        e.exit_code = code
        comm(e.comm)
        events.submit(e)
    return 0


LICENSE = "GPL"
