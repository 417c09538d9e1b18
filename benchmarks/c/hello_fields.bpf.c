/* C baseline for examples/seed/hello_fields.bpf.py */
#include "common.h"

SEC("tracepoint/syscalls/sys_enter_clone")
long on_clone(void *ctx)
{
	bpf_printk("Hello, World!");
	return 0;
}
