"""Trace exec() system-wide: one line per exec, as bcc's execsnoop prints them.

    sudo python examples/execsnoop.py                # until Ctrl-C
    sudo python examples/execsnoop.py --seconds 5 --name bash

execsnoop.bpf.py records each execve() in the kernel (pid, the parent's pid read from
the kernel's task_struct, the file, up to 8 arguments) and sends it with the return value
when the call returns; this app prints the events. RET is 0 or a negative errno
(-2: no such file). Arguments longer than 63 bytes are cut; after 8 arguments "..." follows
(the kernel side reads 8 and does not look for a ninth, so exactly 8 show it too).
"""

from __future__ import annotations

import argparse
import signal
import time
from ctypes import Array, c_char

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import execsnoop_bpf

COLUMNS = f"{'PCOMM':<16} {'PID':>7} {'PPID':>7} {'RET':>4} {'PATH':<24} ARGS"


def text(raw: bytes | Array[c_char]) -> str:
    """A C string as text (a char array in an array of them is a ctypes array, not bytes)."""
    return bytes(raw).split(b"\0", 1)[0].decode(errors="replace")


def show(e: execsnoop_bpf.Event, name: str | None) -> None:
    comm = text(e.comm)
    if name is not None and name not in comm:
        return
    args = [text(e.argv[i]) for i in range(min(e.args_count, len(e.argv)))]
    if e.args_count == len(e.argv):
        args.append("...")  # the kernel side stops reading at MAXARGS
    print(f"{comm:<16} {e.pid:>7} {e.ppid:>7} {e.retval:>4} {text(e.filename):<24} {' '.join(args)}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--name", default=None, help="only commands whose name contains this")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # end like Ctrl-C
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    with execsnoop_bpf.execve_enter.attach(), execsnoop_bpf.execve_exit.attach():
        print(COLUMNS, flush=True)
        try:
            while deadline is None or time.monotonic() < deadline:
                execsnoop_bpf.events.poll(lambda e: show(e, args.name), timeout_ms=100)
        except KeyboardInterrupt:
            pass
        execsnoop_bpf.events.consume(lambda e: show(e, args.name))  # what is already in the buffer


if __name__ == "__main__":
    main()
