#!/bin/bash
# tests/vm/guest-bench.sh [RUNS] — time mdevd against mdevctl inside the test VM:
#   tests/vm/run.sh tests/vm/guest-bench.sh [RUNS]
# Each command runs RUNS times (default 50) on the same live sysfs (the sample
# parents plus a few mdevs); prints one line per command and writes them to
# $RESULTS/bench.txt (build/vm/results/run.*/ with MDEVD_VM_KEEP=1):
#   bench <label> runs=N total_ms=T mean_ms=M
# The guest runs under TCG unless the host has KVM: compare ratios, not ms.
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
. "$REPO/tests/vm/lib.sh"
runs=${1:-50}
mdevctl=$(command -v mdevctl) || { echo "guest-bench: mdevctl not found (apt-get install mdevctl on the host)" >&2; exit 1; }
[ -x "$MDEVD" ] || { echo "guest-bench: $MDEVD is not built" >&2; exit 1; }

now_ns() { date +%s%N; }
bench() { # bench LABEL CMD...
	local label=$1 i t0 t1 ms
	shift
	local rc=0
	"$@" >/dev/null 2>&1 || rc=$?
	case $rc in 0 | 2) ;; *)
		echo "guest-bench: '$*' exited $rc" >&2
		return 1
		;;
	esac
	t0=$(now_ns)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null 2>&1 || true; done
	t1=$(now_ns)
	ms=$(((t1 - t0) / 1000000))
	printf 'bench %-28s runs=%d total_ms=%d mean_ms=%d.%02d\n' "$label" "$runs" "$ms" \
		$((ms / runs)) $(((ms * 100 / runs) % 100)) | tee -a "$RESULTS/bench.txt"
}

: >"$RESULTS/bench.txt"
echo "# guest-bench: kernel $(uname -r), $runs runs each, $(nproc) vCPUs"
# A few live mdevs so list has something to report.
for t in mtty/mtty-2 mtty/mtty-1 mdpy/mdpy-vga mbochs/mbochs-medium; do
	cat /proc/sys/kernel/random/uuid >"/sys/class/mdev_bus/${t%/*}/mdev_supported_types/${t#*/}/create"
done
bench "mdevd types -o json" "$MDEVD" types -o json
bench "mdevctl types --dumpjson" "$mdevctl" types --dumpjson
bench "mdevd list -o json" "$MDEVD" list -o json
bench "mdevctl list --dumpjson" "$mdevctl" list --dumpjson
bench "mdevd pci -o json" "$MDEVD" pci -o json
bench "mdevd plan (converge.json)" "$MDEVD" plan --policy "$REPO/tests/vm/policies/converge.json"
vm_mdev_remove_all
echo "# done"
