#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Golden-file tests of `mdevd hostdev` on the fixture trees, and libvirt's RelaxNG schema
# over every golden: each snippet is wrapped in a complete minimal domain and validated with
#   xmllint --noout --relaxng /usr/share/libvirt/schemas/domain.rng
# (Debian 12: package libvirt0 ships the schemas). Hand-written negative snippets
# (tests/hostdev/negative/: bad UUIDs, out-of-range PCI addresses, unknown models) must
# fail that validation, so a schema check that passes everything is caught too.
#
#   tests/hostdev/run.sh                  run (from anywhere); ends with "N passed, N failed"
#   UPDATE=1 tests/hostdev/run.sh         rewrite the goldens from the binary's output
#   MDEVD=build/asan/mdevd/mdevd tests/hostdev/run.sh     test another binary
#
# Exits non-zero when any test failed.
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${MDEVD:-./mdevd/mdevd}
RNG=${LIBVIRT_DOMAIN_RNG:-/usr/share/libvirt/schemas/domain.rng}
UPDATE=${UPDATE:-0}
G=tests/hostdev/golden
NEG=tests/hostdev/negative
POL=tests/hostdev/policy.json
SAMPLES=tests/fixtures/samples
NVIDIA=tests/fixtures/nvidia

passed=0
failed=0
tmp=$(mktemp -d /tmp/mdevd-hostdev-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

pass() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}

# golden LABEL NAME ARGS...: exit 0 and stdout equal to $G/NAME.xml.
golden() {
	label=$1 name=$2
	shift 2
	"$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$label: exit $rc: $(cat "$tmp/err")"
		return
	fi
	[ "$UPDATE" = 1 ] && cp "$tmp/out" "$G/$name.xml"
	if diff -u "$G/$name.xml" "$tmp/out"; then
		pass
	else
		fail "$label: output differs from $G/$name.xml"
	fi
}

# expect_error LABEL RC STDERR-TEXT ARGS...: exit RC, nothing on stdout, TEXT on stderr.
expect_error() {
	label=$1 want=$2 text=$3
	shift 3
	"$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$label: exit $rc, expected $want: $(cat "$tmp/err")"
	elif [ -s "$tmp/out" ]; then
		fail "$label: printed to stdout on error: $(head -3 "$tmp/out")"
	elif ! grep -qF -- "$text" "$tmp/err"; then
		fail "$label: stderr lacks \"$text\": $(cat "$tmp/err")"
	else
		pass
	fi
}

# expect_stderr LABEL TEXT: the last command's stderr has TEXT.
expect_stderr() {
	if grep -qF -- "$2" "$tmp/err"; then pass; else fail "$1: stderr lacks \"$2\""; fi
}

# wrap SNIPPET OUT: a complete minimal domain around a <hostdev> or a <devices> block.
wrap() {
	{
		printf "<domain type='kvm'><name>t</name><memory>1024</memory>"
		printf "<os><type arch='x86_64'>hvm</type></os>\n"
		if head -n 1 "$1" | grep -q '^<devices'; then
			cat "$1"
		else
			printf '<devices>\n'
			cat "$1"
			printf '</devices>\n'
		fi
		printf '</domain>\n'
	} >"$2"
}

validate() { xmllint --noout --relaxng "$RNG" "$1" >"$tmp/xmllint.out" 2>&1; }

