"""The few C functions of llvmlite's ``libllvmlite.so`` the backend needs, called directly.

``import llvmlite.binding`` costs ~50 ms on a cold compile, of which the
``dlopen`` of its library is ~10-15 ms: the rest is its Python layer (``ffi``
finds the library through ``importlib.resources``, then ~15 modules declare
hundreds of functions).  This module loads the same library with ctypes and
declares only the ~25 ``LLVMPY_*`` functions the backend calls, each with the
argtypes/restype llvmlite's own Python sources give it, and calls them the
way llvmlite's wrappers do (output strings read then freed with
``LLVMPY_DisposeString``; the object read from the memory buffer with
``string_at``).  Opaque LLVM references are ``c_void_p`` (llvmlite uses
pointers to empty structures: the same C ABI).

The C signatures are llvmlite's internals and have changed between releases
(``LLVMPY_buildPerModuleDefaultPipeline`` took a size level in some), so
the backend uses this module only for the llvmlite versions listed in
:data:`VERIFIED` and goes through ``llvmlite.binding`` otherwise.
"""

from __future__ import annotations

import ctypes
import os
import struct
from _thread import allocate_lock
from ctypes import POINTER, c_bool, c_char_p, c_int, c_size_t, c_uint, c_void_p

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every compile
if TYPE_CHECKING:
    from collections.abc import Callable

# llvmlite versions whose binding/*.py sources these declarations were checked against:
# 0.50.0 (initfini, options, context, module, targets, newpassmanagers, ffi).
VERIFIED = ("0.50.",)


def dlopen_unlocked(path: str) -> int | None:
    """``dlopen(path)`` as ``ctypes.CDLL(path)`` does it, but without holding the GIL.

    ``ctypes.CDLL`` keeps the GIL through the whole ``dlopen``, which for llvmlite's
    library is 7-15 ms of mapping and of LLVM's static constructors: other threads
    wait.  libc's ``dlopen`` called as a ctypes function releases it, so the load
    can run beside Python code.  None where libc's ``dlopen`` is not found or
    fails (the caller then goes the usual way, which reports the error).
    """
    try:
        fn = ctypes.CDLL(None).dlopen
    except AttributeError:
        return None
    fn.argtypes, fn.restype = [c_char_p, c_int], c_void_p
    return fn(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL) or None


class InvalidIR(RuntimeError):
    """LLVM could not parse or verify the IR (llvmlite raises a plain RuntimeError, same text)."""


_P = c_void_p  # every opaque LLVM*Ref
_OUT = POINTER(c_char_p)  # a string the callee allocates with LLVMPY_CreateString

# name: (argtypes, restype); None where llvmlite declares nothing (no arguments / void)
_FUNCTIONS: dict[str, tuple[list | None, type | None]] = {
    "LLVMPY_GetVersionInfo": (None, c_uint),
    "LLVMPY_InitializeAllTargetInfos": (None, None),
    "LLVMPY_InitializeAllTargets": (None, None),
    "LLVMPY_InitializeAllTargetMCs": (None, None),
    "LLVMPY_InitializeAllAsmPrinters": (None, None),
    "LLVMPY_SetCommandLine": ([c_char_p, c_char_p], None),
    "LLVMPY_DisposeString": ([c_char_p], None),
    "LLVMPY_ContextCreate": (None, _P),
    "LLVMPY_ContextDispose": ([_P], None),
    "LLVMPY_ParseAssembly": ([_P, c_char_p, _OUT], _P),
    "LLVMPY_DisposeModule": ([_P], None),
    "LLVMPY_VerifyModule": ([_P, _OUT], c_bool),
    "LLVMPY_PrintModuleToString": ([_P, _OUT], None),
    "LLVMPY_GetTargetFromTriple": ([c_char_p, _OUT], _P),
    # target, triple, cpu, features, opt level, reloc, code model, printmc, jit, abiname
    "LLVMPY_CreateTargetMachine": ([_P, c_char_p, c_char_p, c_char_p, c_int, c_char_p, c_char_p,
                                    c_int, c_int, c_char_p], _P),
    "LLVMPY_DisposeTargetMachine": ([_P], None),
    "LLVMPY_CreatePipelineTuningOptions": (None, _P),
    "LLVMPY_DisposePipelineTuningOptions": ([_P], None),
    "LLVMPY_CreatePassBuilder": ([_P, _P], _P),
    "LLVMPY_DisposePassBuilder": ([_P], None),
    "LLVMPY_buildPerModuleDefaultPipeline": ([_P, c_int], _P),
    "LLVMPY_RunNewModulePassManager": ([_P, _P, _P], None),
    "LLVMPY_DisposeNewModulePassManger": ([_P], None),  # sic: llvmlite's spelling
    "LLVMPY_TargetMachineEmitToMemory": ([_P, _P, c_int, _OUT], _P),
    "LLVMPY_GetBufferStart": ([_P], c_void_p),
    "LLVMPY_GetBufferSize": ([_P], c_size_t),
    "LLVMPY_DisposeMemoryBuffer": ([_P], None),
}


