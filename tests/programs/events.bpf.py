from bpfimport.lang import (
    Annotated,
    PerfEventArray,
    RingBuffer,
    comm,
    struct,
    syscall,
    tgid,
    tracepoint,
    u32,
    u64,
)


@struct
class Event:
    pid: u32 = 0
    n: u64 = 0
    comm: Annotated[bytes, 16] = b""


events = RingBuffer(max_entries=4096)
perf = PerfEventArray()
counter: u64 = 0


@syscall
def send(ctx) -> int:
    global counter
    counter += 1
    e = events.reserve(Event)
    if e:
        e.pid = tgid()
        e.n = counter
        e.comm = comm()
        events.submit(e)
    ev = Event(pid=tgid(), n=counter + 100)
    events.output(ev)
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    perf.output(Event(pid=tgid(), n=7))
    return 0