# A copy of the samples tree with more mdevs, for --count, in-use and model tests:
#   mtty-1 ("Single port serial"): ...1001 (group 10, committed), ...1003 (12), ...1004 (13)
#   mtty-2: device_api turned into vfio-ccw, so ...1002 (group 11) is a vfio-ccw mdev
#   mdpy-xga: device_api vfio-platform, with ...1005 (group 14): a model libvirt lacks
add_mdev() { # TREE PARENT TYPE UUID GROUP
	dev=devices/virtual/$2/$2/$4
	mkdir -p "$1/$dev" "$1/devices/virtual/$2/$2/mdev_supported_types/$3/devices" \
		"$1/kernel/iommu_groups/$5/devices"
	ln -s "../mdev_supported_types/$3" "$1/$dev/mdev_type"
	ln -s "../../../../../kernel/iommu_groups/$5" "$1/$dev/iommu_group"
	ln -s ../../../../../bus/mdev/drivers/vfio_mdev "$1/$dev/driver"
	ln -s ../../../../../bus/mdev "$1/$dev/subsystem"
	: >"$1/$dev/remove"
	ln -s "../../../$dev" "$1/bus/mdev/devices/$4"
	ln -s "../../../$4" "$1/devices/virtual/$2/$2/mdev_supported_types/$3/devices/$4"
	ln -s "../../../../$dev" "$1/kernel/iommu_groups/$5/devices/$4"
}
COUNT=$tmp/count-tree
U=83b8f4f2-509f-382f-3c1e-e6bfe0fa10
cp -a "$SAMPLES" "$COUNT"
add_mdev "$COUNT" mtty mtty-1 ${U}03 12
add_mdev "$COUNT" mtty mtty-1 ${U}04 13
add_mdev "$COUNT" mdpy mdpy-xga ${U}05 14
echo vfio-ccw >"$COUNT/devices/virtual/mtty/mtty/mdev_supported_types/mtty-2/device_api"
echo vfio-platform >"$COUNT/devices/virtual/mdpy/mdpy/mdev_supported_types/mdpy-xga/device_api"

# Fake proc roots: none holding a VFIO group, and pid 4242 holding /dev/vfio/10 (...1001).
mkdir -p "$tmp/proc-idle/1/fd" "$tmp/proc-busy/1/fd" "$tmp/proc-busy/4242/fd"
ln -s /dev/null "$tmp/proc-idle/1/fd/0"
ln -s /dev/vfio/vfio "$tmp/proc-busy/4242/fd/6"
ln -s /dev/vfio/10 "$tmp/proc-busy/4242/fd/7"
IDLE=$tmp/proc-idle
BUSY=$tmp/proc-busy

if [ ! -x "$BIN" ]; then
	echo "$BIN: not built (make)"
	echo "0 passed, 1 failed"
	exit 1
fi

# --- PCI functions ------------------------------------------------------------------------
golden "pci: edu on vfio-pci" pci-edu --sysfs-root $SAMPLES hostdev 0000:00:03.0
golden "pci: short address" pci-edu --sysfs-root $SAMPLES hostdev 00:03.0
golden "pci: upper-case address" pci-nvidia-t4 --sysfs-root $NVIDIA hostdev --force 0000:3B:00.0
golden "pci: NVIDIA T4 hosting a vGPU, --force" pci-nvidia-t4 --sysfs-root $NVIDIA hostdev --force 3b:00.0
expect_stderr "pci: --force warns: live mdevs" "0000:3b:00.0: warning: it hosts 1 live mdev"
golden "pci: NVIDIA A100 VF, --force" pci-nvidia-vf --sysfs-root $NVIDIA hostdev --force 86:00.4
# Refused unless --force: what passing the function through would break or cannot do.
expect_error "pci: a T4 PF hosting live mdevs" 1 "refusing: it hosts 1 live mdev" \
	--sysfs-root $NVIDIA hostdev 3b:00.0
expect_error "pci: the host driver in use" 1 "refusing: the host driver nvidia uses it" \
	--sysfs-root $NVIDIA hostdev 86:00.5
expect_error "pci: a host NIC" 1 "refusing: the host driver e1000e uses it" \
	--sysfs-root $SAMPLES hostdev 00:02.0
expect_error "pci: a host bridge, no IOMMU group" 1 "refusing: it is in no IOMMU group" \
	--sysfs-root $SAMPLES hostdev 00:00.0
# A group sibling on a host driver: the NIC moved into the edu's group 2.
SIB=$tmp/sibling-tree
cp -a "$SAMPLES" "$SIB"
ln -sfn ../../../kernel/iommu_groups/2 "$SIB/devices/pci0000:00/0000:00:02.0/iommu_group"
expect_error "pci: a group sibling not on vfio" 1 \
	"refusing: 0000:00:02.0 in its IOMMU group 2 is on e1000e, not vfio-pci" \
	--sysfs-root "$SIB" hostdev 00:03.0
golden "pci: --force prints it anyway" pci-edu --sysfs-root "$SIB" hostdev --force 00:03.0
expect_error "pci: absent function" 1 "no PCI function 0000:06:00.0 on this node" \
	--sysfs-root $SAMPLES hostdev 0000:06:00.0
expect_error "pci: absent function, short" 1 "no PCI function 0000:06:00.0 on this node" \
	--sysfs-root $SAMPLES hostdev 06:00.0