class Lib:
    """``libllvmlite.so`` with the functions above declared; every call under one lock.

    The lock plays the part of llvmlite's: LLVM's C API is not thread-safe.
    Each compile holds it from parsing to the object, and uses a context of
    its own that is disposed afterwards (the global context would keep every
    module's metadata, source text included, for the life of the process).
    """

    kind = "llvmffi"

    # The functions __init__ sets, as ctypes returns their results: a pointer restype
    # (c_void_p) gives an int or None (NULL); annotations only, nothing is evaluated.
    GetVersionInfo: Callable[[], int]
    VerifyModule: Callable[..., bool]
    GetBufferSize: Callable[..., int]
    GetBufferStart: Callable[..., int]  # of a buffer already checked non-NULL
    ContextCreate: Callable[..., int | None]
    ParseAssembly: Callable[..., int | None]
    GetTargetFromTriple: Callable[..., int | None]
    CreateTargetMachine: Callable[..., int | None]
    CreatePipelineTuningOptions: Callable[..., int | None]
    CreatePassBuilder: Callable[..., int | None]
    buildPerModuleDefaultPipeline: Callable[..., int | None]
    TargetMachineEmitToMemory: Callable[..., int | None]
    InitializeAllTargetInfos: Callable[..., None]
    InitializeAllTargets: Callable[..., None]
    InitializeAllTargetMCs: Callable[..., None]
    InitializeAllAsmPrinters: Callable[..., None]
    SetCommandLine: Callable[..., None]
    DisposeString: Callable[..., None]
    ContextDispose: Callable[..., None]
    DisposeModule: Callable[..., None]
    PrintModuleToString: Callable[..., None]
    DisposeTargetMachine: Callable[..., None]
    DisposePipelineTuningOptions: Callable[..., None]
    DisposePassBuilder: Callable[..., None]
    RunNewModulePassManager: Callable[..., None]
    DisposeNewModulePassManger: Callable[..., None]
    DisposeMemoryBuffer: Callable[..., None]

    def __init__(self, path: str, llvmlite_version: str = "", handle: int | None = None) -> None:
        dll = ctypes.CDLL(path, handle=handle)  # a handle from dlopen_unlocked(path), or a dlopen here
        self.path = path
        self.llvmlite_version = llvmlite_version  # the llvmlite release the library comes with
        self.lock = allocate_lock()
        for name, (argtypes, restype) in _FUNCTIONS.items():
            fn = getattr(dll, name)  # AttributeError: not the library these declarations are for
            if argtypes is not None:
                fn.argtypes = argtypes
            fn.restype = restype
            setattr(self, name[7:], fn)  # "LLVMPY_ParseAssembly" -> self.ParseAssembly

    # ------------------------------------------------------------ set-up

    def version_info(self) -> tuple[int, ...]:
        """``llvmlite.binding.llvm_version_info``: (major, minor, patch)."""
        x = self.GetVersionInfo()
        v = []
        while x:
            v.append(x & 0xFF)
            x >>= 8
        return tuple(reversed(v))

    def initialize(self) -> None:
        """``initialize_all_targets()`` then ``initialize_all_asmprinters()``."""
        self.InitializeAllTargetInfos()
        self.InitializeAllTargets()
        self.InitializeAllTargetMCs()
        self.InitializeAllAsmPrinters()

    def set_option(self, name: str, option: str) -> None:
        with self.lock:
            self.SetCommandLine(name.encode(), option.encode())

    def _take(self, out: c_char_p) -> str:
        """The text of an output string, freed (``ffi.OutputString``)."""
        if not out:
            return ""
        try:
            return (out.value or b"").decode("utf-8")
        finally:
            self.DisposeString(out)

    def target(self, triple: str) -> int:
        """``Target.from_triple``: RuntimeError with LLVM's message when there is none."""
        err = c_char_p(None)
        with self.lock:
            target = self.GetTargetFromTriple(triple.encode(), ctypes.byref(err))
            message = self._take(err)
        if not target:
            raise RuntimeError(message)
        return target

    # ------------------------------------------------------------ compile

    def compile(self, ir: str, triple: str, cpu: str, opt_level: int, *, emit: bool = True) -> bytes | str:
        """IR text → object bytes (``emit``) or optimized IR text, as ``backend`` does with llvmlite.

        parse_assembly, verify, create_target_machine(cpu, opt, reloc="static",
        codemodel="small"), the -O<opt_level> module pipeline when opt_level > 0,
        then emit_object (or str(module)).  Errors are RuntimeErrors with llvmlite's
        messages; :class:`InvalidIR` for parsing and verifying.
        """
        if not 0 <= opt_level <= 3:
            raise ValueError("Optimization level for speed should be 0, 1, 2, or 3")
        with self.lock:
            context = self.ContextCreate()
            module = None
            try:
                err = c_char_p(None)
                module = self.ParseAssembly(context, ir.encode("utf-8"), ctypes.byref(err))
                message = self._take(err)
                if message or not module:
                    raise InvalidIR(f"LLVM IR parsing error\n{message}")
                err = c_char_p(None)
                failed = self.VerifyModule(module, ctypes.byref(err))
                message = self._take(err)
                if failed:
                    raise InvalidIR(message)
                return self._codegen(module, triple, cpu, opt_level, emit)
            finally:
                if module:
                    self.DisposeModule(module)
                self.ContextDispose(context)

    def _codegen(self, module: int, triple: str, cpu: str, opt_level: int, emit: bool) -> bytes | str:
        err = c_char_p(None)
        target = self.GetTargetFromTriple(triple.encode(), ctypes.byref(err))
        message = self._take(err)
        if not target:
            raise RuntimeError(message)
        machine = self.CreateTargetMachine(target, triple.encode(), cpu.encode(), b"", opt_level,
                                           b"static", b"small", 0, 0, b"")
        if not machine:
            raise RuntimeError("Cannot create target machine")
        try:
            if opt_level:
                self._optimize(module, machine, opt_level)
            if not emit:
                out = c_char_p(None)
                self.PrintModuleToString(module, ctypes.byref(out))
                return self._take(out)
            err = c_char_p(None)
            buffer = self.TargetMachineEmitToMemory(machine, module, 1, ctypes.byref(err))
            message = self._take(err)
            if not buffer:
                raise RuntimeError(message)
            try:
                return ctypes.string_at(self.GetBufferStart(buffer), self.GetBufferSize(buffer))
            finally:
                self.DisposeMemoryBuffer(buffer)
        finally:
            self.DisposeTargetMachine(machine)

    def _optimize(self, module: int, machine: int, opt_level: int) -> None:
        """create_pipeline_tuning_options(speed_level), create_pass_builder,
        getModulePassManager().run(module, builder)."""
        tuning = self.CreatePipelineTuningOptions()
        try:
            builder = self.CreatePassBuilder(machine, tuning)
            orphan = None
            try:
                manager = self.buildPerModuleDefaultPipeline(builder, opt_level)
                try:
                    self.RunNewModulePassManager(manager, module, builder)
                finally:
                    self.DisposeNewModulePassManger(manager)
                orphan = instrumentation_of(builder, self.llvmlite_version, self.version_info()[0])
            finally:
                self.DisposePassBuilder(builder)
                if orphan is not None:
                    release(orphan)
        finally:
            self.DisposePipelineTuningOptions(tuning)


