/* C baseline for examples/seed/xdp_pass.bpf.py */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __s64);
	__type(value, __s64);
} count SEC(".maps");

SEC("xdp")
long xdp_count(struct xdp_md *ctx)
{
	__s64 key = 0, one = 1, n, *prev;

	prev = bpf_map_lookup_elem(&count, &key);
	if (prev) {
		n = *prev + 1;
		bpf_printk("count: %lld", n);
		bpf_map_update_elem(&count, &key, &n, BPF_ANY);
		return XDP_PASS;
	}
	bpf_map_update_elem(&count, &key, &one, BPF_ANY);
	return XDP_PASS;
}
