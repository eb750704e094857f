#!/bin/sh
# Run every unit test binary in BUILD/t and print one total line.
B=${1:-build}
passed=0; failed=0; bad=0
for t in "$B"/t/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v ' passed, ' >&2
    line=$(printf '%s\n' "$out" | grep ' passed, .* failed' | tail -1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    if [ -z "$p" ] || [ $rc -ne 0 -a "${f:-0}" -eq 0 ]; then
        echo "$t: crashed or printed no tally (exit $rc)" >&2; bad=$((bad+1))
    fi
    passed=$((passed+${p:-0})); failed=$((failed+${f:-0}))
    echo "  $(basename "$t"): ${p:-0} passed, ${f:-0} failed"
done
failed=$((failed+bad))
echo "unit: $passed passed, $failed failed"
[ $failed -eq 0 ]
