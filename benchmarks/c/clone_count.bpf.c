/* C baseline for examples/seed/clone_count.bpf.py */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __s32);
	__type(value, __u64);
} hist SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_clone")
long on_clone(void *ctx)
{
	__s32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 one = 1, n, *prev;

	prev = bpf_map_lookup_elem(&hist, &pid);
	if (prev) {
		n = *prev + 1;
		bpf_map_update_elem(&hist, &pid, &n, BPF_ANY);
		return 0;
	}
	bpf_map_update_elem(&hist, &pid, &one, BPF_ANY);
	return 0;
}