expect_error "pci: bus 0x100" 64 "outside what libvirt accepts" \
	--sysfs-root $SAMPLES hostdev 0000:100:00.0
expect_error "pci: slot 0x20" 64 "outside what libvirt accepts" \
	--sysfs-root $SAMPLES hostdev 0000:00:20.0
expect_error "pci: --display" 64 "vfio-pci mdevs" --sysfs-root $SAMPLES hostdev --display 00:03.0

# --- mdevs by UUID ------------------------------------------------------------------------
golden "mdev: mtty" mdev-mtty --sysfs-root $SAMPLES hostdev ${U}01
golden "mdev: upper-case UUID" mdev-mtty --sysfs-root $SAMPLES \
	hostdev 83B8F4F2-509F-382F-3C1E-E6BFE0FA1001
golden "mdev: --display" mdev-mtty-display --sysfs-root $SAMPLES hostdev --display ${U}01
expect_stderr "mdev: --display note" "needs a graphics device in the domain"
golden "mdev: --display --ramfb" mdev-mtty-ramfb --sysfs-root $SAMPLES hostdev --display --ramfb ${U}01
golden "mdev: --ramfb implies --display" mdev-mtty-ramfb --sysfs-root $SAMPLES \
	hostdev --ramfb ${U}01
golden "mdev: -o xml" mdev-mtty --sysfs-root $SAMPLES hostdev -o xml ${U}01
golden "mdev: NVIDIA vGPU" mdev-nvidia --sysfs-root $NVIDIA \
	hostdev 6c1a7b2e-4a1e-4b8f-9d2c-1f0e3d2c1b0a
golden "mdev: vfio-ccw model" mdev-ccw --sysfs-root "$COUNT" hostdev ${U}02
expect_error "mdev: --display on vfio-ccw" 64 "vfio-pci mdevs only" \
	--sysfs-root "$COUNT" hostdev --display ${U}02
expect_error "mdev: unknown device_api" 1 "device_api \"vfio-platform\"" \
	--sysfs-root "$COUNT" hostdev ${U}05
expect_error "mdev: absent" 1 "no mdev 00000000-0000-4000-8000-000000000000 on this node" \
	--sysfs-root $SAMPLES hostdev 00000000-0000-4000-8000-000000000000

# --- resource names -----------------------------------------------------------------------
golden "resource: mdev pool" devices-mtty-single --sysfs-root $SAMPLES --proc-root "$IDLE" \
	hostdev --policy $POL example.com/MTTY_SINGLE
golden "resource: PCI pool" devices-edu --sysfs-root $SAMPLES --proc-root "$IDLE" \
	hostdev --policy $POL example.com/EDU
golden "resource: NVIDIA vGPU pool" devices-grid-t4-1q --sysfs-root $NVIDIA --proc-root "$IDLE" \
	hostdev --policy $POL nvidia.com/GRID_T4-1Q
golden "resource: --count 3, all free" devices-count-3 --sysfs-root "$COUNT" --proc-root "$IDLE" \
	hostdev --policy $POL example.com/MTTY_SINGLE --count 3
golden "resource: --count 2 skips the one in use" devices-count-2 \
	--sysfs-root "$COUNT" --proc-root "$BUSY" \
	hostdev --policy $POL --count 2 example.com/MTTY_SINGLE
golden "resource: --count 2 --display" devices-count-2-display \
	--sysfs-root "$COUNT" --proc-root "$BUSY" \
	hostdev --policy $POL --count 2 --display example.com/MTTY_SINGLE
expect_error "resource: not enough free" 1 "2 of 3 matching devices are free, 3 asked" \
	--sysfs-root "$COUNT" --proc-root "$BUSY" hostdev --policy $POL --count 3 example.com/MTTY_SINGLE
expect_stderr "resource: names the busy one" "${U}01: in use (/dev/vfio/10 is open)"
expect_error "resource: PCI not on vfio-pci" 1 "bound to nvidia, not vfio-pci" \
	--sysfs-root $NVIDIA --proc-root "$IDLE" hostdev --policy $POL nvidia.com/TU104GL_Tesla_T4
expect_error "resource: nothing matches" 1 "none matches its selector" \
	--sysfs-root $NVIDIA --proc-root "$IDLE" hostdev --policy $POL nvidia.com/GRID_A100-4C
