/* C baseline for examples/xdp_protocols.bpf.py */
#include "common.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

/* destination ports to drop -> packets dropped so far */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u64);
} drop_ports SEC(".maps");

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 proto;
	__u16 port = 0;
	__u64 *n;
	void *l4;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	proto = ip->protocol;
	n = bpf_map_lookup_elem(&packets, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
	l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) <= end)
			port = bpf_ntohs(udp->dest);
	} else if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) <= end)
			port = bpf_ntohs(tcp->dest);
	}
	if (port) {
		n = bpf_map_lookup_elem(&drop_ports, &port);
		if (n) {
			__sync_fetch_and_add(n, 1);
			return XDP_DROP;
		}
	}
	return XDP_PASS;
}
