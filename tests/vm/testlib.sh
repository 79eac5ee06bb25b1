#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/testlib.sh — helpers shared by the guest suites (guest-*.sh); they need $MDEVD and $work.
say() { printf '%s\n' "$*"; }
# md ARGS... -> runs mdevd; stdout in $work/out, stderr in $work/err, status in $rc
md() {
	rc=0
	timeout 120 "$MDEVD" "$@" >"$work/out" 2>"$work/err" || rc=$?
	say "\$ mdevd $* -> exit $rc"
	sed 's/^/  out: /' "$work/out" | head -n 40
	sed 's/^/  err: /' "$work/err" | head -n 20
}
# run_one PREFIX FUNCTION DESCRIPTION: one test of a guest suite, in a subshell with its
# output in $work/log; counts it in $n, $passed, $failed and $failures, prints TAP-style
# "ok N - ..." / "not ok N - ..." and keeps the log as $RESULTS/PREFIX-N-FUNCTION.log. A
# suite may set RUN_NOTES (a grep pattern: the log lines shown after "ok"), RUN_TAIL (log
# lines shown after "not ok", default 60) and define run_failed (called after them).
# Returns 1, running nothing, when FUNCTION does not match $filter.
run_one() {
	local prefix=$1 t0=$SECONDS st=0
	shift
	[[ $1 =~ $filter ]] || return 1
	n=$((n + 1))
	("$1") >"$work/log" 2>&1 || st=$?
	if [ $st = 0 ]; then
		passed=$((passed + 1))
		say "ok $n - $2 ($((SECONDS - t0))s)"
		[ -z "${RUN_NOTES:-}" ] || grep -- "$RUN_NOTES" "$work/log" || true
	else
		failed=$((failed + 1))
		failures+=("$n - $2")
		say "not ok $n - $2"
		tail -n "${RUN_TAIL:-60}" "$work/log" | sed 's/^/#   /'
		! declare -F run_failed >/dev/null || run_failed
	fi
	cp "$work/log" "$RESULTS/$prefix-$n-$1.log" 2>/dev/null || true
}
# run_summary: the failed tests again, then "N passed, N failed"; returns 1 on a failure.
run_summary() {
	local f
	if [ "$failed" -gt 0 ]; then
		say "# failed:"
		for f in "${failures[@]}"; do say "#   $f"; done
	fi
	say "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
# wait_for SECONDS COMMAND..., wait_exit SECONDS PID: tests/wait.sh.
. "$REPO/tests/wait.sh"
# Each test runs in a subshell: fail ends the test.
fail() { say "FAIL: $*"; exit 1; }
expect_rc() { # expect_rc WANT [WANT...]
	local w
	for w in "$@"; do [ "$rc" = "$w" ] && return 0; done
	fail "mdevd exited $rc, expected $*"
}
