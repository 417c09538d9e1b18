#!/usr/bin/env bash
# Install the peers that benchmarks/bench.py compares bpfimport against.
# For benchmark runs on a developer machine (root, Debian 12), not for CI.
#
#   bash benchmarks/setup_peers.sh            # everything
#   PEERS_VENV=/opt/pbf bash benchmarks/setup_peers.sh
#
# What it installs:
#   - llvm-22 (opt/llc for pythonbpf, llvm-objdump for instruction counts)
#   - clang-22 and clang (the C baseline: clang -O2 -target bpf)
#   - libbpf-dev (bpf_helpers.h for the C baseline), bpftool if packaged
#   - a Python 3.12 venv with pythonbpf==0.2.0 (pythonbpf needs Python >= 3.12)
#   - a venv with this tree installed in setuptools' "compat" editable mode (a plain
#     path .pth): start-up like a regular install, without the ~20 ms import-hook
#     finder of a default `pip install -e`; bench.py runs bpfimport with it
#
#   bash benchmarks/setup_peers.sh --bcc      # only bcc, for benchmarks/events.py:
#     Debian's bpfcc-tools/python3-bpfcc (system Python) and linux-headers-amd64, whose two
#     halves (-common and -amd64) are merged into ~/.cache/bpfimport-peers/linux-headers,
#     where events.py points bcc ($BCC_KERNEL_SOURCE) when the running kernel has no headers
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"

if [ "${1:-}" = "--bcc" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q bpfcc-tools python3-bpfcc \
        linux-headers-amd64
    HEADERS="$HOME/.cache/bpfimport-peers/linux-headers"
    rm -rf "$HEADERS"
    mkdir -p "$HEADERS"
    common="$(ls -d /usr/src/linux-headers-*-common | sort -V | tail -1)"
    arch="${common%-common}-amd64"
    cp -a "$common/." "$HEADERS/"
    cp -a --remove-destination "$arch/." "$HEADERS/"
    /usr/bin/python3 -c "import bcc; print('bcc OK under', __import__('sys').version.split()[0])"
    echo "kernel headers for bcc: $HEADERS"
    exit 0
fi
BENCH_VENV="${BENCH_VENV:-$HOME/.cache/bpfimport-peers/bpfimport-venv}"

VENV="${PEERS_VENV:-$HOME/.cache/bpfimport-peers/pythonbpf-venv}"
PYTHONBPF_VERSION="${PYTHONBPF_VERSION:-0.2.0}"

if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    pkgs=(llvm-22 clang-22 clang libbpf-dev)
    if apt-cache show bpftool >/dev/null 2>&1; then
        pkgs+=(bpftool)
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}"
else
    echo "setup_peers.sh: no apt-get; install llvm >= 21, clang, libbpf headers by hand" >&2
fi

if [ ! -x "$BENCH_VENV/bin/python" ]; then
    python3 -m venv "$BENCH_VENV"
fi
"$BENCH_VENV/bin/pip" install -q -e "$REPO" --config-settings editable_mode=compat
echo "bpfimport bench venv: $BENCH_VENV"

# Find a Python >= 3.12: pyenv's versions first (pyenv shims on PATH may exist
# but refuse to run), then PATH; each candidate must actually run.
PY312=""
cands=()
if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root)"
    for v in "$root"/versions/3.12* "$root"/versions/3.13*; do
        cands+=("$v/bin/python3")
    done
fi
cands+=(python3.12 python3.13)
for cand in "${cands[@]}"; do
    if "$cand" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
        PY312="$cand"; break
    fi
done
if [ -z "$PY312" ]; then
    echo "setup_peers.sh: no Python >= 3.12 found; pythonbpf column will be skipped" >&2
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PY312" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q "pythonbpf==$PYTHONBPF_VERSION"
"$VENV/bin/python" -c "import pythonbpf, sys; print('pythonbpf OK in', sys.executable)"
echo "pythonbpf venv: $VENV   (bench.py finds it there, or set PYTHONBPF_PYTHON=$VENV/bin/python)"
echo "llvm-22 tools: /usr/lib/llvm-22/bin (bench.py puts it on PATH for pythonbpf)"
