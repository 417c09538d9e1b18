"""Trace open() system-wide: one line per openat() call, as bcc's opensnoop prints them.

    sudo python examples/opensnoop.py                # until Ctrl-C
    sudo python examples/opensnoop.py --seconds 5 --pid 1234

opensnoop.bpf.py keeps each openat()'s path pointer and flags when the call starts and
sends them, with the result, when it returns; this app prints the events. FD is the
file descriptor, or -1 with the errno in ERR (2: no such file). FLAGS are octal, as in
<fcntl.h>. Paths longer than 255 bytes are cut.
"""

from __future__ import annotations

import argparse
import signal
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import opensnoop_bpf

COLUMNS = f"{'PID':>7} {'COMM':<16} {'FD':>4} {'ERR':>3} {'FLAGS':>8} PATH"


def show(e: opensnoop_bpf.Event, pid: int | None) -> None:
    if pid is not None and e.pid != pid:
        return
    fd, err = (e.ret, 0) if e.ret >= 0 else (-1, -e.ret)
    comm = e.comm.decode(errors="replace")
    print(f"{e.pid:>7} {comm:<16} {fd:>4} {err:>3} {e.flags:>08o} {e.fname.decode(errors='replace')}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--pid", type=int, default=None, help="only this process")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # end like Ctrl-C
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    with opensnoop_bpf.openat_enter.attach(), opensnoop_bpf.openat_exit.attach():
        print(COLUMNS, flush=True)
        try:
            while deadline is None or time.monotonic() < deadline:
                opensnoop_bpf.events.poll(lambda e: show(e, args.pid), timeout_ms=100)
        except KeyboardInterrupt:
            pass
        opensnoop_bpf.events.consume(lambda e: show(e, args.pid))  # what is already in the buffer


if __name__ == "__main__":
    main()
