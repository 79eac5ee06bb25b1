#!/bin/sh
# The device-plugin benchmarks of issue 3 (Allocate latency, SIGHUP -> ListAndWatch, idle
# RSS and wakeups): builds the C clients (tests/bench/dp-alloc.c, dp-watch.c: gRPC core C
# API, not Python, not mdevd's code) and runs tests/bench/dp-bench.py. Numbers, no asserts.
#   tests/bench/dp-bench.sh [--idle SECONDS] [--changes N] [--calls N] [--env VAR=VALUE]...
# Environment: MDEVD (default ./mdevd/mdevd), BUILD (default build/release: the generated
# protobuf-c code of mdevd/deviceplugin.proto; `make` writes it).
set -eu
cd "$(dirname "$0")/../.."
MDEVD=${MDEVD:-$(pwd)/mdevd/mdevd}
BUILD=${BUILD:-build/release}
CC=${CC:-cc}
GEN=$BUILD/gen
OUT=$BUILD/bench
[ -x "$MDEVD" ] && [ -f "$GEN/mdevd/deviceplugin.pb-c.c" ] || {
	echo "dp-bench: run 'make' first" >&2
	exit 1
}
mkdir -p "$OUT"
WARN="-Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers"
for p in dp-alloc dp-watch; do
	# shellcheck disable=SC2046
	$CC -std=gnu11 -O2 $WARN -D_GNU_SOURCE -I"$GEN" -o "$OUT/$p" "tests/bench/$p.c" \
		"$GEN/mdevd/deviceplugin.pb-c.c" $(pkg-config --cflags --libs grpc libprotobuf-c) \
		-lgpr -pthread
done
echo "dp-bench: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) CPUs," \
	"kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec /usr/bin/python3 tests/bench/dp-bench.py "$MDEVD" "$OUT" "$@"
