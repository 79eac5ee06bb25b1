#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/guest-vfio.sh — whole-function passthrough on a real kernel: runs inside the test
# VM (`make check-vm-vfio` boots it three times):
#
#   iommu    (the normal guest, intel-iommu): a second edu (00:10.0, its own group), a second
#            e1000e with no address (00:11.0), a virtio-blk disk (00:12.0) that the test
#            formats and mounts, a standard VGA (00:13.0, the boot VGA), beside run.sh's edu
#            and the e1000e that carries the guest's address and default route (given here,
#            inside the guest, from the 198.51.100.0/24 documentation range; run.sh's
#            user netdev has restrict=on: nothing leaves the guest). The ICH9 functions at
#            00:1f.x share one IOMMU group.
#            Its last test leaves the policy, the ownership file and the udev rule that
#            `apply --persist` wrote in the "persist" share, which outlives the guest.
#   second-boot  (the same machine booted again with what the first one left; init.sh loads
#            neither e1000e nor vfio-pci: udev's coldplug does, as at a real boot): the rule
#            puts the spare e1000e on vfio-pci before mdevd runs at all.
#   noiommu  (booted without the emulated IOMMU, vfio-pci unloaded here): doctor fails with
#            the fixes.
#
# Prints "ok N - desc" / "not ok N - desc" per test and ends with "N passed, N failed".
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
. "$REPO/tests/vm/lib.sh"
mode=${1:-iommu}
filter=${2:-.}
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; umount "$PERSIST" 2>/dev/null || true; rm -rf "$work"' EXIT
. "$REPO/tests/vm/testlib.sh"

n=0 passed=0 failed=0
failures=()
RUN_NOTES='^# '
run_test() { run_one vfio "$@" || true; } # run_test FUNCTION DESCRIPTION

EDU1=0000:00:01.0 NIC0=0000:00:02.0
EDU2=0000:00:10.0 NIC1=0000:00:11.0 DISK=0000:00:12.0 VGA=0000:00:13.0 SMBUS=0000:00:1f.3
STATE=$work/vfio-bound RULES=$work/70-mdevd-vfio-pci.rules
pol=$work/policy.json
# The share that survives from one boot to the next (make check-vm-vfio passes it).
PERSIST=/run/vfio-persist
mount_persist() {
	mountpoint -q "$PERSIST" && return 0
	mkdir -p "$PERSIST"
	mount -t 9p -o trans=virtio,version=9p2000.L persist "$PERSIST" ||
		fail "no 9p share tagged persist (make check-vm-vfio passes it in MDEVD_VM_QEMU_ARGS)"
}

has() { grep -qF -- "$1" "$2" || fail "no \"$1\" in $2: $(cat "$2")"; }
hasnt() { if grep -qF -- "$1" "$2"; then fail "unexpected \"$1\" in $2"; fi; }
group_of() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
# apply ARGS... -> mdevd apply with the test's own ownership and rule files
apply() { md apply --policy "$pol" --vfio-state "$STATE" --udev-rules "$RULES" --bind-timeout 30 "$@"; }

# udevadm refuses to work in a chroot ("Running in chroot, ignoring request": trigger,
# settle and control do nothing at all); SYSTEMD_IGNORE_CHROOT=1 lets it. Bounded for hangs.
udevadm_() { SYSTEMD_IGNORE_CHROOT=1 timeout 120 udevadm "$@"; }
# udevd_start LOG: systemd-udevd with the rules in /etc/udev/rules.d, its debug log in LOG
# (under $RESULTS, kept with the run); stopped when the test's subshell exits.
udevd_start() {
	SYSTEMD_IGNORE_CHROOT=1 SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=debug \
		/lib/systemd/systemd-udevd --resolve-names=never >"$1" 2>&1 &
	udevd_pid=$!
	trap udevd_stop EXIT
	wait_for 60 udevadm_ control --ping 2>/dev/null || fail "systemd-udevd does not answer: $(tail -n 5 "$1")"
}
udevd_stop() {
	[ -n "${udevd_pid:-}" ] || return 0
	kill "$udevd_pid" 2>/dev/null || true
	wait "$udevd_pid" 2>/dev/null || true
	udevd_pid=
}
nics_bound() { [ -e "/sys/bus/pci/devices/$NIC1/driver" ] && [ -e "/sys/bus/pci/devices/$NIC0/driver" ]; }
on_driver() { [ "$(vm_pci_driver "$1")" = "$2" ]; } # on_driver BDF DRIVER

