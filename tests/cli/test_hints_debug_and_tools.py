"""Promised behaviour of the tools around the compiler, which no other test exercised:
verifier hints, BPFIMPORT_DEBUG, ``run`` on Ctrl-C, ``compileall`` under
PYTHONPYCACHEPREFIX, running without llvmlite, and print()'s value limit.

Child processes get the environment a user would have (PYTHONDONTWRITEBYTECODE
unset, so caches are written); expected values come from what the test itself
did (calls it made, files it wrote), never from a pasted run.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import bpfimport  # noqa: F401 - installs the import hook
from bpfimport import CompileError
from bpfimport.compiler import CompileOptions, compile_source
from bpfimport.errors import VerifierError
from tests import background
from tests.conftest import need, open_trace_pipe
from tests.runtime_objects import module_of
from tests.support import child_env, readable_packages

TRACEFS = Path("/sys/kernel/tracing")


def env(**extra: str) -> dict[str, str]:
    """support.child_env, less BPFIMPORT_DEBUG (the debug tests set it themselves)."""
    e = child_env(**extra)
    if "BPFIMPORT_DEBUG" not in extra:
        e.pop("BPFIMPORT_DEBUG", None)
    return e


def python(*args: str, cwd: Path, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env(**extra),
                          capture_output=True, text=True, timeout=timeout)


def bind_source(source: str, tmp_path: Path, name: str, options: CompileOptions | None = None):
    """Compile ``source`` and bind it to a module without the import hook."""

    path = tmp_path / f"{name}.bpf.py"
    path.write_text(source)
    compiled = compile_source(source, str(path), f"{name}_bpf", options)
    mod = module_of(compiled.object, compiled.spec)
    return mod


# ---------------------------------------------------------------- verifier hints


HEAD = "from bpfimport.lang import *\n\nN: Final[u64] = 0\n\n"


def test_too_large_program_gets_the_split_hint(kernel: None, tmp_path: Path) -> None:
    src = HEAD + "@syscall\ndef big(ctx) -> int:\n    s: u64 = 0\n" \
        "    for i in range(N, 3000000):\n        s += i & 7\n    return s\n"
    mod = bind_source(src, tmp_path, "big")
    with pytest.raises(VerifierError) as info, mod:
        pass
    lines = str(info.value).splitlines()
    assert lines[1] == "  big.bpf.py:8: for i in range(N, 3000000):"  # the loop's own line
    assert "program is too large" in lines[2]
    assert lines[3] == "  hint: split the work into subprograms or smaller programs"


STACK = HEAD + textwrap.dedent("""\
    @struct
    class Big:
        a: u64 * 40

    def inner(k: u64) -> u64:
        b = Big()
        b.a[k & 31] = k
        return b.a[3] + b.a[k & 7]

    def outer(k: u64) -> u64:
        b = Big()
        b.a[k & 31] = inner(k)
        return b.a[2] + b.a[k & 15]

    @syscall
    def first(ctx) -> int:
        return 0

    @syscall
    def deep(ctx) -> int:
        b = Big()
        b.a[N & 31] = outer(N)
        return b.a[1] + b.a[N & 3]
    """)


def test_combined_stack_of_a_call_chain_gets_the_per_cpu_map_hint(kernel: None, tmp_path: Path) -> None:
    """At -O0 the subprograms stay calls: each frame fits, the chain (3 × 320 bytes) does not."""
    mod = bind_source(STACK, tmp_path, "stack", CompileOptions(opt_level=0))
    with pytest.raises(VerifierError) as info, mod:
        pass
    assert info.value.program == "deep"
    assert "combined stack size" in str(info.value)
    assert "hint: the functions on this call chain use more than 512 bytes" in str(info.value)


def test_inlined_stack_overflow_is_a_compile_error() -> None:
    with pytest.raises(CompileError) as info:
        compile_source(STACK, "stack.bpf.py", "stack_bpf")
    assert "512" in info.value.msg


def test_inlined_stack_overflow_blames_the_program_that_overflows() -> None:
    with pytest.raises(CompileError) as info:
        compile_source(STACK, "stack.bpf.py", "stack_bpf")
    assert "'deep'" in info.value.msg and info.value.lineno == STACK.splitlines().index("def deep(ctx) -> int:") + 1


def test_infinite_loop_gets_the_loop_hint(kernel: None, tmp_path: Path) -> None:
    src = HEAD + "@syscall\ndef spin(ctx) -> int:\n    x: u64 = 0\n    while True:\n        x = x\n    return 0\n"
    mod = bind_source(src, tmp_path, "spin")
    with pytest.raises(VerifierError) as info, mod:
        pass
    assert "infinite loop detected" in info.value.log  # what the kernel said
    assert "hint: the verifier cannot prove this loop ends" in str(info.value)


def test_a_closed_form_loop_sum_is_a_compile_error_not_an_exit(tmp_path: Path) -> None:
    code = ("from bpfimport.compiler import compile_source\nfrom bpfimport import CompileError\n"
            "src = open('s.bpf.py').read()\ntry:\n    compile_source(src, 's.bpf.py', 's_bpf')\n"
            "    print('compiled')\nexcept CompileError as e:\n    print('CompileError', e.lineno)\n")
    (tmp_path / "s.bpf.py").write_text(HEAD + "@syscall\ndef big(ctx) -> int:\n    s: u64 = 0\n"
                                       "    for i in range(N, 3000000):\n        s += i\n    return s\n")
    r = python("-c", code, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.split()[0] in ("compiled", "CompileError"), r.stderr


# ---------------------------------------------------------------- BPFIMPORT_DEBUG

DEBUG_SRC = HEAD + "@tracepoint('nosuchgroup/nosuchevent')\ndef p(ctx) -> int:\n    return 0\n"
DEBUG_CHILD = """\
import sys
sys.path.insert(0, '.')
import bpfimport, dbg_bpf as m
from bpfimport.errors import BpfError
m.load()
print('LOG:' + repr(m.__bpf_object__.libbpf_log))
try:
    m.p.attach()
