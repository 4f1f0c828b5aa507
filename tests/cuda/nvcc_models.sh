#!/bin/sh
# nvcc_models.sh QCC MODE MODEL.onnx...: compile each model with qcc --target=cuda
# --requant=MODE, then its model.cu with nvcc for sm_75 and sm_90 in one call (-c: no GPU
# needed), with every host and device warning an error. Exit 77 (SKIP) without nvcc.
set -eu
qcc=$1 mode=$2
shift 2
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
if [ ! -x "$nvcc" ]; then
    echo "SKIP: no nvcc at $nvcc"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-nvcc-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0
for model in "$@"; do
    [ -f "$model" ] || { echo "SKIP $model: absent"; continue; }
    "$qcc" "$model" --target=cuda --requant="$mode" -o "$tmp/model.cu"
    if "$nvcc" -c -O2 -gencode arch=compute_75,code=sm_75 -gencode arch=compute_90,code=sm_90 \
        -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror "$tmp/model.cu" \
        -o "$tmp/model.o" >"$tmp/log" 2>&1; then
        echo "PASS $model ($mode): nvcc sm_75 + sm_90"
    else
        echo "FAIL $model ($mode):"
        head -20 "$tmp/log"
        status=1
    fi
done
exit $status
