# Batch map writes (issue 9 item 5): one map of each kind the kernel batches, and one it
# does not (an LPM trie), written by m.update() and read back.
from bpfimport.lang import (
    Annotated,
    ArrayMap,
    HashMap,
    LruHashMap,
    PerCpuArrayMap,
    PerCpuHashMap,
    i32,
    struct,
    syscall,
    u16,
    u32,
    u64,
)


@struct
class Key:
    a: u32 = 0
    b: u16 = 0


@struct
class Val:
    x: u64 = 0
    name: Annotated[bytes, 6] = b""


h = HashMap(key=u32, value=u64, max_entries=4096)
small = HashMap(key=u32, value=u64, max_entries=8)
a = ArrayMap(key=u32, value=u64, max_entries=16)
ph = PerCpuHashMap(key=u32, value=u64, max_entries=64)
pa = PerCpuArrayMap(key=u32, value=u32, max_entries=8)
s = HashMap(key=Key, value=Val, max_entries=64)
lru = LruHashMap(key=u64, value=i32, max_entries=128)
flags = HashMap(key=u32, value=bool, max_entries=8)


@syscall
def touch(ctx) -> int:
    # every map used by a program, so each is in the object
    h[0] += 0
    small[0] += 0
    a[0] += 0
    ph[0] += 0
    pa[0] += 0
    lru[0] += 0
    return 0
