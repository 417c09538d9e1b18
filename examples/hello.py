"""Hello, World! from the kernel: print() in hello.bpf.py, read back from trace_pipe.

    sudo python examples/hello.py --seconds 3
"""

from __future__ import annotations

import argparse
import subprocess

import bpfimport  # noqa: F401  (installs the import hook for *_bpf modules)

# isort: split
import hello_bpf
from tracepipe import TracePipe, parse


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to listen (default 3)")
    args = parser.parse_args()

    with TracePipe() as pipe:
        pipe.drain()  # forget lines printed before we attached
        with hello_bpf.hello.attach():
            print(f"Tracing execve() for {args.seconds:g} s (running /bin/true to trigger it)...")
            for raw in pipe.lines(args.seconds, tick=lambda: subprocess.run(["true"])):
                line = parse(raw)
                if line is not None:
                    print(f"{line.task:>16}-{line.pid:<7} {line.msg}")


if __name__ == "__main__":
    main()
