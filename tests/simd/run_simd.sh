#!/usr/bin/env bash
# run_simd.sh: one case through the x86 SIMD paths of the generated C (suite 'simd'). The
# golden suite builds model.c with the default flags (-O2, no -march), which compiles only
# the portable C; here the same case is built three times with qcc test: -O3 -march=native
# (AVX-512 VNNI paths on CPUs that have them), -O3 -march=native -mno-avx512f (the AVX2
# paths) and -O3 -march=native -DQCC_NO_SIMD (portable C, the reference); with
# QCC_SIMD_NOVNNI=1 also -O3 -march=native -mno-avx512vnni (AVX-512 without VNNI), with
# QCC_SIMD_REDO=1 also -DQCC_TEST_EXACT_REDO (every tie-checked store redone exactly). Each build
# must pass the bar given by the options (the golden outputs), and the raw outputs of the
# SIMD builds must equal the portable build's byte for byte on every test_data_set.
# Usage: run_simd.sh QCC CASE_DIR [qcc test options: --requant=, --model, --top1...]
# Exit 77 (SKIP) on a non-x86 host or without the case's data.
set -u
. "$(dirname "$0")/../compare_outputs.sh"
qcc=$1 dir=$2
shift 2
case "$(uname -m)" in x86_64 | amd64) ;; *) echo "SKIP: not an x86-64 host"; exit 77 ;; esac
[ -d "$dir" ] || { echo "SKIP: no case directory $dir"; exit 77; }
grep -q avx512_vnni /proc/cpuinfo 2>/dev/null ||
    echo "note: this CPU has no AVX-512 VNNI; -march=native builds another path"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-simd-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/ref"
"$qcc" test "$dir" "$@" --cflags "-O3 -march=native -DQCC_NO_SIMD" --save-outputs "$tmp/ref"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: the portable C build failed"; exit 1; }
nref=$(ls "$tmp/ref" | wc -l)
[ "$nref" -gt 0 ] || { echo "FAIL: the reference wrote no outputs"; exit 1; }

status=0
variants=("native:-O3 -march=native" "avx2:-O3 -march=native -mno-avx512f")
# QCC_SIMD_NOVNNI=1: also AVX-512 without VNNI (Skylake-SP), the depthwise kernels' third path
[ -n "${QCC_SIMD_NOVNNI:-}" ] && variants+=("novnni:-O3 -march=native -mno-avx512vnni")
# QCC_SIMD_REDO=1: also with every checked float store written again by its exact form
# (QCC_TEST_EXACT_REDO), the path the tiles near a rounding tie take (~1% of them)
[ -n "${QCC_SIMD_REDO:-}" ] && variants+=("redo:-O3 -march=native -DQCC_TEST_EXACT_REDO")
for variant in "${variants[@]}"; do
    name=${variant%%:*} flags=${variant#*:}
    mkdir "$tmp/$name"
    if ! "$qcc" test "$dir" "$@" --cflags "$flags" --save-outputs "$tmp/$name"; then
        echo "FAIL: $flags (golden bar, build or run)"
        status=1
        continue
    fi
    compare_outputs "$tmp/ref" "$tmp/$name" "$flags" "portable C" || status=1
done
exit $status