# ------------------------------------------------------------------ the normal guest
t_setup() {
	for d in $EDU1 $NIC0 $EDU2 $NIC1 $DISK $VGA $SMBUS; do
		[ -e "/sys/bus/pci/devices/$d" ] || fail "no PCI function $d (lspci: $(ls /sys/bus/pci/devices))"
	done
	# The guest's own network: an address and the default route on the first e1000e.
	nic0=$(ls "/sys/bus/pci/devices/$NIC0/net")
	ip link set "$nic0" up
	ip addr add 198.51.100.2/24 dev "$nic0"
	ip route add default via 198.51.100.1 dev "$nic0"
	# A file system on the virtio disk, mounted.
	vm_modprobe virtio_blk || true
	vm_modprobe ext4 || true
	wait_for 30 sh -c "test -e /sys/bus/pci/devices/$DISK/virtio*/block" || fail "no block device on $DISK"
	disk=$(ls /sys/bus/pci/devices/$DISK/virtio*/block)
	mkfs.ext4 -q -F "/dev/$disk" || fail "mkfs.ext4 /dev/$disk"
	mkdir -p /run/mdevd-vfio-mnt
	mount "/dev/$disk" /run/mdevd-vfio-mnt || fail "mount /dev/$disk"
	[ "$(cat /sys/bus/pci/devices/$VGA/boot_vga)" = 1 ] || fail "$VGA is not the boot VGA"
	[ "$(group_of $EDU1)" != "$(group_of $EDU2)" ] || fail "the edus share a group"
	[ "$(group_of 0000:00:1f.2)" = "$(group_of $SMBUS)" ] || fail "ICH9 functions in separate groups"
	vm_pci_restore $EDU1 # init.sh may have bound it
	say "nic0=$nic0 disk=$disk groups: edu1 $(group_of $EDU1) edu2 $(group_of $EDU2) ich9 $(group_of $SMBUS)"
}

t_pci_host_owned() {
	md pci
	expect_rc 0
	grep "^$NIC0 " "$work/out" >"$work/l" && has "host-owned: network: $nic0 carries the default route" "$work/l"
	# As pid 1 (the host's init: here the initramfs, outside the test's chroot) sees it.
	grep "^$DISK " "$work/out" >"$work/l" && has "host-owned: storage: /dev/$disk is mounted on " "$work/l"
	has "/run/mdevd-vfio-mnt" "$work/l"
	grep "^$VGA " "$work/out" >"$work/l" && has "host-owned: the boot VGA device (boot_vga = 1)" "$work/l"
	grep "^$NIC1 " "$work/out" >"$work/l" && hasnt "host-owned" "$work/l"
	grep "^$EDU2 " "$work/out" >"$work/l" && hasnt "host-owned" "$work/l"
}

t_bind() {
	cat >"$pol" <<EOF
{"permittedHostDevices": {"pciHostDevices": [
   {"pciVendorSelector": "1234:11e8", "resourceName": "example.com/EDU"}]},
 "mdevd": {"vfioPci": {"devices": ["1234:11e8", "8086:10d3", "$DISK", "$VGA", "$SMBUS"]}}}
EOF
	apply --persist
	expect_rc 3 # refusals: the policy matches as far as it can
	has "$NIC0: not bound to vfio-pci: host-owned: network: $nic0 carries the default route" "$work/err"
	has "$DISK: not bound to vfio-pci: host-owned: storage: /dev/$disk is mounted" "$work/err"
	has "$VGA: not bound to vfio-pci: host-owned: the boot VGA device" "$work/err"
	has "$SMBUS: not bound to vfio-pci: IOMMU group $(group_of $SMBUS) would not be viable" "$work/err"
	has "vfio-pci: 3 bound" "$work/out"
	for d in $EDU1 $EDU2 $NIC1; do
		[ "$(vm_pci_driver $d)" = vfio-pci ] || fail "$d is on '$(vm_pci_driver $d)'"
		[ -e "/dev/vfio/$(group_of $d)" ] || fail "no /dev/vfio/$(group_of $d)"
	done
	[ "$(vm_pci_driver $NIC0)" = e1000e ] || fail "$NIC0 left e1000e"
	has "$NIC1 8086:10d3 e1000e" "$STATE"
	has "KERNEL==\"$NIC1\", ATTR{vendor}==\"0x8086\", ATTR{device}==\"0x10d3\", ATTR{driver_override}=\"vfio-pci\"" "$RULES"
	# Idempotent: a second run binds nothing more.
	apply
	expect_rc 3
	has "vfio-pci: 0 bound, 3 already bound" "$work/out"
}

