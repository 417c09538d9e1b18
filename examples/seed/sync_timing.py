"""Seed app: sync_timing.bpf.py spots sync() calls less than a second apart.

The app calls sync() twice in a row every second to show it.

    sudo python examples/seed/sync_timing.py --seconds 3
"""

from __future__ import annotations

import argparse
import os

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import sync_timing_bpf
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
        with sync_timing_bpf.on_sync.attach():
            print("Tracing for quick syncs...")
            for raw in pipe.lines(args.seconds, tick=two_syncs):
                if (line := parse(raw)) is None:
                    continue
                start = line.ts if start is None else start
                print(f"At time {line.ts - start:.2f} s: multiple syncs, last {line.msg} ms ago")


if __name__ == "__main__":
    main()
