#!/bin/sh
# emu_barrier.sh SRCDIR: build tests/cuda/emu_barrier.cpp with the emulation header and run
# it (a kernel with a removed __syncthreads or a wrong tile index must fail). 77 without c++.
set -eu
src=$1
cxx=${CXX:-c++}
command -v "$cxx" >/dev/null 2>&1 || { echo "SKIP: no C++ compiler"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-emu-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$cxx" -std=c++17 -O2 -Wall -Wextra -Werror -include "$src/runtime_min/qcc_cuda_emu.h" \
    "$src/tests/cuda/emu_barrier.cpp" -o "$tmp/emu_barrier"
"$tmp/emu_barrier"
