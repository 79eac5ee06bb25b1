#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/testlib.sh — helpers shared by guest-tests.sh and guest-libvirt.sh; they need $MDEVD and $work.
say() { printf '%s\n' "$*"; }
# md ARGS... -> runs mdevd; stdout in $work/out, stderr in $work/err, status in $rc
md() {
	rc=0
	timeout 120 "$MDEVD" "$@" >"$work/out" 2>"$work/err" || rc=$?
	say "\$ mdevd $* -> exit $rc"
	sed 's/^/  out: /' "$work/out" | head -n 40
	sed 's/^/  err: /' "$work/err" | head -n 20
}
# Each test runs in a subshell: fail ends the test.
fail() { say "FAIL: $*"; exit 1; }
expect_rc() { # expect_rc WANT [WANT...]
	local w
	for w in "$@"; do [ "$rc" = "$w" ] && return 0; done
	fail "mdevd exited $rc, expected $*"
}
