#!/usr/bin/env bash
# requant_check_x86.sh QCC MODEL.onnx SRC_DIR: build tests/simd/requant_x86.c around MODEL
# compiled by qcc, with -O2 -march=native, and run it. SKIP (77) off x86-64 or where the
# compiler does not target AVX-512 VNNI.
set -u
qcc=$1 model=$2 src=$3
case "$(uname -m)" in x86_64 | amd64) ;; *) echo "SKIP: not an x86-64 host"; exit 77 ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-rqx86-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
"$qcc" "$model" -o "$tmp/model.c" || exit 1
${CC:-cc} -std=c11 -O2 -march=native -Wall -Wextra -Werror -I"$tmp" -DMODEL_C='"model.c"' \
    -Wno-unused-function "$src/requant_x86.c" -o "$tmp/rq" -lm || exit 1
"$tmp/rq"
