"""Pinning for long-lived agents: maps pinned by name under ``pin_root`` and a pinned tracepoint
link outlive the agent process; a restarted agent finds the counts, which went on growing while
no process held them; ``bpfimport.unpin`` leaves nothing in bpffs.

Each test pins under a folder of its own in /sys/fs/bpf (``bpfi<pid>_<random>``), removed
on every exit path.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

import bpfimport
from bpfimport.errors import BpfError
from bpfimport.importer import import_file
from tests.conftest import PROGRAMS, need, program_module
from tests.support import child_env

BPFFS = "/sys/fs/bpf"

# One run of the agent: load with pin_root, then either attach and pin the link, or open
# the pinned link again; print the count, what is pinned, and whether prometheus_client
# was imported (it must not be: the runtime never imports it).
AGENT = r"""
import os, sys
import bpfimport
from bpfimport.importer import import_file

path, root, thread, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
mod = import_file(path)
mod.THREAD.value = thread
mod.load(pin_root=root)
if step == "attach":
    mod.on_getppid.attach().pin("on_getppid")  # relative: under pin_root
else:
    link = bpfimport.Link.from_pin(os.path.join(root, "on_getppid"))
    assert link.attached and link.pin_path == os.path.join(root, "on_getppid")
    link.detach()  # lets go of it: the pin keeps the program attached
