"""BpfModule and bind_module: cheap binding, lazy load, explicit close, no leaks; ring buffers."""

from __future__ import annotations

import ast
import ctypes
import inspect
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bpfimport.runtime.globals import Global
from bpfimport.runtime.maps import BloomFilterMap, Map, RingBufferMap
from bpfimport.runtime.module import BpfModule
from bpfimport.runtime.object import BpfObject
from bpfimport.runtime.program import Program
from tests import runtime_objects as RO
from tests.conftest import ROOT, open_fds
from tests.runtime_objects import bound
from tests.support import TRIVIAL, child


def test_bind_sets_one_handle_per_declaration() -> None:
    m = bound()
    spec = m.__bpf_spec__
    assert isinstance(m.__bpf_object__, BpfObject)
    for p in spec.programs:
        assert isinstance(getattr(m, p.name), Program)
    for mp in spec.maps:
        assert isinstance(getattr(m, mp.name), Map)
    assert isinstance(m.rb, RingBufferMap)
    for g in spec.globals:
        assert isinstance(getattr(m, g.name), Global)
    assert issubclass(m.Event, ctypes.Structure)
    assert m.Event is m.Event
    assert m.events.value_type is m.Event
    assert ctypes.sizeof(m.Event) == spec.struct("Event").size
    assert {"Event", "Key", "counts", "put", "TARGET"} <= set(dir(m))
    with pytest.raises(AttributeError):
        m.nonexistent  # noqa: B018
    assert callable(m.load) and callable(m.close)


def test_binding_touches_neither_libbpf_nor_ctypes_classes() -> None:
    """The cache-hit path: no dlopen, no llvmlite, no struct classes, no kernel code, fast."""
    data, spec = RO.main()
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from bpfimport.spec import ObjectSpec
        spec = ObjectSpec.from_json(sys.stdin.read())
        t = time.perf_counter()
        from bpfimport.runtime.module import BpfModule, bind_module
        t1 = time.perf_counter()
        for i in range(200):
            m = BpfModule("main_bpf")
            bind_module(m, spec, b"")
        t2 = time.perf_counter()
        m.close()  # closing a module that never loaded needs none of the kernel code either
        # (_lazy is the lazy-import helper itself, which `import bpfimport` uses too)
        cold = sorted(name for name in sys.modules if name.startswith("bpfimport.runtime.")
                      and name not in ("bpfimport.runtime.module", "bpfimport.runtime._lazy"))
        import bpfimport.runtime.libbpf as L
        with open("/proc/self/maps") as f:
            mapped = f.read()
        print(",".join(cold) or "-", L._lib is None, "libbpf.so" in mapped,
              "llvmlite" in sys.modules, m.__bpf_object__.types._ctypes is None,
              (t2 - t1) / 200 * 1e6)
    """)
    r = subprocess.run([sys.executable, "-c", script], input=spec.to_json(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    cold, no_lib, mapped, llvmlite, no_ctypes, bind_us = r.stdout.split()
    assert cold == "-", f"binding imported {cold}: the handles' cold halves belong to first use"
    assert (no_lib, mapped, llvmlite, no_ctypes) == ("True", "False", "False", "True")
    assert float(bind_us) < 300, f"bind_module took {bind_us} us"


HANDLE_MODULES = ("object", "program", "maps", "globals", "link", "events", "codec", "libbpf")


def _imported(importtime: str, prefix: str) -> list[str]:
    """The modules under ``prefix`` that ``python -X importtime`` reported importing."""
    names = (line.rsplit("|", 1)[-1].strip() for line in importtime.splitlines()
             if line.startswith("import time:"))
    return sorted(n for n in names if n == prefix or n.startswith(prefix + "."))


@pytest.fixture(scope="module")
def hot_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``hot.bpf.py`` and its cached object, filled by a first import.

    Once for the cases below: each of them only reads the cache (a hit writes nothing), so
    one child compiles instead of one per case.
    """
    folder = tmp_path_factory.mktemp("hot")
    (folder / "hot.bpf.py").write_text(TRIVIAL + "TOTAL: Final[u64] = 3\n")
    fill = child("import hot_bpf", folder)
    assert fill.returncode == 0, fill.stderr
    return folder


