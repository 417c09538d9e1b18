"""``bpfimport.lang.kernel``: the kernel's own types, by name, for BPF code.

``kernel.task_struct`` names the kernel's ``struct task_struct`` (from its BTF, at compile
time): in an annotation it is a reference to one (``t: kernel.task_struct =
current_task()``), called on an address it makes one (``sk = kernel.sock(addr)``), and a
typedef or enum (``kernel.pid_t``) is its integer type.  The compiler resolves the names;
to editors and type checkers every name here is ``Any`` (PEP 562's module ``__getattr__``),
so attribute chains through kernel structs type-check without a generated ``vmlinux.py``.
"""

from __future__ import annotations

from typing import Any


class NotInKernelError(RuntimeError):
    """A BPF-side name was used from ordinary Python code (``bpfimport.lang.NotInKernelError``)."""


class KernelType:
    """What ``kernel.NAME`` is in ordinary Python: a name that only BPF code can use."""

    def __init__(self, name: str) -> None:
        self.__name__ = self.__qualname__ = name

    def __repr__(self) -> str:
        return f"kernel.{self.__name__}"

    def __call__(self, *args: Any) -> Any:
        raise NotInKernelError(f"kernel.{self.__name__} is a kernel type: it exists in BPF code "
                               "(a .bpf.py file) only")


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # the import system's and tools' probes (__path__, __wrapped__)
        raise AttributeError(name)
    return KernelType(name)