t_status_hostdev() {
	md status --policy "$pol"
	expect_rc 0
	has "$SMBUS  refused" "$work/out"
	has "$EDU2  bound" "$work/out"
	md hostdev $EDU2
	expect_rc 0
	# Not through the default ownership file: the test keeps its own, so managed stays yes.
	has 'managed="yes"' "$work/out"
	cp "$STATE" /var/lib/mdevd/vfio-bound 2>/dev/null || { mkdir -p /var/lib/mdevd && cp "$STATE" /var/lib/mdevd/vfio-bound; }
	md hostdev $EDU2
	has 'managed="no"' "$work/out"
	rm -f /var/lib/mdevd/vfio-bound
}

t_give_back() {
	cat >"$pol" <<EOF
{"mdevd": {"vfioPci": {"devices": ["1234:11e8"]}}}
EOF
	apply
	expect_rc 0
	has "$NIC1: given back to the host: now on e1000e" "$work/err"
	[ "$(vm_pci_driver $NIC1)" = e1000e ] || fail "$NIC1 is on '$(vm_pci_driver $NIC1)', not e1000e"
	[ -z "$(cat /sys/bus/pci/devices/$NIC1/driver_override | tr -d '(null)\n')" ] ||
		fail "driver_override left: $(cat /sys/bus/pci/devices/$NIC1/driver_override)"
	hasnt "$NIC1" "$STATE"
	hasnt "$NIC1" "$RULES"
	# A function mdevd did not bind is never given back.
	vm_pci_bind $NIC1 vfio-pci
	apply
	[ "$(vm_pci_driver $NIC1)" = vfio-pci ] || fail "mdevd gave back a function it did not bind"
	vm_pci_restore $NIC1
}

t_doctor_pass() {
	md doctor --policy "$pol"
	for c in "IOMMU present" "IOMMU groups" "kernel command line: IOMMU" "kernel command line: iommu=pt" \
		"interrupt remapping" "VFIO no-IOMMU mode" "module vfio" "module vfio_pci" \
		"module vfio_iommu_type1" "/dev/vfio/vfio" "$EDU1 [1234:11e8] for vfio-pci"; do
		has "Checking $c: PASS" "$work/out"
	done
	# The CPU checks depend on the accelerator (TCG emulates no VMX): shown, not asserted.
	grep -E "^Checking (CPU|/dev/kvm)" "$work/out" | sed 's/^/# /'
}

