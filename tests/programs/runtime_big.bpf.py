"""Large maps for bulk reads (runtime tests); the program only gives the object something to load."""

from bpfimport.lang import HashMap, PerCpuHashMap, syscall, u32, u64

big = HashMap(key=u32, value=u64, max_entries=131072)
pbig = PerCpuHashMap(key=u32, value=u32, max_entries=4096)


@syscall
def noop(ctx) -> int:
    return 0
