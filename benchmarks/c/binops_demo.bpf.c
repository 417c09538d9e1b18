/* C baseline for examples/seed/binops_demo.bpf.py */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 3);
	__type(key, __u64);
	__type(value, __u64);
} last SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
long on_execve(void *ctx)
{
	__u64 key = 0, now, *tsp;

	tsp = bpf_map_lookup_elem(&last, &key);
	if (tsp) {
		__u64 delta = bpf_ktime_get_ns() - *tsp;
		if (delta < 1000000000) {
			__u64 ms = delta / 1000000;
			bpf_printk("execve again after %llu ms", ms);
		}
		bpf_map_delete_elem(&last, &key);
	} else {
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&last, &key, &now, BPF_ANY);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
long on_execve_exit(void *ctx)
{
	volatile long base = 8; /* keep the arithmetic: the Python source is not folded either */
	long x = 5 ^ base, y = 6 & 3;

	bpf_printk("binops result %ld", x + y);
	return 0;
}
