/* C baseline for examples/execsnoop.bpf.py, written as libbpf-tools' execsnoop is:
 * vmlinux.h types, BPF_CORE_READ for the parent's tgid, the syscall tracepoints'
 * records as trace_event_raw_sys_enter/exit.  The event waits in a hash map keyed by
 * thread id from sys_enter_execve to sys_exit_execve, which adds the return value and
 * the task's name (the new program's, after a successful exec) and sends it through a
 * ring buffer.  A per-CPU array is the scratch space the event is
 * built in (it is too big for the 512-byte stack).
 *
 * Build (benchmarks/bench.py does this with a vmlinux.h it generates):
 *   bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
 *   clang -O2 -g -target bpf -c execsnoop.bpf.c -I. -o execsnoop.bpf.o
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define FILENAME_LEN 128
#define MAXARGS 8
#define ARGSIZE 64

struct event {
	__u32 pid;
	__u32 ppid;
	__s32 retval;
	__u32 args_count;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
	char argv[MAXARGS][ARGSIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} heap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0, tid = (__u32)id;
	const char **args = (const char **)ctx->args[1];
	const char *argp;
	struct task_struct *task;
	struct event *e;
	int i;

	e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	e->pid = id >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->retval = 0;
	e->args_count = 0;
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);

#pragma unroll
	for (i = 0; i < MAXARGS; i++) {
		bpf_probe_read_user(&argp, sizeof(argp), &args[i]);
		if (!argp)
			break;
		bpf_probe_read_user_str(e->argv[i], ARGSIZE, argp);
		e->args_count++;
	}
	bpf_map_update_elem(&execs, &tid, e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;

	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->retval = ctx->ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));	/* the new program's name */
	bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
