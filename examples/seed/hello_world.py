"""Seed app: print the kernel's greetings from hello_world.bpf.py (pythonbpf syntax).

    sudo python examples/seed/hello_world.py --seconds 3
"""

from __future__ import annotations

import argparse
import subprocess

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import hello_world_bpf
from tracepipe import TracePipe, parse


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with TracePipe() as pipe:
        pipe.drain()
        with hello_world_bpf.hello_world.attach():
            for raw in pipe.lines(args.seconds, tick=lambda: subprocess.run(["true"])):
                if (line := parse(raw)) is not None:
                    print(f"{line.task}-{line.pid}: {line.msg}")


if __name__ == "__main__":
    main()
