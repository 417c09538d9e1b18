"""Programs a review found miscompiled; each writes what it computed into `out`."""

from bpfimport.lang import Annotated, ArrayMap, Final, HashMap, struct, syscall, u32, u64

out = ArrayMap(key=u32, value=u64, max_entries=16)
m = HashMap(key=u32, value=u32, max_entries=8)


@struct
class S:
    a: u32 = 0
    b: u32 = 0


@struct
class Outer:
    i: S = S()
    n: u32 = 0


@struct
class Cfg:
    x: u32 = 0
    y: u32 = 0


CFG: Final[Cfg] = Cfg()
ARR: Final[Annotated[list[u32], 2]] = []
SC: Final[u32] = 0
calls: u32 = 0


def nxt() -> u32:
    global calls
    calls += 1
    return calls


@syscall
def in_place_reads_first(ctx) -> int:
    s = S(a=1, b=2)
    s = S(a=s.b, b=s.a)              # Python: a=2, b=1
    out[0] = s.a * 10 + s.b
    o = Outer()
    o.i = S(a=3, b=4)
    o.i = S(a=o.i.b, b=o.i.a)
    out[1] = o.i.a * 10 + o.i.b
    return 0


@syscall
def final_aggregates(ctx) -> int:
    out[2] = CFG.x * 100 + ARR[1] * 10 + SC
    c = CFG                          # a copy of a Final struct is not folded either
    out[3] = c.y
    return 0


@syscall
def index_once(ctx) -> int:
    global calls
    calls = 0
    arr: Annotated[list[u32], 4] = []
    arr[nxt()] += 5                  # nxt() once: arr[1] = 5
    out[4] = arr[1] * 100 + arr[2] * 10 + calls
    i = -1
    arr[3] = 7
    out[5] = arr[i]                  # a negative index counts from the end
    return 0


@syscall
def unpack_reads_first(ctx) -> int:
    k: u32 = 7
    k, m[0] = 0, k                   # m[0] gets the old k
    out[6] = m[0]
    return 0


@syscall
def char_array_from_string(ctx) -> int:
    buf: Annotated[bytes, 4] = b"ab"
    out[8] = buf[1]
    t = b"\xff"
    out[9] = t[0]
    return 0
