#!/usr/bin/env python3
"""The least a Python process can take to do what a uprobe tool does before its first line.

    python benchmarks/floor.py PATH OFFSET                # open a uprobe and a uretprobe
    python benchmarks/floor.py PATH OFFSET --compile IR   # ... while LLVM compiles IR

tools.py runs this as the "floor" and "floor cold" variants of ``funclatency`` (its
README, "The tools"): a start-up bar relative to bcc is only meaningful next to what the
machine allows.  This process imports nothing of bpfimport's but what it names below, opens
the two perf events on ``PATH`` + ``OFFSET`` in background threads (as
``bpfimport.runtime.probes`` does: the kernel's first uprobe registration waits for an RCU
grace period), and prints one line once both are open.  With ``--compile``, the main
thread meanwhile loads llvmlite's LLVM and compiles the IR in file ``IR`` into an object
(through ``bpfimport.compiler.backend``, which imports no other part of the compiler): a
cold start's LLVM work without the compiler's Python half.  It loads no BPF program and
attaches nothing, so a tool cannot start faster than this on the same machine.
"""

from __future__ import annotations

import _thread
import ctypes
import os
import signal
import sys

SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine, 298)
PMU = "/sys/bus/event_source/devices/uprobe"


class PerfEventAttr(ctypes.Structure):
    """The leading fields of ``struct perf_event_attr`` up to ``config2`` (PERF_ATTR_SIZE_VER1).

    A copy of ``bpfimport.runtime.perf``'s, on purpose: importing that imports the bpfimport
    package, which the floor must not pay."""
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("sample_period", ctypes.c_uint64), ("sample_type", ctypes.c_uint64),
                ("read_format", ctypes.c_uint64), ("flags", ctypes.c_uint64),
                ("wakeup_events", ctypes.c_uint32), ("bp_type", ctypes.c_uint32),
                ("config1", ctypes.c_uint64), ("config2", ctypes.c_uint64)]


def _open(libc: ctypes.CDLL, attr: PerfEventAttr, result: list[int], done: _thread.LockType) -> None:
    try:
        fd = libc.syscall(SYS_PERF_EVENT_OPEN, ctypes.byref(attr), -1, 0, -1, 8)  # CLOEXEC
        result.append(fd if fd >= 0 else -ctypes.get_errno())
    finally:
        done.release()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--compile"):
        print(__doc__, file=sys.stderr)
        return 2
    path, offset = argv[0].encode(), int(argv[1], 0)
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"{PMU}/type", "rb") as f:
        ptype = int(f.read())
    with open(f"{PMU}/format/retprobe", "rb") as f:
        retbit = int(f.read().split(b":")[1])
    name = ctypes.create_string_buffer(path)
    waits = []
    results: list[int] = []
    for retprobe in (False, True):
        attr = PerfEventAttr(type=ptype, size=ctypes.sizeof(PerfEventAttr),
                             config=(1 << retbit) if retprobe else 0,
                             config1=ctypes.addressof(name), config2=offset)
        done = _thread.allocate_lock()
        done.acquire()
        _thread.start_new_thread(_open, (libc, attr, results, done))
        waits.append((done, attr))
    try:
        if len(argv) == 4:
            from bpfimport.compiler.backend import emit_object
            from bpfimport.options import DEFAULT_OPTIONS

            with open(argv[3]) as f:
                ir = f.read()
            emit_object(ir, DEFAULT_OPTIONS.cpu, DEFAULT_OPTIONS.opt_level)
    finally:
        # never exit while a thread is inside the open, even on a failed compile: the exit
        # kills it there, and the kernel then logs "failed to unregister, leaking uprobe"
        for done, _attr in waits:
            done.acquire()
    failed = [-r for r in results if r < 0]
    if failed:
        print(f"floor.py: perf_event_open: {os.strerror(failed[0])}", file=sys.stderr)
        return 1
    try:  # Ctrl-C may come as soon as the line is out
        sys.stdout.write("Tracing: both probes open\n")
        sys.stdout.flush()
        signal.pause()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
