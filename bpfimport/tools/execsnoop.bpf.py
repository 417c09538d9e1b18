"""execsnoop's kernel side: each execve() with its pid, parent pid, arguments and result.

As bcc's execsnoop does, sys_enter_execve sends one ARG event per argument (the file
name first, then argv[1:]) and sys_exit_execve one RET event with the result and the
new program's name; user space joins them by pid. The parent's pid is read from the
kernel's task_struct, CO-RE relocated.
"""

from typing import Final

from bpfimport.lang import (
    Annotated,
    RingBuffer,
    comm,
    current_task,
    i32,
    probe_read_user_str,
    struct,
    tgid,
    tracepoint,
    u32,
)

MAXARGS = 20  # arguments recorded per exec, the file name included (bcc's default)
ARGSIZE = 128  # bytes per argument, NUL included (bcc's ARGSIZE)
EVENT_ARG = 0
EVENT_RET = 1

TARGET_PPID: Final[u32] = 0  # -P PPID: only children of this process (0: all)


@struct
class Event:
    kind: u32 = 0  # EVENT_ARG or EVENT_RET
    pid: u32 = 0
    ppid: u32 = 0
    retval: i32 = 0
    comm: Annotated[bytes, 16] = b""
    text: Annotated[bytes, 128] = b""  # ARG: one argument


events = RingBuffer(max_entries=1024 * 1024)


def send_arg(pid: u32, ppid: u32, arg: int) -> int:
    e = events.reserve(Event)
    if e:
        e.kind = EVENT_ARG
        e.pid = pid
        e.ppid = ppid
        e.retval = 0
        comm(e.comm)
        probe_read_user_str(e.text, arg)
        events.submit(e)
    return 0


@tracepoint("syscalls/sys_enter_execve")
def execve_enter(ctx) -> int:
    ppid = current_task().real_parent.tgid
    if TARGET_PPID != 0 and ppid != TARGET_PPID:
        return 0
    pid = tgid()
    send_arg(pid, ppid, ctx.filename)
    argv = ctx.argv
    for i in range(1, MAXARGS):
        arg = argv[i]
        if not arg:
            break
        send_arg(pid, ppid, arg)
    return 0


@tracepoint("syscalls/sys_exit_execve")
def execve_exit(ctx) -> int:
    ppid = current_task().real_parent.tgid
    if TARGET_PPID != 0 and ppid != TARGET_PPID:
        return 0
    e = events.reserve(Event)
    if e:
        e.kind = EVENT_RET
        e.pid = tgid()
        e.ppid = ppid
        e.retval = ctx.ret
        comm(e.comm)  # after a successful exec: the new program's name
        events.submit(e)
    return 0


LICENSE = "GPL"
