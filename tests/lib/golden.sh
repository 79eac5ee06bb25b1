# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the golden-file suites (tests/cli, tests/libvirt). The caller has set
# GOLDEN (the golden dir), tmp (a scratch dir) and UPDATE (non-empty: rewrite goldens),
# and has run one case with its stdout in $tmp/out and its stderr in $tmp/err.

# golden_compare NAME WANT_RC RC: compare the case's exit status, stdout with
# $GOLDEN/NAME.out and stderr with $GOLDEN/NAME.err (absent: stderr must be empty);
# print what differs. Sets ok=1 when all match, ok=0 otherwise.
golden_compare() {
	if [ -n "$UPDATE" ]; then
		cp "$tmp/out" "$GOLDEN/$1.out"
		if [ -s "$tmp/err" ]; then cp "$tmp/err" "$GOLDEN/$1.err"; else rm -f "$GOLDEN/$1.err"; fi
	fi
	ok=1
	if [ "$3" -ne "$2" ]; then
		echo "FAIL $1: exit status $3, want $2"
		ok=0
	fi
	if ! diff -u "$GOLDEN/$1.out" "$tmp/out" >"$tmp/diff" 2>&1; then
		echo "FAIL $1: stdout differs from $GOLDEN/$1.out:"
		head -40 "$tmp/diff"
		ok=0
	fi
	if [ -f "$GOLDEN/$1.err" ]; then
		if ! diff -u "$GOLDEN/$1.err" "$tmp/err" >"$tmp/diff" 2>&1; then
			echo "FAIL $1: stderr differs from $GOLDEN/$1.err:"
			head -40 "$tmp/diff"
			ok=0
		fi
	elif [ -s "$tmp/err" ]; then
		echo "FAIL $1: unexpected stderr:"
		head -20 "$tmp/err"
		ok=0
	fi
}
