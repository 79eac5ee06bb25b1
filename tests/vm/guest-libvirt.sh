#!/bin/bash
# tests/vm/guest-libvirt.sh — mdevd with a real libvirtd, in the real-kernel guest:
#   tests/vm/run.sh tests/vm/guest-libvirt.sh [FILTER]
#
# Starts Debian's libvirtd (from the host root the guest sees; state on the guest's
# writable overlay and tmpfs /run; unix sockets without polkit, root only) and checks:
#   - a defined domain that names an mdev reserves it: plan/apply keep it, list says so,
#     found through the default qemu:///system (its socket exists, /sys is the root);
#     once the domain is undefined, apply removes it;
#   - an unreachable libvirt is reported once and the kernel's evidence is used;
#   - what libvirt lists as mdev parents; --backend libvirt creates and removes mtty and
#     mbochs mdevs through libvirt, transient and (--persist) defined + autostart, which
#     libvirt keeps through mdevctl (libvirt learns of new devices from udev: udevd runs);
#   - apply --persist (sysfs backend) writes definitions that Debian's mdevctl reads.
# Prints "ok N - desc" / "not ok N - desc" and ends with "N passed, N failed".
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
. "$REPO/tests/vm/lib.sh"
. "$REPO/tests/vm/testlib.sh"
filter=${1:-.}
work=$(mktemp -d)
trap 'stop_libvirtd; rm -rf "$work"' EXIT

