"""Strings: char arrays compared with bytes literals, with each other and by prefix.

`literals` runs with test_run and writes each comparison's answer into `out`; the
exec tracepoint compares the real name of the test's children (`TARGET`, `PREFIX`
and `PATH` are set by the test before load) and records the answers per pid.
"""

from bpfimport.lang import (
    Annotated,
    ArrayMap,
    Final,
    HashMap,
    comm,
    current_task,
    struct,
    syscall,
    tgid,
    tracepoint,
    u8,
    u32,
    u64,
)

out = ArrayMap(key=u32, value=u64, max_entries=64)


@struct(packed=True)
class Odd:
    lead: u8 = 0
    name: Annotated[bytes, 8] = b""  # at offset 1: compared a byte at a time


names = HashMap(key=u32, value=Odd, max_entries=4)


@syscall
def literals(ctx) -> int:
    a: Annotated[bytes, 8] = b"abc"
    out[0] = a == b"abc"
    out[1] = a == b"ab"  # a's text goes on
    out[2] = a == b"abcd"  # a's text ends first
    out[3] = a != b"abc"
    out[4] = a != b"abd"
    out[5] = a.startswith(b"ab")
    out[6] = a.startswith(b"abd")
    out[7] = a.startswith(b"")
    out[8] = a == b""
    full: Annotated[bytes, 4] = b"abcd"  # no NUL: the text is the whole array
    out[9] = full == b"abcd"
    out[10] = full == b"abc"
    out[11] = b"abc" == a  # the literal on the left
    longer: Annotated[bytes, 16] = b"abc"
    out[12] = a == longer  # arrays of different lengths holding the same text
    longer = b"abcx"
    out[13] = a == longer
    out[14] = longer.startswith(a)
    out[15] = a.startswith(longer)
    eight: Annotated[bytes, 8] = b"abcdefgh"
    longer = b"abcdefgh"
    out[16] = eight == longer  # the 8-byte array has no NUL: longer must end at 8
    longer = b"abcdefghi"
    out[17] = eight == longer
    out[18] = longer.startswith(eight)
    o = Odd(lead=1, name=b"odd")
    out[19] = o.name == b"odd"
    names[1] = o
    v = names.lookup(1)
    if v is not None:
        out[20] = v.name == b"odd"
        out[21] = v.name.startswith(b"od")
        out[22] = v.name == b"odx"
    if a == b"abc" and a != b"xyz":  # in a condition, and short-circuiting
        out[23] = 7
    out[24] = 1 if comm() == b"" else 2  # a task always has a name
    return 0


@struct
class Seen:
    lit_eq: u8 = 0
    lit_ne: u8 = 0
    lit_prefix: u8 = 0
    target_eq: u8 = 0
    target_ne: u8 = 0
    target_prefix: u8 = 0
    task_eq: u8 = 0
    field_eq: u8 = 0
    path_eq: u8 = 0
    path_prefix: u8 = 0
    branch: u8 = 0
    name: Annotated[bytes, 16] = b""


seen = HashMap(key=u32, value=Seen, max_entries=64)

WATCH: Final[u32] = 0  # the test's pid: only its children are recorded
TARGET: Final[Annotated[bytes, 16]] = b""  # a name chosen at run time, like bcc's -n
PREFIX: Final[Annotated[bytes, 8]] = b""
PATH: Final[Annotated[bytes, 128]] = b""


@tracepoint("sched/sched_process_exec")
def on_exec(ctx) -> int:
    if current_task().real_parent.tgid != WATCH:
        return 0
    # the answers go straight into the map value: each bool kept in a stack struct would
    # double the paths the verifier walks (a 0 and a 1 byte are different stack states)
    seen[tgid()] = Seen()
    s = seen.lookup(tgid())
    if s is not None:
        s.lit_eq = comm() == b"bpfstr_match"
        s.lit_ne = comm() != b"bpfstr_match"
        s.lit_prefix = comm().startswith(b"bpfstr_m")
        s.target_eq = comm() == TARGET
        s.target_ne = comm() != TARGET
        s.target_prefix = comm().startswith(PREFIX)
        s.task_eq = current_task().comm == b"bpfstr_match"
        s.name = comm()
        s.field_eq = s.name == b"bpfstr_match"
        s.path_eq = ctx.filename == PATH  # a __data_loc string against a global char array
        s.path_prefix = ctx.filename.startswith(b"/")
        if comm() == TARGET:
            s.branch = 1
        else:
            s.branch = 2
    return 0


LICENSE = "GPL"
