"""Frontend: a ``.bpf.py`` module's AST → a checked :class:`ModuleModel`.

The declarations (imports, maps, structs, globals, constants, program and
subprogram signatures) are resolved and checked here, and the types each
event map carries are inferred (``events.py``), so the model is final before
codegen; function bodies are lowered by the codegen, which checks and types
each expression as it goes.
"""

from .declarations import analyze_module
from .model import ModuleModel

__all__ = ["ModuleModel", "analyze_module"]
