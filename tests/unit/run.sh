#!/bin/sh
# Run each cmocka test binary given, then print the closing "N passed, N failed" line.
# Exit non-zero when any test failed or a binary crashed (a sanitizer report is a crash).
cd "$(dirname "$0")/../.." || exit 1
passed=0
failed=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^\[  (FAILED|  ERROR)|^\[  PASSED|ERROR:|runtime error|LeakSanitizer|AddressSanitizer' || true
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "$t: exited $rc without a cmocka failure count (crash or sanitizer report):"
		printf '%s\n' "$out" | tail -30
		failed=$((failed + 1))
	fi
	echo "$(basename "$t"): ${p:-0} passed, ${f:-0} failed"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
