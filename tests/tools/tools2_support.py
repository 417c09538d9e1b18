"""Running a tool as a user does: a subprocess, a workload once it is tracing, its output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.conftest import ROOT


def run_tool(name: str, args: Sequence[str], workload: Callable[[], object] | None = None,
             *, interrupt_after: float | None = None, timeout: float = 60.0) -> tuple[int, str, str]:
    """Start ``python -m bpfimport.tools.NAME ARGS``, run ``workload`` once its first line
    (the banner or header, printed after the attach) is out, and return (status, stdout, stderr).

    ``interrupt_after``: send SIGINT that long after the workload (Ctrl-C), else wait for it.
    """
    proc = subprocess.Popen([sys.executable, "-m", f"bpfimport.tools.{name}", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    try:
        if workload is not None:
            workload()
        if interrupt_after is not None:
            time.sleep(interrupt_after)
            proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, first + rest, err


def hist_counts(output: str) -> dict[str, int]:
    """``{"low -> high" or "value": count}`` of every histogram row in ``output``, added up."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        if "|" not in line or ":" not in line:
            continue
        label, _, rest = line.partition(":")
        counts[label.strip()] = counts.get(label.strip(), 0) + int(rest.split()[0])
    return counts


def block_device_of(path: Path) -> str | None:
    """The kernel's name of the whole disk holding ``path`` ("vda"), or None (tmpfs, overlay...)."""
    dev = os.stat(path).st_dev
    sysfs = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if not sysfs.exists():
        return None
    real = sysfs.resolve()
    if (real / "partition").exists():
        real = real.parent
    return real.name


def writable_block_dir(candidates: Sequence[Path]) -> tuple[Path, str] | None:
    """The first folder of ``candidates`` on a real block device that we can write, and the disk."""
    for folder in candidates:
        if folder.is_dir() and os.access(folder, os.W_OK):
            disk = block_device_of(folder)
            if disk is not None:
                return folder, disk
    return None


def write_and_fsync(path: Path, rounds: int = 20) -> None:
    """Write ``rounds`` x 64 KiB to ``path`` in a child process, fsync after each: block writes.

    Returns after the child is done; the child's pid is in ``path.with_suffix(".pid")``.
    """
    code = (
        "import os, sys\n"
        f"open({str(path.with_suffix('.pid'))!r}, 'w').write(str(os.getpid()))\n"
        f"with open({str(path)!r}, 'wb') as f:\n"
        f"    for _ in range({rounds}):\n"
        "        f.write(os.urandom(65536)); f.flush(); os.fsync(f.fileno())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