# ---------------------------------------------------------------- llvmlite's orphan
#
# LLVMPY_CreatePassBuilder does ``PIC = new PassInstrumentationCallbacks()`` and
# ``new PassBuilder(TM, PTO, nullopt, PIC)``; a PassBuilder does not own its PIC and
# LLVMPY_DisposePassBuilder deletes only the builder, so every optimized compile
# leaked the PIC (1,488 bytes of malloc'ed memory, measured with mallinfo2; nothing
# else in a compile leaks).  llvmlite exports no way to free it, and the builder
# cannot be reused instead: each LLVMPY_RunNewModulePassManager registers callbacks
# into the PIC that point at a StandardInstrumentations on its own stack.
#
# So, for the llvmlite whose leak and layout were checked (0.50.0, bundling LLVM 22):
# read the PIC's address out of the builder (PassBuilder::PIC) before disposing of
# it; afterwards, check that the object there is exactly the PIC of one compile —
# ten SmallVector<unique_function, 4> using their inline storage and holding only
# inline, trivially destructible callables, then an empty DenseMap — so it owns no
# memory and its destructor has nothing to do, and free it.  Memory is read through
# /proc/self/mem, which fails with EIO instead of crashing on a wrong address; an
# llvmlite that freed the PIC itself would have left malloc's free-list links where
# the check expects the first vector's header.  Anything unexpected: leave it (the
# old behaviour), never free what might not be the PIC.

