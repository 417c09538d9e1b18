/* C baseline for examples/tc_bytes.bpf.py */
#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>

struct traffic {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct traffic);
} sent SEC(".maps");

SEC("tc")
int count_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct traffic *t;
	__u32 dst;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if ((void *)(ip + 1) > end)
		return TC_ACT_OK;
	dst = bpf_ntohl(ip->daddr);
	t = bpf_map_lookup_elem(&sent, &dst);
	if (!t) {
		struct traffic fresh = { .packets = 1, .bytes = skb->len };
		bpf_map_update_elem(&sent, &dst, &fresh, BPF_ANY);
	} else {
		__sync_fetch_and_add(&t->packets, 1);
		__sync_fetch_and_add(&t->bytes, skb->len);
	}
	return TC_ACT_OK;
}
