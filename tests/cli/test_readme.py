"""README's two commands are the ones a newcomer runs; CI must run the second verbatim."""

from __future__ import annotations

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_two_commands() -> None:
    demo, tests = readme_commands()[:2]
    assert "pip install -e ." in demo and "examples/syscount.py" in demo
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    tests = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert "BPFIMPORT_REQUIRE_KERNEL=1" in ci
    assert "mount -t tracefs" in ci
