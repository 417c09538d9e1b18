"""The runtime: live, fd-owning handles built from a ObjectSpec and object bytes.

Never imports the compiler or llvmlite: a cache hit must stay cheap.
"""
