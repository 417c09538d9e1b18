/* C baseline for examples/seed/sys_sync.bpf.py */
#include "common.h"

SEC("tracepoint/syscalls/sys_enter_sync")
long on_sync(void *ctx)
{
	bpf_printk("sys_sync() called");
	return 0;
}
