"""Probes opened before the load (``prepare_uprobe``, ``prepare_kprobe``) and attached after
(``attach(probe=)``).

Each test loads a real program and calls a libc function through ctypes (or, for kprobes,
a system call); the counts the program keeps say where it ran.  The offset the prepared
probe uses is compared with the one libbpf chooses itself, read back from the kernel's link
info.  Kprobes: where the kernel has them, they count; where it has none, the attach fails
with libbpf's error and leaves no fd behind (the branch from conftest's own probe).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import BpfError
from bpfimport.runtime.probes import (
    PreparedProbe,
    kprobe_pmu,
    prepare_kprobe,
    prepare_uprobe,
    uprobe_pmu,
)
from tests.conftest import kernel_has_kprobes, need, open_fds

SOURCE = '''
from bpfimport.lang import *

THREAD: Final[u32] = 0
entries: u64 = 0
exits: u64 = 0


@section("uprobe")
def on_call(ctx) -> int:
    global entries
    if tid() == THREAD:
        entries += 1
    return 0


@section("uretprobe")
def on_return(ctx) -> int:
    global exits
    if tid() == THREAD:
        exits += 1
    return 0


@tracepoint("syscalls/sys_enter_getppid")
def not_a_uprobe(ctx) -> int:
    return 0


@section("kretprobe")
def kernel_return(ctx) -> int:
    global exits
    if tid() == THREAD:
        exits += 1
    return 0
'''

LIBC = "libc.so.6"
BPF_LINK_TYPE_PERF_EVENT = 7
BPF_PERF_EVENT_UPROBE, BPF_PERF_EVENT_URETPROBE = 1, 2


@pytest.fixture
def calls(kernel: None, bpf_dir: Path) -> ModuleType:
    """The counting module, counting this thread's calls only; closed by bpf_dir after."""
    need(uprobe_pmu() is not None, "this kernel has no uprobe PMU "
                                   "(/sys/bus/event_source/devices/uprobe)")
    (bpf_dir / "prepared_calls.bpf.py").write_text(SOURCE)
    import prepared_calls_bpf as mod

    mod.THREAD.value = threading.get_native_id()
    return mod


def link_probe(fd: int) -> tuple[int, int, str, int]:
    """(link type, perf event type, file, offset) of a uprobe link, from BPF_OBJ_GET_INFO_BY_FD
    (struct bpf_link_info: the perf_event union starts at byte 16, its uprobe's file_name
    pointer at 24, name_len at 32, offset at 36)."""
    from bpfimport.runtime import libbpf as L

    info = ctypes.create_string_buffer(256)
    name = ctypes.create_string_buffer(4096)
    struct.pack_into("<QI", info, 24, ctypes.addressof(name), len(name))
    size = ctypes.c_uint32(len(info))
    assert L.lib().bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) == 0
    link_type, = struct.unpack_from("<I", info, 0)
    event_type, = struct.unpack_from("<I", info, 16)
    offset, = struct.unpack_from("<I", info, 36)
    return link_type, event_type, name.value.decode(), offset


def test_prepared_uprobe_and_uretprobe_count_calls_until_detached(calls: ModuleType) -> None:
    entry = prepare_uprobe(LIBC, "getppid")
    ret = prepare_uprobe(LIBC, "getppid", retprobe=True)
    assert entry.offset is not None and ret.offset == entry.offset
    assert entry.fd is not None and ret.fd is not None  # opened here, not by libbpf
    getppid = ctypes.CDLL(LIBC).getppid
    getppid()  # not attached yet: the open event alone runs no program
    with calls.on_call.attach(probe=entry) as a, calls.on_return.attach(probe=ret) as b:
        assert entry.fd is None and ret.fd is None  # the links own the events now
        assert link_probe(a.fd)[:2] == (BPF_LINK_TYPE_PERF_EVENT, BPF_PERF_EVENT_UPROBE)
        assert link_probe(b.fd)[:2] == (BPF_LINK_TYPE_PERF_EVENT, BPF_PERF_EVENT_URETPROBE)
        for _ in range(25):
            getppid()
        assert (calls.entries.value, calls.exits.value) == (25, 25)
    getppid()  # detached: not counted
    assert (calls.entries.value, calls.exits.value) == (25, 25)


@pytest.mark.parametrize("symbol", ["getppid", "usleep", "malloc", "fopen", "qsort"])
def test_prepared_offset_is_the_one_libbpf_chooses(calls: ModuleType, symbol: str) -> None:
    with calls.on_call.attach(binary=LIBC, symbol=symbol) as by_libbpf:
        theirs = link_probe(by_libbpf.fd)
    probe = prepare_uprobe(LIBC, symbol)
    with calls.on_call.attach(probe=probe) as prepared:
        ours = link_probe(prepared.fd)
    assert ours == theirs
    assert ours[3] == probe.offset