# mdevd run binds before it registers; kubelet's Allocate hands out the bound function.
t_run_allocate() {
	local gen=$work/gen dpdir=$work/dp events=$work/events dlog=$work/daemon.log kpid dpid
	/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
		fail "python3-grpcio / python3-grpc-tools missing in the guest (scripts/deps.sh)"
	mkdir -p "$gen" "$dpdir"
	/usr/bin/python3 -m grpc_tools.protoc -I"$REPO/mdevd/kubernetes" --python_out="$gen" \
		--grpc_python_out="$gen" "$REPO/mdevd/kubernetes/deviceplugin.proto" || fail "protoc"
	# Nothing on vfio-pci: give everything back first.
	echo '{}' >"$pol"
	apply
	for d in $EDU1 $EDU2 $NIC1; do
		[ "$(vm_pci_driver $d)" != vfio-pci ] || fail "$d still on vfio-pci"
	done
	printf '%s\n' '{"permittedHostDevices": {"pciHostDevices": [' \
		'  {"pciVendorSelector": "1234:11e8", "resourceName": "example.com/EDU"}]},' \
		" \"mdevd\": {\"vfioPci\": {\"devices\": [\"$EDU2\"]}}}" >"$pol"
	: >"$events"
	/usr/bin/python3 "$REPO/tests/vm/kubelet_guest.py" "$gen" serve "$dpdir" "$events" 300 \
		2>"$work/kubelet.log" &
	kpid=$!
	wait_for 60 grep -q ' ready$' "$events" || fail "the kubelet stand-in did not start"
	"$MDEVD" run --policy "$pol" --device-plugin-dir "$dpdir" --vfio-state "$STATE" \
		--udev-rules "$RULES" --no-libvirt 2>"$dlog" &
	dpid=$!
	stop() { kill "$dpid" "$kpid" 2>/dev/null || true; }
	wait_for 60 grep -q 'register example.com/EDU' "$events" ||
		{ stop; fail "EDU did not register: $(cat "$dlog")"; }
	wait_for 30 grep -q "list example.com/EDU $EDU2:Healthy" "$events" ||
		{ stop; fail "no list with $EDU2: $(tail -5 "$events")"; }
	# The binding came before the plugin registered: the log says so in that order.
	grep -n "vfio-pci at start\|registered example.com/EDU" "$dlog" | sed 's/^/# /'
	local lb lr
	lb=$(grep -n 'vfio-pci at start: 1 bound' "$dlog" | cut -d: -f1)
	lr=$(grep -n 'registered example.com/EDU' "$dlog" | cut -d: -f1)
	[ -n "$lb" ] && [ -n "$lr" ] && [ "$lb" -lt "$lr" ] ||
		{ stop; fail "not bound before registering: $(cat "$dlog")"; }
	/usr/bin/python3 "$REPO/tests/vm/kubelet_guest.py" "$gen" allocate \
		"$dpdir/mdevd-example.com_EDU.sock" "$EDU2" >"$work/alloc"
	say "# Allocate: $(cat "$work/alloc")"
	grep -q "^OK .*PCI_RESOURCE_EXAMPLE_COM_EDU=$EDU2" "$work/alloc" ||
		{ stop; fail "Allocate: $(cat "$work/alloc")"; }
	grep -q "/dev/vfio/$(group_of $EDU2)" "$work/alloc" ||
		{ stop; fail "no /dev/vfio/$(group_of $EDU2) in the answer"; }
	grep "doctor: " "$dlog" | sed 's/^/# /'
	grep -q "doctor: " "$dlog" || { stop; fail "no doctor summary at start"; }
	if grep "doctor: " "$dlog" | grep -qE "IOMMU|/dev/vfio/vfio|module vfio|for vfio-pci"; then
		stop
		fail "doctor at start fails a check this guest passes: $(grep 'doctor: ' "$dlog")"
	fi
	kill -TERM "$dpid"
	wait "$dpid" || { stop; fail "mdevd run exited with an error"; }
	kill "$kpid" 2>/dev/null || true
}

# Early-boot persistence, as a hot-add: the spare NIC goes away with its host driver
# unloaded and comes back with udevd running the rule apply --persist wrote; udev's own
# 80-drivers.rules loads e1000e for it as at boot. It must come up on vfio-pci.
t_persist_hotadd() {
	printf '{"mdevd": {"vfioPci": {"devices": ["%s"]}}}\n' "$NIC1" >"$pol"
	apply --persist
	expect_rc 0
	[ "$(vm_pci_driver $NIC1)" = vfio-pci ] || fail "$NIC1 not bound"
	has "KERNEL==\"$NIC1\"" "$RULES"
	echo 1 >"/sys/bus/pci/devices/$NIC1/remove" || fail "cannot remove $NIC1"
	vm_modprobe -r e1000e || fail "cannot unload e1000e"
	mkdir -p /etc/udev/rules.d
	cp "$RULES" /etc/udev/rules.d/
	udevd_start "$RESULTS/udevd-hotadd.log"
	echo 1 >/sys/bus/pci/rescan
	# The re-added NIC on a driver, and e1000e, which udev loads for it, on the NIC left
	# driverless by the unload.
	udevadm_ settle --timeout=100 || say "# udevadm settle: exit $?"
	wait_for 60 nics_bound || true
	local drv0 drv1 ovr
	drv1=$(vm_pci_driver $NIC1) drv0=$(vm_pci_driver $NIC0)
	ovr=$(cat "/sys/bus/pci/devices/$NIC1/driver_override")
	udevd_stop
	rm -f /etc/udev/rules.d/70-mdevd-vfio-pci.rules
	say "# after the hot-add: $NIC1 on '$drv1' (driver_override $ovr), $NIC0 on '$drv0'"
	[ "$drv1" = vfio-pci ] || fail "$NIC1 came back on '$drv1', not vfio-pci"
	[ "$ovr" = vfio-pci ] || fail "driver_override of $NIC1: $ovr"
	[ "$drv0" = e1000e ] || fail "udev did not load e1000e for $NIC0 ($drv0): the test proves nothing"
}

