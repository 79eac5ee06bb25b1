#!/bin/sh
# The device-plugin benchmarks of issue 3 (Allocate latency, change -> ListAndWatch, idle
# RSS and wakeups): builds the C clients (tests/bench/dp-alloc.c, dp-watch.c: gRPC core C
# API, not Python, not mdevd's code) and runs tests/bench/dp-bench.py. Numbers, no asserts.
#   tests/bench/dp-bench.sh [--doc] [--idle SECONDS] [--changes N] [--calls N] [--env VAR=VALUE]...
#   tests/bench/dp-bench.sh --closed ROUNDS [--calls N]
# --doc is what `make bench` runs: it waits for a quiet machine (below), runs the bench on the
# fixture tree, then the device-plugin tests of tests/vm/guest-daemon.sh in the real-kernel
# guest (uevent -> ListAndWatch; needs root, like the VM harness), and writes both into the
# dp-bench section of docs/benchmarks.md (tests/bench/dp-report.py). Without --doc only the
# fixture-tree bench runs and dp-report.py prints its verdicts (the two targets stated
# against the floor server of the same run: Allocate p99 mdevd / floor <= 1.10, idle
# wakeups mdevd - floor = 0; the paced rate up to which p99 < 1 ms holds). A missed target
# is written as "TARGET MISSED" and does not fail the bench; a failed run does, and then
# the document is left as it was.
# Environment: MDEVD (default ./mdevd/mdevd), BUILD (default build/release: the generated
# protobuf-c code of mdevd/kubernetes/deviceplugin.proto; `make` writes it), BENCH_DOC (default
# docs/benchmarks.md). With --doc: BENCH_MAX_LOAD (default 0.5) and BENCH_LOAD_WAIT (default
# 600): wait up to that many seconds for the 1-minute load average to fall to BENCH_MAX_LOAD,
# then run anyway (the report says so).
set -eu
cd "$(dirname "$0")/../.."
MDEVD=${MDEVD:-$(pwd)/mdevd/mdevd}
BUILD=${BUILD:-build/release}
CC=${CC:-cc}
GEN=$BUILD/gen
OUT=$BUILD/bench
doc=
if [ "${1:-}" = --doc ]; then
	doc=${BENCH_DOC:-docs/benchmarks.md}
	shift
fi
[ -x "$MDEVD" ] && [ -f "$GEN/mdevd/kubernetes/deviceplugin.pb-c.c" ] || {
	echo "dp-bench: run 'make' first" >&2
	exit 1
}
mkdir -p "$OUT"
WARN="-Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers"
for p in dp-alloc dp-watch; do
	# shellcheck disable=SC2046
	$CC -std=gnu11 -O2 $WARN -D_GNU_SOURCE -I"$GEN" -o "$OUT/$p" "tests/bench/$p.c" \
		"$GEN/mdevd/kubernetes/deviceplugin.pb-c.c" $(pkg-config --cflags --libs grpc_unsecure libprotobuf-c) \
		-lgpr -pthread
done
load() { cut -d' ' -f1-3 /proc/loadavg; }
machine() {
	echo "dp-bench: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) CPUs," \
		"kernel $(uname -r), load $(load)"
}
if [ "${1:-}" = --closed ]; then # the closed-loop Allocate comparison alone (dp-bench.py)
	machine
	exec /usr/bin/python3 tests/bench/dp-bench.py "$MDEVD" "$OUT" "$@"
fi
if [ -z "$doc" ]; then
	machine
	/usr/bin/python3 tests/bench/dp-bench.py "$MDEVD" "$OUT" "$@" --json "$OUT/dp-bench.json"
	exec /usr/bin/python3 tests/bench/dp-report.py --json "$OUT/dp-bench.json"
fi

# --- make bench: a quiet machine, the fixture bench, the real kernel, the report ----------
max=${BENCH_MAX_LOAD:-0.5}
limit=${BENCH_LOAD_WAIT:-600}
waited=0
above() { awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$max" 'BEGIN { exit !(l > m) }'; }
quiet() { # quiet WHAT: wait (within what is left of BENCH_LOAD_WAIT) for the load to fall
	if above && [ "$waited" -lt "$limit" ]; then
		echo "dp-bench: load average $(load) is above $max: waiting before $1" \
			"(BENCH_MAX_LOAD, BENCH_LOAD_WAIT: $((limit - waited)) s left)"
		while above && [ "$waited" -lt "$limit" ]; do
			sleep 15
			waited=$((waited + 15))
		done
	fi
	if above; then
		echo "dp-bench: load average still $(load): running $1 anyway (the report says so)"
	fi
	return 0
}
idle_ticks() { awk '/^cpu / { print $5 + $6 }' /proc/stat; }
quiet "the fixture-tree bench"
machine
load0=$(load)
/usr/bin/python3 tests/bench/dp-bench.py "$MDEVD" "$OUT" "$@" --json "$OUT/dp-bench.json"
load1=$(load)
quiet "the real-kernel guest"
echo "dp-bench: uevent -> ListAndWatch in the real-kernel guest" \
	"(tests/vm/run.sh tests/vm/guest-daemon.sh '^t_dp_'), load $(load)"
log=$OUT/guest-daemon.log
# The CPU other work took meanwhile: busy time (from the idle time of /proc/stat) less the
# guest's own (QEMU and the harness, from /usr/bin/time), as a share of one CPU.
t0=$(date +%s.%N) i0=$(idle_ticks)
/usr/bin/time -f '%U %S' -o "$OUT/guest.time" \
	tests/vm/run.sh tests/vm/guest-daemon.sh '^t_dp_' >"$log" 2>&1 || {
	tail -40 "$log"
	echo "dp-bench: the guest's device-plugin tests failed ($log); $doc left as it was" >&2
	exit 1
}
t1=$(date +%s.%N) i1=$(idle_ticks)
guest_other=$(awk -v t0="$t0" -v t1="$t1" -v i0="$i0" -v i1="$i1" -v hz="$(getconf CLK_TCK)" \
	-v n="$(grep -c '^cpu[0-9]' /proc/stat)" '{ w = t1 - t0; o = w * n - (i1 - i0) / hz - $1 - $2
		printf "%.0f", (o > 0 ? o : 0) / w * 100 }' "$OUT/guest.time")
grep -E '^(ok|not ok|# uevent|# reconcile|[0-9]+ passed)' "$log"
exec /usr/bin/python3 tests/bench/dp-report.py --doc "$doc" --json "$OUT/dp-bench.json" \
	--guest "$log" --guest-other "$guest_other" --load0 "$load0" --load1 "$load1" \
	--waited "$waited" --max-load "$max" --args "$*"