LEAKS_INSTRUMENTATION = ("0.50.0",)  # llvmlite versions checked to leak it, with this layout
_PIC_LLVM_MAJOR = 22
_PIC_FIELD = 96  # offsetof(PassBuilder, PIC) in LLVM 22 on LP64
_PIC_VECTORS = 10  # ShouldRunOptionalPass ... AnalysesCleared, ClassToPassName callbacks
_VECTOR_BYTES = 16 + 4 * 32  # {BeginX, Size, Capacity} + 4 inline unique_functions
_PIC_BYTES = _PIC_VECTORS * _VECTOR_BYTES + 24  # + DenseMap<StringRef, std::string>
_INLINE = 0b010  # unique_function: the callable lives in its inline storage
_NON_TRIVIAL = 0b100  # unique_function: the callable has a destructor

_mem: tuple[int, int] | None = None  # (pid, fd of /proc/self/mem opened by that process)
_free = None


def _peek(address: int, size: int) -> bytes | None:
    """``size`` bytes of this process's memory at ``address``, or None if not all mapped.

    The fd is reopened in a forked child: an inherited one still reads the parent's memory.
    """
    global _mem
    try:
        if _mem is None or _mem[0] != os.getpid():
            _mem = (os.getpid(), os.open("/proc/self/mem", os.O_RDONLY | os.O_CLOEXEC))
        data = os.pread(_mem[1], size, address)
    except (OSError, OverflowError, ValueError):
        return None
    return data if len(data) == size else None


def instrumentation_of(builder: int | None, llvmlite_version: str, llvm_major: int) -> int | None:
    """The address of the PassInstrumentationCallbacks llvmlite made ``builder`` with, for the
    llvmlite versions known to leak it (see above); None otherwise.  Read it before disposing
    of the builder, hand it to :func:`release` after."""
    if llvmlite_version not in LEAKS_INSTRUMENTATION or llvm_major != _PIC_LLVM_MAJOR or not builder:
        return None
    field = _peek(builder + _PIC_FIELD, 8)
    return int.from_bytes(field, "little") or None if field else None


def release(pic: int) -> bool:
    """Free the orphaned PassInstrumentationCallbacks at ``pic`` if it is exactly what a
    compile leaves (it then owns no memory): ``operator delete`` is ``free`` underneath, and
    the global ``free`` is the one that pairs with whatever ``operator new`` LLVM got."""
    global _free
    raw = _peek(pic, _PIC_BYTES)
    if raw is None or not _owns_nothing(raw, pic):
        return False
    if _free is None:
        fn = ctypes.CDLL(None).free
        fn.argtypes, fn.restype = [c_void_p], None
        _free = fn
    _free(pic)
    return True


def _owns_nothing(raw: bytes, pic: int) -> bool:
    for i in range(_PIC_VECTORS):
        at = i * _VECTOR_BYTES
        begin, size, capacity = struct.unpack_from("<QII", raw, at)
        if begin != pic + at + 16 or capacity != 4 or size > 4:
            return False  # not this layout, or the vector grew onto the heap
        for j in range(size):
            callback, = struct.unpack_from("<Q", raw, at + 16 + 32 * j + 24)
            if callback & (_INLINE | _NON_TRIVIAL) != _INLINE:
                return False
    buckets, entries, tombstones, count = struct.unpack_from("<QIII", raw, _PIC_VECTORS * _VECTOR_BYTES)
    return buckets == entries == tombstones == count == 0