print(mod.calls[0], ",".join(sorted(os.listdir(root))), "prometheus_client" in sys.modules)
mod.close()
"""


def bpffs_mounted() -> bool:
    """Whether /proc/mounts lists a bpf file system at /sys/fs/bpf (not asked of bpfimport)."""
    with open("/proc/mounts") as f:
        return any(line.split()[1:3] == [BPFFS, "bpf"] for line in f)


@pytest.fixture
def pin_root(kernel) -> str:
    need(bpffs_mounted(), f"bpffs is not mounted at {BPFFS} (mount -t bpf bpf {BPFFS})")
    root = os.path.join(BPFFS, f"bpfi{os.getpid()}_{uuid.uuid4().hex[:8]}")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def agent(src: Path, root: str, step: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", AGENT, str(src), root,
                        str(threading.get_native_id()), step],
                       env=child_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_a_restarted_agent_keeps_its_counts_and_unpin_leaves_nothing(tracing, pin_root,
                                                                     tmp_path: Path) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    src = tmp_path / "exact_count.bpf.py"
    shutil.copy(PROGRAMS / "exact_count.bpf.py", src)

    assert agent(src, pin_root, "attach") == ["0", "calls,on_getppid", "False"]
    for _ in range(100):  # counted by the pinned program, while no process holds it
        os.getppid()
    assert agent(src, pin_root, "reopen") == ["100", "calls,on_getppid", "False"]
    for _ in range(50):
        os.getppid()

    # this process takes over: the same map, with everything counted so far
    mod = import_file(str(src))
    try:
        mod.load(pin_root=pin_root)
        assert mod.calls.pin_path == os.path.join(pin_root, "calls")
        assert mod.calls[0] == 150
        link = bpfimport.Link.from_pin(os.path.join(pin_root, "on_getppid"))
        removed = bpfimport.unpin(mod)
        assert sorted(removed) == [os.path.join(pin_root, n) for n in ("calls", "on_getppid")]
        assert not os.path.exists(pin_root)
        link.detach()  # unpinned and let go of by its last holder: the program is detached
        for _ in range(10):
            os.getppid()
        assert mod.calls[0] == 150
    finally:
        mod.close()
    assert not any(n.startswith(f"bpfi{os.getpid()}_") for n in os.listdir(BPFFS))


MISMATCH = (PROGRAMS / "exact_count.bpf.py").read_text().replace("max_entries=1", "max_entries=2")


def test_a_pinned_map_of_another_shape_is_a_clear_error(pin_root, bpf_dir: Path) -> None:
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:
        mod.load(pin_root=pin_root)
        mod.calls[0] = 5
    with program_module(bpf_dir, "other_count.bpf.py", MISMATCH) as other:
        with pytest.raises(BpfError, match=r"the map pinned at .*/calls does not match map "
                           r"'calls' of the module \(max_entries 1 \(pinned\) != 2 \(module\)\)"
                           ) as e:
            other.load(pin_root=pin_root)
        assert e.value.errno == errno.EINVAL
        assert not other.__bpf_object__.loaded
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:  # the same shape: reused
        mod.load(pin_root=pin_root)
        assert mod.calls[0] == 5


def test_unpinned_maps_start_afresh_and_pins_need_bpffs(pin_root, bpf_dir: Path,
                                                        tmp_path: Path) -> None:
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:
        mod.load(pin_root=pin_root)
        mod.calls[0] = 7
        assert os.path.exists(os.path.join(pin_root, "calls"))
        assert mod.calls.pin_path == os.path.join(pin_root, "calls")
        mod.calls.unpin()
        assert not os.path.exists(os.path.join(pin_root, "calls"))
        assert mod.calls.pin_path is None  # not pinned any more
        assert mod.calls[0] == 7  # still this process's map
        mod.close()
        mod.load()  # pin_root is kept for later loads: a new map, pinned again
        assert mod.calls[0] == 0 and os.path.exists(os.path.join(pin_root, "calls"))
        assert mod.calls.pin_path == os.path.join(pin_root, "calls")
        with pytest.raises(BpfError, match="already loaded without pin_root"):
            mod.load(pin_root=pin_root + "x")
        mod.close()
        assert bpfimport.unpin(pin_root) == [os.path.join(pin_root, "calls")]
        with pytest.raises(BpfError, match="is not on a BPF file system"):
            mod.load(pin_root=str(tmp_path / "pins"))
        assert not (tmp_path / "pins").exists()
        with pytest.raises(BpfError, match="is not on a BPF file system"):
            bpfimport.unpin(str(tmp_path))


def test_link_pin_errors(tracing, pin_root, bpf_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BpfError, match=r"cannot open the link pinned at .*/nothing: No such file"):
        bpfimport.Link.from_pin(os.path.join(pin_root, "nothing"))
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:
        link = mod.on_getppid.attach()
        with pytest.raises(BpfError, match="is not on a BPF file system"):
            link.pin(str(tmp_path / "link"))
        assert link.pin_path is None
        os.mkdir(pin_root)
        link.pin(os.path.join(pin_root, "link"))
        with pytest.raises(BpfError, match="already pinned at"):
            link.pin(os.path.join(pin_root, "again"))
        link.unpin()
        link.unpin()  # idempotent
        assert link.pin_path is None and os.listdir(pin_root) == []
        link.detach()
        with pytest.raises(BpfError, match="is detached"):
            link.pin(os.path.join(pin_root, "late"))


@pytest.fixture
def private_bpffs(kernel, tmp_path: Path) -> str:
    """A bpffs of the test's own, mounted on a temporary folder (unmounted on every exit)."""
    mnt = tmp_path / "bpffs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "bpf", "bpf", str(mnt)], capture_output=True, text=True)
    need(r.returncode == 0, f"cannot mount a bpffs: {r.stderr.strip()}")
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_unpin_refuses_the_root_of_a_bpffs(private_bpffs: str, bpf_dir: Path) -> None:
    """pin_root=/sys/fs/bpf (libbpf's default pin root) is allowed, but unpin() there would
    remove every pin of every program on the system: it is refused, and removes nothing."""
    other = os.path.join(private_bpffs, "someone_else")
    os.mkdir(other)
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:
        mod.load(pin_root=private_bpffs)
        mod.calls[0] = 3
        for target in (mod, private_bpffs):
            with pytest.raises(BpfError, match="is the root of a BPF file system"):
                bpfimport.unpin(target)
        pins = set(os.listdir(private_bpffs))  # with the kernel's maps.debug/progs.debug, if any
        assert {"calls", "someone_else"} <= pins
        mod.calls.unpin()  # one by one still works
        assert set(os.listdir(private_bpffs)) == pins - {"calls"}


def test_from_pin_refuses_a_pinned_map(pin_root, bpf_dir: Path) -> None:
    """A map's pin is no link: Link.from_pin() says so (and keeps no fd), rather than a Link
    whose unpin() would remove the map's pin."""
    with program_module(bpf_dir, "exact_count.bpf.py") as mod:
        mod.load(pin_root=pin_root)
        path = os.path.join(pin_root, "calls")
        fds = len(os.listdir("/proc/self/fd"))
        with pytest.raises(BpfError, match=r"cannot open the link pinned at .*/calls: it is a "
                                           r"pinned map, not a link") as e:
            bpfimport.Link.from_pin(path)
        assert e.value.errno == errno.EINVAL
        assert len(os.listdir("/proc/self/fd")) == fds
        assert os.path.exists(path)
