#!/bin/bash
# tests/vm/demo.sh [POLICY] — the mdevd demo, narrated, inside the test VM:
#   tests/vm/run.sh tests/vm/demo.sh [tests/vm/policies/demo.json]
# Shows what the node offers, checks and plans a policy, applies it, lists the
# result and shows that a second plan has nothing left to do.
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}"
. "$REPO/tests/vm/lib.sh"
policy=${1:-$REPO/tests/vm/policies/demo.json}
problems=0

say() { printf '%s\n' "$*"; }
step() { printf '\n=== %s\n' "$*"; }
# run WANT_RC [WANT_RC...] -- ARGS : show and run "mdevd ARGS", check its exit status
run() {
	local want=() rc=0 w
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	printf '\n$ mdevd %s\n' "$*"
	"$MDEVD" "$@" || rc=$?
	for w in "${want[@]}"; do [ "$rc" = "$w" ] && { say "(exit $rc)"; return 0; }; done
	say "!!! unexpected exit status $rc (expected ${want[*]})"
	problems=$((problems + 1))
}

step "A test VM: Linux $(uname -r) with the kernel's sample mdev drivers"
say "mtty (virtual serial ports), mdpy (virtual display), mbochs (virtual GPU"
say "with shared video memory), an 'edu' PCI device bound to vfio-pci and an"
say "e1000e NIC on its own driver, all behind an emulated Intel IOMMU."

step "1. What can this node slice? Every mdev parent, its types and free capacity"
run 0 -- types

step "2. Whole PCI functions: driver, IOMMU group, NUMA node"
run 0 -- pci

step "3. The desired state, declared as a policy"
say "\$ cat ${policy#"$REPO"/}"
cat "$policy"
run 0 -- policy check "$policy"

step "4. Plan: what apply would change (exit 2 = changes pending)"
run 2 -- plan --policy "$policy"

step "5. Apply: create the mdevs, deterministic UUIDs, re-reading capacity after each"
run 0 -- apply --policy "$policy"

step "6. The live mdevs: each has its own IOMMU group and /dev/vfio node"
run 0 -- list
say
say "\$ ls /dev/vfio"
ls /dev/vfio

step "7. Plan again: the node already matches the policy (exit 0 = nothing to do)"
run 0 -- plan --policy "$policy"

echo
if [ $problems = 0 ]; then
	say "demo finished: every step behaved as expected"
else
	say "demo finished with $problems unexpected exit statuses"
	exit 1
fi
