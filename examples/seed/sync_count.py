"""Seed app: sync_count.bpf.py times close sync() calls and counts them all.

    sudo python examples/seed/sync_count.py --seconds 3
"""

from __future__ import annotations

import argparse
import os

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import sync_count_bpf
from tracepipe import TracePipe, parse


def two_syncs() -> None:
    os.sync()
    os.sync()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    start = None
    with TracePipe() as pipe:
        pipe.drain()
        with sync_count_bpf.on_sync.attach():
            print("Tracing for quick syncs...")
            for raw in pipe.lines(args.seconds, tick=two_syncs):
                if (line := parse(raw)) is None or len(line.msg.split()) != 2:
                    continue
                ms, count = line.msg.split()
                start = line.ts if start is None else start
                print(f"At time {line.ts - start:.2f} s: multiple syncs, last {ms} ms ago, count {count}")
    print(f"sync() calls seen in total: {sync_count_bpf.last.get(1, 0)}")


if __name__ == "__main__":
    main()
