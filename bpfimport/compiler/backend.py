"""IR text → BPF ELF object, in-process through llvmlite (no llc on PATH)."""

from __future__ import annotations

import functools

from ..errors import SetupError
from .elf import Elf, stack_depth

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds of every cold compile
if TYPE_CHECKING:
    from typing import Any

TRIPLE = "bpfel-unknown-none"
STACK_LIMIT = 512


class BackendError(Exception):
    """LLVM refused IR the compiler generated: a bug in bpfimport, reported as one."""


@functools.cache
def _llvm() -> Any:
    try:
        import llvmlite.binding as llvm
    except ImportError as e:
        raise SetupError("llvmlite is not installed: pip install llvmlite") from e
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    require_bpf_target(llvm)
    # LLVM's own stack check ends the process; raise it and check the object ourselves instead
    llvm.set_option("bpfimport", "-bpf-stack-size=65536")
    # Parsing IR with debug info verifies it and aborts the process on a bad module; turn
    # that off so our own verify() call raises an exception instead
    llvm.set_option("bpfimport", "-disable-auto-upgrade-debug-info")
    return llvm


def require_bpf_target(llvm: Any) -> None:
    """One clear sentence when this llvmlite's LLVM was built without the BPF backend."""
    try:
        llvm.Target.from_triple(TRIPLE)
    except RuntimeError as e:
        version = ".".join(map(str, llvm.llvm_version_info))
        raise SetupError(
            f"this llvmlite (LLVM {version}) was built without the BPF target; install the "
            "llvmlite wheel from PyPI, which has it: pip install --force-reinstall llvmlite"
        ) from e


def llvm_version() -> str:
    return ".".join(map(str, _llvm().llvm_version_info))


def emit_object(ir: str, cpu: str, opt_level: int) -> bytes:
    llvm = _llvm()
    try:
        module = llvm.parse_assembly(ir)
        module.verify()
    except RuntimeError as e:
        raise BackendError(f"LLVM rejected the generated IR: {e}") from e
    target = llvm.Target.from_triple(TRIPLE)
    machine = target.create_target_machine(cpu=cpu, opt=opt_level, reloc="static", codemodel="small")
    if opt_level:
        tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        builder = llvm.create_pass_builder(machine, tuning)
        builder.getModulePassManager().run(module, builder)
    return machine.emit_object(module)


def optimized_ir(ir: str, cpu: str, opt_level: int) -> str:
    llvm = _llvm()
    module = llvm.parse_assembly(ir)
    machine = llvm.Target.from_triple(TRIPLE).create_target_machine(cpu=cpu, opt=opt_level)
    if opt_level:
        tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        builder = llvm.create_pass_builder(machine, tuning)
        builder.getModulePassManager().run(module, builder)
    return str(module)


def deepest_stack(obj: bytes) -> dict[str, int]:
    """Stack bytes used by each code section of the object."""
    elf = Elf(obj)
    return {s.name: stack_depth(elf.body(s)) for s in elf.code_sections()}
