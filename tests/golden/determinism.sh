#!/bin/sh
# determinism.sh QCC MODEL...: compile each model twice (in different directories, under
# different output names' folders) and require identical bytes, and no trace of the machine
# in the output: no build path, no date. Prints "N passed, M failed".
set -u
qcc=$1
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/qcc-det-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
pass=0 fail=0
for model in "$@"; do
    mkdir -p "$work/a" "$work/b/deeper"
    if "$qcc" "$model" -o "$work/a/model.c" >/dev/null 2>&1 &&
       "$qcc" "$model" -o "$work/b/deeper/model.c" >/dev/null 2>&1 &&
       cmp -s "$work/a/model.c" "$work/b/deeper/model.c" &&
       cmp -s "$work/a/model.h" "$work/b/deeper/model.h" &&
       ! grep -q -e "$work" -e "$(dirname "$model")" -e "$(date +%Y-%m-%d)" \
           "$work/a/model.c" "$work/a/model.h"; then
        pass=$((pass + 1))
    else
        echo "FAIL $model: output differs between runs or names a path/date"
        fail=$((fail + 1))
    fi
    rm -rf "$work/a" "$work/b"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
