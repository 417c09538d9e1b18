/* C baseline for examples/seed/hello_world.bpf.py */
#include "common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
long hello_world(void *ctx)
{
	bpf_printk("Hello, World!");
	return 0;
}
