"""Errors: verifier rejections with Python lines, BTF rejections, privileges, missing libbpf."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bpfimport.errors import BpfError, VerifierError
from bpfimport.runtime.errors import split_verifier_log
from tests import runtime_objects as RO
from tests.conftest import PROGRAMS, ROOT, fentry_load_errno, need, open_fds
from tests.runtime_objects import bound
from tests.support import readable_packages


def test_verifier_error_shows_the_python_line(kernel: None) -> None:
    m = bound(RO.bad)
    before = open_fds()
    with pytest.raises(VerifierError) as info:
        m.load()
    e = info.value
    assert e.program == "bad"
    assert str(e).startswith("program 'bad' rejected by the verifier:\n")
    lines = str(e).splitlines()
    source = (PROGRAMS / "runtime_bad.bpf.py").read_text().splitlines()
    (n,) = [i for i, text in enumerate(source, 1) if text.strip().startswith("v += 1")]
    assert lines[1].strip() == f"runtime_bad.bpf.py:{n}: {source[n - 1].strip()}"
    assert "invalid mem access 'map_value_or_null'" in lines[2]
    assert "processed" in e.log and "call bpf_map_lookup_elem" in e.log
    assert e.errno == 13
    assert open_fds() == before, "a failed load must not leak fds"
    assert not m.__bpf_object__.loaded
    with pytest.raises(VerifierError):  # every use retries, and fails the same way
        m.good.test_run()
    assert open_fds() == before


def test_split_verifier_log() -> None:
    log = ("0: R1=ctx() R10=fp0\n; x = 1 @ a.bpf.py:3\n0: (b4) w1 = 1\n"
           "; y = m.lookup(x) @ a.bpf.py:4\n1: (79) r1 = *(u64 *)(r0 +0)\n"
           "R0 invalid mem access 'scalar'\n"
           "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0\n\n")
    assert split_verifier_log(log) == ("R0 invalid mem access 'scalar'", "a.bpf.py:4: y = m.lookup(x)")
    assert split_verifier_log("0: (95) exit\nR0 !read_ok\n") == ("R0 !read_ok", None)
    assert split_verifier_log("; plain line\n0: exit\nbad\n") == ("bad", "plain line")
    assert split_verifier_log("") == ("", None)


def test_rejected_btf_is_an_error(kernel: None) -> None:
    m = bound(RO.bad_btf)
    before = open_fds()
    with pytest.raises(BpfError) as info:
        m.load()
    msg = str(info.value)
    assert "rejected the BTF" in msg
    assert "Invalid arg#1" in msg
    assert "BTF is optional" in msg  # libbpf's own words are quoted
    assert open_fds() == before
    assert not m.__bpf_object__.loaded


def test_tracing_program_type(kernel: None) -> None:
    """fentry loads where the kernel allows it; elsewhere the error names the type and the reason.

    conftest loads a minimal fentry program with a raw bpf() call first: where the
    kernel takes it, bpfimport must load too; where it refuses, bpfimport's error
    must carry the kernel's own errno (an EINVAL of bpfimport's making is not it).
    """
    refused = fentry_load_errno()
    m = bound(RO.fentry)
    try:
        if not refused:
            m.load()
            assert m.on_sleep.fd > 0
            return
        with pytest.raises(BpfError) as info:
            m.load()
        assert not isinstance(info.value, VerifierError)
        assert info.value.errno == refused, (info.value.errno, refused)
        assert str(info.value).startswith(
            "program 'on_sleep' (type tracing) cannot be loaded: this kernel does not allow "
            "tracing programs (not configured, or refused in lockdown mode); use a tracepoint "
            "or raw_tracepoint program instead")
    finally:
        m.close()


def _run(script: str, user: str | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # a user other than root may not enter the checkout: give it a readable copy
    path = readable_packages() if user else ROOT
    prefix = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(path)!r})
        sys.dont_write_bytecode = True
    """)
    cmd = [sys.executable, "-c", prefix + textwrap.dedent(script)]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/", input=stdin)


def test_unprivileged_load_says_root_or_cap_bpf(kernel: None) -> None:
    need(subprocess.run(["setpriv", "--help"], capture_output=True).returncode == 0,
         "setpriv(1) is needed")
    data, spec = RO.main()  # built here: the child may not write llvmlite's caches
    r = _run("""
        from bpfimport.spec import ObjectSpec
        from bpfimport.runtime.module import BpfModule, bind_module
        spec_json, obj_hex = sys.stdin.read().split("\\n")
        spec = ObjectSpec.from_json(spec_json)
        m = BpfModule(spec.name)
        bind_module(m, spec, bytes.fromhex(obj_hex))
        try:
            m.load()
        except Exception as e:
            print(type(e).__name__, e)
    """, user="65534", stdin=spec.to_json() + "\n" + data.hex())
    assert "BpfError" in r.stdout, (r.stdout, r.stderr)
    assert "needs root or CAP_BPF" in r.stdout


def test_missing_libbpf_is_one_clear_error() -> None:
    r = _run("""
        from bpfimport.runtime import libbpf as L
        L.SONAME = "libbpf-does-not-exist.so.1"
        try:
            L.lib()
        except Exception as e:
            print(type(e).__name__, e)
    """)
    assert r.stdout.startswith("BpfError"), (r.stdout, r.stderr)
    assert "apt-get install libbpf1" in r.stdout
    assert len(r.stdout.strip().splitlines()) == 1
