"""Seed app: clone() events as structs from struct_and_perf.bpf.py, read from a perf event array.

    sudo python examples/seed/struct_and_perf.py --forks 3
"""

from __future__ import annotations

import argparse
import os

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import struct_and_perf_bpf as skel


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--forks", type=int, default=3, help="fork() this many times ourselves")
    parser.add_argument("--seconds", type=float, default=0.5, help="how long to wait for events")
    args = parser.parse_args()

    mine = 0

    def show(event: skel.data_t) -> None:
        nonlocal mine
        mine += event.pid == os.getpid()  # pid() is the thread id: the main thread's is our pid
        print(f"{event.ts:>16} {event.pid:>7} {event.comm.decode(errors='replace')}")

    print(f"{'TIME(ns)':>16} {'PID':>7} COMM")
    with skel.hello.attach():
        for _ in range(args.forks):
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
        skel.events.poll(show, timeout_ms=int(args.seconds * 1000))
    print(f"{mine} clone() events from this process, {skel.events.lost} lost")


if __name__ == "__main__":
    main()
