/* C baseline for examples/opensnoop.bpf.py, written as libbpf-tools' opensnoop is:
 * sys_enter_openat keeps the path pointer and flags in a hash map keyed by thread id;
 * sys_exit_openat reads the path, adds the return value and sends the event through a
 * ring buffer (reserved in place, then submitted).
 *
 * Build (benchmarks/bench.py does this with a vmlinux.h it generates):
 *   bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
 *   clang -O2 -g -target bpf -c opensnoop.bpf.c -I. -o opensnoop.bpf.o
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16
#define NAME_MAX 256

struct args_t {
	__u64 fname;
	__s32 flags;
};

struct event {
	__u32 pid;
	__u32 uid;
	__s32 ret;
	__s32 flags;
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct args_t args = {};

	args.fname = ctx->args[1];
	args.flags = (int)ctx->args[2];
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args_t *ap;
	struct event *e;

	ap = bpf_map_lookup_elem(&start, &tid);
	if (!ap)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = id >> 32;
		e->uid = (__u32)bpf_get_current_uid_gid();
		e->ret = ctx->ret;
		e->flags = ap->flags;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ap->fname);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