# What survives a reboot on a real host (/var/lib/mdevd/vfio-bound, /etc/udev/rules.d/),
# written into the share for the second boot.
t_persist_write() {
	mount_persist
	printf '{"mdevd": {"vfioPci": {"devices": ["%s"]}}}\n' "$NIC1" >"$pol"
	apply --persist
	expect_rc 0
	[ "$(vm_pci_driver $NIC1)" = vfio-pci ] || fail "$NIC1 not on vfio-pci"
	has "$NIC1 8086:10d3" "$STATE"
	has "KERNEL==\"$NIC1\", ATTR{vendor}==\"0x8086\", ATTR{device}==\"0x10d3\"" "$RULES"
	rm -f "$PERSIST"/*
	cp "$pol" "$STATE" "$RULES" "$PERSIST/" || fail "cannot write the persist share"
	sync
	say "# left for the second boot: $(ls "$PERSIST" | tr '\n' ' ')"
}

# ------------------------------------------------------------------ the second boot
# As a real boot: udevd starts with the rule the first boot wrote in rules.d and replays the
# kernel's add events (systemd-udev-trigger.service; here the PCI bus alone, the one that
# matters: replaying the consoles, block devices and 9p shares of this guest would only add
# risk); 80-drivers.rules loads e1000e for the first NIC, the rule's RUN loads vfio-pci.
# The events run in parallel: e1000e may load before the spare NIC's add event has set its
# driver_override, so this is the race the rule must win. The spare NIC must be on vfio-pci
# before mdevd runs at all.
t_second_boot() {
	mount_persist
	local f
	for f in policy.json vfio-bound 70-mdevd-vfio-pci.rules; do
		[ -s "$PERSIST/$f" ] || fail "the first boot left no $f in the share"
	done
	# Nothing has bound the NICs yet: e1000e and vfio-pci are not loaded (mdevd_vm.noload).
	[ ! -e /sys/module/e1000e ] || fail "e1000e is loaded before udev: the test proves nothing"
	[ ! -e /sys/module/vfio_pci ] || fail "vfio_pci is loaded before udev: the test proves nothing"
	[ -z "$(vm_pci_driver $NIC1)" ] || fail "$NIC1 is on '$(vm_pci_driver $NIC1)' before udev"
	! pgrep -x mdevd >/dev/null || fail "an mdevd is running"
	mkdir -p /etc/udev/rules.d
	cp "$PERSIST/70-mdevd-vfio-pci.rules" /etc/udev/rules.d/
	cp "$PERSIST/vfio-bound" "$STATE"
	cp "$PERSIST/70-mdevd-vfio-pci.rules" "$RULES"
	cp "$PERSIST/policy.json" "$pol"
	udevd_start "$RESULTS/udevd-second-boot.log"
	udevadm_ trigger --action=add --subsystem-match=pci --settle || say "# udevadm trigger: exit $?"
	# --settle waited for the events; the drivers' binds follow them.
	wait_for 60 nics_bound || true
	local drv0 drv1 ovr
	drv1=$(vm_pci_driver $NIC1) drv0=$(vm_pci_driver $NIC0)
	ovr=$(cat "/sys/bus/pci/devices/$NIC1/driver_override")
	udevd_stop
	say "# after coldplug, before mdevd: $NIC1 on '$drv1' (driver_override $ovr), $NIC0 on '$drv0'"
	# The order udevd took the events in (the whole log is in the results directory).
	grep -E "^($NIC0|$NIC1): Processing device" "$RESULTS/udevd-second-boot.log" |
		sed -e 's/^/# udevd: /' -e 's/, UUID=[^)]*//'
	[ "$drv0" = e1000e ] || fail "udev did not load e1000e for $NIC0 ($drv0): the test proves nothing"
	[ "$drv1" = vfio-pci ] || fail "$NIC1 came up on '$drv1', not vfio-pci"
	[ "$ovr" = vfio-pci ] || fail "driver_override of $NIC1: $ovr"
	[ -e "/dev/vfio/$(group_of $NIC1)" ] || fail "no /dev/vfio/$(group_of $NIC1)"
	! pgrep -x mdevd >/dev/null || fail "an mdevd is running"
	# mdevd then finds it done.
	apply
	expect_rc 0
	has "vfio-pci: 0 bound, 1 already bound" "$work/out"
	has "$NIC1 8086:10d3" "$STATE"
}

