#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/wait.sh — the one way a shell test waits, sourced by tests/daemon/run.sh,
# tests/k8s/apiserver.sh and (through tests/vm/testlib.sh) every guest suite.
#
# Every wait is for an event; its SECONDS are only for hangs. The deadline is wall-clock
# time ($SECONDS), never a count of polls: a poll (a fork and exec of sleep and of the
# probe) takes several times its interval on a loaded machine, and under TCG a counted
# deadline of 120 s lasted over six minutes.

# wait_for SECONDS COMMAND... -> 0 as soon as COMMAND succeeds (polled every 0.1 s), 1 when
# SECONDS pass first. COMMAND's output is the caller's to redirect.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# wait_exit SECONDS PID -> 0 as soon as PID is gone (reaped or not a child), 1 when it is
# still there after SECONDS.
wait_exit() {
	wait_for "$1" _wait_gone "$2"
}
_wait_gone() { ! kill -0 "$1" 2>/dev/null; }
