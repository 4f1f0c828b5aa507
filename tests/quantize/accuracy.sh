#!/bin/sh
# accuracy.sh QCC CC ACCURACY_C INPUTS.npy LABELS.npy MIN NAME -- QCC-ARGS...
# Compiles a float model with qcc (QCC-ARGS: the model and --qat/--calibrate options), builds
# the accuracy harness (tests/accuracy/accuracy.c, C99 -O2) around it, classifies the labelled
# digits and passes when at least MIN are right. Done at test time, not as build targets, so
# a model that does not compile fails its own test instead of the build.
set -u
qcc=$1 cc=$2 src=$3 inputs=$4 labels=$5 min=$6 name=$7
shift 7
[ "$1" = "--" ] && shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$qcc" "$@" -o "$tmp/model.c" --name model || { echo "$name: qcc failed" >&2; exit 1; }
# shellcheck disable=SC2086
$cc -std=c99 -O2 -I"$tmp" -DACC_MODEL_H='"model.h"' -o "$tmp/acc" "$src" "$tmp/model.c" -lm ||
    { echo "$name: cc failed" >&2; exit 1; }
# The harness checks an exact count: ask for 0 and read the count it prints.
out=$("$tmp/acc" "$name" "$inputs" "$labels" 0)
echo "$out"
correct=$(printf '%s\n' "$out" | sed -n 's/.*: \([0-9][0-9]*\)\/[0-9][0-9]* correct.*/\1/p' |
          tail -n 1)
if [ -z "$correct" ]; then
    echo "$name: error: no count in the harness output" >&2
    exit 1
fi
if [ "$correct" -lt "$min" ]; then
    echo "$name: FAIL: $correct correct, need at least $min" >&2
    exit 1
fi
echo "$name: PASS: $correct >= $min"