@pytest.mark.parametrize("use,wanted", [
    ("", []),  # the cache hit itself: binding makes no handle
    ("hot_bpf.prog.section", ["object", "program"]),
    ("hot_bpf.counts.kind", ["maps", "object"]),
    ("hot_bpf.TOTAL.final", ["globals", "object"]),
])
def test_first_use_imports_only_the_handle_modules_it_needs(
        hot_cache: Path, use: str, wanted: list[str]) -> None:
    """``-X importtime`` of a cache hit, then of the first use of one handle, in a fresh process.

    A hit imports no handle module, no compiler and no llvmlite; the first use
    of a handle imports the object's module and the one defining its class,
    whole: none of ctypes, libbpf or the codecs until the kernel is touched.
    """
    r = child(f"import hot_bpf\nassert hot_bpf.__cached__\n{use}\n", hot_cache,
              args=("-X", "importtime"))
    assert r.returncode == 0, r.stderr
    assert _imported(r.stderr, "llvmlite") == [] and _imported(r.stderr, "bpfimport.compiler") == []
    handles = [m.rsplit(".", 1)[-1] for m in _imported(r.stderr, "bpfimport.runtime")
               if m.rsplit(".", 1)[-1] in HANDLE_MODULES]
    assert handles == wanted, _imported(r.stderr, "bpfimport.runtime")
    assert _imported(r.stderr, "ctypes") == []


