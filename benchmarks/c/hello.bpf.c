/* C baseline for examples/hello.bpf.py */
#include "common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int hello(void *ctx)
{
	bpf_printk("Hello, World!");
	return 0;
}
