"""Seed app: clone() calls per pid from clone_count.bpf.py, as a text histogram.

    sudo python examples/seed/clone_count.py --seconds 5
"""

from __future__ import annotations

import argparse
import os
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import clone_count_bpf


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--forks", type=int, default=5, help="fork() this many times ourselves")
    args = parser.parse_args()
    with clone_count_bpf.on_clone.attach():
        for _ in range(args.forks):
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
        time.sleep(args.seconds)

    counts = sorted(clone_count_bpf.hist.items(), key=lambda kv: kv[1], reverse=True)
    widest = max((n for _, n in counts), default=1)
    print(f"{'PID':>7} {'CLONES':>7}")
    for p, n in counts[:20]:
        bar = "#" * max(1, round(40 * n / widest))
        print(f"{p:>7} {n:>7} {bar}")
    print(f"{len(counts)} pids cloned {sum(n for _, n in counts)} times")


if __name__ == "__main__":
    main()
