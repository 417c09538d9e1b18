"""biolatency run as a user runs it, while a child writes and fsyncs a file on a real disk."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from tests.tools.tools2_support import hist_counts, run_tool, writable_block_dir, write_and_fsync


def block_dir(tmp_path: Path) -> tuple[Path, str]:
    found = writable_block_dir([tmp_path, Path("/var/tmp"), Path(tempfile.gettempdir()), Path.home(),
                                Path("/")])
    if found is None:
        pytest.skip("no writable folder on a block device (tmpfs and overlays issue no block I/O)")
    return found


def test_biolatency_per_disk_histogram(tracing: None, tmp_path: Path) -> None:
    folder, disk = block_dir(tmp_path)
    target = folder / f"bpfimport-biolatency-{tmp_path.name}"
    try:
        status, out, err = run_tool("biolatency", ["-D", "3", "1"], lambda: write_and_fsync(target))
    finally:
        target.unlink(missing_ok=True)
        target.with_suffix(".pid").unlink(missing_ok=True)
    assert status == 0, err
    assert out.startswith("Tracing block device I/O... Hit Ctrl-C to end.")
    assert disk in re.findall(r"^disk = (\S+)$", out, re.M)
    assert "usecs               : count     distribution" in out
    assert sum(hist_counts(out).values()) >= 20  # a write and a flush per fsync at least
