"""IR text → BPF ELF object, in-process through llvmlite's LLVM (no llc on PATH).

Two ways to the same library: :mod:`.llvmffi` calls llvmlite's C functions
directly (no ``llvmlite`` Python module imported: ~40 ms less per cold
compile), for the llvmlite versions it was checked against; any other
llvmlite goes through ``llvmlite.binding``.  Both do the same calls and give
byte-identical objects.  ``BPFIMPORT_LLVMLITE_BINDING=1`` forces the second.
"""

from __future__ import annotations

import os
from _thread import allocate_lock, start_new_thread

from ..errors import SetupError
from .elf import STT_FUNC, Elf, stack_depth

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every cold compile
if TYPE_CHECKING:
    from typing import Any

TRIPLE = "bpfel-unknown-none"
OPTIONS = (
    # LLVM's own stack check ends the process; raise it and check the object ourselves instead
    "-bpf-stack-size=65536",
    # Parsing IR with debug info verifies it and aborts the process on a bad module; turn
    # that off so our own verify call raises an exception instead
    "-disable-auto-upgrade-debug-info",
    # IndVarSimplify replaces a loop's exit value by its closed form: a sum over a range becomes
    # a 128-bit multiply (__multi3), which the BPF backend reports by exiting the process. The
    # loop stays a loop instead, which is what the verifier judges anyway.
    "-replexitval=never",
)


class BackendError(Exception):
    """LLVM refused IR the compiler generated: a bug in bpfimport, reported as one."""


class _Binding:
    """The same calls as :class:`.llvmffi.Lib` through ``llvmlite.binding`` (any llvmlite)."""

    kind = "llvmlite.binding"

    def __init__(self) -> None:
        try:
            import llvmlite
            import llvmlite.binding as llvm
        except ImportError as e:
            raise SetupError("llvmlite is not installed: pip install llvmlite") from e
        self.llvm = llvm
        self.version = str(getattr(llvmlite, "__version__", ""))

    def version_info(self) -> tuple[int, ...]:
        return tuple(self.llvm.llvm_version_info)

    def initialize(self) -> None:
        self.llvm.initialize_all_targets()
        self.llvm.initialize_all_asmprinters()

    def set_option(self, name: str, option: str) -> None:
        self.llvm.set_option(name, option)

    def target(self, triple: str) -> Any:
        return self.llvm.Target.from_triple(triple)

    def compile(self, ir: str, triple: str, cpu: str, opt_level: int, *, emit: bool = True) -> bytes | str:
        llvm = self.llvm
        # One context per compile, as llvmffi (the global one keeps every module's metadata).
        # Everything is closed explicitly, the module before its context: left to the garbage
        # collector (a traceback cycle), the context may go first and the module's close crash.
        context = llvm.create_context()
        module = machine = tuning = builder = manager = None
        try:
            try:
                module = llvm.parse_assembly(ir, context)
                module.verify()
            except RuntimeError as e:
                raise BackendError(f"LLVM rejected the generated IR: {e}") from e
            machine = llvm.Target.from_triple(triple).create_target_machine(
                cpu=cpu, opt=opt_level, reloc="static", codemodel="small")
            if opt_level:
                tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
                builder = llvm.create_pass_builder(machine, tuning)
                manager = builder.getModulePassManager()
                manager.run(module, builder)
            return machine.emit_object(module) if emit else str(module)
        finally:
            self._dispose_manager(manager)
            orphan = self._orphan(builder)
            for ref in (builder, tuning, machine, module, context):
                if ref is not None:
                    ref.close()
            if orphan is not None:
                from .llvmffi import release

                release(orphan)

    def _dispose_manager(self, manager: Any) -> None:
        """Dispose of the module pass manager, which ``close()`` does not do in llvmlite 0.50.

        ``ModulePassManager(ObjectRef, NewPassManager)`` finds ``ObjectRef._dispose`` (a
        no-op) before ``NewPassManager._dispose``: the whole -O2 pipeline, ~64 KB, was
        left behind by every compile.  Where close() would dispose it, let it.
        """
        if manager is None:
            return
        if type(manager)._dispose is self.llvm.ffi.ObjectRef._dispose:
            self.llvm.ffi.lib.LLVMPY_DisposeNewModulePassManger(manager)
            manager.detach()
        else:
            manager.close()

    def _orphan(self, builder: Any) -> int | None:
        """The PassInstrumentationCallbacks llvmlite leaks with each pass builder, where this
        llvmlite is one :mod:`.llvmffi` knows the layout of (see ``llvmffi.instrumentation_of``)."""
        if builder is None or builder.closed:
            return None
        import ctypes

        from . import llvmffi

        address = ctypes.cast(builder._ptr, ctypes.c_void_p).value
        return llvmffi.instrumentation_of(address, self.version, self.llvm.llvm_version_info[0])


def _fast_lib(unlocked: bool = False) -> Any:
    """:class:`.llvmffi.Lib` on the installed llvmlite's library, or None when it is not one
    of the verified versions (or the library is missing, or lacks a function).  ``unlocked``:
    load the library without holding the GIL (for :func:`start_loading`'s thread)."""
    from .._host import installed  # finds llvmlite's folder without importing it

    found = installed()
    if found is None:
        return None
    from . import llvmffi

    if not found.version.startswith(llvmffi.VERIFIED):
        return None
    path = found.library()
    try:
        handle = llvmffi.dlopen_unlocked(path) if unlocked else None
        return llvmffi.Lib(path, found.version, handle)
    except (OSError, AttributeError):
        return None


