"""Oracles shared by the BTF tests: bpftool's reading of the kernel's BTF, and tracefs.

bpftool (``btf dump file ... format raw``) reads vmlinux with libbpf, not with
``bpfimport.btf``: what it prints is the independent answer the reader, the
name index and the tracepoint layer are checked against.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

VMLINUX = Path("/sys/kernel/btf/vmlinux")
RAW_LINE = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")


class RawDump:
    """``bpftool btf dump file ... format raw``: each type's header line and its member lines."""

    def __init__(self, text: str) -> None:
        self.types: dict[int, tuple[str, str, str, list[str]]] = {}
        self.by_name: dict[tuple[str, str], list[int]] = {}
        current: list[str] = []
        for line in text.splitlines():
            if line.startswith("\t"):  # most lines: members, values, parameters
                current.append(line.strip())
            elif m := RAW_LINE.match(line):
                current = []
                tid = int(m[1])
                self.types[tid] = (m[2], m[3], m[4], current)
                self.by_name.setdefault((m[2], m[3]), []).append(tid)

    def only(self, kind: str, name: str) -> int:
        ids = self.by_name[(kind, name)]
        assert len(ids) == 1, ids
        return ids[0]

    def attr(self, tid: int, key: str) -> int:
        return int(re.search(rf"\b{key}=(-?\d+)", self.types[tid][2])[1])  # type: ignore[index]


def bpftool() -> str:
    found = shutil.which("bpftool") or shutil.which("/usr/sbin/bpftool")
    need(found is not None, "bpftool is not installed (apt-get install bpftool)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def vmlinux_dump() -> RawDump:
    need(VMLINUX.exists(), f"this kernel has no BTF ({VMLINUX}: CONFIG_DEBUG_INFO_BTF is off)")
    out = subprocess.run([bpftool(), "btf", "dump", "file", str(VMLINUX), "format", "raw"],
                         capture_output=True, text=True, check=True)
    return RawDump(out.stdout)
