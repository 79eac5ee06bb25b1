#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Golden-file tests of the mdevd CLI on the fixture trees under tests/fixtures/.
#
#   tests/cli/run.sh            run every case, end with "N passed, N failed"
#   UPDATE=1 tests/cli/run.sh   rewrite the golden files from the current output (review the diff!)
#   MDEVD=path tests/cli/run.sh use another binary (default: mdevd/mdevd)
#
# A case is: a name, the exit status it must give, and mdevd's arguments. stdout is compared
# with golden/NAME.out and stderr with golden/NAME.err (an absent .err means stderr must be
# empty). Runs from the repository root, so fixture paths in messages are stable.
cd "$(dirname "$0")/../.." || exit 1
MDEVD=${MDEVD:-mdevd/mdevd}
GOLDEN=tests/cli/golden
F=tests/fixtures
passed=0
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# NVIDIA vGPU type names mdevd remembers (node/nvidia_vgpu.h): none, so output is stable.
export MDEVD_RUN_DIR="$tmp/run"
. tests/lib/golden.sh

# case NAME RC ARGS...
case_() {
	name=$1
	want_rc=$2
	shift 2
	"$MDEVD" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	golden_compare "$name" "$want_rc" "$rc"
	if [ "$ok" -eq 1 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

# types
case_ samples-types-json 0 --sysfs-root $F/samples types -o json
case_ samples-types-human 0 --sysfs-root $F/samples types
case_ nvidia-types-json 0 --sysfs-root $F/nvidia types --output json
case_ nvidia-types-human 0 --sysfs-root $F/nvidia types
case_ broken-types-json 0 --sysfs-root $F/broken types -o json
# list
case_ samples-list-json 0 --sysfs-root $F/samples list -o json
case_ samples-list-human 0 --sysfs-root $F/samples list
case_ nvidia-list-json 0 --sysfs-root $F/nvidia list -o json
case_ broken-list-human 0 --sysfs-root $F/broken list
# pci (names from Debian 12's pci.ids)
case_ samples-pci-json 0 --sysfs-root $F/samples pci -o json
case_ samples-pci-human 0 --sysfs-root $F/samples pci
case_ nvidia-pci-vendor-json 0 --sysfs-root $F/nvidia pci --vendor 10DE:1eb8 -o json
case_ broken-pci-human 0 --sysfs-root $F/broken pci
# status (a fixed machine id and an empty proc root: stable UUIDs, nothing in use)
mkdir "$tmp/proc"
ST="--proc-root $tmp/proc --machine-id 0123456789abcdef0123456789abcdef"
case_ nvidia-status-human 0 --sysfs-root $F/nvidia $ST status --policy tests/cli/policies/nvidia-status.json
case_ nvidia-status-json 0 --sysfs-root $F/nvidia $ST status --policy tests/cli/policies/nvidia-status.json -o json
case_ samples-status-human 0 --sysfs-root $F/samples $ST status --policy tests/vm/policies/kubevirt.json
# NVIDIA generations (tests/fixtures/make-tree.py): T4 mdev on the PF, A100/A40 mdev on VFs,
# L40S and H200 vendor-specific VFIO, a mixed node
for gen in t4 a100 a40 l40s h200 mixed; do
	case_ $gen-types-human 0 --sysfs-root $F/$gen types
	case_ $gen-list-human 0 --sysfs-root $F/$gen list --no-libvirt
done
case_ l40s-types-json 0 --sysfs-root $F/l40s types -o json
case_ h200-types-json 0 --sysfs-root $F/h200 types -o json
case_ mixed-list-json 0 --sysfs-root $F/mixed list --no-libvirt -o json
case_ mixed-pci-human 0 --sysfs-root $F/mixed pci
case_ mixed-pci-json 0 --sysfs-root $F/mixed pci --vendor 10de:26b9 -o json
# NVIDIA vendor VFIO: the issue's policy planned on the L40S tree and the mixed node, status
VP=tests/cli/policies/l40s-12q.json
case_ l40s-plan-human 2 --sysfs-root $F/l40s $ST plan --policy $VP --no-libvirt
case_ l40s-plan-json 2 --sysfs-root $F/l40s $ST plan --policy $VP --no-libvirt -o json
case_ mixed-status-human 0 --sysfs-root $F/mixed $ST status --policy $VP
case_ mixed-status-json 0 --sysfs-root $F/mixed $ST status --policy $VP -o json
echo '{}' >"$tmp/empty.json"
case_ h200-status-human 0 --sysfs-root $F/h200 $ST status --policy "$tmp/empty.json"
case_ h200-status-json 0 --sysfs-root $F/h200 $ST status --policy "$tmp/empty.json" -o json
# ...and applied to a copy of the L40S tree. Writing current_vgpu_type does not change the
# copy's lists as the driver would: `make-tree.py sim` recomputes them between the runs.
# Round 1 frees the full card, whose lists stay empty until the driver (sim) relists: exit 3.
cp -a $F/l40s "$tmp/l40s"
export MDEVD_RUN_DIR="$tmp/run-apply"
case_ l40s-apply 3 --sysfs-root "$tmp/l40s" $ST apply --policy $VP --no-libvirt
python3 tests/fixtures/make-tree.py --out "$tmp/l40s" sim
case_ l40s-apply-again 0 --sysfs-root "$tmp/l40s" $ST apply --policy $VP --no-libvirt
python3 tests/fixtures/make-tree.py --out "$tmp/l40s" sim
case_ l40s-applied-list 0 --sysfs-root "$tmp/l40s" list --no-libvirt
case_ l40s-applied-plan 0 --sysfs-root "$tmp/l40s" $ST plan --policy $VP --no-libvirt
export MDEVD_RUN_DIR="$tmp/run"
# errors and usage
case_ missing-root 1 --sysfs-root $F/nonexistent types
case_ bad-output 64 --sysfs-root $F/samples types -o yaml
case_ bad-vendor 64 --sysfs-root $F/samples pci --vendor 10de:
case_ extra-arg 64 --sysfs-root $F/samples list now
case_ types-help 0 types --help

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
