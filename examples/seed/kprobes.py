"""Seed app: kprobe + kretprobe on do_unlinkat (kprobes.bpf.py); removes a file to fire them.

Kernels without CONFIG_KPROBES refuse to attach: the app says so and exits with status 2.

    sudo python examples/seed/kprobes.py --seconds 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import kprobes_bpf
from tracepipe import TracePipe, parse


def unlink_one() -> None:
    fd, path = tempfile.mkstemp()
    os.close(fd)
    os.unlink(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if not os.path.exists("/sys/kernel/tracing/kprobe_events") and not os.path.exists(
        "/sys/kernel/debug/tracing/kprobe_events"
    ):
        print("this kernel has no kprobes (CONFIG_KPROBES is off): nothing to attach", file=sys.stderr)
        return 2
    with TracePipe() as pipe, contextlib.ExitStack() as links:
        pipe.drain()
        links.enter_context(kprobes_bpf.unlink_entry.attach())
        links.enter_context(kprobes_bpf.unlink_return.attach())
        for raw in pipe.lines(args.seconds, tick=unlink_one):
            if (line := parse(raw)) is not None:
                print(f"{line.task}-{line.pid}: {line.msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
