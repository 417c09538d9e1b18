"""Program handles: type, test_run per program type, attach/detach, attach errors."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import time

import pytest

from bpfimport.errors import BpfError
from bpfimport.runtime.module import BpfModule
from bpfimport.runtime.program import TestRunResult, section_type
from tests import runtime_objects as RO
from tests.conftest import ROOT, kernel_has_kprobes, need
from tests.runtime_objects import PutArgs, bound


def test_name_section_type_without_kernel() -> None:
    m = bound(RO.main)
    assert (m.put.name, m.put.section, m.put.type) == ("put", "syscall", "syscall")
    assert m.rawtp.type == "raw_tracepoint"
    assert m.tp.type == "tracepoint"
    assert m.xdp_pass.type == "xdp"
    assert m.kp.type == "kprobe"
    assert m.sock.type == "socket_filter"
    assert not m.__bpf_object__.loaded


@pytest.mark.parametrize("section,expected", [
    ("tp/sched/sched_switch", "tracepoint"), ("uprobe//bin/sh:main", "kprobe"),
    ("fentry/do_nanosleep", "tracing"), ("lsm/file_open", "lsm"), ("tc", "sched_cls"),
    ("cgroup_skb/ingress", "cgroup_skb"), ("perf_event", "perf_event"),
])
def test_section_types(section: str, expected: str) -> None:
    assert section_type(section) == expected


def test_type_from_libbpf_for_other_sections(kernel: None) -> None:
    from bpfimport.runtime.program import Program
    from bpfimport.spec import ProgramSpec

    m = bound(RO.main)
    p = Program(m.__bpf_object__, ProgramSpec("x", "cgroup/sock_create", "section"))
    assert p.type == "cgroup_sock"


def test_syscall_program_writes_ctx_back(mod: BpfModule) -> None:
    r = mod.put.test_run(ctx=PutArgs(3, 0, 30))
    assert isinstance(r, TestRunResult)
    assert r.retval == 3  # returns the `scale` global
    assert isinstance(r.ctx, PutArgs)
    assert r.ctx.out == 7  # the program wrote TARGET into ctx.out
    assert r.ctx.key == 3 and r.ctx.value == 30
    raw = mod.put.test_run(ctx=bytes(PutArgs(4, 0, 40)))
    assert isinstance(raw.ctx, bytes) and PutArgs.from_buffer_copy(raw.ctx).out == 7
    assert mod.counts[3] == 30 and mod.counts[4] == 40


def test_raw_tracepoint_test_run(mod: BpfModule) -> None:
    before = mod.hits.value
    r = mod.rawtp.test_run(ctx=(ctypes.c_uint64 * 2)(1234, 5))
    assert r.retval == 1234
    assert r.duration_ns == 0
    assert mod.hits.value >= before + 1
    assert mod.rawtp.test_run(ctx=(ctypes.c_uint64 * 1)(99), repeat=1).retval == 99
    with pytest.raises(ValueError, match="run once"):
        mod.rawtp.test_run(ctx=(ctypes.c_uint64 * 1)(1), repeat=10)


def test_xdp_test_run(mod: BpfModule) -> None:
    packet = bytes(range(64))
    r = mod.xdp_pass.test_run(data=packet, repeat=50)
    assert r.retval == 2  # XDP_PASS
    assert r.data == packet
    assert r.ctx is None
    with pytest.raises(BpfError, match="14 bytes"):
        mod.xdp_pass.test_run(data=b"\0" * 4)


def test_socket_filter_test_run(mod: BpfModule) -> None:
    r = mod.sock.test_run(data=bytes(64))
    assert r.retval == 0
    assert r.data is not None


def test_fd_loads_lazily(mod: BpfModule) -> None:
    assert not mod.__bpf_object__.loaded
    assert mod.put.fd > 0
    assert mod.__bpf_object__.loaded


def test_attach_raw_tracepoint_counts_syscalls(mod: BpfModule) -> None:
    with mod.rawtp.attach() as link:
        assert link.attached and link.fd > 0
        before = mod.hits.value
        for _ in range(20):
            os.getppid()
        during = mod.hits.value
        assert during >= before + 20
    assert not link.attached
    after = mod.hits.value
    time.sleep(0.05)
    for _ in range(20):
        os.getppid()
    # detached: only syscalls already in flight may still have counted
    assert mod.hits.value - after < 20
    link.detach()  # idempotent


def test_close_detaches_every_link(kernel: None) -> None:
    m = bound(RO.main)
    link = m.rawtp.attach()
    m.rawtp.attach()  # dropped handle: still attached, owned by the object
    assert len(m.__bpf_object__.links) == 2
    m.close()
    assert not link.attached
    assert m.__bpf_object__.links == []
    m.close()  # idempotent


def test_attach_tracepoint(tracing: None) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    m = bound(RO.main)
    try:
        link = m.tp.attach()
        for _ in range(10):
            os.getppid()
        assert m.tp_hits.value >= 10
        link.detach()
    finally:
        m.close()


def test_kprobe_attach(mod: BpfModule) -> None:
    """Where the kernel has kprobes the attach works; elsewhere the error says why.

    conftest's probe decides which, independently of ``kprobes_available()``.
    """
    if kernel_has_kprobes():
        with mod.kp.attach() as link:
            assert link.attached
        return
    with pytest.raises(BpfError) as info:
        mod.kp.attach()
    assert str(info.value).startswith(
        "cannot attach program 'kp' to kprobe/do_nanosleep: this kernel has no kprobes "
        "(CONFIG_KPROBES is off); attach to a tracepoint or raw_tracepoint instead")


def test_attach_needs_a_target(mod: BpfModule) -> None:
    with pytest.raises(TypeError, match="program 'xdp_pass' attaches to a network interface: "
                                        "pass ifname='eth0' or ifindex=N"):
        mod.xdp_pass.attach()
    with pytest.raises(TypeError, match="socket filter 'sock' attaches to a socket"):
        mod.sock.attach()
    with pytest.raises(TypeError, match=r"program 'rawtp' \(raw_tracepoint\) does not take "
                                        r"ifname=; it takes no packet attach arguments"):
        mod.rawtp.attach(ifname="lo")


def test_tracepoint_attach_without_tracefs(kernel: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In a private mount namespace without tracefs, attach says how to mount it."""
    need(subprocess.run(["unshare", "--help"], capture_output=True).returncode == 0,
         "unshare(1) is needed")
    script = textwrap.dedent(f"""
        import subprocess, sys
        for p in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing", "/sys/kernel/debug"):
            subprocess.run(["umount", "-l", p], capture_output=True)
        sys.path.insert(0, {str(ROOT)!r})
        from tests import runtime_objects as RO
        from bpfimport.runtime.module import BpfModule, bind_module
        data, spec = RO.main()
        m = BpfModule(spec.name); bind_module(m, spec, data)
        try:
            m.tp.attach()
        except Exception as e:
            print(type(e).__name__, e)
        else:
            print("ATTACHED")
    """)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
                        script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "BpfError" in r.stdout, r.stdout
    assert "mount -t tracefs nodev /sys/kernel/tracing" in r.stdout


@pytest.mark.parametrize("kwargs,fragment", [
    ({"data": "abc"}, r"data=\.\.\.\) takes the packet as bytes, got str"),
    ({"data": 14}, "takes the packet as bytes, got int"),
    ({"ctx": "abc"}, r"ctx=\.\.\.\) takes bytes or a ctypes instance"),
    ({"repeat": "1"}, r"repeat=\.\.\.\) takes a non-negative int"),
    ({"data_size_out": -1}, "non-negative int"),
])
def test_test_run_says_what_to_pass(kwargs: dict, fragment: str) -> None:
    m = bound(RO.main)  # checked before anything needs the kernel
    with pytest.raises(TypeError, match=fragment):
        m.xdp_pass.test_run(**kwargs)
    assert not m.__bpf_object__.loaded


def test_attaching_twice_says_detach_first(mod: BpfModule, tracing: None) -> None:
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    link = mod.tp.attach()
    with pytest.raises(BpfError, match="already attached there; detach the existing link first"):
        mod.tp.attach()
    link.detach()
    mod.tp.attach().detach()  # and once detached, it attaches again
