# hello.bpf.py: print a line to the kernel trace buffer on every execve().
#
# Run the app next to it:  sudo python examples/hello.py
from bpfimport.lang import *


@tracepoint("syscalls/sys_enter_execve")
def hello(ctx) -> int:
    print("Hello, World!")
    return 0


LICENSE = "GPL"
