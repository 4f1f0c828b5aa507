#!/bin/sh
# expect_error.sh QCC MODEL REGEX: the model must be rejected cleanly: exit status exactly 1
# (not 0, not a crash) and a diagnostic matching the extended regex REGEX (node and reason).
# Used by the regress/ cases whose correct outcome is a diagnostic, not wrong numbers.
set -u
[ $# -eq 3 ] || { echo "usage: $0 QCC MODEL REGEX" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcc-regress.XXXXXX") || exit 2
err=$("$1" "$2" -o "$tmp/x.c" 2>&1 >/dev/null)
rc=$?
rm -rf "$tmp"
if [ "$rc" -ne 1 ]; then
    echo "FAIL $2: exit $rc, want 1"; echo "$err"; echo "0 passed, 1 failed"; exit 1
fi
if ! printf '%s\n' "$err" | grep -Eq "$3"; then
    echo "FAIL $2: diagnostic does not match '$3':"; echo "$err"; echo "0 passed, 1 failed"; exit 1
fi
echo "PASS $2: $err"
echo "1 passed, 0 failed"
