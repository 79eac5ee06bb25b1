#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kubelet's view of mdevd (issue 12): in the real-kernel guest, the real kubelet standalone
# with containerd; the time from mdevd's start to its resource being allocatable in kubelet,
# and from an mdev created or removed in sysfs to kubelet's allocatable count changing,
# p50/p99 over BENCH_CHANGES (50) of each (tests/vm/guest-kubelet.sh's bench mode).
#   tests/bench/kubelet-bench.sh [--doc]
# --doc (what `make bench` runs) writes the kubelet-bench section of docs/benchmarks.md
# (tests/bench/kubelet-report.py). Numbers, no asserts. Needs root, like the VM harness.
set -euo pipefail
cd "$(dirname "$0")/../.."
MDEVD_VM_KEEP=1 tests/k8s/guest.sh kubelet bench | tee /dev/stderr | grep '^2 passed, 0 failed$' >/dev/null || exit 1
res=$(ls -td build/vm/results/run.* | head -n 1)/kubelet-bench.json
[ -s "$res" ] || { echo "kubelet-bench: no $res" >&2; exit 1; }
if [ "${1:-}" = --doc ]; then
	machine="$(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), guest under TCG, host load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	python3 tests/bench/kubelet-report.py doc "$res" "${BENCH_DOC:-docs/benchmarks.md}" \
		--machine "$machine" --command "tests/bench/kubelet-bench.sh --doc"
fi
