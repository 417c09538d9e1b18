"""biosnoop run as a user runs it, while a child writes and fsyncs a file on a real disk."""

from __future__ import annotations

from pathlib import Path

from tests.tools.test_biolatency import block_dir
from tests.tools.tools2_support import run_tool, write_and_fsync


def test_biosnoop_names_the_writer_and_its_disk(tracing: None, tmp_path: Path) -> None:
    folder, disk = block_dir(tmp_path)
    target = folder / f"bpfimport-biosnoop-{tmp_path.name}"
    try:
        status, out, err = run_tool("biosnoop", ["--duration", "3"], lambda: write_and_fsync(target))
        writer = int(target.with_suffix(".pid").read_text())
    finally:
        target.unlink(missing_ok=True)
        target.with_suffix(".pid").unlink(missing_ok=True)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES", "LAT(ms)"]
    rows = [line.split() for line in lines[1:]]
    # TIME COMM PID DISK T SECTOR BYTES LAT: the child's 64 KiB writes, issued in its name
    mine = [r for r in rows if len(r) == 8 and r[2] == str(writer) and r[3] == disk and r[4] == "W"]
    assert len(mine) >= 20, out
    assert all(r[1].startswith("python") for r in mine)
    assert sum(int(r[6]) for r in mine) >= 20 * 65536
    assert all(float(r[7]) >= 0 for r in mine)
