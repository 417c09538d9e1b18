"""LLVM IR generation from the frontend's model (one module per concern).

A regular package, not a namespace one: ``packages = find:`` (and other
tools) only see folders with an ``__init__.py``, and a wheel without this
folder cannot compile anything.
"""
