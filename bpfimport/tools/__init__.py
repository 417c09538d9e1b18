"""Classic tracing tools in the style of bcc's, each a ``NAME.bpf.py`` and a small CLI.

Run one as ``python -m bpfimport.tools.NAME`` (root, or CAP_BPF and CAP_PERFMON).
Each tool's ``.bpf.py`` is imported through bpfimport's import hook as
``bpfimport.tools.NAME_bpf``: it compiles on first use and is cached in this
folder's ``__pycache__`` like any module; where the folder is read-only it
compiles in memory on every run.  Packagers prefill the cache at build time::

    python -m bpfimport compileall "$(python -c 'import bpfimport.tools as t; print(t.__path__[0])')"

The shared pieces (options, loading, the event loop, columns) are in
:mod:`bpfimport.tools._common`.
"""
