"""A tracing (fentry) program: refused by kernels in lockdown or without the program type."""

from bpfimport.lang import fentry


@fentry("do_nanosleep")
def on_sleep(ctx) -> int:
    return 0
