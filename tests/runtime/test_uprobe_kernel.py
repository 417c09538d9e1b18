"""Uprobes and uretprobes attach by section and count calls into a shared library."""

from __future__ import annotations

import ctypes
import os
import threading

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from tests.conftest import kernel_has_kprobes, need
from tests.support import libc_path

SOURCE = '''
from bpfimport.lang import *

THREAD: Final[u32] = 0
entries: u64 = 0
exits: u64 = 0


@uprobe("{libc}", "getppid")
def on_call(ctx) -> int:
    global entries
    if tid() == THREAD:
        entries += 1
    return 0


@uretprobe("{libc}", "getppid")
def on_return(ctx) -> int:
    global exits
    if tid() == THREAD:
        exits += 1
    return 0
'''


def test_uprobe_and_uretprobe_count_library_calls(kernel, bpf_dir):
    libc = libc_path()
    need(bool(libc), "no libc mapped in this process")
    (bpf_dir / "libc_calls.bpf.py").write_text(SOURCE.format(libc=libc))
    import libc_calls_bpf as mod

    getppid = ctypes.CDLL(libc).getppid
    mod.THREAD.value = threading.get_native_id()
    with mod:
        with mod.on_call.attach(), mod.on_return.attach():
            for _ in range(25):
                getppid()
        getppid()  # detached: not counted
        assert mod.entries.value == 25
        assert mod.exits.value == 25
    assert mod.on_call.section == f"uprobe/{libc}:getppid"


@pytest.mark.parametrize("kind", ["kprobe", "kretprobe"])
def test_kprobes_attach_or_say_why(kernel, bpf_dir, kind):
    """Where the kernel has kprobes they count; where it does not, the error says so and why.

    The branch comes from conftest's own probe (/proc/kallsyms), not from
    bpfimport's ``kprobes_available()``, so bpfimport misjudging the kernel fails.
    """
    from bpfimport import BpfError

    (bpf_dir / f"kp_{kind}.bpf.py").write_text(
        "from bpfimport.lang import *\nhits: u64 = 0\n"
        f"@{kind}('__x64_sys_getppid')\ndef probe(ctx) -> int:\n    global hits\n    hits += 1\n    return 0\n")
    mod = __import__(f"kp_{kind}_bpf")
    with mod:
        if kernel_has_kprobes():
            with mod.probe.attach():
                os.getppid()
            assert mod.hits.value >= 1
        else:
            with pytest.raises(BpfError) as info:
                mod.probe.attach()
            assert (f"cannot attach program 'probe' to {kind}/__x64_sys_getppid: this kernel has "
                    "no kprobes (CONFIG_KPROBES is off)") in str(info.value)


RUNTIME_TARGET = '''
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


@uretprobe("libc.so.6", "getpid")
def on_return(ctx) -> int:
    global exits
    if tid() == THREAD:
        exits += 1
    return 0


kernel_calls: u64 = 0


@section("kprobe")
def on_kernel(ctx) -> int:
    global kernel_calls
    if tid() == THREAD:
        kernel_calls += 1
    return 0
'''


def test_uprobe_target_chosen_at_attach(kernel, bpf_dir):
    """``attach(binary=, symbol=)`` places a uprobe where the section does not say (a tool's
    ``LIB:FUNC``), replacing what the section says; ``pid=`` keeps one process's calls only."""
    from bpfimport import BpfError

    (bpf_dir / "runtime_target.bpf.py").write_text(RUNTIME_TARGET)
    import runtime_target_bpf as mod

    libc = ctypes.CDLL("libc.so.6")
    mod.THREAD.value = threading.get_native_id()
    with mod:
        with pytest.raises(ValueError, match="needs binary= and symbol="):
            mod.on_call.attach(binary="libc.so.6")
        with mod.on_call.attach(binary="libc.so.6", symbol="getppid", pid=os.getpid()), \
                mod.on_return.attach(symbol="getppid"):     # the section's library, another symbol
            for _ in range(7):
                libc.getppid()
            libc.getpid()           # the section's symbol: replaced, not counted
        assert (mod.entries.value, mod.exits.value) == (7, 7)
        # pid= filters: a uprobe for another process sees none of this one's calls
        with mod.on_call.attach(binary="libc.so.6", symbol="getppid", pid=os.getppid()):
            libc.getppid()
        assert mod.entries.value == 7
        with pytest.raises(BpfError, match="no_such_library.so.9"):
            mod.on_call.attach(binary="no_such_library.so.9", symbol="f")
        with pytest.raises(TypeError, match="choose what a @perf_event program samples"):
            mod.on_call.attach(binary="libc.so.6", symbol="getppid", event="cpu-cycles")
        with pytest.raises(TypeError, match="binary= and pid= place a uprobe"):
            mod.on_kernel.attach(binary="libc.so.6", symbol="getppid")
        if kernel_has_kprobes():
            with mod.on_kernel.attach(symbol="__x64_sys_getppid"):
                os.getppid()
            assert mod.kernel_calls.value >= 1
        else:
            with pytest.raises(BpfError, match="this kernel has no kprobes"):
                mod.on_kernel.attach(symbol="__x64_sys_getppid")
