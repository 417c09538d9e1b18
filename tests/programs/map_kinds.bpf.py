"""The map kinds beyond hash and array, used from BPF code: queues, stacks, bloom filters,
LPM tries and program arrays (tail calls); plus min()/max().  Each program writes what it
saw into ``out``; the test fills the inputs from user space."""

from bpfimport.lang import *

out = ArrayMap(key=u32, value=i64, max_entries=64)
vals = ArrayMap(key=u32, value=u64, max_entries=8)

q = QueueMap(value=u32, max_entries=4)
stk = StackMap(value=u32, max_entries=4)
bloom = BloomFilterMap(value=u32, max_entries=64)


@struct
class Prefix:
    prefixlen: u32
    addr: c_uint8 * 4


lpm = LpmTrieMap(key=Prefix, value=u64, max_entries=16)
queries = ArrayMap(key=u32, value=Prefix, max_entries=8)
progs = ProgArray(max_entries=4)


@syscall
def min_max(ctx) -> int:
    a = i32(vals[0])
    b = u32(vals[1])
    c = u8(vals[2])
    d = i8(vals[3])
    out[0] = min(a, b)
    out[1] = max(a, b)
    out[2] = max(c, d)
    out[3] = min(c, d)
    out[4] = min(b, 7, c)
    out[5] = max(a, -100, d)
    return 0


@raw_tracepoint("sys_enter")  # not @syscall: sleepable programs may not use these maps
def queue_ops(ctx) -> int:
    for i in range(2):  # first the queue (FIFO), then the stack (LIFO)
        base = 8 + 8 * i
        if i == 0:
            peeked = q.peek()
            first = q.pop()
            second = q.pop()
        else:
            peeked = stk.peek()
            first = stk.pop()
            second = stk.pop()
        out[base] = peeked if peeked else -1
        out[base + 1] = first if first else -1
        out[base + 2] = second if second else -1
    out[24] = q.push(40)
    out[25] = q.push(50)
    out[26] = stk.push(40)
    out[27] = stk.push(50)
    return 0


@raw_tracepoint("sys_enter")  # not @syscall: sleepable programs may not use these maps
def drain(ctx) -> int:
    n = 0
    for i in range(6):
        v = q.pop()
        if v is None:
            break
        out[32 + i] = v
        n += 1
    out[31] = n
    out[38] = q.push(1)  # into an empty queue
    return 0


@raw_tracepoint("sys_enter")  # not @syscall: sleepable programs may not use these maps
def overfill(ctx) -> int:
    for i in range(4):
        q.push(100 + i)
    out[39] = q.push(104)  # full: -E2BIG
    out[40] = q.push(105, BPF_EXIST)  # full, BPF_EXIST: the oldest (100) makes room
    return 0


@raw_tracepoint("sys_enter")  # not @syscall: sleepable programs may not use these maps
def bloom_ops(ctx) -> int:
    out[41] = 5 in bloom
    out[42] = 6 in bloom
    out[43] = bloom.peek(5)
    out[44] = bloom.push(7)
    return 0


@raw_tracepoint("sys_enter")  # not @syscall: sleepable programs may not use these maps
def lpm_ops(ctx) -> int:
    for i in range(4):
        key = queries[i]
        hit = lpm.lookup(key)
        out[48 + i] = hit if hit else 0
    lpm[queries[4]] = 77
    return 0


@xdp
def entry(ctx) -> int:
    progs.tail_call(ctx, vals[7])
    return XDP_DROP  # only when the slot is empty


@xdp
def to_pass(ctx) -> int:
    return XDP_PASS


@xdp
def to_tx(ctx) -> int:
    return XDP_TX
