/* C baseline for examples/xdp_ratelimit.bpf.py */
#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>

#define WINDOW_NS 1000000000ULL

const volatile __u64 LIMIT = 100;

struct window {
	__u64 start;
	__u64 packets;
	__u64 passed;
	__u64 dropped;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct window);
} windows SEC(".maps");

SEC("xdp")
int ratelimit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct window *w;
	__u64 now;
	__u32 src;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	now = bpf_ktime_get_ns();
	src = bpf_ntohl(ip->saddr);
	w = bpf_map_lookup_elem(&windows, &src);
	if (!w) {
		struct window fresh = { .start = now, .packets = 1, .passed = 1 };
		bpf_map_update_elem(&windows, &src, &fresh, BPF_ANY);
		return XDP_PASS;
	}
	if (now - w->start >= WINDOW_NS) {
		w->start = now;
		w->packets = 0;
	}
	__sync_fetch_and_add(&w->packets, 1);
	if (w->packets > LIMIT) {
		__sync_fetch_and_add(&w->dropped, 1);
		return XDP_DROP;
	}
	__sync_fetch_and_add(&w->passed, 1);
	return XDP_PASS;
}
