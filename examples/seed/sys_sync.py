"""Seed app: trace sync() calls with sys_sync.bpf.py; calls sync() itself once a second.

    sudo python examples/seed/sys_sync.py --seconds 3
"""

from __future__ import annotations

import argparse
import os
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import sys_sync_bpf
from tracepipe import TracePipe, parse


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    last = [0.0]

    def tick() -> None:
        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            os.sync()

    with TracePipe() as pipe:
        pipe.drain()
        with sys_sync_bpf.on_sync.attach():
            print("Tracing sys_sync()...")
            for raw in pipe.lines(args.seconds, tick=tick):
                if (line := parse(raw)) is not None:
                    print(f"{line.ts:.6f} {line.task}-{line.pid}: {line.msg}")


if __name__ == "__main__":
    main()
