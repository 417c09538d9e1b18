"""funclatency: time a function's calls and show the latency as a histogram, as bcc's funclatency.

    sudo python -m bpfimport.tools.funclatency c:usleep               # libc's usleep, in ns
    sudo python -m bpfimport.tools.funclatency -u /bin/bash:readline  # a binary's function, in us
    sudo python -m bpfimport.tools.funclatency -m -i 5 vfs_read       # a kernel function (kprobes)

A uprobe and a uretprobe on the function (a kprobe pair for a kernel function, on kernels that
have kprobes) measure each call; a log2 histogram of the latencies, with the average, prints at
Ctrl-C, at the end of ``-d``, or every ``-i`` seconds.
"""

from __future__ import annotations

import os
import sys
import time

from bpfimport.errors import BpfError
from bpfimport.runtime.probes import PreparedProbe, prepare_kprobe, prepare_uprobe
from bpfimport.tools._common import (
    add_duration,
    add_pid,
    emit,
    run_events,
    run_main,
    tool_module,
    tool_parser,
)
from bpfimport.tools._options import Namespace

TYPE_CHECKING = False  # not typing's (milliseconds of every start)
if TYPE_CHECKING:
    from collections.abc import Sequence

EXAMPLES = """
    ./funclatency do_sys_open       # time the do_sys_open() kernel function
    ./funclatency c:read            # time the read() C library function
    ./funclatency -u vfs_read       # time vfs_read(), in microseconds
    ./funclatency -m do_nanosleep   # time do_nanosleep(), in milliseconds
    ./funclatency -i 2 -d 10 c:open # output every 2 seconds, for duration 10s
    ./funclatency -mTi 5 vfs_read   # output every 5 seconds, with timestamps
    ./funclatency -p 181 vfs_read   # time process 181 only
    ./funclatency /usr/lib/x86_64-linux-gnu/libc.so.6:getenv   # a library by its path
(./funclatency is python -m bpfimport.tools.funclatency; kernel functions need kprobes)
"""

UNITS = {"nsecs": 1, "usecs": 1000, "msecs": 1000000}


def parse_args(argv: Sequence[str] | None) -> Namespace:
    parser = tool_parser("funclatency", "Time functions and print latency as a histogram",
                         EXAMPLES)
    add_pid(parser, "trace this PID only")
    parser.add_argument("-i", "--interval", type=float, metavar="SECONDS",
                        help="summary interval, in seconds")
    add_duration(parser)
    parser.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    units = parser.add_mutually_exclusive_group()
    units.add_argument("-u", "--microseconds", action="store_true",
                       help="microsecond histogram")
    units.add_argument("-m", "--milliseconds", action="store_true",
                       help="millisecond histogram")
    parser.add_argument("pattern", help="the function: FUNC (kernel), LIB:FUNC (c:malloc, "
                                        "libc.so.6:getenv, bash:readline) or /path:FUNC")
    args = parser.parse_args(argv)
    if args.interval is not None and not args.interval > 0:
        parser.error("-i: the interval must be a positive number of seconds")
    if args.duration and not args.interval:
        args.interval = args.duration      # as bcc: one summary at the end of -d
    return args


def find_binary(lib: str) -> str:
    """The file ``LIB`` of ``LIB:FUNC`` names, as bcc finds it: a path, a library, a program.

    ``c`` is libc (``libc.so.6``, as the dynamic linker's cache names it), ``libc.so.6`` is
    found as the dynamic loader would, ``bash`` is the program on ``PATH``.
    """
    if "/" in lib or ".so" in lib:
        return lib
    return mapped_library(lib) or _find_library(lib) or lib


def mapped_library(lib: str, maps: str = "/proc/self/maps") -> str | None:
    """The path of ``libLIB.so...`` if this process has it mapped (libc, libm, libpthread...
    always are, in the interpreter): no ``ldconfig -p`` run, no ``ctypes.util`` import
    (~15 ms of the tool's start-up)."""
    soname, versioned = f"lib{lib}.so", f"lib{lib}-"  # libc.so.6; glibc < 2.34's libc-2.31.so
    try:
        with open(maps) as f:
            for line in f:
                _, slash, rest = line.rstrip("\n").partition("/")
                path = slash + rest
                if not path or path.endswith(" (deleted)"):
                    continue
                name = os.path.basename(path)
                if name.startswith(soname) or (name.startswith(versioned)
                                               and name[len(versioned):][:1].isdigit()):
                    return path
    except OSError:
        pass
    return None


def _find_library(lib: str) -> str | None:
    """``ctypes.util.find_library`` (imported only here: it imports subprocess and runs ldconfig)."""
    import ctypes.util

    return ctypes.util.find_library(lib)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    label = "msecs" if args.milliseconds else "usecs" if args.microseconds else "nsecs"
    lib, colon, func = args.pattern.rpartition(":")
    if not func or any(c in func for c in "*?[("):
        print(f"funclatency: {args.pattern!r}: give one function by name (wildcards and regular "
              f"expressions are not supported).", file=sys.stderr)
        return 2
    if not colon:
        from bpfimport.runtime.errors import kprobes_available  # a user function needs none of it

        if not kprobes_available():
            print(f"funclatency: this kernel has no kprobes (CONFIG_KPROBES is off), so the "
                  f"kernel function {func!r} cannot be traced; user functions (LIB:FUNC) can.",
                  file=sys.stderr)
            return 1
    # opened while the module compiles and loads (see bpfimport.runtime.probes); one pair of
    # programs serves a user function's uprobes and a kernel function's kprobes
    probes: list[PreparedProbe]
    if colon:
        binary, pid = find_binary(lib), args.pid or -1
        probes = [prepare_uprobe(binary, func, retprobe=r, pid=pid) for r in (False, True)]
    else:
        probes = [prepare_kprobe(func, retprobe=r) for r in (False, True)]
    skel = tool_module("funclatency")
    skel.TARGET_PID.value = args.pid or 0
    skel.UNIT_NS.value = UNITS[label]
    try:
        skel.on_entry.attach(probe=probes[0])
        skel.on_return.attach(probe=probes[1])
    except BpfError:
        skel.close()
        raise
    finally:
        for probe in probes:
            probe.close()  # an event no link took (a failed attach): nothing once attached
    state = {"printed": time.monotonic()}

    def summary() -> None:
        emit("")
        if args.timestamp:
            emit(f"{time.strftime('%H:%M:%S'):<8}")
        skel.dist.print_log2_hist(val_type=label)
        total, calls = skel.total_ns.value, skel.calls.value
        if calls:
            total //= UNITS[label]
            emit(f"\navg = {total // calls} {label}, total: {total} {label}, count: {calls}\n")
        sys.stdout.flush()
        skel.dist.clear()
        skel.total_ns.value = 0
        skel.calls.value = 0
        state["printed"] = time.monotonic()

    emit(f'Tracing 1 functions for "{args.pattern}"... Hit Ctrl-C to end.')
    try:
        try:
            run_events([], duration=args.duration, tick=summary, interval=args.interval)
        except KeyboardInterrupt:
            pass
        if time.monotonic() - state["printed"] > 0.05:
            summary()
        emit("Detaching...")
    finally:
        skel.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "funclatency"))