n=0 passed=0 failed=0
failures=()
count() {
	local a=(/sys/class/mdev_bus/"$1"/mdev_supported_types/"$2"/devices/*)
	if [ -e "${a[0]}" ]; then echo ${#a[@]}; else echo 0; fi
}
run_test() { run_one libvirt "$@" || true; } # run_test FUNCTION DESCRIPTION

MID=0123456789abcdef0123456789abcdef
MDEVD_ARGS=(--machine-id "$MID")
virsh_() { timeout 120 virsh -c qemu:///system "$@"; }

# ------------------------------------------------------------------ libvirtd
start_libvirtd() {
	local d
	# The chroot's root is an overlay (writable) unless MDEVD_VM_OVERLAY=0: then tmpfs.
	for d in /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt/qemu; do
		mkdir -p "$d" 2>/dev/null && [ -w "$d" ] || mount -t tmpfs tmpfs "$d"
	done
	mkdir -p /run/libvirt /var/run
	# Debian's libvirt-daemon-system creates the libvirt-qemu user and group; without that
	# package the QEMU driver does not start (it looks the user up before reading
	# qemu.conf). The guest's /etc is its own overlay: add them there, run QEMU as root.
	if ! grep -q '^libvirt-qemu:' /etc/passwd; then
		echo 'libvirt-qemu:x:64055:64055:libvirt:/var/lib/libvirt:/usr/sbin/nologin' \
			>>/etc/passwd || { say "cannot write /etc/passwd (MDEVD_VM_OVERLAY=0?)"; return 1; }
	fi
	grep -q '^libvirt-qemu:' /etc/group || echo 'libvirt-qemu:x:64055:' >>/etc/group
	grep -q '^kvm:' /etc/group || echo 'kvm:x:64056:' >>/etc/group
	printf 'user = "root"\ngroup = "root"\n' >/etc/libvirt/qemu.conf
	cat >"$work/libvirtd.conf" <<-'EOF'
		# Root-only unix sockets without polkit (no D-Bus in the guest).
		auth_unix_ro = "none"
		auth_unix_rw = "none"
		unix_sock_ro_perms = "0700"
		unix_sock_rw_perms = "0700"
		log_filters = "1:node_device 1:util.mdev 1:util.command 1:util.virmdev"
		log_outputs = "1:stderr"
	EOF
	# libvirt learns of new node devices (the mdevs it asks mdevctl to create) from udev's
	# monitor, not from the kernel: without udevd, virNodeDeviceCreateXML waits for a device
	# that never shows up and fails.
	if [ -x /lib/systemd/systemd-udevd ]; then
		/lib/systemd/systemd-udevd >"$RESULTS/udevd.log" 2>&1 &
		echo $! >"$work/udevd.pid"
	fi
	libvirtd --config "$work/libvirtd.conf" >"$RESULTS/libvirtd.log" 2>&1 &
	echo $! >"$work/libvirtd.pid"
	for _ in $(seq 1 120); do
		[ -S /run/libvirt/libvirt-sock ] && virsh_ version >/dev/null 2>&1 && return 0
		sleep 1
	done
	say "libvirtd did not come up; its log:"
	tail -n 40 "$RESULTS/libvirtd.log"
	return 1
}
stop_libvirtd() {
	local p
	for p in libvirtd udevd; do
		[ -s "$work/$p.pid" ] || continue
		kill "$(cat "$work/$p.pid")" 2>/dev/null || true
		: >"$work/$p.pid"
	done
}

# A persistent (defined, not started) domain that names mdev $2.
define_domain() {
	cat >"$work/dom.xml" <<-EOF
		<domain type='qemu'>
		  <name>$1</name>
		  <memory unit='MiB'>64</memory>
		  <vcpu>1</vcpu>
		  <os><type arch='x86_64' machine='q35'>hvm</type></os>
		  <devices>
		    <hostdev mode='subsystem' type='mdev' model='vfio-pci' display='off'>
		      <source><address uuid='$2'/></source>
		    </hostdev>
		  </devices>
		</domain>
	EOF
	virsh_ define "$work/dom.xml"
}

policy() { # policy N -> a policy file asking for N mtty-2 on mtty
	printf '{"mdevd": {"layouts": [{"parents": ["mtty"], "types": {"mtty-2": %s}}]}}\n' "$1" \
		>"$work/pol-$1.json"
	echo "$work/pol-$1.json"
}

# -------------------------------------------------------------------- tests
t_reserved() { # a defined domain reserves its mdev: plan/apply keep it, list names it
	vm_mdev_remove_all
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 2)"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 2 ] || fail "2 mtty-2 expected"
	local slot1
	slot1=$("$MDEVD" "${MDEVD_ARGS[@]}" plan -p "$(policy 2)" -o json |
		jq -r '.actions[] | select(.slot == 1) | .uuid')
	[ -n "$slot1" ] || fail "no slot 1 in the plan"
	define_domain mdevd-reserve "$slot1" || fail "virsh define failed"
	# The default: qemu:///system, because its socket exists and the root is /sys.
	md "${MDEVD_ARGS[@]}" plan -p "$(policy 1)" -o json
	expect_rc 0
	[ "$(jq -r ".actions[] | select(.uuid == \"$slot1\") | .reason_code" "$work/out")" = reserved ] ||
		fail "slot 1 is not kept as reserved"
	[ "$(jq -r ".actions[] | select(.uuid == \"$slot1\") | .domain" "$work/out")" = mdevd-reserve ] ||
		fail "the plan does not name the domain"
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 1)"
	expect_rc 3
	[ -e "/sys/bus/mdev/devices/$slot1" ] || fail "the reserved mdev was removed"
	grep -q "reserved by libvirt domain mdevd-reserve" "$work/err" || fail "no 'reserved by' line"
	md list -o json
	expect_rc 0
	[ "$(jq -r ".[] | select(.uuid == \"$slot1\") | .state + \" \" + .domain" "$work/out")" = \
		"reserved mdevd-reserve" ] || fail "list does not show the reservation"
	# Removing it by hand is refused too, naming the domain.
	md remove "$slot1"
	expect_rc 1
	grep -q "reserved by libvirt domain mdevd-reserve" "$work/err" || fail "remove: no reason"
	[ -e "/sys/bus/mdev/devices/$slot1" ] || fail "remove removed a reserved mdev"
	# --no-libvirt: only the kernel's evidence; the plan would remove it.
	md "${MDEVD_ARGS[@]}" plan -p "$(policy 1)" --no-libvirt
	expect_rc 2
	# The domain goes: the next apply removes the mdev.
	virsh_ undefine mdevd-reserve || fail "virsh undefine failed"
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 1)"
	expect_rc 0
	[ ! -e "/sys/bus/mdev/devices/$slot1" ] || fail "slot 1 is still there"
}

t_unreachable() { # an unreachable libvirt: one warning, then the kernel's evidence
	md "${MDEVD_ARGS[@]}" plan -p "$(policy 1)" --connect 'qemu+unix:///system?socket=/nonexistent'
	expect_rc 0 2
	[ "$(grep -c 'cannot be reached' "$work/err")" = 1 ] || fail "expected exactly one warning"
	grep -q 'qemu+unix:///system?socket=/nonexistent' "$work/err" || fail "the URI is not named"
}

t_nodedev() { # what libvirt 9 lists as mdev parents; --backend libvirt on mtty
	vm_mdev_remove_all
	virsh_ nodedev-list --cap mdev_types | tee "$work/parents" || fail "nodedev-list failed"
	md types --source libvirt -o json
	expect_rc 0
	say "libvirt's mdev parents: $(jq -r '[.[].parent] | join(" ")' "$work/out")"
	if jq -e '.[] | select(.parent == "mtty")' "$work/out" >/dev/null; then
		say "this libvirt lists mtty: the backend is exercised"
		# Transient: virNodeDeviceCreateXML / virNodeDeviceDestroy.
		md "${MDEVD_ARGS[@]}" apply --backend libvirt -p "$(policy 2)"
		expect_rc 0
		[ "$(count mtty mtty-2)" = 2 ] || fail "libvirt did not create 2 mdevs"
		grep -q 'through libvirt' "$work/err" || fail "not created through libvirt"
		virsh_ nodedev-list --cap mdev | tee "$work/mdevs"
		[ "$(grep -c mdev_ "$work/mdevs")" = 2 ] || fail "libvirt does not list both mdevs"
		md "${MDEVD_ARGS[@]}" apply --backend libvirt -p "$(policy 1)"
		expect_rc 0
		[ "$(count mtty mtty-2)" = 1 ] || fail "libvirt did not remove slot 1"
		md "${MDEVD_ARGS[@]}" apply --backend libvirt -p "$(policy 0)"
		expect_rc 0
		[ "$(count mtty mtty-2)" = 0 ] || fail "libvirt did not remove slot 0"
		# Persistent: define + autostart + create, kept by libvirt through mdevctl.
		rm -rf /etc/mdevctl.d/mtty
		md "${MDEVD_ARGS[@]}" apply --backend libvirt --persist -p "$(policy 1)"
		expect_rc 0
		[ "$(count mtty mtty-2)" = 1 ] || fail "libvirt did not create the defined mdev"
		mdevctl list --defined | tee "$work/defined"
		grep -q 'mtty mtty-2 auto' "$work/defined" || fail "not defined with autostart in mdevctl"
		local name
		name=$(virsh_ nodedev-list --cap mdev | grep -m1 mdev_) || fail "libvirt lists no mdev"
		virsh_ nodedev-info "$name" | tee "$work/info"
		grep -Eq '^Persistent:[[:space:]]+yes' "$work/info" || fail "libvirt: not persistent"
		grep -Eq '^Autostart:[[:space:]]+yes' "$work/info" || fail "libvirt: not autostart"
		md "${MDEVD_ARGS[@]}" apply --backend libvirt --persist -p "$(policy 0)"
		expect_rc 0
		[ "$(count mtty mtty-2)" = 0 ] || fail "libvirt did not remove the defined mdev"
		mdevctl list --defined | tee "$work/defined"
		! grep -q 'mtty-2' "$work/defined" || fail "still defined after the remove"
		# mbochs (shared memory pool) through libvirt too, when libvirt lists it.
		if ! "$MDEVD" types --source libvirt -o json | jq -e '.[] | select(.parent == "mbochs")' \
			>/dev/null; then
			say "note: this libvirt does not list mbochs as an mdev parent"
			return 0
		fi
		printf '{"mdevd": {"layouts": [{"parents": ["mbochs"], "types": {"mbochs-small": 2}}]}}\n' \
			>"$work/mbochs.json"
		md "${MDEVD_ARGS[@]}" apply --backend libvirt -p "$work/mbochs.json"
		expect_rc 0
		[ "$(count mbochs mbochs-small)" = 2 ] || fail "libvirt did not create 2 mbochs-small"
		printf '{"mdevd": {"layouts": [{"parents": ["mbochs"], "types": {}}]}}\n' \
			>"$work/mbochs-0.json"
		md "${MDEVD_ARGS[@]}" apply --backend libvirt -p "$work/mbochs-0.json"
		expect_rc 0
		[ "$(count mbochs mbochs-small)" = 0 ] || fail "libvirt did not remove the mbochs mdevs"
		return 0
	fi
	# A libvirt that does not list mtty: the backend must say so and write nothing.
	md "${MDEVD_ARGS[@]}" apply --backend libvirt -p "$(policy 1)"
	expect_rc 1
	grep -q 'libvirt lists no node device with mdev types for parent mtty' "$work/err" ||
		fail "the error does not explain why"
	[ "$(count mtty mtty-2)" = 0 ] || fail "an mdev appeared"
	# libvirt does see mdevs created through sysfs (subsystem mdev).
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 1)"
	expect_rc 0
	sleep 2
	virsh_ nodedev-list --cap mdev | tee "$work/mdevs"
	grep -q mdev_ "$work/mdevs" || say "note: libvirt lists no mdev node devices"
	vm_mdev_remove_all
}

t_persist_mdevctl() { # apply --persist: definitions mdevctl reads, gone with the mdev
	vm_mdev_remove_all
	rm -rf /etc/mdevctl.d/mtty
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 2)" --persist --no-libvirt
	expect_rc 0
	local u
	for u in $(ls /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/devices/); do
		[ -f "/etc/mdevctl.d/mtty/$u" ] || fail "no definition for $u"
		jq -e '.mdev_type == "mtty-2" and .start == "auto" and .attrs == []' \
			"/etc/mdevctl.d/mtty/$u" >/dev/null || fail "definition of $u: $(cat "/etc/mdevctl.d/mtty/$u")"
	done
	mdevctl list --defined | tee "$work/defined"
	[ "$(grep -c 'mtty mtty-2 auto' "$work/defined")" = 2 ] || fail "mdevctl does not read both"
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 1)" --persist --no-libvirt
	expect_rc 0
	[ "$(ls /etc/mdevctl.d/mtty | wc -l)" = 1 ] || fail "the removed mdev kept its definition"
	md "${MDEVD_ARGS[@]}" apply -p "$(policy 0)" --persist --no-libvirt
	expect_rc 0
	[ -z "$(ls /etc/mdevctl.d/mtty)" ] || fail "definitions left"
}

# -------------------------------------------------------------------- main
vm_modprobe mtty || { say "cannot load mtty"; exit 1; }
command -v libvirtd >/dev/null || { say "libvirtd is not installed (scripts/deps.sh)"; exit 1; }
t0=$SECONDS
if start_libvirtd; then
	say "# libvirtd up after $((SECONDS - t0))s: $(virsh_ version 2>/dev/null | tr '\n' ' ')"
	run_test t_reserved "a defined domain reserves its mdev (plan, apply, list; default URI)"
	run_test t_unreachable "an unreachable libvirt is reported once"
	run_test t_nodedev "--backend libvirt creates, defines (autostart) and removes mdevs"
else
	n=$((n + 1)) failed=$((failed + 1))
	say "not ok $n - libvirtd starts in the guest"
fi
stop_libvirtd
run_test t_persist_mdevctl "apply --persist writes mdevctl definitions"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
