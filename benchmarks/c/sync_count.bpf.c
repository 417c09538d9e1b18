/* C baseline for examples/seed/sync_count.bpf.py */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __s64);
	__type(value, __s64);
} last SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_sync")
long on_sync(void *ctx)
{
	__s64 ts_key = 0, count_key = 1, zero = 0, now, next, *tsp, *countp;

	tsp = bpf_map_lookup_elem(&last, &ts_key);
	countp = bpf_map_lookup_elem(&last, &count_key);
	if (!countp) {
		bpf_map_update_elem(&last, &count_key, &zero, BPF_ANY);
		countp = bpf_map_lookup_elem(&last, &count_key);
		if (!countp)
			return 0;
	}
	if (tsp) {
		__u64 delta = bpf_ktime_get_ns() - *tsp;
		if (delta < 1000000000)
			bpf_printk("%llu %lld", delta / 1000000, *countp);
		bpf_map_delete_elem(&last, &ts_key);
	} else {
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&last, &ts_key, &now, BPF_ANY);
	}
	next = *countp + 1;
	bpf_map_update_elem(&last, &count_key, &next, BPF_ANY);
	return 0;
}