# NVIDIA vendor-specific VFIO (vGPU 17+): a configured VF is a PCI function that stays on
# nvidia, so managed='no'; a free VF holds no vGPU and is refused.
MIXED=tests/fixtures/mixed
golden "pci: NVIDIA vGPU VF (vendor VFIO)" pci-vgpu-vf --sysfs-root $MIXED hostdev 41:00.4
expect_error "pci: free NVIDIA vGPU VF" 1 "is a free VF of the NVIDIA vGPU card 0000:41:00.0" \
	--sysfs-root $MIXED hostdev 0000:41:00.6
golden "resource: NVIDIA vGPU VF pool" devices-vgpu-l40s-12q --sysfs-root $MIXED \
	--proc-root "$IDLE" hostdev --policy tests/hostdev/policy-vgpu.json nvidia.com/L40S-12Q \
	--count 2
# QEMU with iommufd holds only 41:00.4's cdev: that VF is not free.
mkdir -p "$tmp/cdev-busy/4242/fd"
ln -s /dev/vfio/devices/vfio0 "$tmp/cdev-busy/4242/fd/3"
expect_error "resource: vGPU VF held by its iommufd cdev" 1 \
	"0000:41:00.4: in use (/dev/vfio/devices/vfio0 is open)" --sysfs-root $MIXED \
	--proc-root "$tmp/cdev-busy" hostdev --policy tests/hostdev/policy-vgpu.json \
	nvidia.com/L40S-12Q --count 2
expect_error "resource: not in the policy" 1 "permittedHostDevices names no resource" \
	--sysfs-root $SAMPLES --proc-root "$IDLE" hostdev --policy $POL example.com/NOPE
expect_error "resource: --display on a PCI pool" 64 "pool of PCI functions" \
	--sysfs-root $SAMPLES --proc-root "$IDLE" hostdev --policy $POL --display example.com/EDU
expect_error "resource: no --policy" 64 "--policy FILE is needed" \
	--sysfs-root $SAMPLES hostdev example.com/EDU

# --- usage --------------------------------------------------------------------------------
expect_error "usage: not a device" 64 "not an mdev UUID, a PCI address" \
	--sysfs-root $SAMPLES hostdev mtty
expect_error "usage: no argument" 64 "which device?" --sysfs-root $SAMPLES hostdev
expect_error "usage: two arguments" 64 "one device at a time" \
	--sysfs-root $SAMPLES hostdev 00:03.0 00:02.0
expect_error "usage: --count with a UUID" 64 "--count is only for a resource name" \
	--sysfs-root $SAMPLES hostdev --count 2 ${U}01
expect_error "usage: --policy with an address" 64 "--policy is only for a resource name" \
	--sysfs-root $SAMPLES hostdev --policy $POL 00:03.0
expect_error "usage: --count 0" 64 "expected a whole number" \
	--sysfs-root $SAMPLES hostdev --policy $POL --count 0 example.com/EDU
expect_error "usage: --count -1" 64 "expected a whole number" \
	--sysfs-root $SAMPLES hostdev --policy $POL --count -1 example.com/EDU
expect_error "usage: -o json" 64 "the only output is 'xml'" \
	--sysfs-root $SAMPLES hostdev -o json ${U}01
if "$BIN" hostdev --help >"$tmp/out" 2>&1 && grep -q '^Examples:' "$tmp/out" &&
	grep -q 'virsh attach-device' "$tmp/out"; then
	pass
else
	fail "usage: --help does not teach (exit or examples)"
fi

# --- libvirt's schema ---------------------------------------------------------------------
if ! command -v xmllint >/dev/null 2>&1 || [ ! -r "$RNG" ]; then
	fail "schema: needs xmllint (libxml2-utils) and $RNG (libvirt0); run scripts/deps.sh"
else
	for f in "$G"/*.xml; do
		wrap "$f" "$tmp/domain.xml"
		if validate "$tmp/domain.xml"; then
			pass
		else
			fail "schema: $f is not valid in a domain: $(cat "$tmp/xmllint.out")"
		fi
	done
	for f in "$NEG"/*.xml; do
		wrap "$f" "$tmp/domain.xml"
		if validate "$tmp/domain.xml"; then
			fail "schema: negative $f passed validation"
		elif grep -q 'fails to validate' "$tmp/xmllint.out"; then
			pass
		else
			fail "schema: negative $f: xmllint failed for another reason: $(cat "$tmp/xmllint.out")"
		fi
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
