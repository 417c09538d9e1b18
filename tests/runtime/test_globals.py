"""Global handles: ``.value`` before load (initial, pending writes) and after (live)."""

from __future__ import annotations

import ctypes

import pytest

from tests.runtime_objects import PutArgs, bound


def test_initial_values_without_kernel() -> None:
    m = bound()
    assert m.TARGET.value == 7
    assert m.LIMIT.value == -5
    assert m.TAG.value == b"abc"
    assert m.hits.value == 0
    assert m.scale.value == 3
    assert m.label.value == b"hello"
    origin = m.origin.value  # a struct global can only start as zero: .bss
    assert isinstance(origin, m.Key) and (origin.a, origin.b) == (0, 0)
    assert m.TARGET.final and not m.hits.final
    assert m.TARGET.type is ctypes.c_uint32
    m.TARGET.value = 9  # pending until load
    assert m.TARGET.value == 9
    with pytest.raises(OverflowError):
        m.TARGET.value = -(2**40)
    assert not m.__bpf_object__.loaded


def test_live_values_match_the_object(kernel: None) -> None:
    """After load every global reads back from the kernel maps at its offset."""
    m = bound()
    try:
        m.origin.value = m.Key(1, 2)  # pending: patched into the .bss image at load
        m.load()
        assert (m.TARGET.value, m.LIMIT.value, m.TAG.value) == (7, -5, b"abc")
        assert (m.scale.value, m.label.value, m.hits.value) == (3, b"hello", 0)
        assert (m.origin.value.a, m.origin.value.b) == (1, 2)
    finally:
        m.close()


def test_final_set_before_load_reaches_the_program(kernel: None) -> None:
    m = bound()
    try:
        m.TARGET.value = 1234
        m.TAG.value = b"xyz"
        r = m.put.test_run(ctx=PutArgs(1, 0, 1))  # loads
        assert r.ctx.out == 1234
        assert m.TARGET.value == 1234
        assert m.TAG.value == b"xyz"
        assert m.LIMIT.value == -5  # untouched neighbours keep their initial values
        with pytest.raises(AttributeError, match="Final"):
            m.TARGET.value = 5
        assert m.TARGET.value == 1234
    finally:
        m.close()


def test_mutable_globals_are_live(kernel: None) -> None:
    m = bound()
    try:
        m.put.test_run(ctx=PutArgs(1, 0, 1))
        m.put.test_run(ctx=PutArgs(2, 0, 1))
        assert m.hits.value == 2  # written by the program
        m.scale.value = 77  # read by the program
        assert m.put.test_run(ctx=PutArgs(3, 0, 1)).retval == 77
        assert m.hits.value == 3
        m.hits.value = 100
        m.put.test_run(ctx=PutArgs(3, 0, 1))
        assert m.hits.value == 101
        m.label.value = b"bye"
        assert m.label.value == b"bye"
        assert m.scale.value == 77  # neighbour not clobbered
        m.origin.value = m.Key(5, 6)
        assert (m.origin.value.a, m.origin.value.b) == (5, 6)
    finally:
        m.close()


def test_writes_survive_close_and_reload(kernel: None) -> None:
    m = bound()
    try:
        m.TARGET.value = 42
        m.load()
        m.scale.value = 8
        m.close()
        assert m.TARGET.value == 42
        m.load()
        assert m.TARGET.value == 42
        assert m.scale.value == 8
        assert m.put.test_run(ctx=PutArgs(1, 0, 1)).ctx.out == 42
        m.close()
        m.TARGET.value = 43  # after close, Final globals are settable again
        assert m.put.test_run(ctx=PutArgs(1, 0, 1)).ctx.out == 43
    finally:
        m.close()


def test_lookup_fallback_without_mmap(kernel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Maps that are not mmapable are read and written through key 0."""
    from bpfimport.runtime import libbpf as L

    monkeypatch.setattr(L, "BPF_F_MMAPABLE", 0)
    m = bound()
    try:
        m.put.test_run(ctx=PutArgs(1, 0, 1))
        assert m.hits.value == 1
        m.scale.value = 5
        assert m.put.test_run(ctx=PutArgs(1, 0, 1)).retval == 5
        assert m.TARGET.value == 7
        assert m.label.value == b"hello"
    finally:
        m.close()
