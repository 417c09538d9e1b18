"""Probe arguments in the kernel: a uprobe on libc's getenv named by soname reads its argument
and a uretprobe its return value, both as user strings, from a child process the test starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import bpfimport  # noqa: F401 - installs the import hook

GETENV = '''
from bpfimport.lang import *


@struct
class Seen:
    tgid: u32
    kind: u32           # 1: getenv's argument, 2: its return value
    text: c_char * 64


CHILD: Final[u32] = 0
events = RingBuffer(max_entries=64 * 1024)


@uprobe("libc.so.6", "getenv")
def on_getenv(ctx, name: c_char_p) -> int:
    if tgid() != CHILD:
        return 0
    e = events.reserve(Seen)
    if e:
        e.tgid = tgid()
        e.kind = 1
        probe_read_user_str(e.text, name)
        events.submit(e)
    return 0


@uretprobe("libc.so.6", "getenv")
def on_getenv_return(ctx, value: c_char_p) -> int:
    if tgid() != CHILD or not value:
        return 0
    e = events.reserve(Seen)
    if e:
        e.tgid = tgid()
        e.kind = 2
        probe_read_user_str(e.text, value)
        events.submit(e)
    return 0
'''

# The child: libc's getenv through ctypes, once the parent says go (the probes are attached then).
CHILD = textwrap.dedent('''
    import ctypes, sys
    getenv = ctypes.CDLL(None).getenv
    getenv.restype = ctypes.c_char_p
    getenv.argtypes = [ctypes.c_char_p]
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    value = getenv(sys.argv[1].encode())
    sys.stdout.write(repr(value) + "\\n"); sys.stdout.flush()
''')


def test_uprobe_on_a_soname_reads_getenvs_argument_and_return_value(kernel, bpf_dir) -> None:
    name = f"BPFIMPORT_MARK_{uuid.uuid4().hex[:12]}"
    value = f"value-{uuid.uuid4().hex[:16]}"
    (bpf_dir / "getenv_probe.bpf.py").write_text(GETENV)
    import getenv_probe_bpf as mod

    assert mod.on_getenv.section == "uprobe/libc.so.6:getenv"  # the name as written
    child = subprocess.Popen([sys.executable, "-c", CHILD, name], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, name: value})
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "ready\n"
        mod.CHILD.value = child.pid
        seen: list[tuple[int, int, bytes]] = []
        with mod:
            with mod.on_getenv.attach(), mod.on_getenv_return.attach():
                child.stdin.write("go\n")
                child.stdin.flush()
                assert child.stdout.readline() == repr(value.encode()) + "\n"
                child.wait(10)
            while mod.events.poll(lambda e: seen.append((e.tgid, e.kind, e.text)), timeout_ms=50):
                pass
    finally:
        child.kill()
        child.wait()
    assert (child.pid, 1, name.encode()) in seen, seen
    asked = seen.index((child.pid, 1, name.encode()))
    assert seen[asked + 1] == (child.pid, 2, value.encode()), seen