# The race's two orders, made to happen: the host driver takes the function before its add
# event runs (the event must take it back), and the host driver's probe is under way while
# the add event sets driver_override (the bind event that follows must take it back). A
# function whose driver_override is clear (given back by mdevd) is left to its host driver.
t_second_boot_race() {
	local dev=/sys/bus/pci/devices/$NIC1
	[ -s /etc/udev/rules.d/70-mdevd-vfio-pci.rules ] || fail "no rule installed: t_second_boot runs first"
	udevd_start "$RESULTS/udevd-race.log"
	# Given back: override cleared, e1000e takes it, and its bind event changes nothing.
	vm_pci_restore $NIC1
	udevadm_ settle --timeout=100 || say "# udevadm settle: exit $?"
	on_driver $NIC1 e1000e || fail "$NIC1 given back is on '$(vm_pci_driver $NIC1)', not e1000e"
	# The add event after e1000e took it.
	udevadm_ trigger --action=add --settle "$dev" || say "# udevadm trigger: exit $?"
	wait_for 60 on_driver $NIC1 vfio-pci ||
		fail "an add event after e1000e took $NIC1 left it on '$(vm_pci_driver $NIC1)'"
	# The bind event of a probe that began before driver_override was set.
	vm_pci_restore $NIC1
	udevadm_ settle --timeout=100 || say "# udevadm settle: exit $?"
	on_driver $NIC1 e1000e || fail "$NIC1 is on '$(vm_pci_driver $NIC1)', not e1000e"
	echo vfio-pci >"$dev/driver_override"
	udevadm_ trigger --action=bind --settle "$dev" || say "# udevadm trigger: exit $?"
	wait_for 60 on_driver $NIC1 vfio-pci ||
		fail "a bind event with driver_override set left $NIC1 on '$(vm_pci_driver $NIC1)'"
	udevd_stop
}

# ------------------------------------------------------------------ without the IOMMU
t_doctor_fail() {
	vm_modprobe -r vfio_pci 2>/dev/null || rmmod vfio_pci 2>/dev/null || true
	[ ! -e /sys/module/vfio_pci ] || fail "vfio_pci is still loaded"
	md doctor
	expect_rc 1
	has "Checking IOMMU present: FAIL" "$work/out"
	has "Checking IOMMU groups: FAIL" "$work/out"
	if grep -q GenuineIntel /proc/cpuinfo; then
		has "add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub" "$work/out"
		has "- intel_iommu=on" "$work/out" # the MachineConfig
	else
		has "the AMD IOMMU is on by default" "$work/out"
		hasnt "add amd_iommu=on" "$work/out"
	fi
	has "Checking module vfio_pci: FAIL (modprobe vfio-pci; load it at boot: echo vfio-pci > /etc/modules-load.d/vfio-pci.conf)" "$work/out"
	has "path: /etc/modules-load.d/vfio-pci.conf" "$work/out"
	md doctor -o json
	expect_rc 1
	has '"status":	"fail"' "$work/out"
}

case $mode in
iommu)
	run_test t_setup "guest devices: two edus in separate groups, NICs, a mounted disk, boot VGA, ICH9 group" || true
	# Later tests use what t_setup found.
	nic0=$(ls "/sys/bus/pci/devices/$NIC0/net" 2>/dev/null || echo '?')
	disk=$(ls /sys/bus/pci/devices/$DISK/virtio*/block 2>/dev/null || echo '?')
	run_test t_pci_host_owned "mdevd pci: host-owned reasons for the default-route NIC, the mounted disk, the boot VGA"
	run_test t_bind "apply: binds both edus and the spare e1000e, verified; refuses the host-owned ones and the ICH9 group with reasons; persist rule"
	run_test t_status_hostdev "status shows the decisions; hostdev managed='no' for a function mdevd bound"
	run_test t_give_back "a function leaving the policy is given back: e1000e rebinds; one mdevd did not bind stays"
	run_test t_doctor_pass "doctor: the IOMMU, command line, interrupt remapping, VFIO checks pass"
	run_test t_run_allocate "mdevd run binds before it registers; Allocate hands out the bound function with /dev/vfio/N"
	run_test t_persist_hotadd "apply --persist: the udev rule puts the re-added NIC on vfio-pci before e1000e loads"
	run_test t_persist_write "apply --persist: the policy, ownership file and udev rule kept for the second boot"
	;;
second-boot)
	run_test t_second_boot "second boot: udev's coldplug puts the function on vfio-pci before mdevd runs; apply finds it already bound"
	run_test t_second_boot_race "second boot: the rule wins the race with the host driver either way; a given-back function stays given back"
	;;
noiommu)
	run_test t_doctor_fail "doctor without the IOMMU and vfio-pci: FAIL with the GRUB line, modules-load.d and MachineConfig"
	;;
*)
	say "usage: guest-vfio.sh iommu|second-boot|noiommu [FILTER]"
	exit 2
	;;
esac
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
