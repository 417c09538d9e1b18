/* C baseline for examples/seed/struct_and_perf.bpf.py */
#include "common.h"

struct data_t {
	__u64 pid;
	__u64 ts;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_clone")
int hello(void *ctx)
{
	struct data_t data = {};

	data.pid = (__u32)bpf_get_current_pid_tgid();
	data.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(&data.comm, sizeof(data.comm));
	bpf_printk("clone called at %llu by pid%llu, comm hellohellohello", data.ts, data.pid);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof(data));
	return 0;
}
