/* C equivalent of task_fields.bpf.py, libbpf-tools style (BPF_CORE_READ on vmlinux.h) */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task {
	__u32 pid, tgid, ppid, pad;
	__u64 arg_start, vruntime;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct task e = {};

	e.pid = BPF_CORE_READ(t, pid);
	e.tgid = BPF_CORE_READ(t, tgid);
	e.ppid = BPF_CORE_READ(t, real_parent, tgid);
	e.arg_start = BPF_CORE_READ(t, mm, arg_start);
	e.vruntime = BPF_CORE_READ(t, se.vruntime);
	BPF_CORE_READ_INTO(&e.comm, t, comm);
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
