#!/bin/bash
# tests/vm/guest-daemon.sh — `mdevd run` against a real kernel: runs inside the test VM
# (tests/vm/run.sh tests/vm/guest-daemon.sh [FILTER]). One daemon runs on the guest's
# /sys with the sample drivers; the tests change the node out of band (create and
# remove mdevs, unload and reload mtty, rebind the edu device, edit the policy) and check
# from the daemon's log and from sysfs that it noticed through uevents and converged.
#
# Prints "ok N - desc" / "not ok N - desc" (+ "#" diagnostics) per test and ends with
# "N passed, N failed"; exits non-zero on any failure.
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
. "$REPO/tests/vm/lib.sh"
filter=${1:-.}
work=$(mktemp -d)
log=$work/daemon.log
pol=$work/policy.json
trap '[ -s "$work/daemon.pid" ] && kill -9 "$(cat "$work/daemon.pid")" 2>/dev/null; rm -rf "$work"' EXIT

n=0 passed=0 failed=0
failures=()
EDU=1234:11e8

# ------------------------------------------------------------------ helpers
say() { printf '%s\n' "$*"; }
fail() {
	say "FAIL: $*"
	exit 1
}
count() { vm_mdev_count "$@"; }
new_uuid() { cat /proc/sys/kernel/random/uuid; }
dpid() { cat "$work/daemon.pid"; }
alive() { kill -0 "$(dpid)" 2>/dev/null || fail "the daemon died"; }
# wait_for SECONDS COMMAND... -> 0 once COMMAND succeeds (the test polls, not the daemon)
wait_for() {
	local i max=$(($1 * 10))
	shift
	for ((i = 0; i < max; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
in_log() { grep -Eq -- "$1" "$log"; }
wait_log() { wait_for "${2:-10}" in_log "$1" || fail "no daemon log line /$1/ within ${2:-10} s"; }
mtty_uuids() {
	local m p
	for m in /sys/bus/mdev/devices/*; do
		[ -e "$m" ] || continue
		p=$(readlink -f "$m/..")
		[ "${p##*/}" = mtty ] && echo "${m##*/}"
	done | sort
}
count_is() { [ "$(count "$1")" = "$2" ]; }
# ms since an earlier `date +%s%N`
since_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

write_policy() { # write_policy N_MTTY2 -> the policy file, written as an editor saves it
	cat >"$pol.tmp" <<EOF
{
  "permittedHostDevices": {
    "mediatedDevices": [{"mdevNameSelector": "Dual port serial", "resourceName": "example.com/MTTY_DUAL"}],
    "pciHostDevices": [{"pciVendorSelector": "$EDU", "resourceName": "example.com/EDU"}]
  },
  "mdevd": {"layouts": [{"parents": ["mtty"], "types": {"mtty-2": $1}}]}
}
EOF
	mv "$pol.tmp" "$pol"
}

run_test() { # run_test FUNCTION DESCRIPTION
	[[ $1 =~ $filter ]] || return 0
	n=$((n + 1))
	local t0=$SECONDS st=0
	("$1") >"$work/log" 2>&1 || st=$?
	if [ $st = 0 ]; then
		passed=$((passed + 1))
		say "ok $n - $2 ($((SECONDS - t0))s)"
		grep '^#' "$work/log" || true
	else
		failed=$((failed + 1))
		failures+=("$n - $2")
		say "not ok $n - $2"
		tail -n 40 "$work/log" | sed 's/^/#   /'
		tail -n 25 "$log" 2>/dev/null | sed 's/^/#   daemon: /'
	fi
	cp "$work/log" "$RESULTS/daemon-test-$n-$1.log" 2>/dev/null || true
}

# -------------------------------------------------------------------- tests
t_start() { # the daemon applies the policy at start and says it is ready
	vm_mdev_remove_all
	[ "$(count)" = 0 ] || fail "could not remove all mdevs"
	[ "$(vm_pci_driver "$(vm_pci_find $EDU | head -1)")" = vfio-pci ] ||
		vm_bind_vfio $EDU || fail "cannot bind edu to vfio-pci"
	write_policy 3
	local t0
	t0=$(date +%s%N)
	"$MDEVD" -v run --policy "$pol" --no-device-plugins 2>"$log" &
	echo $! >"$work/daemon.pid"
	wait_log '^mdevd: ready' 30
	say "# start to ready (3 creates, TCG guest): $(since_ms "$t0") ms"
	count_is mtty 3 || fail "expected 3 mtty mdevs, found $(count mtty)"
	in_log 'applied the policy: 3 created' || fail "no apply summary"
	in_log 'resource example.com/MTTY_DUAL: 3 devices, 3 healthy' || fail "pool not logged"
	in_log 'resource example.com/EDU: 1 devices, 1 healthy' || fail "EDU pool not logged"
	mtty_uuids >"$work/uuids.start"
}

t_foreign_add() { # an mdev created out of band is noticed and kept (foreign)
	alive
	local u t0
	u=$(new_uuid)
	t0=$(date +%s%N)
	echo "$u" >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/create ||
		fail "out-of-band create failed"
	wait_log "uevent: mdev add $u" 5
	say "# out-of-band create -> daemon log line: $(since_ms "$t0") ms"
	sleep 1
	[ -e "/sys/bus/mdev/devices/$u" ] || fail "the daemon removed a foreign mdev"
	"$MDEVD" status --policy "$pol" -o json >"$work/status.json" || fail "status failed"
	jq -e --arg u "$u" '.mdevs[] | select(.uuid == $u) | .owned == false' \
		"$work/status.json" >/dev/null || fail "status does not list $u as foreign"
	echo 1 >"/sys/bus/mdev/devices/$u/remove"
	wait_log "uevent: mdev remove $u" 5
}

t_recreate() { # an owned mdev removed out of band comes back, same UUID
	alive
	local u t0
	u=$(head -1 "$work/uuids.start" 2>/dev/null || mtty_uuids | head -1)
	[ -n "$u" ] && [ -e "/sys/bus/mdev/devices/$u" ] || fail "no owned mtty mdev to remove"
	t0=$(date +%s%N)
	echo 1 >"/sys/bus/mdev/devices/$u/remove"
	wait_log "uevent: mdev remove $u" 5
	wait_for 10 test -e "/sys/bus/mdev/devices/$u" || fail "$u was not re-created"
	say "# out-of-band remove -> re-created by the daemon: $(since_ms "$t0") ms"
	count_is mtty 3 || fail "expected 3 mtty mdevs, found $(count mtty)"
}

t_reload() { # a policy edit reloads and the node follows
	alive
	local t0
	t0=$(date +%s%N)
	write_policy 1
	wait_log 'policy reloaded: generation 2'
	wait_for 10 count_is mtty 1 || fail "expected 1 mtty mdev after the edit, found $(count mtty)"
	say "# policy edit -> node converged (2 removes): $(since_ms "$t0") ms"
	wait_log 'resource example.com/MTTY_DUAL: 1 devices, 1 healthy \(was 3\)'
	# Garbage: rejected with its line, the node stays as it is.
	echo '{"mdevd": {"layouts": [' >"$pol"
	wait_log 'new policy rejected; still running policy generation 2'
	sleep 0.5
	count_is mtty 1 || fail "a rejected policy changed the node"
	alive
	write_policy 1
	wait_log 'policy reloaded: generation 3'
}

t_parent_cycle() { # rmmod/modprobe mtty: parent events, mdevs re-created with their UUIDs
	alive
	local before after t0
	before=$(mtty_uuids)
	[ -n "$before" ] || fail "no mtty mdevs before"
	rmmod mtty || fail "rmmod mtty failed"
	wait_log 'uevent: parent unregistered mtty'
	wait_log 'parent mtty is gone'
	t0=$(date +%s%N)
	vm_modprobe mtty || fail "modprobe mtty failed"
	wait_log 'uevent: parent registered mtty'
	wait_for 10 count_is mtty 1 || fail "mtty mdevs not re-created (found $(count mtty))"
	say "# modprobe mtty -> mdevs re-created: $(since_ms "$t0") ms"
	after=$(mtty_uuids)
	[ "$before" = "$after" ] || fail "UUIDs differ: before $before, after $after"
}

t_pci_rebind() { # edu leaves vfio-pci: the pool loses it, and gets it back
	alive
	local bdf
	bdf=$(vm_pci_find $EDU | head -1)
	[ -n "$bdf" ] || fail "no edu device"
	vm_pci_restore "$bdf" || fail "cannot unbind $bdf"
	wait_log "uevent: pci unbind $bdf"
	wait_log 'resource example.com/EDU: 0 devices'
	vm_pci_bind "$bdf" vfio-pci || fail "cannot bind $bdf to vfio-pci"
	wait_log "uevent: pci bind $bdf driver vfio-pci"
	wait_log 'resource example.com/EDU: 1 devices, 1 healthy \(was 0\)'
}

t_idle() { # no busy loop: context switches while nothing happens
	alive
	local p v0 v1 c0 c1
	p=$(dpid)
	sleep 0.5
	v0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$p/status")
	c0=$(awk '{print $14 + $15}' "/proc/$p/stat")
	sleep 3
	v1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$p/status")
	c1=$(awk '{print $14 + $15}' "/proc/$p/stat")
	say "# idle 3 s on a real kernel: $((v1 - v0)) wake-ups, $((c1 - c0)) CPU ticks"
	[ $((v1 - v0)) -lt 50 ] || fail "woke up $((v1 - v0)) times in 3 s"
}

t_stop() { # SIGTERM: exit 0 quickly; the mdevs stay
	alive
	local p rc=0 t0 before
	p=$(dpid)
	before=$(count)
	t0=$(date +%s%N)
	kill -TERM "$p"
	wait_for 5 sh -c "! kill -0 $p 2>/dev/null" || fail "still running 5 s after SIGTERM"
	say "# SIGTERM to exit: $(since_ms "$t0") ms"
	: >"$work/daemon.pid"
	wait "$p" 2>/dev/null || rc=$?
	# Not our child in this subshell: read the status from the log instead.
	in_log 'SIGTERM: shutting down' || fail "no shutdown line"
	[ "$(count)" = "$before" ] || fail "mdevs changed on shutdown"
}

# systemd's PrivateNetwork=yes: a network namespace of its own still gets kernel uevents.
t_private_network() {
	command -v unshare >/dev/null || {
		say "# unshare missing: skipped"
		return 0
	}
	unshare --net true 2>/dev/null || {
		say "# unshare --net not permitted: skipped"
		return 0
	}
	write_policy 1
	unshare --net "$MDEVD" run --policy "$pol" --no-device-plugins 2>"$log" &
	echo $! >"$work/daemon.pid"
	wait_log '^mdevd: ready' 30
	local u
	u=$(new_uuid)
	echo "$u" >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/create ||
		fail "out-of-band create failed"
	wait_log "uevent: mdev add $u" 5
	echo 1 >"/sys/bus/mdev/devices/$u/remove"
	kill -TERM "$(dpid)"
	wait_for 5 sh -c "! kill -0 $(dpid) 2>/dev/null" || fail "did not stop"
	: >"$work/daemon.pid"
}

# --------------------------------------------------------------------- main
say "# mdevd daemon VM tests: kernel $(uname -r), $MDEVD"
run_test t_start "run: applies the policy at start, logs readiness and the pools"
run_test t_foreign_add "an mdev created out of band: uevent logged, kept as foreign"
run_test t_recreate "an owned mdev removed out of band is re-created with its UUID"
run_test t_reload "policy edit: reload, node converges; garbage rejected, node unchanged"
run_test t_parent_cycle "rmmod/modprobe mtty: parent uevents, same UUIDs re-created"
run_test t_pci_rebind "edu unbound from / rebound to vfio-pci: pool follows"
run_test t_idle "no busy loop on a real kernel"
run_test t_stop "SIGTERM: clean exit, mdevs kept"
run_test t_private_network "in a private network namespace (PrivateNetwork=yes) uevents still arrive"
vm_mdev_remove_all

if [ $failed -gt 0 ]; then
	say "# failed:"
	for f in "${failures[@]}"; do say "#   $f"; done
fi
say "$passed passed, $failed failed"
[ $failed = 0 ]