def test_detach_closes_the_perf_event(calls: ModuleType) -> None:
    calls.on_call.attach(binary=LIBC, symbol="getppid").detach()  # load, and libbpf's own fds
    before = open_fds()
    link = calls.on_call.attach(probe=prepare_uprobe(LIBC, "getppid"))
    assert len(open_fds()) == len(before) + 2  # the perf event and the BPF link
    link.detach()
    assert open_fds() == before


def test_offset_not_found_here_attaches_through_libbpf(calls: ModuleType,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """When the ELF reader cannot tell the offset, libbpf finds it and the probe still counts."""
    import bpfimport.elf

    monkeypatch.setattr(bpfimport.elf, "func_offset", lambda path, name: None)
    probe = prepare_uprobe(LIBC, "getppid")
    assert probe.offset is None and probe.fd is None
    getppid = ctypes.CDLL(LIBC).getppid
    with calls.on_call.attach(probe=probe):
        for _ in range(7):
            getppid()
    assert calls.entries.value == 7


def test_failed_open_attaches_through_libbpf_with_its_error(calls: ModuleType) -> None:
    """An open that fails in the background (no such process) is retried by libbpf, whose
    error the caller gets."""
    calls.on_call.attach(binary=LIBC, symbol="getppid").detach()  # loaded: its fds are there
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # reaped: a pid no process has now
    probe = prepare_uprobe(LIBC, "getppid", pid=pid)
    assert probe.fd is None and probe.error == errno.ESRCH
    before = open_fds()
    with pytest.raises(BpfError) as e:
        calls.on_call.attach(probe=probe)
    assert e.value.errno == errno.ESRCH and "on_call" in str(e.value)
    assert open_fds() == before


def test_unknown_library_raises_the_attach_error(calls: ModuleType) -> None:
    probe = prepare_uprobe("libnot-here-at-all.so.9", "f")
    assert probe.offset is None
    with pytest.raises(BpfError, match="libnot-here-at-all.so.9.*was not found"):
        calls.on_call.attach(probe=probe)


def test_unused_probe_closed_leaks_no_fd(kernel: None) -> None:
    need(uprobe_pmu() is not None, "this kernel has no uprobe PMU")
    before = open_fds()
    probe = prepare_uprobe(LIBC, "getppid")
    assert probe.fd is not None  # waits for the background open
    assert len(open_fds()) == len(before) + 1
    probe.close()
    probe.close()  # idempotent
    assert open_fds() == before
    # closed while the open may still be running: close() waits for it, then closes
    for _ in range(3):
        prepare_uprobe(LIBC, "usleep", retprobe=True).close()
    with prepare_uprobe(LIBC, "getpid"):
        pass
    assert open_fds() == before


# A child whose open takes 0.5 s (perf_event_open slowed down, then done for real) and which
# ends at once: its exit must wait for the open, or the kernel is left holding the uprobe
EXITS_DURING_OPEN = """
import sys, time
import bpfimport.runtime.perf as perf
real = perf.perf_event_open
def slow_open(*args):
    time.sleep(0.5)
    fd = real(*args)
    with open(sys.argv[1], "w") as f:
        f.write("opened")
    return fd
perf.perf_event_open = slow_open
from bpfimport.runtime.probes import prepare_uprobe
prepare_uprobe("libc.so.6", "getppid")
raise SystemExit(3)
"""


def test_the_exit_waits_for_an_open_still_running(kernel: None, tmp_path: Path) -> None:
    need(uprobe_pmu() is not None, "this kernel has no uprobe PMU")
    marker = tmp_path / "opened"
    done = subprocess.run([sys.executable, "-c", EXITS_DURING_OPEN, str(marker)],
                          capture_output=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert marker.read_text() == "opened"


def test_failed_attach_leaks_no_fd(calls: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """libbpf leaves the event of a failed bpf_program__attach_perf_event to its caller."""
    from bpfimport.runtime import libbpf as L

    calls.on_call.attach(binary=LIBC, symbol="getppid").detach()  # loaded, libbpf warmed up
    before = open_fds()

    def refuse(prog: int, pfd: int) -> None:
        ctypes.set_errno(errno.EINVAL)
        return None

    monkeypatch.setattr(L.lib(), "bpf_program__attach_perf_event", refuse)
    probe = prepare_uprobe(LIBC, "getppid")
    assert probe.fd is not None
    with pytest.raises(BpfError) as e:
        calls.on_call.attach(probe=probe)
    assert e.value.errno == errno.EINVAL
    assert probe.fd is None
    assert open_fds() == before


def test_wrong_programs_and_arguments_are_refused_before_the_probe_is_used(
        calls: ModuleType) -> None:
    with prepare_uprobe(LIBC, "getppid") as entry:
        with pytest.raises(TypeError, match="'not_a_uprobe' is a tracepoint program"):
            calls.not_a_uprobe.attach(probe=entry)
        with pytest.raises(ValueError, match="runs at the function's return.*retprobe=True"):
            calls.on_return.attach(probe=entry)
        with pytest.raises(TypeError, match="takes no other argument"):
            calls.on_call.attach(probe=entry, pid=1)
        with pytest.raises(TypeError, match="takes what prepare_uprobe"):
            calls.on_call.attach(probe=3)  # type: ignore[arg-type]
        assert entry.fd is not None  # still unused: it can be attached
        calls.on_call.attach(probe=entry).detach()
    assert isinstance(entry, PreparedProbe)


def test_probe_is_closed_when_the_load_fails(calls: ModuleType,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe serves one attach: a load that fails closes its event too (no fd left open
    until the probe is collected)."""
    obj = calls.on_call._obj
    before = open_fds()

    def cannot_load(*args: object, **kw: object) -> None:
        raise BpfError("the verifier said no", errno.EACCES)

    monkeypatch.setattr(type(obj), "using", cannot_load)
    probe = prepare_uprobe(LIBC, "getppid")
    assert probe.fd is not None
    with pytest.raises(BpfError, match="the verifier said no"):
        calls.on_call.attach(probe=probe)
    assert probe.fd is None
    assert open_fds() == before


def test_a_kprobe_section_program_takes_a_prepared_uprobe(calls: ModuleType) -> None:
    """One program type: a kretprobe program counts a prepared uretprobe's calls, and is
    refused an entry probe as a uretprobe program is."""
    with prepare_uprobe(LIBC, "getppid") as entry:
        with pytest.raises(ValueError, match="runs at the function's return.*retprobe=True"):
            calls.kernel_return.attach(probe=entry)
    getppid = ctypes.CDLL(LIBC).getppid
    with calls.kernel_return.attach(probe=prepare_uprobe(LIBC, "getppid", retprobe=True)):
        for _ in range(4):
            getppid()
    assert calls.exits.value == 4


def test_prepared_kprobe_counts_calls_or_fails_with_libbpfs_error(calls: ModuleType) -> None:
    """A kernel function's kprobe pair on the uprobe-section programs: getppid(2) counted where
    the kernel has kprobes; elsewhere no event is opened and libbpf's attach says why."""
    calls.on_call.attach(binary=LIBC, symbol="getppid").detach()  # loaded: its fds are there
    func = "__x64_sys_getppid" if os.uname().machine == "x86_64" else "__arm64_sys_getppid"
    entry, ret = prepare_kprobe(func), prepare_kprobe(func, retprobe=True)
    assert (entry.kind, ret.kind) == ("kprobe", "kretprobe") and entry.kernel
    before = open_fds()
    if not kernel_has_kprobes():
        assert kprobe_pmu() is None and entry.fd is None and entry.offset is None
        with pytest.raises(BpfError) as e:
            calls.on_call.attach(probe=entry)
        assert "on_call" in str(e.value) and f"kprobe/{func}" in str(e.value)
        ret.close()
        assert open_fds() == before
        return
    assert entry.fd is not None and ret.fd is not None  # opened here, not by libbpf
    with calls.on_call.attach(probe=entry), calls.on_return.attach(probe=ret):
        for _ in range(9):
            os.getppid()
        assert (calls.entries.value, calls.exits.value) == (9, 9)
    os.getppid()
    assert (calls.entries.value, calls.exits.value) == (9, 9)
    assert open_fds() == before


def test_prepare_kprobe_refuses_what_is_not_a_function_name() -> None:
    for bad in ("", 3, None):
        with pytest.raises(TypeError, match="kernel function's name"):
            prepare_kprobe(bad)  # type: ignore[arg-type]
    probe = prepare_kprobe("vfs_read", retprobe=True)
    assert repr(probe).startswith("<PreparedProbe kretprobe vfs_read (")
    probe.close()


def test_probe_pmu_reads_the_type_and_the_retprobe_bit(tmp_path: Path) -> None:
    from bpfimport.runtime.probes import probe_pmu

    (tmp_path / "format").mkdir()
    (tmp_path / "type").write_text("8\n")
    (tmp_path / "format" / "retprobe").write_text("config:0\n")
    assert probe_pmu(str(tmp_path)) == (8, 0)
    (tmp_path / "format" / "retprobe").write_text("config1:3\n")
    assert probe_pmu(str(tmp_path)) is None  # not a bit of config: not a layout libbpf knows
    assert probe_pmu(str(tmp_path / "absent")) is None
    (tmp_path / "format" / "retprobe").write_text("config:1\n")
    (tmp_path / "type").write_text("x\n")
    assert probe_pmu(str(tmp_path)) is None