def test_each_handle_class_is_whole_in_its_module() -> None:
    """What editors and type checkers read: every method of a handle class is in its class body.

    No attribute is added to a class from elsewhere at run time: the names
    defined in the class statement of its module's source are all it has.
    """
    classes = [BpfObject, Program, Map, BloomFilterMap, RingBufferMap, Global]
    for cls in classes:
        source = Path(inspect.getsourcefile(cls) or "")
        assert source.name == f"{cls.__module__.rsplit('.', 1)[-1]}.py"
        tree = ast.parse(source.read_text())
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
        in_source = {n.name for n in body.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        in_source |= {t.id for n in body.body if isinstance(n, ast.Assign)  # add = push
                      for t in n.targets if isinstance(t, ast.Name)}
        methods = {n for n, a in vars(cls).items()
                   if callable(a) or isinstance(a, (property, staticmethod, classmethod))}
        assert methods - in_source == set(), f"{cls.__name__}: defined outside its class body"
    assert {"items", "__getitem__", "poll"} <= {n for c in Map.__mro__ + RingBufferMap.__mro__
                                                  for n in vars(c)}


def test_context_manager_loads_and_closes_every_fd(kernel: None) -> None:
    m = bound()
    m.load()  # first load probes kernel features: later loads open nothing new
    m.close()
    before = open_fds()
    with m as same:
        assert same is m
        assert m.__bpf_object__.loaded
        assert len(open_fds()) > len(before)
        m.rawtp.attach()
        m.counts[1] = 2
        m.hits.value  # noqa: B018 - maps .bss
    assert not m.__bpf_object__.loaded
    assert open_fds() == before


def test_close_then_use_again(kernel: None) -> None:
    m = bound()
    try:
        m.counts[1] = 1
        m.close()
        m.close()
        assert 1 not in m.counts  # a fresh object: fresh maps
        m.counts[2] = 2
        assert m.counts.items() == [(2, 2)]
    finally:
        m.close()


def test_two_modules_are_independent(kernel: None) -> None:
    a, b = bound(), bound()
    try:
        a.counts[1] = 10
        assert 1 not in b.counts
        assert a.counts.fd != b.counts.fd
    finally:
        a.close()
        b.close()


def test_ring_buffer_poll(kernel: None) -> None:
    m = bound()
    try:
        Event = m.Event
        got: list[object] = []
        assert m.rb.poll(got.append, timeout_ms=0) == 0
        for i in range(3):
            r = m.emit.test_run(ctx=Event(pid=i, ts=100 + i, comm=b"proc%d" % i))
            assert r.retval == 0
        assert m.rb.poll(got.append, timeout_ms=100) == 3
        assert [(e.pid, e.ts, e.comm) for e in got] == [(i, 100 + i, b"proc%d" % i)
                                                        for i in range(3)]
        assert all(isinstance(e, Event) for e in got)
        t = time.perf_counter()
        assert m.rb.poll(got.append, timeout_ms=50) == 0
        assert time.perf_counter() - t >= 0.04

        def boom(event: object) -> None:
            raise RuntimeError("from the callback")

        m.emit.test_run(ctx=Event(pid=9))
        with pytest.raises(RuntimeError, match="from the callback"):
            m.rb.poll(boom)
    finally:
        m.close()
    # after close the reader is freed; a new load gets a new one
    try:
        m.emit.test_run(ctx=m.Event(pid=5))
        out: list[object] = []
        assert m.rb.poll(out.append) == 1 and out[0].pid == 5  # type: ignore[attr-defined]
    finally:
        m.close()


def test_perf_event_array_poll(kernel: None) -> None:
    m = bound()
    try:
        got: list[object] = []
        assert m.pe.poll(got.append, timeout_ms=0) == 0
        for i in range(3):
            # a raw tracepoint's ctx is its u64 args; the program copies 32 bytes of
            # them into the perf buffer, laid out as an Event {pid, ts, comm[16]}
            args = (ctypes.c_uint64 * 4)(i, 1000 + i, int.from_bytes(b"perf%d" % i, "little"), 0)
            assert m.perf_out.test_run(ctx=args).retval == 0
        assert m.pe.poll(got.append, timeout_ms=100) == 3
        assert all(isinstance(e, m.Event) for e in got)
        assert [(e.pid, e.ts, e.comm) for e in got] == [(i, 1000 + i, b"perf%d" % i)
                                                        for i in range(3)]
        assert m.pe.lost == 0
    finally:
        m.close()


def _perf_events(m: BpfModule, n: int) -> None:
    for i in range(n):
        args = (ctypes.c_uint64 * 4)(i, 1000 + i, 0, 0)
        assert m.perf_out.test_run(ctx=args).retval == 0


def test_perf_callback_error_keeps_the_later_samples(kernel: None) -> None:
    """libbpf consumes a whole perf poll: the samples after a failing callback are kept, not lost."""
    m = bound()
    try:
        _perf_events(m, 3)
        seen: list[int] = []

        def fail_first(event: object) -> None:
            seen.append(event.pid)  # type: ignore[attr-defined]
            if len(seen) == 1:
                raise RuntimeError("from the callback")

        with pytest.raises(RuntimeError, match="from the callback"):
            m.pe.poll(fail_first, timeout_ms=100)
        assert seen == [0]
        got: list[int] = []
        # the kept samples come first, and without waiting for the timeout
        t = time.perf_counter()
        assert m.pe.poll(lambda e: got.append(e.pid), timeout_ms=2000) == 2
        assert time.perf_counter() - t < 1
        assert got == [1, 2]
        _perf_events(m, 2)
        with pytest.raises(ZeroDivisionError):
            m.pe.poll(lambda e: 1 / 0)
        assert m.pe.consume(lambda e: got.append(e.pid)) == 1
        assert got == [1, 2, 1]
    finally:
        m.close()


def test_ring_callback_error_keeps_the_later_events(kernel: None) -> None:
    m = bound()
    try:
        for i in range(3):
            m.emit.test_run(ctx=m.Event(pid=i))
        with pytest.raises(ZeroDivisionError):
            m.rb.poll(lambda e: 1 / 0)
        got: list[int] = []
        assert m.rb.poll(lambda e: got.append(e.pid)) == 2
        assert got == [1, 2]
    finally:
        m.close()


@pytest.mark.parametrize("args,fragment", [
    (("not callable",), "takes a callback"),
    ((print, "1"), "timeout_ms must be an int"),
    ((print, 1.5), "timeout_ms must be an int"),
])
def test_poll_checks_its_arguments(args: tuple, fragment: str) -> None:
    m = bound()
    with pytest.raises(TypeError, match=fragment):
        m.pe.poll(*args)
    with pytest.raises(TypeError, match=fragment):
        m.rb.poll(*args)


class ContendedLock:
    """An RLock that reports (``contended``) when a thread has to wait for it."""

    def __init__(self) -> None:
        import threading

        self._inner = threading.RLock()
        self.contended = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._inner.acquire(blocking=False):
            return True
        self.contended.set()
        return self._inner.acquire(blocking, timeout)

    def release(self) -> None:
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_a_concurrent_close_does_not_make_a_program_missing(
        kernel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A close() in another thread right after load() must not turn into 'has no program'.

    The load returns only once the closing thread has either finished (it got
    in between: the bug) or is waiting for the object's lock (the fix): the race
    is exercised however slowly that thread is scheduled, with no fixed sleep.
    """
    import threading

    m = bound()
    obj = m.__bpf_object__
    lock = obj._lock = ContendedLock()
    real_load = BpfObject.load
    closers: list[threading.Thread] = []

    def load_then_close_elsewhere(self: BpfObject) -> BpfObject:
        real_load(self)
        lock.contended.clear()  # this thread holds the lock: only the closer can wait now
        t = threading.Thread(target=self.close)
        closers.append(t)
        t.start()
        deadline = time.monotonic() + 30
        while t.is_alive() and not lock.contended.wait(0.01):
            assert time.monotonic() < deadline, "the closing thread never ran"
        return self

    monkeypatch.setattr(BpfObject, "load", load_then_close_elsewhere)
    try:
        assert obj.program_ptr("put")
        assert obj.map_ptr("counts")
    finally:
        monkeypatch.undo()
        for t in closers:
            t.join()
        m.close()


def test_a_process_that_exits_with_a_module_loaded_prints_nothing(kernel, tmp_path: Path) -> None:
    """No close() before exit: the kernel closes the fds, and nothing is printed on the way
    (a load freed while the interpreter shuts down cannot import what freeing needs)."""
    from tests.support import TRIVIAL, child

    (tmp_path / "left.bpf.py").write_text(TRIVIAL)
    r = child("import left_bpf\nleft_bpf.load()\nprint(left_bpf.counts.get(1, 0))", tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "0\n", "")
