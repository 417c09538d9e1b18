/* C baseline for examples/seed/kprobes.bpf.py */
#include "common.h"

SEC("kretprobe/do_unlinkat")
long unlink_return(void *ctx)
{
	bpf_printk("do_unlinkat returned");
	return 0;
}

SEC("kprobe/do_unlinkat")
long unlink_entry(void *ctx)
{
	bpf_printk("do_unlinkat entered");
	return 0;
}
