#!/bin/sh
# The metrics benchmarks of issue 15 (scrape latency with 8 plugins and 1 000 devices; idle
# RSS and wakeups with metrics on vs off): tests/bench/metrics-bench.py against
# tests/bench/dp-watch (built here as tests/bench/dp-bench.sh builds it). Numbers, no asserts.
#   tests/bench/metrics-bench.sh [--doc] [--idle SECONDS] [--scrapes N]
# --doc (what `make bench` runs) writes the metrics-bench section of docs/benchmarks.md.
# Environment: MDEVD (default ./mdevd/mdevd), BUILD (default build/release), BENCH_DOC.
set -eu
cd "$(dirname "$0")/../.."
MDEVD=${MDEVD:-$(pwd)/mdevd/mdevd}
BUILD=${BUILD:-build/release}
GEN=$BUILD/gen
OUT=$BUILD/bench
[ -x "$MDEVD" ] && [ -f "$GEN/mdevd/kubernetes/deviceplugin.pb-c.c" ] || {
	echo "metrics-bench: run 'make' first" >&2
	exit 1
}
mkdir -p "$OUT"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -D_GNU_SOURCE -I"$GEN" -o "$OUT/dp-watch" tests/bench/dp-watch.c \
	"$GEN/mdevd/kubernetes/deviceplugin.pb-c.c" $(pkg-config --cflags --libs grpc_unsecure libprotobuf-c) \
	-lgpr -pthread
machine="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo "metrics-bench: $machine"
if [ "${1:-}" = --doc ]; then
	shift
	exec /usr/bin/python3 tests/bench/metrics-bench.py "$MDEVD" "$OUT" "$@" \
		--doc "${BENCH_DOC:-docs/benchmarks.md}" --machine "$machine" \
		--command "tests/bench/metrics-bench.sh --doc${*:+ $*}"
fi
exec /usr/bin/python3 tests/bench/metrics-bench.py "$MDEVD" "$OUT" "$@"
