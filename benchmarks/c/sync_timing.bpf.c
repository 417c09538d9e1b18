/* C baseline for examples/seed/sync_timing.bpf.py */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __s64);
	__type(value, __s64);
} last SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_sync")
long on_sync(void *ctx)
{
	__s64 key = 0, now, *tsp;

	tsp = bpf_map_lookup_elem(&last, &key);
	if (tsp) {
		__u64 delta = bpf_ktime_get_ns() - *tsp;
		if (delta < 1000000000)
			bpf_printk("%llu", delta / 1000000);
		bpf_map_delete_elem(&last, &key);
	} else {
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&last, &key, &now, BPF_ANY);
	}
	return 0;
}
