"""load() of a module with many programs: memory, and the verifier error of one among many.

Each program used to get its own 1 MiB verifier log buffer at load, zeroed,
so every page was resident: 500 programs took 589 MiB (issue 5, item 4).
The log is now one buffer for the object, written only when a load fails.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from bpfimport.errors import VerifierError

N_PROGRAMS = 200


def _rss_bytes() -> int:
    """The current resident set (not the peak: ru_maxrss would keep earlier tests' high mark)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _many_programs_source(n: int, bad_last: bool = False) -> str:
    lines = ["from bpfimport.lang import *", "hits = HashMap(key=u32, value=u64, max_entries=16)"]
    for i in range(n):
        lines += ["@syscall", f"def p{i}(ctx):", f"    return {i}"]
    if bad_last:  # the verifier refuses a loop it can prove never ends
        lines += ["@syscall", "def spin(ctx):", "    i: u64 = 0", "    while i < 10:",
                  "        i = i * 1", "    return 0"]
    return "\n".join(lines) + "\n"


def _import(folder: Path, name: str, source: str):  # type: ignore[no-untyped-def]
    import bpfimport  # noqa: F401 - installs the import hook

    (folder / f"{name}.bpf.py").write_text(source)
    return importlib.import_module(f"{name}_bpf")


def test_loading_many_programs_allocates_no_log_per_program(
        kernel: None, bpf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RSS measured inside bpf_object__load, when every buffer load() made is still alive."""
    from bpfimport.runtime import libbpf as L

    m = _import(bpf_dir, "many", _many_programs_source(N_PROGRAMS))
    lib = L.lib()
    real_load = lib.bpf_object__load
    at_load: list[int] = []

    def measuring_load(ptr: int) -> int:
        at_load.append(_rss_bytes())
        return real_load(ptr)

    m.__bpf_object__.types  # noqa: B018 - build the codecs outside the measurement
    monkeypatch.setattr(lib, "bpf_object__load", measuring_load)
    before = _rss_bytes()
    try:
        m.load()
        monkeypatch.undo()
        assert m.p0.test_run().retval == 0
        assert m.p199.test_run().retval == 199
    finally:
        monkeypatch.undo()
        m.close()
    growth = at_load[0] - before
    print(f"{N_PROGRAMS} programs: RSS grew {growth / 2**20:.1f} MiB before bpf_object__load")
    # one shared 1 MiB log, the ELF image and libbpf's bookkeeping; the old code added
    # 1 MiB per program (200 MiB here)
    assert growth < 16 * 2**20, f"load() allocated {growth / 2**20:.0f} MiB for {N_PROGRAMS} programs"


def test_the_failing_program_among_many_is_named_with_its_line(
        kernel: None, bpf_dir: Path) -> None:
    """With one log for the object, the error still names the program that failed and its line."""
    m = _import(bpf_dir, "manybad", _many_programs_source(50, bad_last=True))
    with pytest.raises(VerifierError) as info:
        m.load()
    e = info.value
    assert e.program == "spin"
    assert "manybad.bpf.py:" in str(e).splitlines()[1] and "i = i * 1" in str(e)
    assert "infinite loop detected" in e.log
    # the complaint, not the state dump the verifier prints after it ("old state: ...")
    assert "infinite loop detected" in str(e).splitlines()[2], str(e)
    assert not m.__bpf_object__.loaded