except BpfError as e:
    print('ATTACH-ERROR')
"""


def test_bpfimport_debug_echoes_libbpf(tracing: None, tmp_path: Path) -> None:
    """Unset: libbpf says nothing on stderr. =1: its warnings (a bad tracepoint). =2: everything."""
    (tmp_path / "dbg.bpf.py").write_text(DEBUG_SRC)
    quiet = python("-c", DEBUG_CHILD, cwd=tmp_path)
    warn = python("-c", DEBUG_CHILD, cwd=tmp_path, BPFIMPORT_DEBUG="1")
    full = python("-c", DEBUG_CHILD, cwd=tmp_path, BPFIMPORT_DEBUG="2")
    for r in (quiet, warn, full):
        assert r.returncode == 0 and "ATTACH-ERROR" in r.stdout, r.stderr
    assert "libbpf:" not in quiet.stderr
    warned = [ln for ln in warn.stderr.splitlines() if ln.startswith("libbpf: ")]
    assert any("nosuchgroup" in ln for ln in warned), warn.stderr  # the attach failure, from libbpf
    echoed = full.stderr.splitlines()
    assert len(echoed) > len(warned)
    # every message libbpf gave during the load (captured on the object) was echoed at =2
    log = eval(next(ln for ln in full.stdout.splitlines() if ln.startswith("LOG:"))[4:])  # noqa: S307
    for line in filter(None, (x.strip() for x in log.splitlines())):
        assert any(line in e for e in echoed), line


# ---------------------------------------------------------------- run, on Ctrl-C

RUN_SRC = """\
from bpfimport.lang import *

counts = HashMap(key=u32, value=u64, max_entries=64)


@tracepoint("syscalls/sys_enter_getppid")
def on_getppid(ctx) -> int:
    counts[tgid()] += 1
    return 0


