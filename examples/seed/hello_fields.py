"""Seed app: one trace line per clone() from hello_fields.bpf.py, split into fields.

    sudo python examples/seed/hello_fields.py --seconds 3
"""

from __future__ import annotations

import argparse
import os

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import hello_fields_bpf
from tracepipe import TracePipe, parse


def fork_once() -> None:
    """glibc's fork() is the clone() system call."""
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with TracePipe() as pipe:
        pipe.drain()
        with hello_fields_bpf.on_clone.attach():
            print(f"{'TIME(s)':<18} {'COMM':<16} {'PID':<7} MESSAGE")
            for raw in pipe.lines(args.seconds, tick=fork_once):
                if (line := parse(raw)) is not None:
                    print(f"{line.ts:<18.6f} {line.task:<16} {line.pid:<7} {line.msg}")


if __name__ == "__main__":
    main()
