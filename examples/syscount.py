"""Top processes by system calls, counted by syscount.bpf.py in the kernel.

    sudo python examples/syscount.py --seconds 5
"""

from __future__ import annotations

import argparse
import time

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import syscount_bpf


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to count (default 3)")
    parser.add_argument("--top", type=int, default=10, help="rows to show (default 10)")
    args = parser.parse_args()

    with syscount_bpf.count_syscalls.attach():
        print(f"Counting syscalls for {args.seconds:g} s...")
        time.sleep(args.seconds)

    rows = sorted(syscount_bpf.counts.items(), key=lambda kv: kv[1], reverse=True)
    print(f"{'PID':>7}  {'COMM':<16} {'SYSCALLS':>10}")
    for key, count in rows[: args.top]:
        print(f"{key.pid:>7}  {key.comm.decode(errors='replace'):<16} {count:>10}")


if __name__ == "__main__":
    main()
