"""Programs that once compiled wrong: each syscall program writes what it computed into `out`."""

from bpfimport.lang import (
    BPF_EXIST,
    BPF_NOEXIST,
    Annotated,
    ArrayMap,
    Final,
    HashMap,
    i8,
    i16,
    i32,
    struct,
    syscall,
    u8,
    u16,
    u32,
    u64,
)

out = ArrayMap(key=u32, value=u64, max_entries=64)

NEG: Final[i32] = -5
TOP: Final[u32] = 3
level: u32 = 10
small = HashMap(key=u32, value=u32, max_entries=8)
table = HashMap(key=u32, value=u64, max_entries=8)
hex_value: i16 = -300


@struct
class Inner:
    x: u16 = 0
    ok: bool = False
    y: i8 = 0


@struct
class Outer:
    flag: bool = False
    inner: Inner = Inner()
    arr: Annotated[list[Inner], 3] = []


@syscall
def range_loops(ctx) -> int:
    n: u8 = 255
    c = 0
    i: u8 = 0  # read after the loop, which type checkers cannot tell runs
    for i in range(0, n, 2):  # noqa: B007 - i is read after the loop; i + 2 wraps a u8 after 254: the loop must still end
        c += 1
    out[0] = c
    out[1] = i
    c = 0
    for _k in range(NEG, TOP):  # i32 and u32 bounds: counted exactly, not as u32
        c += 1
    out[2] = c
    m: u32 = 10
    c = 0
    for j in range(m, 0, -1):  # a negative step on an unsigned counter
        c += j
    out[3] = c
    big: u8 = 250
    c = 0
    for q in range(big, 255, 100):
        c += q
    out[4] = c
    return 0


@syscall
def atomic_negative_literal(ctx) -> int:
    global level
    level += -1  # atomic add of a literal that only fits after wrapping, like level = level + -1
    level -= -3
    out[5] = level
    small[1] += -1
    out[6] = small[1]
    return 0


@syscall
def struct_copies(ctx) -> int:
    o = Outer()  # o adopts the constructor's temporary...
    o.inner.x = 513
    p = o  # ...so p must get a copy of it, not the same memory
    p.inner.x = 1
    a = b = Inner(x=7)
    b.x = 8
    out[7] = o.inner.x
    out[8] = p.inner.x
    out[9] = a.x
    out[10] = b.x
    return 0


@syscall
def boolop_values(ctx) -> int:
    table[1] = 10
    present = table.lookup(1)
    missing = table.lookup(2)
    out[15] = present or 5  # the reference is read only when it is there
    out[16] = missing or 5  # (reading it first was a verifier rejection)
    out[17] = (missing and 5) or 0  # None counts as 0 (`or 0`: an int to type checkers)
    x: u8 = 0
    y: i8 = -1
    out[18] = x or y  # -1, not 255: u8 and i8 join as i16
    out[19] = x if x else y
    return 0


@syscall
def update_flags(ctx) -> int:
    out[20] = table.update(6, 1, BPF_NOEXIST)  # the flags' names were not constants
    out[21] = table.update(6, 2, BPF_NOEXIST)  # -EEXIST
    out[22] = table.update(7, 2, BPF_EXIST)  # -ENOENT
    out[23] = table.update(6, 5, BPF_EXIST)
    out[24] = table[6]
    return 0


@syscall
def print_values(ctx) -> int:
    flag = hex_value < 0
    big: u64 = 2**64 - 1  # an intermediate constant beyond 64 bits, as Python allows
    print(f"regtest-print {flag} {not flag} {flag:d} {hex_value:x} {big:x}")
    return 0