_backend: Any = None
# start_loading's thread: (the pid that started it, a lock held until it is done, what it made)
_loading: tuple[int, Any] | None = None
_loaded: Any = None
_start_lock = allocate_lock()
_init_lock = allocate_lock()


def start_loading() -> None:
    """Load and initialise LLVM in a background thread while the compiler's Python half runs.

    A compile imports the compiler's modules, then parses and generates IR (~15 ms
    of Python) before it needs LLVM.  Loading llvmlite's library meanwhile — 10-15
    ms of ``dlopen``, LLVM's static constructors and target set-up, with the GIL
    released (:func:`.llvmffi.dlopen_unlocked`) — takes it off a cold import's
    critical path on a machine with a second core.  Only the default backend is
    loaded this way; when the thread cannot, :func:`backend` does it in the
    foreground as before and reports what went wrong.
    """
    global _loading
    with _start_lock:  # two threads compiling at once start one load
        if (_backend is not None or (_loading is not None and _loading[0] == os.getpid())
                or os.environ.get("BPFIMPORT_LLVMLITE_BINDING")):
            return
        lock = allocate_lock()
        lock.acquire()
        try:
            start_new_thread(_load_in_background, (lock,))
        except RuntimeError:  # no new threads (interpreter shutdown): backend() loads it here
            return
        _loading = (os.getpid(), lock)
    import atexit

    atexit.register(_wait_for_loading)  # never exit while LLVM's constructors run in the thread


def _load_in_background(lock: Any) -> None:
    global _loaded
    try:
        impl = _fast_lib(unlocked=True)
        if impl is not None:
            _initialise(impl)
        _loaded = impl
    except Exception:  # noqa: BLE001 - backend() tries again in the foreground and reports it
        _loaded = None
    finally:
        lock.release()


def _wait_for_loading() -> Any:
    """What :func:`start_loading`'s thread made, once it is done (None: nothing, or it failed).

    A forked child has no such thread (its copy of the lock may be held for good).
    """
    if _loading is None or _loading[0] != os.getpid():
        return None
    with _loading[1]:
        return _loaded


def _take_loaded() -> Any:
    """:func:`_wait_for_loading`, once: a later :func:`backend` call starts afresh."""
    global _loading, _loaded
    impl = _wait_for_loading()
    _loading = _loaded = None
    return impl


def _initialise(impl: Any) -> None:
    """Register LLVM's targets and set the backend's options, one thread at a time: LLVM's
    target registry is not thread-safe (two threads registering a target at once can link it
    into its list twice), and the background load may run beside a foreground one."""
    with _init_lock:
        impl.initialize()
        try:
            impl.target(TRIPLE)
        except RuntimeError as e:
            raise no_bpf_target(impl.version_info()) from e
        for option in OPTIONS:
            impl.set_option("bpfimport", option)


def backend(kind: str | None = None) -> Any:
    """The LLVM this process compiles with, initialised: llvmffi when it can, else llvmlite.binding.

    ``kind`` ("llvmffi" or "llvmlite.binding") asks for one (tests compare them).
    """
    global _backend
    if kind is None:
        if _backend is None:
            _backend = _take_loaded()
        if _backend is not None:
            return _backend
    impl = None
    if kind != "llvmlite.binding" and (kind == "llvmffi" or not os.environ.get("BPFIMPORT_LLVMLITE_BINDING")):
        impl = _fast_lib()
        if impl is None and kind == "llvmffi":
            raise SetupError("the installed llvmlite is not one llvmffi was checked against")
    if impl is None:
        impl = _Binding()
    _initialise(impl)
    if kind is None:
        _backend = impl
    return impl


def no_bpf_target(version_info: tuple[int, ...]) -> SetupError:
    """One clear sentence when this llvmlite's LLVM was built without the BPF backend."""
    version = ".".join(map(str, version_info))
    return SetupError(
        f"this llvmlite (LLVM {version}) was built without the BPF target; install the "
        "llvmlite wheel from PyPI, which has it: pip install --force-reinstall llvmlite")


def require_bpf_target(llvm: Any) -> None:
    """:func:`no_bpf_target` for an ``llvmlite.binding``-like module without the BPF target."""
    try:
        llvm.Target.from_triple(TRIPLE)
    except RuntimeError as e:
        raise no_bpf_target(llvm.llvm_version_info) from e


def emit_object(ir: str, cpu: str, opt_level: int, impl: Any = None) -> bytes:
    return _compile(impl or backend(), ir, cpu, opt_level, True)


def optimized_ir(ir: str, cpu: str, opt_level: int, impl: Any = None) -> str:
    return _compile(impl or backend(), ir, cpu, opt_level, False)


def _compile(impl: Any, ir: str, cpu: str, opt_level: int, emit: bool) -> Any:
    from .llvmffi import InvalidIR

    try:
        return impl.compile(ir, TRIPLE, cpu, opt_level, emit=emit)
    except InvalidIR as e:
        raise BackendError(f"LLVM rejected the generated IR: {e}") from e


def deepest_stack(obj: bytes) -> dict[str, int]:
    """Stack bytes used by each function of the object (programs and subprograms).

    Per function, not per section: several programs may share a section (two ``@syscall``s),
    and the error must name the one that overflows.
    """
    elf = Elf(obj)
    code = {s.index: elf.body(s) for s in elf.code_sections()}
    return {
        sym.name: stack_depth(code[sym.section][sym.value:sym.value + sym.size or None])
        for sym in elf.symbols
        if sym.kind == STT_FUNC and sym.section in code
    }
