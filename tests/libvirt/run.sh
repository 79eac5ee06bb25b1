#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# mdevd against libvirt's test driver (in-process, no daemon): tests/libvirt/node.xml
# describes domains that name the mdevs of the sysfs fixture trees, and PCI parents
# with mdev types. Checks list (which domain holds or reserves each mdev), plan and
# apply (in use / reserved mdevs are kept), types --source libvirt, the libvirt
# backend's create on the T4's PF (it reaches libvirt, whose test driver creates only
# vHBAs and refuses), an unreachable libvirt (reported once, then the kernel's evidence
# only), and the option checks.
#
#   tests/libvirt/run.sh            run every case, end with "N passed, N failed"
#   UPDATE=1 tests/libvirt/run.sh   rewrite the golden files (review the diff!)
cd "$(dirname "$0")/../.." || exit 1
MDEVD=${MDEVD:-mdevd/mdevd}
GOLDEN=tests/libvirt/golden
F=tests/fixtures
L=tests/libvirt
URI="test://$PWD/$L/node.xml"
MID="--machine-id 0123456789abcdef0123456789abcdef"
passed=0
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
. tests/lib/golden.sh

# case NAME RC ARGS...: stdout against golden/NAME.out, stderr against golden/NAME.err
# (absent: must be empty), the exit status against RC.
case_() {
	name=$1
	want_rc=$2
	shift 2
	"$MDEVD" "$@" >"$tmp/out" 2>"$tmp/err.raw"
	rc=$?
	# libvirt's own words for an unreachable URI depend on the host (daemon or not).
	sed -E 's/(cannot be reached: )[^;]*/\1<libvirt error>/' "$tmp/err.raw" >"$tmp/err"
	golden_compare "$name" "$want_rc" "$rc"
	check "$name" "$ok"
}

# check NAME OK: count a result.
check() {
	if [ "$2" -eq 1 ]; then
		passed=$((passed + 1))
	else
		echo "FAIL $1"
		failed=$((failed + 1))
	fi
}

# Writable copies of the fixture trees for apply (a fixture's create/remove are plain files).
cp -a $F/samples "$tmp/samples" && cp -a $F/nvidia "$tmp/nvidia" || exit 1

# list: which domain holds or reserves each mdev
case_ list-samples-human 0 --sysfs-root $F/samples list --connect "$URI"
case_ list-samples-json 0 --sysfs-root $F/samples list -o json --connect "$URI"
case_ list-nvidia-json 0 --sysfs-root $F/nvidia list -o json --connect "$URI"
case_ list-no-libvirt 0 --sysfs-root $F/samples list --no-libvirt
case_ list-unreachable 0 --sysfs-root $F/samples list --connect bogus:///nowhere
# plan / apply: in use and reserved mdevs are kept, whatever the policy says
case_ plan-kept-human 0 --sysfs-root $F/samples $MID plan -p $L/policy-empty-mtty.json --connect "$URI"
case_ plan-kept-json 0 --sysfs-root $F/samples $MID plan -p $L/policy-empty-mtty.json -o json --connect "$URI"
case_ plan-no-libvirt 2 --sysfs-root $F/samples $MID plan -p $L/policy-empty-mtty.json --no-libvirt
case_ plan-unreachable 2 --sysfs-root $F/samples $MID plan -p $L/policy-empty-mtty.json --connect bogus:///nowhere
case_ apply-kept 3 --sysfs-root "$tmp/samples" $MID apply -p $L/policy-empty-mtty.json --connect "$URI"
ok=1
diff -r --no-dereference $F/samples "$tmp/samples" >/dev/null 2>&1 || { echo "apply-kept: the tree was written"; ok=0; }
check apply-kept-wrote-nothing $ok
# the libvirt backend: the same plan and UUIDs; the create reaches libvirt
# (virNodeDeviceCreateXML under the T4 PF's node device, pci_0000_3b_00_0), whose test
# driver creates only vHBAs and refuses it in its own words
case_ apply-libvirt-dry-run 2 --sysfs-root "$tmp/nvidia" $MID apply --backend libvirt --connect "$URI" -p $L/policy-nvidia.json --dry-run
case_ apply-libvirt-refused 1 --sysfs-root "$tmp/nvidia" $MID apply --backend libvirt --connect "$URI" -p $L/policy-nvidia.json
ok=1
diff -r --no-dereference $F/nvidia "$tmp/nvidia" >/dev/null 2>&1 ||
	{ echo "apply-libvirt-refused: the tree was written (the libvirt backend must not write sysfs)"; ok=0; }
