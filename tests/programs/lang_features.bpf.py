"""Language features, each checked by one syscall program that writes results into `out`."""

from bpfimport.lang import (
    Annotated,
    ArrayMap,
    Final,
    HashMap,
    LruHashMap,
    LruPerCpuHashMap,
    PerCpuArrayMap,
    PerCpuHashMap,
    comm,
    get_current_cgroup_id,
    i32,
    i64,
    ktime,
    log2,
    smp_processor_id,
    struct,
    syscall,
    tgid,
    u16,
    u32,
    u64,
    uid,
)

out = ArrayMap(key=u32, value=u64, max_entries=64)
counts = HashMap(key=u32, value=u64, max_entries=64)
pcpu = PerCpuArrayMap(key=u32, value=u64, max_entries=4)
pcpu_hash = PerCpuHashMap(key=u32, value=u64, max_entries=16)
lru = LruHashMap(key=u64, value=u32, max_entries=16)
lru_pcpu = LruPerCpuHashMap(key=u32, value=u64, max_entries=16)


@struct
class Pair:
    lo: u32 = 0
    hi: u64 = 0
    tag: Annotated[bytes, 8] = b""


@struct
class Holder:
    first: Pair = Pair()
    values: Annotated[list[u16], 4] = []


pairs = HashMap(key=Pair, value=Holder, max_entries=16)

STEP: Final[u32] = 3
BIAS: Final[i64] = -10
calls: u64 = 0
seeded: u32 = 77
WIDTH = 4
NAME = "bpf"


def bump() -> bool:
    """Side effect visible in `calls`: proves and/or short-circuit."""
    global calls
    calls += 1
    return True


def clamp(x: i64, lo: i64, hi: i64) -> i64:
    if x < lo:
        return lo
    elif x > hi:
        return hi
    return x


def fib(n: u32) -> u64:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@syscall
def control_flow(ctx) -> int:
    total = 0
    for i in range(10):
        if i == 7:
            break
        if i % 2:
            continue
        total += i          # 0 + 2 + 4 + 6
    else:
        total = 999         # skipped: the loop broke
    out[0] = total
    n = 0
    while n < 5:
        n += 1
    else:
        n += 100            # runs: no break
    out[1] = n
    k = 0
    j = 0                   # read after the loop, which type checkers cannot tell runs
    for j in range(10, 0, -3):
        k = k * 10 + j      # 10, 7, 4, 1
    out[2] = k
    out[3] = j              # the loop variable keeps its last value, as in Python
    x = 5
    out[4] = 1 if 0 < x < 10 else 2
    out[5] = 1 if 0 < x < 3 else 2
    y = 3 if x > 4 else 4
    out[6] = y
    out[7] = clamp(-50, BIAS, 20) + 100   # -10 + 100
    out[8] = fib(10)
    a, b = 1, 2
    a, b = b, a
    out[9] = a * 10 + b
    return 0


@syscall
def short_circuit(ctx) -> int:
    global calls
    calls = 0
    if 0 and bump():
        out[10] = 1
    if 1 or bump():
        out[11] = 1
    r = 0 or 7
    out[12] = r
    r2 = 5 and 9
    out[13] = r2
    if not (ktime() == 0 and bump()):
        out[14] = calls     # 0: bump never ran
    if ktime() > 0 and bump() and bump():
        out[15] = calls     # 2
    return 0


@syscall
def maps_in_bpf(ctx) -> int:
    counts[1] = 10
    counts[1] += 5
    counts[2] += 1          # inserts 0 first
    counts[2] += 1
    counts.update(3, 30)
    v = counts.lookup(3)
    if v:
        out[20] = v + 1     # a reference reads its value in arithmetic
    if counts.lookup(99) is None:
        out[21] = 1
    out[22] = counts[99]    # missing: zero
    out[23] = counts.get(99, 42)
    out[24] = 1 if 3 in counts else 0
    del counts[3]
    out[25] = 1 if 3 not in counts else 0
    counts.delete(2)
    out[26] = counts.get(2, 7)
    w = counts.lookup(1)
    if w is not None:
        w += 100            # writes through the reference, atomically
    out[27] = counts[1]     # 115
    pcpu[0] += 3
    pcpu_hash[5] += 4
    lru[1 << 40] = 9
    lru_pcpu[2] += 1
    out[28] = lru[1 << 40]
    return 0


@syscall
def structs(ctx) -> int:
    p = Pair(lo=1, hi=2)
    p.tag = b"ab"
    h = Holder()
    h.first = p
    h.values[0] = 10
    h.values[3] = 40
    i = 2
    h.values[i] = 30
    h.values[i + 10] = 99   # out of range: dropped
    pairs[p] = h
    got = pairs.lookup(p)
    if got:
        out[30] = got.first.hi + got.values[3] + got.values[2]   # 2 + 40 + 30
        got.values[1] = 5
        out[31] = got.first.tag[1]                            # ord('b')
        got.first.lo += 1
    again = pairs[p]
    out[32] = again.values[1] * 1000 + again.first.lo
    q = Pair(7, 8)
    out[33] = q.lo + q.hi
    out[34] = WIDTH * len(h.values)
    return 0


@syscall
def globals_and_helpers(ctx) -> int:
    global seeded
    out[40] = STEP
    out[41] = seeded
    seeded += STEP
    out[42] = u64(BIAS)
    out[43] = tgid()
    out[44] = uid()
    out[45] = 1 if ktime() > 0 else 0
    c = comm()
    out[46] = c[0]
    out[47] = log2(1024) * 100 + log2(1) + log2(0)
    out[48] = 1 if smp_processor_id() < 4096 else 0
    out[49] = get_current_cgroup_id()
    return 0


@syscall
def printer(ctx) -> int:
    x: i32 = -5
    p = Pair(lo=3)
    p.tag = b"hi"
    print(f"bpfimport-print {x} {p.lo:x} {p.tag.decode()} {NAME} 100%")
    print("bpfimport-many", 1, 2, x, p.lo, tgid() > 0, 6)
    return 0
