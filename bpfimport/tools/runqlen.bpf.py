"""runqlen's kernel side: the run queue's length, sampled on every CPU by a perf event.

At each sample (99 Hz by default, on every online CPU) the CFS run queue of the task running
there is read through current_task() with CO-RE, as libbpf-tools' runqlen does; the running
task is not counted. Lengths go into a linear histogram, one per CPU with -C.
"""

from typing import Final

from bpfimport.lang import (
    ArrayMap,
    HashMap,
    current_task,
    perf_event,
    smp_processor_id,
    struct,
    u32,
    u64,
)

PER_CPU: Final[bool] = False  # -C: a histogram per CPU
MAX_SLOTS = 64  # longer queues count in the last slot


@struct

class CpuSlot:
    cpu: u32 = 0
    slot: u32 = 0

dist = ArrayMap(key=u32, value=u64, max_entries=MAX_SLOTS)
per_cpu = HashMap(key=CpuSlot, value=u64, max_entries=4096)


@perf_event
def sample(ctx) -> int:
    # The CFS run queue of the task on this CPU, as libbpf-tools reads it; the running
    # task is counted in nr_queued (nr_running before Linux 6.14), so one less is the number waiting.
    n: u64 = current_task().se.cfs_rq.nr_queued
    if n > 0:
        n -= 1
    slot = min(n, MAX_SLOTS - 1)
    if PER_CPU:
        per_cpu[CpuSlot(cpu=smp_processor_id(), slot=u32(slot))] += 1
    else:
        dist[u32(slot)] += 1
    return 0


LICENSE = "GPL"
