#!/usr/bin/env bash
# requant_check.sh QCC MODEL.onnx SRC_DIR: build tests/neon/requant_neon.c around MODEL
# compiled with --target=neon, for aarch64 (armv8-a), and run it under qemu. SKIP (77)
# without the cross compiler or qemu.
set -u
qcc=$1 model=$2 src=$3
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-neonrq-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
"$qcc" "$model" --target=neon -o "$tmp/model.c" || exit 1
aarch64-linux-gnu-gcc -std=c99 -O2 -Wall -Wextra -Werror -march=armv8-a -I"$tmp" \
    -DMODEL_C='"model.c"' -Wno-unused-function "$src/requant_neon.c" -o "$tmp/rq" || exit 1
qemu-aarch64 -L /usr/aarch64-linux-gnu "$tmp/rq"
