"""The command line and the import hook on hostile inputs: each is one line and a non-zero exit.

A FIFO (named on the command line, or met by compileall's walk) used to hang
``compile``, ``ir``, ``run`` and ``compileall``; ``compile /dev/zero`` read
without end; a missing file for ``run``, a full or closed stdout and a
non-UTF-8 file name gave tracebacks.  Every case runs the real command line
in a subprocess with a timeout, so a hang fails the test instead of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpfimport import cache
from tests.support import TRIVIAL, child, child_env

TIMEOUT = 30  # a hang is a failure, not a stuck suite


def cli(*args: str, cwd: Path, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfimport", *args], cwd=cwd, env=child_env(),
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)


def assert_one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    """Exit status 1, one line on stderr, no traceback, and the words that say what is wrong."""
    err = r.stderr
    assert r.returncode == 1, (r.returncode, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal compiler error" not in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.bpf.py"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["compile", "ir", "run"])
def test_a_fifo_is_refused_not_waited_on(fifo: Path, command: str) -> None:
    r = cli(command, fifo.name, cwd=fifo.parent)
    assert_one_line_error(r, "pipe.bpf.py", "not a regular file (a FIFO)")


def test_compileall_given_a_fifo_refuses_it(fifo: Path) -> None:
    r = cli("compileall", fifo.name, cwd=fifo.parent)
    assert_one_line_error(r, "pipe.bpf.py", "a FIFO")


def test_compileall_walk_skips_a_fifo_and_compiles_the_rest(fifo: Path) -> None:
    (fifo.parent / "good.bpf.py").write_text(TRIVIAL)
    r = cli("compileall", ".", cwd=fifo.parent)
    assert_one_line_error(r, "pipe.bpf.py", "a FIFO")
    assert "good.bpf.py: compiled" in r.stdout
    assert os.path.isfile(cache.cache_path(str(fifo.parent / "good.bpf.py")))


@pytest.mark.parametrize("command", ["compile", "ir"])
def test_a_device_is_refused_not_read_without_end(tmp_path: Path, command: str) -> None:
    r = cli(command, "/dev/zero", cwd=tmp_path)
    assert_one_line_error(r, "/dev/zero", "a character device")


def test_a_source_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.bpf.py"
    with open(big, "wb") as f:
        f.truncate(cache.MAX_SOURCE_BYTES + 1)  # sparse: costs no disk
    r = cli("compile", big.name, cwd=tmp_path)
    assert_one_line_error(r, "big.bpf.py", "larger than the 8 MiB limit")


def test_a_source_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "edge.bpf.py"
    path.write_bytes(b"#" * (cache.MAX_SOURCE_BYTES - 1) + b"\n")
    assert len(cache.read_source(str(path))) == cache.MAX_SOURCE_BYTES


def test_run_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    r = cli("run", "nope.bpf.py", cwd=tmp_path)
    assert_one_line_error(r, "nope.bpf.py", "No such file or directory")


def test_ir_into_a_full_device_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.bpf.py").write_text(TRIVIAL)
    with open("/dev/full", "w") as full:
        r = cli("ir", "t.bpf.py", cwd=tmp_path, stdout=full.fileno())
    assert_one_line_error(r, "cannot write the output", "No space left on device")


def test_ir_with_stdout_closed_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.bpf.py").write_text(TRIVIAL)
    r = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "bpfimport", "ir", "t.bpf.py"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert_one_line_error(r, "cannot write the output: stdout is closed")


def test_a_non_utf8_file_name_is_a_clear_error(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.bpf.py")  # Latin-1 bytes: not UTF-8
    (tmp_path / name).write_text(TRIVIAL)
    r = subprocess.run([sys.executable, "-m", "bpfimport", "compile", os.fsencode(name)],
                       cwd=tmp_path, env=child_env(), capture_output=True, timeout=TIMEOUT)
    r.stderr = r.stderr.decode("utf-8", "replace")
    assert_one_line_error(r, "is not valid UTF-8", "rename")
    assert not any(p.name.endswith(".o") for p in tmp_path.iterdir())


def test_import_of_a_fifo_is_a_clear_import_error(fifo: Path) -> None:
    r = child(
        """
        try:
            import pipe_bpf
        except ImportError as e:
            print(type(e).__name__, e)
        """,
        fifo.parent,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ImportError cannot import pipe_bpf from ")
    assert "not a regular file (a FIFO)" in r.stdout


def test_import_of_an_oversized_source_is_a_clear_import_error(tmp_path: Path) -> None:
    with open(tmp_path / "huge.bpf.py", "wb") as f:
        f.truncate(cache.MAX_SOURCE_BYTES + 1)
    r = child(
        """
        try:
            import huge_bpf
        except ImportError as e:
            print(type(e).__name__, e)
        """,
        tmp_path,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    assert "ImportError cannot import huge_bpf" in r.stdout
    assert "larger than the 8 MiB limit" in r.stdout
