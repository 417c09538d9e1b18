"""Stack traces in the kernel: a tracepoint collects kernel stacks that ksym names, a uprobe on
a program the test builds collects a user stack that names the probed function, and
get_stack() into a buffer sees the same frames as get_stackid()."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

import bpfimport
from tests.conftest import need
from tests.runtime.test_symbols import build_target

KERNEL_SPACE = 0xFFFF_0000_0000_0000

KERNEL_SOURCE = """
from bpfimport.lang import *

THREAD: Final[u32] = 0
stacks = StackTraceMap(max_entries=64)
ids = ArrayMap(key=u32, value=i64, max_entries=4)

@struct
class Frames:
    ips: u64 * 32

frames = PerCpuArrayMap(key=u32, value=Frames, max_entries=1)
copied = ArrayMap(key=u32, value=Frames, max_entries=1)

@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    if tid() != THREAD:
        return 0
    ids[0] = stacks.get_stackid(ctx, 0)
    ids[1] = get_stackid(ctx, stacks, BPF_F_FAST_STACK_CMP)
    f = frames.lookup(0)
    if f:
        ids[2] = get_stack(ctx, f.ips, 0)
        copied[0] = f
    return 0
"""

USER_SOURCE = """
from bpfimport.lang import *

stacks = StackTraceMap(max_entries=64)
by_pid = HashMap(key=u32, value=i64, max_entries=64)
calls: u64 = 0

@uprobe("{exe}", "bpfimport_target")
def on_target(ctx) -> int:
    global calls
    calls += 1
    by_pid[tgid()] = stacks.get_stackid(ctx, BPF_F_USER_STACK)
    return 0
"""

# where a system call enters the kernel: x86-64 and arm64 names
SYSCALL_ENTRY = {"do_syscall_64", "entry_SYSCALL_64_after_hwframe", "el0_svc",
                 "invoke_syscall", "el0t_64_sync_handler"}


@pytest.fixture
def kstacks(tracing, bpf_dir: Path):
    need(os.path.isdir("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    (bpf_dir / "kstacks.bpf.py").write_text(KERNEL_SOURCE)
    import kstacks_bpf as mod

    mod.THREAD.value = threading.get_native_id()
    with mod:
        with mod.on_getppid.attach():
            os.getppid()
        yield mod


def test_kernel_stacks_name_the_system_call_path(kstacks) -> None:
    sid = kstacks.ids[0]
    assert sid >= 0
    frames = kstacks.stacks[sid]
    assert 2 <= len(frames) < 127  # the zero padding is cut off
    assert all(a >= KERNEL_SPACE for a in frames), [hex(a) for a in frames]
    names = kstacks.stacks.symbols(sid)
    assert names == [bpfimport.ksym(a) for a in frames]
    assert SYSCALL_ENTRY & set(names), names
    assert "[unknown]" not in names
    # the same stack from the free-function spelling: the same id
    assert kstacks.ids[1] == sid
    assert list(kstacks.stacks.walk(sid)) == frames
    assert dict(kstacks.stacks.items()) == {sid: frames}


def test_get_stack_copies_the_same_frames_into_a_buffer(kstacks) -> None:
    n = kstacks.ids[2]
    assert n > 0 and n % 8 == 0
    copied = kstacks.copied[0].ips[: n // 8]
    assert list(copied) == kstacks.stacks[kstacks.ids[0]]


def test_a_failed_stack_id_is_not_a_key(kstacks) -> None:
    with pytest.raises(KeyError):
        kstacks.stacks[12345]


def test_user_stack_of_a_uprobe_names_the_probed_function(kernel, bpf_dir: Path) -> None:
    exe = build_target(bpf_dir)
    (bpf_dir / "ustacks.bpf.py").write_text(USER_SOURCE.format(exe=exe))
    import ustacks_bpf as mod

    with mod:
        with mod.on_target.attach():
            proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
            try:
                assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
                assert mod.calls.value == 20
                sid = mod.by_pid[proc.pid]
                assert sid >= 0
                frames = mod.stacks[sid]
                assert all(a < KERNEL_SPACE for a in frames)
                names = mod.stacks.symbols(sid, pid=proc.pid)
            finally:
                proc.communicate("x")
    # at the probed function's first instruction its caller's frame is not pushed yet, so a
    # frame-pointer walk goes from the function itself to its caller's caller
    assert names[0] == "bpfimport_target", names
    assert "main" in names[1:3], names
