#!/usr/bin/env bash
# run_neon.sh: one golden case through the NEON backend (suite 'neon'). The case is built
# three ways with qcc test: portable C on this x86 machine (-DQCC_NO_SIMD: the reference),
# then --target=neon with aarch64-linux-gnu-gcc for armv8.2-a+dotprod (SDOT paths) and for
# armv8-a (vmull/vpadal paths), run under qemu-aarch64. Each build must pass the golden bar
# (qcc test's comparison with the ONNX Runtime outputs) and the two NEON builds' raw outputs
# must equal the reference's byte for byte, for every test_data_set.
# Usage: run_neon.sh QCC CASE_DIR [qcc test options: --requant=, --model, --top1...]
# Exit 77 (SKIP) without the cross compiler, qemu or the case's data.
set -u
. "$(dirname "$0")/../compare_outputs.sh"
qcc=$1 dir=$2
shift 2
cross=aarch64-linux-gnu-gcc
sysroot=/usr/aarch64-linux-gnu
for tool in "$cross" qemu-aarch64; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
[ -d "$sysroot/lib" ] || { echo "SKIP: no aarch64 libc in $sysroot"; exit 77; }
[ -d "$dir" ] || { echo "SKIP: no case directory $dir"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-neon-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# qcc test prints PASS/FAIL per case; its exit status is the verdict (77: data absent).
mkdir "$tmp/ref"
"$qcc" test "$dir" "$@" --cflags -DQCC_NO_SIMD --save-outputs "$tmp/ref"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: the x86 portable C reference build failed"; exit 1; }
nref=$(ls "$tmp/ref" | wc -l)
[ "$nref" -gt 0 ] || { echo "FAIL: the reference wrote no outputs"; exit 1; }

status=0
for march in armv8.2-a+dotprod armv8-a; do
    out="$tmp/$march"
    mkdir "$out"
    if ! "$qcc" test "$dir" "$@" --target=neon --cc "$cross" --cflags "-march=$march" \
            --runner "qemu-aarch64 -L $sysroot" --save-outputs "$out"; then
        echo "FAIL: --target=neon -march=$march (golden bar, build or run)"
        status=1
        continue
    fi
    compare_outputs "$tmp/ref" "$out" "neon -march=$march" "x86 portable C" || status=1
done
exit $status
