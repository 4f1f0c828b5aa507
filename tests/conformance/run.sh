#!/bin/sh
# run.sh: the conformance suite. Runs `qcc test --classify --freeze-params` on every ONNX
# node test whose op qcc is meant to support (an explicit prefix list, below) and prints
# per-op and per-source counts, then "N passed, M failed, K unsupported". Exit 0 if nothing
# failed, 1 otherwise, 77 if none of the data folders exists (meson: SKIP).
#
# usage: run.sh QCC debian|shared [DATA_DIR]
#   debian: /usr/share/libonnx-testdata/data/node (Debian's libonnx-testdata), or DATA_DIR
#   shared: DATA_DIR/conformance/onnx-node and DATA_DIR/conformance/contrib-ops/onnx2c
#           (DATA_DIR: the shared/ folder; contrib tests compare integers within 1)
# Environment: QCC_TEST_JOBS (parallel qcc processes, default: nproc), QCC_TEST_ARGS (extra
# options for qcc test, e.g. --requant=float or --sanitize).
set -u
qcc=$1
mode=$2
data=${3:-}
jobs=${QCC_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
work=$(mktemp -d "${TMPDIR:-/tmp}/qcc-conf-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

# The op a node test exercises, from its directory name; empty if out of scope. Out of scope
# on purpose: Constant, Identity, Cast, Shape, Gather, ConstantOfShape, Tanh, Round,
# Reduce*, Max, Min, Div (plumbing or ops qcc only folds), and `_expanded` function bodies
# except DynamicQuantizeLinear's.
op_of() {
    case $1 in
    *_expanded) case $1 in test_dynamicquantizelinear*) ;; *) return ;; esac ;;
    esac
    case $1 in
    test_conv_*|test_basic_conv_*) echo Conv ;;
    test_convtranspose*) echo ConvTranspose ;;
    test_convinteger*) echo ConvInteger ;;
    test_matmulinteger*) echo MatMulInteger ;;
    test_matmul_*) echo MatMul ;;
    test_gemm_*) echo Gemm ;;
    test_batchnorm_*) echo BatchNormalization ;;
    test_add|test_add_*) echo Add ;;
    test_sub|test_sub_*) echo Sub ;;
    test_mul|test_mul_*) echo Mul ;;
    test_relu) echo Relu ;;
    test_clip|test_clip_*) echo Clip ;;
    test_leakyrelu*) echo LeakyRelu ;;
    test_hardsigmoid*) echo HardSigmoid ;;
    test_hardswish*) echo HardSwish ;;
    test_sigmoid*) echo Sigmoid ;;
    test_maxpool_*) echo MaxPool ;;
    test_averagepool_*) echo AveragePool ;;
    test_globalaveragepool*) echo GlobalAveragePool ;;
    test_globalmaxpool*) echo GlobalMaxPool ;;
    test_softmax_cross_entropy*) ;;
    test_softmax_*) echo Softmax ;;
    test_concat_*) echo Concat ;;
    test_reshape_*) echo Reshape ;;
    test_flatten_*) echo Flatten ;;
    test_squeeze*) echo Squeeze ;;
    test_unsqueeze*) echo Unsqueeze ;;
    test_transpose_*) echo Transpose ;;
    test_constant_pad*|test_edge_pad|test_reflect_pad|test_wrap_pad|test_pad*) echo Pad ;;
    test_resize_*) echo Resize ;;
    test_slice*) echo Slice ;;
    test_quantizelinear*) echo QuantizeLinear ;;
    test_dequantizelinear*) echo DequantizeLinear ;;
    test_dynamicquantizelinear*) echo DynamicQuantizeLinear ;;
    test_qlinearconv*) echo QLinearConv ;;
    test_qlinearmatmul*) echo QLinearMatMul ;;
    test_qgemm*) echo QGemm ;;
    test_qlinearadd*) echo QLinearAdd ;;
    test_qlinearmul*) echo QLinearMul ;;
    test_qlinearaveragepool*) echo QLinearAveragePool ;;
    test_qlinearsoftmax*) echo QLinearSoftmax ;;
    esac
}