LICENSE = "GPL"
"""


def read_until(stream, marker: str, deadline: float) -> str:
    seen = ""
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} before the deadline; got {seen!r}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 4096).decode()
            assert chunk, f"stream closed before {marker!r}; got {seen!r}"
            seen += chunk
    return seen


def test_run_stops_on_ctrl_c_and_prints_the_maps(tracing: None, tmp_path: Path) -> None:
    need(os.path.isdir(TRACEFS / "events/syscalls/sys_enter_getppid"),
         "syscall tracepoints (CONFIG_FTRACE_SYSCALLS) are not available")
    src = tmp_path / "ctrlc.bpf.py"
    src.write_text(RUN_SRC)
    proc = subprocess.Popen([sys.executable, "-m", "bpfimport", "run", str(src), "--no-trace"],
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        read_until(proc.stderr, "Ctrl-C to stop", time.monotonic() + 30)
        calls = 7
        for _ in range(calls):
            os.getppid()
        # A person presses Ctrl-C later than this. (Known gap, reported: `run` prints the
        # message just before entering its try block, so a SIGINT within microseconds of it
        # escapes as exit 130 without the map dump.)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out_text, err_text = out.decode(), err.decode()
    assert proc.returncode == 0, (out_text, err_text)
    assert "Traceback" not in err_text and "KeyboardInterrupt" not in err_text
    assert f"  {os.getpid()}: {calls}\n" in out_text  # exactly the calls this test made


# ---------------------------------------------------------------- deployment

@functools.cache
def _deployed() -> Path:
    """A folder with ``app/dep.bpf.py`` and an empty ``prefix``: the compileall below fills it."""
    root = background.scratch_folder("bpfimport-deploy-")
    (root / "app").mkdir()
    (root / "app" / "dep.bpf.py").write_text(RUN_SRC)
    return root


_HIT = ("import sys; sys.path.insert(0, '.'); import bpfimport, dep_bpf; "
        "print(sorted(p.name for p in dep_bpf.__bpf_spec__.programs), "
        "'llvmlite' in sys.modules, 'bpfimport.compiler' in sys.modules)")


def deploy_step(step: str) -> background.Command:
    """``compileall`` under PYTHONPYCACHEPREFIX, then (``hit``) a ``python -S`` import from that
    cache with no llvmlite on its path: queued early, in that order."""
    def make() -> background.Command:
        root = _deployed()
        prefix = str(root / "prefix")
        if step == "compileall":
            return background.Command(
                [sys.executable, "-m", "bpfimport", "compileall", str(root / "app")], cwd=root,
                env=env(PYTHONPYCACHEPREFIX=prefix), timeout=60)
        return background.Command(
            [sys.executable, "-S", "-c", _HIT], cwd=root / "app", timeout=60,
            env=env(PYTHONPYCACHEPREFIX=prefix, PYTHONPATH=str(readable_packages("bpfimport"))))

    return background.run(f"deployment {step}", make)


def start_early() -> None:
    deploy_step("compileall")
    deploy_step("hit")


def test_compileall_under_pycache_prefix_prefills_a_cache_used_without_llvmlite() -> None:
    """compileall writes under PYTHONPYCACHEPREFIX (the mirrored absolute path), and a process
    with no llvmlite at all (python -S: no site-packages) imports from that cache."""
    root = _deployed()
    app, prefix = root / "app", root / "prefix"
    r = deploy_step("compileall").result()
    assert r.returncode == 0, r.stderr
    from bpfimport import __version__

    mirrored = prefix / str(app).lstrip("/") / f"dep.bpf.bpfimport-{__version__}.o"
    assert mirrored.is_file(), sorted(str(p) for p in prefix.rglob("*"))
    assert not (app / "__pycache__").exists()
    hit = deploy_step("hit").result()
    assert hit.returncode == 0, hit.stderr
    assert hit.stdout.split("\n")[0] == "['on_getppid'] False False"


# ---------------------------------------------------------------- print's limit


def print_source(n: int) -> str:
    args = " ".join("{V" + str(i) + "}" for i in range(n))
    finals = "".join(f"V{i}: Final[u64] = {i}\n" for i in range(n))
    return HEAD + finals + f"@syscall\ndef p(ctx) -> int:\n    print(f\"NONCE {args}\")\n    return 0\n"


def test_print_with_13_values_is_a_compile_error_at_its_line() -> None:
    src = print_source(13)
    with pytest.raises(CompileError) as info:
        compile_source(src, "pr.bpf.py", "pr_bpf")
    assert info.value.lineno == src.splitlines().index(next(ln for ln in src.splitlines() if "print(" in ln)) + 1
    assert "at most 12 values, got 13" in info.value.msg


def test_print_with_12_values_shows_them_all(tracing: None, tmp_path: Path) -> None:
    """bpf_trace_vprintk carries 12 values; the line appears in trace_pipe (read until a nonce)."""
    nonce = f"n{os.getpid()}x{time.monotonic_ns()}"
    src = print_source(12).replace("NONCE", nonce)
    mod = bind_source(src, tmp_path, "pr12")
    values = [(i * 7919) % 100_003 for i in range(12)]
    for i, v in enumerate(values):
        getattr(mod, f"V{i}").value = v
    fd = open_trace_pipe()
    try:
        with mod:
            mod.p.test_run()
        text, deadline = "", time.monotonic() + 5
        while nonce not in text or not text[text.index(nonce):].count("\n"):
            assert time.monotonic() < deadline, f"no line with {nonce} in trace_pipe"
            select.select([fd], [], [], 0.1)
            try:
                text += os.read(fd, 65536).decode(errors="replace")
            except BlockingIOError:
                pass
    finally:
        os.close(fd)
    line = text[text.index(nonce):].splitlines()[0]
    assert line == nonce + " " + " ".join(str(v) for v in values)

