"""The compiler at its limits: native memory over many compiles, user strings that reach the
object (section, tracepoint and uprobe names), and name lengths the kernel's BTF check allows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- native memory per compile

# Compiles the same IR many times after a warm-up and reports, per compile, the growth of the
# bytes malloc has handed out (glibc's mallinfo2: exact, where the resident set moves by pages
# and first refills the free space the warm-up left) and of the resident set (/proc/self/statm).
_GROWTH = """
import ctypes, gc, json, os, sys
from bpfimport.compiler import backend as B, compile_file
impl = B.backend(sys.argv[1])
ir = compile_file(sys.argv[2]).ir
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
page = os.sysconf("SC_PAGE_SIZE")
def used():
    m = mallinfo2()
    with open("/proc/self/statm") as f:
        return m.uordblks + m.hblkhd, int(f.read().split()[1]) * page
for _ in range(100):
    B.emit_object(ir, "v3", 2, impl)
gc.collect()
before = used()
n = int(sys.argv[3])
for _ in range(n):
    B.emit_object(ir, "v3", 2, impl)
gc.collect()
print(json.dumps([(a - b) / n for a, b in zip(used(), before)]))
"""


@pytest.mark.parametrize("kind", ["llvmffi", "llvmlite.binding"])
def test_compiling_again_and_again_does_not_grow_native_memory(kind: str) -> None:
    """Before: +1,488 bytes per -O2 compile with llvmffi (the PassInstrumentationCallbacks
    llvmlite allocates for each pass builder and never frees), +64 KB with llvmlite.binding
    (its ModulePassManager.close() disposes nothing).  Now each compile gives back what it took."""
    compiles = 400
    r = subprocess.run(
        [sys.executable, "-c", _GROWTH, kind, str(ROOT / "examples" / "syscount.bpf.py"), str(compiles)],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    malloced, resident = json.loads(r.stdout)
    print(f"{kind}: per compile, malloc'ed +{malloced:.0f} B, resident +{resident:.0f} B")
    assert malloced < 200, f"{kind}: {malloced:.0f} bytes per compile stay allocated"
    assert resident < 1000, f"{kind}: resident memory grew {resident:.0f} bytes per compile"