check apply-libvirt-wrote-no-sysfs $ok
case_ apply-libvirt-unreachable 1 --sysfs-root "$tmp/nvidia" $MID apply --backend libvirt --connect bogus:///nowhere -p $L/policy-nvidia.json
# what libvirt lists, next to sysfs
case_ types-libvirt-human 0 types --source libvirt --connect "$URI"
case_ types-libvirt-json 0 types --source libvirt --connect "$URI" -o json
case_ types-libvirt-unreachable 1 types --source libvirt --connect bogus:///nowhere
# hostdev: a device a libvirt domain names is not free for a resource
case_ hostdev-pool-reserved 1 --sysfs-root $F/samples --proc-root "$tmp" hostdev --connect "$URI" \
	--policy tests/vm/policies/kubevirt.json example.com/MTTY_DUAL
case_ hostdev-pool-no-libvirt 0 --sysfs-root $F/samples --proc-root "$tmp" hostdev --no-libvirt \
	--policy tests/vm/policies/kubevirt.json example.com/MTTY_DUAL
# option checks
case_ apply-backend-bad 64 --sysfs-root "$tmp/samples" apply -p $L/policy-empty-mtty.json --backend kernel
case_ apply-backend-no-libvirt 64 --sysfs-root "$tmp/samples" apply -p $L/policy-empty-mtty.json --backend libvirt --no-libvirt
case_ apply-mdevctl-dir-alone 64 --sysfs-root "$tmp/samples" apply -p $L/policy-empty-mtty.json --mdevctl-dir "$tmp/m"
case_ pci-no-connect 64 --sysfs-root $F/samples pci --connect "$URI"

# README's attach form: one <hostdev> per file, since 'virsh attach-device' takes one device
# element (a <devices> block from --count N is refused). The README's loop is run as it is
# written, with virsh replaced by a check against libvirt's test driver: it has no
# attach-device, so each file's element is put into the test domain's <devices> and the
# domain must define (libvirt parses the element as it would for attach-device).
attach_check() { # DOMAIN FILE --config: what README's virsh attach-device gets
	ok=1
	n=$(xmllint --xpath 'count(/hostdev)' "$2" 2>/dev/null)
	[ "$n" = 1 ] || { echo "readme-attach: $2 is not one <hostdev> element"; ok=0; }
	virsh -q -c test:///default dumpxml test |
		sed "/<\/devices>/e cat $2" >"$tmp/dom.xml"
	virsh -q -c test:///default "undefine test; define $tmp/dom.xml" >"$tmp/virsh.out" 2>&1 ||
		{ echo "readme-attach: the test driver refuses a domain with $2:"; cat "$tmp/virsh.out"; ok=0; }
	check "readme-attach $2" $ok
}
sed -n '/^for uuid in /,/^done/p' README.md | sed 's/^\$ //; s/^> //' |
	sed "s|virsh attach-device|attach_check|; s|mdevd |$PWD/$MDEVD --sysfs-root $PWD/$F/samples --proc-root $tmp/proc |g" \
	>"$tmp/readme-loop.sh"
mkdir -p "$tmp/proc"
if [ "$(grep -c attach_check "$tmp/readme-loop.sh")" -ne 1 ]; then
	echo "FAIL readme-attach: no 'for uuid in ... virsh attach-device ... done' loop in README.md"
	failed=$((failed + 1))
else
	here=$PWD
	cd "$tmp" && . "$tmp/readme-loop.sh"
	cd "$here" || exit 1
	[ -s "$tmp/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001.xml" ] && check readme-attach-ran 1 || check readme-attach-ran 0
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
