"""Behaviour the docs promise that no other program exercised; each program writes into `out`."""

from bpfimport.lang import (
    TC_ACT_OK,
    TC_ACT_REDIRECT,
    TC_ACT_SHOT,
    Annotated,
    ArrayMap,
    Final,
    HashMap,
    RingBuffer,
    cgroup_skb,
    deref,
    i8,
    i16,
    i32,
    i64,
    perf_event,
    probe_read_kernel,
    probe_read_user,
    probe_read_user_str,
    struct,
    syscall,
    tc,
    u8,
    u16,
    u32,
    u64,
)

out = ArrayMap(key=u32, value=u64, max_entries=32)
small = ArrayMap(key=u32, value=u8, max_entries=2)
medium = HashMap(key=u32, value=u16, max_entries=2)
stored = HashMap(key=u32, value=u64, max_entries=4)


@struct
class Sample:
    seq: u32 = 0
    keep: u32 = 0


@struct
class Bytes16:
    data: Annotated[list[u8], 16] = []


@struct
class Text:
    data: Annotated[bytes, 16] = b""


samples = RingBuffer(max_entries=4096)
raw = RingBuffer(max_entries=4096)
read_back = ArrayMap(key=u32, value=Bytes16, max_entries=2)
text_back = ArrayMap(key=u32, value=Text, max_entries=1)
read_rets = ArrayMap(key=u32, value=i64, max_entries=4)

ADDR: Final[u64] = 0  # a user-space address of the test process
X: Final[u64] = 0
Y: Final[i32] = 0
IDX: Final[i32] = 0
VERDICT: Final[i32] = 0
middle_calls: u32 = 0


def middle() -> u32:
    """Counts its calls: a chained comparison must evaluate its middle operand once."""
    global middle_calls
    middle_calls += 1
    return 5


@syscall
def ring_reserve(ctx) -> int:
    for i in range(6):
        s = samples.reserve(Sample)
        if s:
            s.seq = i
            s.keep = i % 2 == 0
            if s.keep:
                samples.submit(s)
            else:
                samples.discard(s)
    raw.output(X)  # a number, and a second type below: the consumer gets bytes
    raw.output(Sample(seq=7, keep=1))
    return 0


@syscall
def read_memory(ctx) -> int:
    b = Bytes16()
    read_rets[0] = probe_read_user(b.data, 16, ADDR)
    read_back[0] = b
    t = Text()
    read_rets[1] = probe_read_user_str(t.data, ADDR)
    text_back[0] = t
    k = Bytes16()
    read_rets[2] = probe_read_kernel(k.data, 8, ADDR)  # a user address: the kernel refuses
    read_back[1] = k
    stored[3] = X + 1
    v = stored.lookup(3)
    if v:
        read_rets[3] = deref(v)
    return 0


@syscall
def arithmetic(ctx) -> int:
    out[0] = u8(X)  # wrapping casts of values the compiler cannot see
    out[1] = i8(X)
    out[2] = i16(Y)
    out[3] = u32(Y)
    out[4] = u64(Y)
    out[5] = X**3
    out[6] = Y**2
    out[7] = u8(300) + i8(200)  # folded casts wrap the same way
    out[8] = 0 < middle() < 10
    out[9] = 6 < middle() < 10
    out[10] = middle_calls
    return 0


@syscall
def narrow_updates(ctx) -> int:
    small[0] += 200  # 8-bit map values are read-modify-write, and wrap
    small[0] += 100
    small[1] -= 1
    medium[0] += 65000
    medium[0] += 1000
    return 0


@syscall
def index_reads(ctx) -> int:
    arr: Annotated[list[u32], 4] = []
    for i in range(4):
        arr[i] = (i + 1) * 10
    out[11] = arr[IDX]  # out of range: 0; negative: from the end
    arr[IDX] = 99  # out of range: nothing written
    out[12] = arr[0] + arr[1] + arr[2] + arr[3]
    return 0


@tc
def classify(ctx) -> int:
    if VERDICT == 0:
        return TC_ACT_OK
    if VERDICT == 1:
        return TC_ACT_SHOT
    return TC_ACT_REDIRECT


@cgroup_skb("ingress")
def admit(ctx) -> int:
    return VERDICT == 0


@perf_event
def on_sample(ctx) -> int:
    out[13] += 1
    return 0


LICENSE = "GPL"
