"""Print a line to the kernel's trace buffer on every execve() (the app: hello.py)."""

from bpfimport.lang import tracepoint


@tracepoint("syscalls/sys_enter_execve")
def hello(ctx) -> int:
    print("Hello, World!")
    return 0


LICENSE = "GPL"
