# compare_outputs.sh: sourced by tests/simd/run_simd.sh and tests/neon/run_neon.sh.
# compare_outputs REF OUT LABEL WHAT: every raw output REF/*.bin (qcc test --save-outputs)
# must equal OUT's file of the same name byte for byte. Prints a FAIL line per difference and
# "LABEL: k/n outputs identical to WHAT"; returns 1 if any differs.
compare_outputs() {
    local ref=$1 out=$2 label=$3 what=$4 same=0 total=0 rc=0 f b
    for f in "$ref"/*.bin; do
        b=$(basename "$f")
        total=$((total + 1))
        if cmp -s "$f" "$out/$b"; then
            same=$((same + 1))
        else
            echo "FAIL: $label: $b differs from the $what output:"
            cmp "$f" "$out/$b" 2>&1 | head -1
            rc=1
        fi
    done
    echo "$label: $same/$total outputs identical to $what"
    return $rc
}
