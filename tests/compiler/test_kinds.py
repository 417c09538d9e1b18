"""bpfimport/kinds.py is the one table of map and program kinds.  The runtime makes each map's
handle from the class its kind names; its section table (libbpf's, wider than the decorators)
must agree with the program kinds; and the kinds a .bpf.py can name are exactly the records."""

from __future__ import annotations

import pytest

import bpfimport.lang
import bpfimport.spec
from bpfimport.kinds import MAP_KINDS, PROGRAM_KINDS
from bpfimport.runtime import maps, program
from bpfimport.spec import MapSpec


def test_spec_re_exports_the_kinds_table() -> None:
    assert bpfimport.spec.MAP_KINDS is MAP_KINDS
    assert MapSpec("m", "HashMap", "u32", "u64", 8).map_kind is MAP_KINDS["HashMap"]


@pytest.mark.parametrize("name", sorted(MAP_KINDS))
def test_each_map_kind_is_a_lang_class_and_names_its_runtime_handle(name: str) -> None:
    kind = MAP_KINDS[name]
    assert kind.name == name and isinstance(getattr(bpfimport.lang, name), type)
    handle = maps.HANDLE_CLASSES[kind.handle]  # what make_map() builds for this kind
    assert isinstance(handle, type) and issubclass(handle, maps.Map)
    assert kind.family in ("keyed", "ring", "perf", "stack", "redirect") and kind.ops
    assert kind.events == (kind.family in ("ring", "perf"))


@pytest.mark.parametrize("name", sorted(MAP_KINDS))
def test_each_map_method_has_a_lowering(name: str) -> None:
    """Every op a kind lists is lowered by its family's table (codegen maps.py / events.py /
    stacks.py), so a kind cannot promise a method the compiler refuses."""
    from bpfimport.compiler.codegen import events
    from bpfimport.compiler.codegen import maps as cg_maps

    kind = MAP_KINDS[name]
    table = {"keyed": cg_maps.METHODS, "ring": events.EVENT_METHODS, "perf": events.EVENT_METHODS,
             "stack": {"get_stackid": None}, "redirect": {"redirect": None}}[kind.family]
    assert set(kind.ops) <= set(table)


@pytest.mark.parametrize("decorator", sorted(PROGRAM_KINDS))
def test_each_program_kind_agrees_with_the_runtime_section_table(decorator: str) -> None:
    kind = PROGRAM_KINDS[decorator]
    assert callable(getattr(bpfimport.lang, decorator))
    section = kind.section.format(*([kind.hooks[0]] if kind.hooks else ["a/b"] * kind.args))
    if kind.prog_type is not None:
        assert program.section_type(section) == kind.prog_type
        assert (kind.test_run in ("once", "ctx_in_place")) == (kind.prog_type in program._RUN_ONCE)
        assert (kind.test_run == "ctx_in_place") == (kind.prog_type in program._CTX_IN_PLACE)


@pytest.mark.parametrize("decorator", [d for d, k in PROGRAM_KINDS.items() if k.hooks])
def test_each_cgroup_hook_is_libbpfs_section_of_its_type(decorator: str) -> None:
    """libbpf reads the program type (and the expected attach type) from cgroup/HOOK: every
    hook a decorator takes must be libbpf's section of that type, as the runtime also says."""
    from bpfimport.runtime import libbpf as L

    kind = PROGRAM_KINDS[decorator]
    for hook in kind.hooks:
        section = kind.section.format(hook)
        tid = L.prog_type_by_section(section)
        assert tid is not None and L.prog_type_str(tid) == kind.prog_type, section
        assert program.section_type(section) == kind.prog_type, section
    assert program.section_type("cgroup/nonsense") is None  # left to libbpf


def test_immutable() -> None:
    with pytest.raises(AttributeError):
        MAP_KINDS["HashMap"].type_id = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match="unknown"):
        type(MAP_KINDS["HashMap"])(name="X", type_id=1, colour="red")