# run_source LABEL DIR [qcc test options...]: every in-scope test of DIR, split over $jobs
# qcc processes; result lines go to $work/LABEL.res as "OP RESULT NAME: detail".
found=0
run_source() {
    label=$1
    dir=$2
    shift 2
    [ -d "$dir" ] || { echo "SKIP $label: $dir not found"; return; }
    found=$((found + 1))
    : > "$work/$label.list"
    for t in "$dir"/test_*; do
        [ -d "$t" ] || continue
        op=$(op_of "${t##*/}")
        [ -n "$op" ] && echo "$t" >> "$work/$label.list"
    done
    n=$(wc -l < "$work/$label.list")
    per=$(( (n + jobs - 1) / jobs ))
    [ "$per" -gt 0 ] || per=1
    split -l "$per" "$work/$label.list" "$work/$label.chunk."
    for c in "$work/$label".chunk.*; do
        [ -f "$c" ] || continue
        # shellcheck disable=SC2046,SC2086
        "$qcc" test --classify --freeze-params ${QCC_TEST_ARGS:-} "$@" $(cat "$c") > "$c.out" 2> "$c.err" &
    done
    wait
    cat "$work/$label".chunk.*.out 2>/dev/null | grep -E '^(PASS|FAIL|UNSUPPORTED) ' |
        while read -r res name rest; do
            t=${name%:}
            echo "$(op_of "${t##*/}") $res $t: $rest"
        done > "$work/$label.res"
    grep -E '^(FAIL|UNSUPPORTED) ' "$work/$label".chunk.*.out | sed 's/^[^:]*:/  /' | sort
    p=$(grep -c ' PASS ' "$work/$label.res")
    f=$(grep -c ' FAIL ' "$work/$label.res")
    u=$(grep -c ' UNSUPPORTED ' "$work/$label.res")
    echo "source $label ($dir): $p passed, $f failed, $u unsupported (of $n)"
    # a qcc that crashed mid-chunk prints nothing for the rest of it: those count as failed
    lost=$((n - p - f - u))
    if [ "$lost" -ne 0 ]; then
        echo "source $label: $lost tests gave no result line (qcc crashed?); counted as failed"
        cat "$work/$label".chunk.*.err 2>/dev/null | tail -5
    fi
    echo "$lost" > "$work/$label.lost"
}

case $mode in
debian)
    run_source node "${data:-/usr/share/libonnx-testdata/data/node}" ;;
shared)
    [ -n "$data" ] || { echo "run.sh: shared needs DATA_DIR"; exit 2; }
    run_source onnx-node "$data/conformance/onnx-node"
    run_source contrib "$data/conformance/contrib-ops/onnx2c" --int-tol 1 ;;
*)
    echo "usage: run.sh QCC debian|shared [DATA_DIR]"; exit 2 ;;
esac
[ "$found" -gt 0 ] || { echo "0 passed, 0 failed, 0 unsupported, no data"; exit 77; }

echo "per op (passed/failed/unsupported):"
cat "$work"/*.res | awk '{ k[$1]; c[$1 " " $2]++ }
    END { for (op in k) printf "  %-22s %3d %3d %3d\n", op, c[op " PASS"], c[op " FAIL"],
                                 c[op " UNSUPPORTED"] }' | sort
P=$(cat "$work"/*.res | grep -c ' PASS ')
F=$(( $(cat "$work"/*.res | grep -c ' FAIL ') + $(cat "$work"/*.lost 2>/dev/null | awk '{ s += $1 } END { print s + 0 }') ))
U=$(cat "$work"/*.res | grep -c ' UNSUPPORTED ')
echo "$P passed, $F failed, $U unsupported"
[ "$F" -eq 0 ]
