"""The runtime tests' main module (tests/runtime_objects.py compiles it).

Maps of every dict-like and event kind, globals in all three sections (.rodata,
.data, .bss) and one program per program type the runtime tests drive.  A
program reads its context with probe_read_kernel: the language has no typed
contexts yet.  `put` also writes TARGET into its context's `out` field; the
language cannot express that store, so runtime_objects splices it into the IR.
"""

from bpfimport.lang import (
    XDP_PASS,
    Annotated,
    ArrayMap,
    BloomFilterMap,
    Final,
    HashMap,
    LruHashMap,
    PerCpuArrayMap,
    PerCpuHashMap,
    PerfEventArray,
    QueueMap,
    RingBuffer,
    c_char,
    c_uint16,
    i32,
    i64,
    kprobe,
    probe_read_kernel,
    raw_tracepoint,
    socket_filter,
    struct,
    syscall,
    tracepoint,
    u16,
    u32,
    u64,
    xdp,
)


@struct
class Event:
    pid: u32 = 0
    ts: u64 = 0
    comm: Annotated[bytes, 16] = b""


@struct
class Key:
    a: u32 = 0
    b: u16 = 0


@struct
class PutArgs:  # put's context: store `value` under `key`; `out` receives TARGET
    key: u32 = 0
    out: u32 = 0
    value: u64 = 0


counts = HashMap(key=u32, value=u64, max_entries=1024)
arr = ArrayMap(key=u32, value=u64, max_entries=8)
pcpu = PerCpuArrayMap(key=u32, value=u32, max_entries=4)
pchash = PerCpuHashMap(key=u32, value=u64, max_entries=64)
events = HashMap(key=u32, value=Event, max_entries=16)
pairs = HashMap(key=Key, value=i32, max_entries=16)
names = HashMap(key=c_char * 8, value=i64, max_entries=16)
lru = LruHashMap(key=u64, value=u64, max_entries=64)
arrs = HashMap(key=u32, value=c_uint16 * 4, max_entries=8)
queue = QueueMap(value=u32, max_entries=8)
bloom = BloomFilterMap(value=u32, max_entries=64)
rb = RingBuffer(max_entries=4096)
pe = PerfEventArray()

TARGET: Final[u32] = 7
LIMIT: Final[i64] = -5
TAG: Final[Annotated[bytes, 8]] = b"abc"
hits: u64 = 0
tp_hits: u64 = 0
scale: u32 = 3
label: Annotated[bytes, 8] = b"hello"
origin: Key = Key()


@syscall
def put(ctx) -> u32:
    args = PutArgs()
    probe_read_kernel(args, 16, ctx)
    counts[args.key] = args.value
    global hits
    hits += 1
    return scale


@raw_tracepoint("sys_enter")
def rawtp(ctx) -> u32:
    global hits
    hits += 1
    first: Annotated[list[u64], 1] = []
    probe_read_kernel(first, 8, ctx)
    return u32(first[0])


@tracepoint("syscalls/sys_enter_getppid")
def tp(ctx) -> int:
    global tp_hits
    tp_hits += 1
    return 0


@syscall
def emit(ctx) -> int:
    e = Event()
    probe_read_kernel(e, 32, ctx)
    return rb.output(e)


@raw_tracepoint("sys_enter")
def perf_out(ctx) -> int:
    e = Event()
    probe_read_kernel(e, 32, ctx)
    return pe.output(e)


@xdp
def xdp_pass(ctx) -> int:
    return XDP_PASS


@kprobe("do_nanosleep")
def kp(ctx) -> int:
    return 0


@socket_filter
def sock(ctx) -> int:
    return 0
