"""Read what BPF programs ``print()``: the kernel's trace_pipe, parsed.

A small helper shared by the example apps (not part of bpfimport).
"""

from __future__ import annotations

import errno
import os
import re
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

TRACEFS = Path("/sys/kernel/tracing")

# "  bash-1234    [001] d..31  5678.123456: bpf_trace_printk: Hello, World!"
_LINE = re.compile(
    r"^\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>\S+)\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>[^:]+):\s?(?P<msg>.*)$"
)


@dataclass(frozen=True)
class TraceLine:
    task: str
    pid: int
    cpu: int
    ts: float
    msg: str
    raw: str


def parse(line: str) -> TraceLine | None:
    m = _LINE.match(line)
    if m is None:
        return None
    return TraceLine(
        m["task"], int(m["pid"]), int(m["cpu"]), float(m["ts"]), m["msg"], line
    )


def trace_pipe_path() -> Path:
    """The trace_pipe file; mounts tracefs first when it is missing and we are root."""
    pipe = TRACEFS / "trace_pipe"
    if not pipe.exists() and os.geteuid() == 0:
        subprocess.run(
            ["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=False, capture_output=True
        )
    if not pipe.exists():
        raise SystemExit(
            f"{pipe} not found: mount tracefs first (mount -t tracefs nodev {TRACEFS})"
        )
    return pipe


class TracePipe:
    """A non-blocking reader of trace_pipe; ``drain()`` drops what is already queued."""

    def __init__(self, wait: float = 20.0) -> None:
        """Open trace_pipe; the kernel allows one reader at a time, so wait up to ``wait`` s."""
        path = trace_pipe_path()
        deadline = time.monotonic() + wait
        while True:
            try:
                self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() >= deadline:
                    raise SystemExit(f"cannot open {path}: another process is reading it") from e
                time.sleep(0.1)
        self._partial = b""

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> TracePipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> bytes:
        try:
            return os.read(self.fd, 1 << 16)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return b""
            raise

    def drain(self) -> None:
        while self._read():
            pass
        self._partial = b""

    def lines(self, seconds: float, tick: Callable[[], object] | None = None) -> Iterator[str]:
        """Yield complete lines for ``seconds``; ``tick()`` runs about every 0.2 s."""
        deadline = time.monotonic() + seconds
        next_tick = 0.0
        while (now := time.monotonic()) < deadline:
            if tick is not None and now >= next_tick:
                tick()
                next_tick = now + 0.2
            ready, _, _ = select.select([self.fd], [], [], min(0.1, deadline - now))
            if not ready:
                continue
            data = self._partial + self._read()
            *complete, self._partial = data.split(b"\n")
            for raw in complete:
                yield raw.decode(errors="replace")
