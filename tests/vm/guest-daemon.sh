#!/bin/bash
# tests/vm/guest-daemon.sh — `mdevd run` against a real kernel: runs inside the test VM
# (tests/vm/run.sh tests/vm/guest-daemon.sh [FILTER]). One daemon runs on the guest's
# /sys with the sample drivers; the tests change the node out of band (create and
# remove mdevs, unload and reload mtty, rebind the edu device, edit the policy) and check
# from the daemon's log and from sysfs that it noticed through uevents and converged.
# The t_dp_* tests then run the daemon with its device plugins against a kubelet stand-in
# (tests/vm/kubelet_guest.py, Python grpcio) and check what kubelet sees: registrations
# and ListAndWatch lists, and the time from a sysfs write to the list that shows it.
#
# Prints "ok N - desc" / "not ok N - desc" (+ "#" diagnostics) per test and ends with
# "N passed, N failed"; exits non-zero on any failure.
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
. "$REPO/tests/vm/lib.sh"
# say, fail, wait_for, run_one
. "$REPO/tests/vm/testlib.sh"
filter=${1:-.}
work=$(mktemp -d)
# Every wait is for an event; this deadline (seconds) is for hangs only, generous for TCG on
# a loaded host. Times are reported with "#", never judged here (make bench does).
W=${MDEVD_WAIT:-90}
log=$work/daemon.log
pol=$work/policy.json
cleanup() {
	local f
	for f in daemon kubelet; do
		[ -s "$work/$f.pid" ] && kill -9 "$(cat "$work/$f.pid")" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

n=0 passed=0 failed=0
failures=()
EDU=1234:11e8

# ------------------------------------------------------------------ helpers
count() { vm_mdev_count "$@"; }
new_uuid() { cat /proc/sys/kernel/random/uuid; }
dpid() { cat "$work/daemon.pid"; }
alive() { kill -0 "$(dpid)" 2>/dev/null || fail "the daemon died"; }
in_log() { grep -Eq -- "$1" "$log"; }
wait_log() { wait_for "${2:-$W}" in_log "$1" || fail "no daemon log line /$1/ within ${2:-$W} s"; }
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

RUN_NOTES='^#' RUN_TAIL=40
run_failed() { tail -n 25 "$log" 2>/dev/null | sed 's/^/#   daemon: /'; }
run_test() { run_one daemon-test "$@" || true; } # run_test FUNCTION DESCRIPTION

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
	wait_log 'mdevd: ready' 30
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
	local n0
	# A reconcile (read, apply) logged after the create: the daemon had its chance to act.
	reconciles() { grep -Ec 'reconcile [0-9]+ \(uevent\)' "$log"; }
	more_reconciles() { [ "$(reconciles)" -gt "$n0" ]; }
	u=$(new_uuid)
	n0=$(reconciles)
	t0=$(date +%s%N)
	echo "$u" >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/create ||
		fail "out-of-band create failed"
	wait_log "uevent: mdev add $u"
	say "# out-of-band create -> daemon log line: $(since_ms "$t0") ms"
	wait_for $W more_reconciles || fail "no reconcile after the uevent"
	[ -e "/sys/bus/mdev/devices/$u" ] || fail "the daemon removed a foreign mdev"
	# 0 all served, 2 degraded (e.g. capacity the foreign mdev takes): both print the status
	local rc=0
	"$MDEVD" status --policy "$pol" -o json >"$work/status.json" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 2 ] || fail "status failed (exit $rc)"
	jq -e --arg u "$u" '.mdevs[] | select(.uuid == $u) | .owned == false' \
		"$work/status.json" >/dev/null || fail "status does not list $u as foreign"
	echo 1 >"/sys/bus/mdev/devices/$u/remove"
	wait_log "uevent: mdev remove $u"
}

t_recreate() { # an owned mdev removed out of band comes back, same UUID
	alive
	local u t0
	u=$(head -1 "$work/uuids.start" 2>/dev/null || mtty_uuids | head -1)
	[ -n "$u" ] && [ -e "/sys/bus/mdev/devices/$u" ] || fail "no owned mtty mdev to remove"
	t0=$(date +%s%N)
	echo 1 >"/sys/bus/mdev/devices/$u/remove"
	wait_log "uevent: mdev remove $u"
	wait_for $W test -e "/sys/bus/mdev/devices/$u" || fail "$u was not re-created"
	say "# out-of-band remove -> re-created by the daemon: $(since_ms "$t0") ms"
	count_is mtty 3 || fail "expected 3 mtty mdevs, found $(count mtty)"
}

t_reload() { # a policy edit reloads and the node follows
	alive
	local t0
	t0=$(date +%s%N)
	write_policy 1
	wait_log 'policy reloaded: generation 2'
	wait_for $W count_is mtty 1 || fail "expected 1 mtty mdev after the edit, found $(count mtty)"
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
	wait_for $W count_is mtty 1 || fail "mtty mdevs not re-created (found $(count mtty))"
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
	local p v0 v1 c0 c1 e0 uev
	p=$(dpid)
	sleep 0.5
	e0=$(grep -c 'uevent: ' "$log")
	v0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$p/status")
	c0=$(awk '{print $14 + $15}' "/proc/$p/stat")
	sleep 3
	v1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$p/status")
	c1=$(awk '{print $14 + $15}' "/proc/$p/stat")
	uev=$(($(grep -c 'uevent: ' "$log") - e0))
	say "# idle 3 s on a real kernel: $((v1 - v0)) wake-ups, $((c1 - c0)) CPU ticks, $uev uevents"
	# A busy loop or a short timer wakes it hundreds of times a second; each uevent (the
	# guest's own: nothing else runs there) may wake it a few times.
	[ $((v1 - v0)) -lt $((50 + 4 * uev)) ] || fail "woke up $((v1 - v0)) times in 3 s ($uev uevents)"
}

t_stop() { # SIGTERM: exit 0 quickly; the mdevs stay
	alive
	local p rc=0 t0 before
	p=$(dpid)
	before=$(count)
	t0=$(date +%s%N)
	kill -TERM "$p"
	wait_exit $W "$p" || fail "still running $W s after SIGTERM"
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
	wait_log 'mdevd: ready' 30
	local u
	u=$(new_uuid)
	echo "$u" >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/create ||
		fail "out-of-band create failed"
	wait_log "uevent: mdev add $u"
	echo 1 >"/sys/bus/mdev/devices/$u/remove"
	kill -TERM "$(dpid)"
	wait_exit $W "$(dpid)" || fail "did not stop"
	: >"$work/daemon.pid"
}

# ------------------------------------------- device plugins: what kubelet sees
# The kubelet stand-in appends "US register RES ENDPOINT", "US list RES ID:HEALTH ...",
# "US end RES CODE" to $events (US: wall-clock microseconds, the clock of $EPOCHREALTIME).
dpdir=$work/dp
events=$work/events
gen=$work/gen
MTTY_RES=example.com/MTTY_DUAL SINGLE_RES=example.com/MTTY_SINGLE EDU_RES=example.com/EDU
SINGLE_SEL=", {\"mdevNameSelector\": \"Single port serial\", \"resourceName\": \"$SINGLE_RES\"}"
now_us() { echo "${EPOCHREALTIME/./}"; }
us_to_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
kubelet_py() { /usr/bin/python3 "$REPO/tests/vm/kubelet_guest.py" "$gen" "$@"; }
MPORT=9478 # the daemon's --metrics-address port (the guest's loopback is its own)

# write_dp_policy "MORE MEDIATED ENTRIES" WITH_EDU(0|1): two mtty-2 and one mtty-1 mdevs
write_dp_policy() {
	local pci=
	[ "$2" = 1 ] &&
		pci=", \"pciHostDevices\": [{\"pciVendorSelector\": \"$EDU\", \"resourceName\": \"$EDU_RES\"}]"
	cat >"$pol.tmp" <<EOF
{
  "permittedHostDevices": {
    "mediatedDevices": [{"mdevNameSelector": "Dual port serial", "resourceName": "$MTTY_RES"}$1]$pci
  },
  "mdevd": {"layouts": [{"parents": ["mtty"], "types": {"mtty-2": 2, "mtty-1": 1}}]}
}
EOF
	mv "$pol.tmp" "$pol"
}

# dp_first SINCE_US RES [HAS] [LACKS] -> the time (us) of the first list of RES at or
# after SINCE_US whose devices include the word HAS and not the word LACKS ("": no check)
dp_first() {
	awk -v t="$1" -v r="$2" -v has="${3:-}" -v lacks="${4:-}" '
		function word(w,   i) { for (i = 4; i <= NF; i++) if ($i == w) return 1; return 0 }
		$1 >= t && $2 == "list" && $3 == r && (has == "" || word(has)) &&
		    (lacks == "" || !word(lacks)) { print $1; exit }' "$events"
}
# dp_wait SECONDS SINCE_US RES [HAS] [LACKS] -> prints the time (us) of that list, or fails
dp_wait() {
	local i max=$(($1 * 50)) t
	shift
	for ((i = 0; i < max; i++)); do
		t=$(dp_first "$@")
		[ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.02
	done
	say "no ListAndWatch list of $2 since $1 with '${3:-}' and without '${4:-}'; events:" >&2
	tail -n 20 "$events" | sed 's/^/  /' >&2
	return 1
}
# dp_devices US RES -> the device words of the list of RES stamped US ("" when empty)
dp_devices() { awk -v t="$1" -v r="$2" '$1 == t && $2 == "list" && $3 == r { $1 = $2 = $3 = ""; print; exit }' "$events" | xargs; }
# dp_last RES -> the devices of the last list of RES, one ID:HEALTH a line
dp_last() {
	awk -v r="$1" '$2 == "list" && $3 == r { l = $0 }
		END { n = split(l, w, " "); for (i = 4; i <= n; i++) print w[i] }' "$events"
}
# registered SINCE_US RES -> prints the time (us) RES registered at or after SINCE_US
registered() { awk -v t="$1" -v r="$2" '$1 >= t && $2 == "register" && $3 == r { print $1; f = 1; exit } END { exit !f }' "$events"; }
ended() { awk -v t="$1" -v r="$2" -v c="$3" '$1 >= t && $2 == "end" && $3 == r && $4 == c { f = 1 } END { exit !f }' "$events"; }
mtty_type_uuids() { # mtty_type_uuids TYPE -> the UUIDs of the mtty mdevs of TYPE, sorted
	local m t
	for m in $(mtty_uuids); do
		t=$(readlink -f "/sys/bus/mdev/devices/$m/mdev_type")
		[ "${t##*/}" = "$1" ] && echo "$m"
	done
	return 0
}
healthy_list() { mtty_type_uuids "$1" | sed 's/$/:Healthy/'; }
# stats NAME FILE -> "# NAME (n samples): min / p50 / p99 / max ms" (nearest rank)
stats() {
	sort -n "$2" | awk -v name="$1" '{ v[NR] = $1 } END {
		p50 = int((NR * 50 + 99) / 100); p99 = int((NR * 99 + 99) / 100)
		printf "# %s (%d samples): min %.1f / p50 %.1f / p99 %.1f / max %.1f ms\n",
		    name, NR, v[1], v[p50], v[p99], v[NR] }'
}
kpid() { cat "$work/kubelet.pid"; }
kalive() {
	[ -s "$work/kubelet.pid" ] || fail "no kubelet stand-in (t_dp_start did not run or failed)"
	kill -0 "$(kpid)" 2>/dev/null || fail "the kubelet stand-in died: $(tail -5 "$work/kubelet.log")"
}
edu_bdf() { vm_pci_find $EDU | head -1; }
edu_sock() { echo "$dpdir/mdevd-example.com_EDU.sock"; }

t_dp_start() { # both plugins register; the first lists hold the mdevs and edu, Healthy
	/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
		fail "python3-grpcio / python3-grpc-tools missing in the guest (scripts/deps.sh)"
	mkdir -p "$gen" "$dpdir"
	/usr/bin/python3 -m grpc_tools.protoc -I"$REPO/mdevd/kubernetes" --python_out="$gen" \
		--grpc_python_out="$gen" "$REPO/mdevd/kubernetes/deviceplugin.proto" || fail "protoc"
	vm_mdev_remove_all
	local bdf t0 t1 t
	bdf=$(edu_bdf)
	[ -n "$bdf" ] || fail "no edu device"
	vm_pci_bind "$bdf" vfio-pci || fail "cannot bind $bdf to vfio-pci"
	write_dp_policy "" 1
	: >"$events"
	kubelet_py serve "$dpdir" "$events" 900 2>"$work/kubelet.log" &
	echo $! >"$work/kubelet.pid"
	wait_for 60 grep -q ' ready$' "$events" || fail "the kubelet stand-in did not start"
	t0=$(now_us)
	"$MDEVD" -v run --policy "$pol" --device-plugin-dir "$dpdir" \
		--metrics-address "127.0.0.1:$MPORT" --status-socket "$work/status.sock" 2>"$log" &
	echo $! >"$work/daemon.pid"
	wait_log 'mdevd: ready: serving 2 resources' 60
	wait_for $W registered "$t0" "$MTTY_RES" >/dev/null || fail "$MTTY_RES did not register"
	wait_for $W registered "$t0" "$EDU_RES" >/dev/null || fail "$EDU_RES did not register"
	t=$(registered "$t0" "$EDU_RES")
	t1=$(registered "$t0" "$MTTY_RES")
	[ "$t1" -gt "$t" ] && t=$t1
	say "# daemon start (3 creates) -> both plugins registered: $(us_to_ms "$t0" "$t") ms"
	[ "$(mtty_type_uuids mtty-2 | wc -l)" = 2 ] || fail "expected 2 mtty-2 mdevs"
	t=$(dp_wait $W "$t0" "$MTTY_RES" "$(healthy_list mtty-2 | head -1)") || fail "MTTY list"
	[ "$(dp_devices "$t" "$MTTY_RES")" = "$(healthy_list mtty-2 | xargs)" ] ||
		fail "first MTTY list: $(dp_devices "$t" "$MTTY_RES"), want $(healthy_list mtty-2 | xargs)"
	t=$(dp_wait $W "$t0" "$EDU_RES" "$bdf:Healthy") || fail "$bdf not listed Healthy"
	[ "$(dp_devices "$t" "$EDU_RES")" = "$bdf:Healthy" ] ||
		fail "first EDU list: $(dp_devices "$t" "$EDU_RES")"
	registered "$t0" "$SINGLE_RES" >/dev/null && fail "$SINGLE_RES registered but is not in the policy"
	return 0
}

t_dp_mdev_add_remove() { # out-of-band mtty-2 create/remove: in and out of the list, timed
	alive
	kalive
	local i u t0 t start from
	start=$(now_us)
	from=$(($(wc -l <"$log") + 1))
	: >"$work/add.ms"
	: >"$work/remove.ms"
	for ((i = 0; i < 20; i++)); do
		u=$(new_uuid)
		t0=$(now_us)
		echo "$u" >/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create ||
			fail "out-of-band create failed"
		t=$(dp_wait $W "$t0" "$MTTY_RES" "$u:Healthy") || fail "$u never listed"
		us_to_ms "$t0" "$t" >>"$work/add.ms"
		echo >>"$work/add.ms"
		t0=$(now_us)
		echo 1 >"/sys/bus/mdev/devices/$u/remove" || fail "out-of-band remove failed"
		t=$(dp_wait $W "$t0" "$MTTY_RES" "" "$u:Healthy") || fail "$u still listed"
		[ -z "$(dp_first "$t0" "$MTTY_RES" "$u:Unhealthy")" ] ||
			fail "$u (removed, never allocated) was listed Unhealthy instead of vanishing"
		us_to_ms "$t0" "$t" >>"$work/remove.ms"
		echo >>"$work/remove.ms"
	done
	for u in $(mtty_type_uuids mtty-2); do
		[ -z "$(dp_first "$start" "$MTTY_RES" "" "$u:Healthy")" ] ||
			fail "the owned $u left the list during the out-of-band creates"
	done
	stats "uevent -> ListAndWatch list, out-of-band mdev create (TCG)" "$work/add.ms"
	stats "uevent -> ListAndWatch list, out-of-band mdev remove (TCG)" "$work/remove.ms"
	# What the daemon did for them (it runs with -v): uevents read, reconciles, their times.
	tail -n +"$from" "$log" >"$work/loop.log"
	say "# 20 creates + 20 removes: $(grep -c 'uevent: ' "$work/loop.log") uevents logged -> $(grep -Ec 'reconcile [0-9]+ \(' "$work/loop.log") reconciles"
	sed -n 's/.*reconcile [0-9]* (uevent): \([0-9.]*\) ms.*/\1/p' "$work/loop.log" >"$work/reconcile.ms"
	[ -s "$work/reconcile.ms" ] && stats "reconcile after uevents (TCG)" "$work/reconcile.ms"
	grep -E 'reconcile [0-9]+ \(' "$work/loop.log" | head -3 | sed 's/^.*mdevd: /#   /'
	mtty_settled() { [ "$(dp_last "$MTTY_RES" | xargs)" = "$(healthy_list mtty-2 | xargs)" ]; }
	wait_for $W mtty_settled || fail "MTTY list at the end: $(dp_last "$MTTY_RES" | xargs)"
}

t_dp_pci_unbind() { # edu unbound from vfio-pci: Unhealthy, not gone; rebound: Healthy
	alive
	kalive
	local bdf t0 t
	bdf=$(edu_bdf)
	[ "$(vm_pci_driver "$bdf")" = vfio-pci ] || fail "$bdf is not on vfio-pci"
	[ "$(cat "/sys/bus/pci/devices/$bdf/driver_override")" = vfio-pci ] ||
		fail "driver_override of $bdf is not vfio-pci"
	t0=$(now_us)
	echo "$bdf" >/sys/bus/pci/drivers/vfio-pci/unbind || fail "cannot unbind $bdf"
	t=$(dp_wait $W "$t0" "$EDU_RES" "$bdf:Unhealthy") || fail "$bdf not listed Unhealthy"
	say "# uevent -> ListAndWatch list, edu unbound from vfio-pci -> Unhealthy: $(us_to_ms "$t0" "$t") ms"
	[ -z "$(dp_first "$t0" "$EDU_RES" "" "$bdf:Unhealthy")" ] ||
		fail "$bdf vanished from the list instead of turning Unhealthy"
	[ "$(dp_devices "$t" "$EDU_RES")" = "$bdf:Unhealthy" ] ||
		fail "EDU list: $(dp_devices "$t" "$EDU_RES")"
	kubelet_py allocate "$(edu_sock)" "$bdf" >"$work/alloc" || fail "Allocate: $(cat "$work/alloc")"
	say "# Allocate on the Unhealthy $bdf: $(cat "$work/alloc")"
	grep -q "^ERROR FAILED_PRECONDITION .*$bdf" "$work/alloc" ||
		fail "Allocate on the Unhealthy $bdf: $(cat "$work/alloc")"
	t0=$(now_us)
	echo "$bdf" >/sys/bus/pci/drivers_probe || fail "drivers_probe $bdf failed"
	[ "$(vm_pci_driver "$bdf")" = vfio-pci ] || fail "$bdf did not bind to vfio-pci again"
	t=$(dp_wait $W "$t0" "$EDU_RES" "$bdf:Healthy") || fail "$bdf not Healthy again"
	say "# uevent -> ListAndWatch list, edu rebound to vfio-pci -> Healthy: $(us_to_ms "$t0" "$t") ms"
	# Not allocated before the unbind: the Unhealthy entry above came from the unserved rule.
	t0=$(now_us)
	kubelet_py allocate "$(edu_sock)" "$bdf" >"$work/alloc" || fail "Allocate: $(cat "$work/alloc")"
	say "# Allocate $bdf (one-shot Python client, TCG): $(us_to_ms "$t0" "$(now_us)") ms: $(cat "$work/alloc")"
	grep -q "^OK PCI_RESOURCE_EXAMPLE_COM_EDU=$bdf /dev/vfio/vfio /dev/vfio/[0-9]" "$work/alloc" ||
		fail "Allocate $bdf: $(cat "$work/alloc")"
}

# scrape FILE: what an operator's `curl localhost:PORT/metrics` shows, into FILE
scrape() { curl -fsS "http://127.0.0.1:$MPORT/metrics" >"$1" || fail "curl /metrics failed"; }

t_dp_metrics() { # /metrics shows the node's truth; the probes and the status socket agree
	alive
	kalive
	/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null ||
		fail "python3-prometheus-client missing in the guest (scripts/deps.sh)"
	local bdf mtty r t0 code
	bdf=$(edu_bdf)
	mtty=$(mtty_type_uuids mtty-2 | head -1)
	scrape "$work/before.prom"
	# Calls kubelet would make: Allocate ok twice on each pool, one unknown ID.
	for r in 1 2; do
		kubelet_py allocate "$(edu_sock)" "$bdf" | grep -q '^OK ' || fail "Allocate $bdf"
		kubelet_py allocate "$dpdir/mdevd-example.com_MTTY_DUAL.sock" "$mtty" |
			grep -q '^OK ' || fail "Allocate $mtty"
	done
	kubelet_py allocate "$(edu_sock)" 0000:ff:1f.7 | grep -q '^ERROR INVALID_ARGUMENT' ||
		fail "Allocate of an unknown ID was not INVALID_ARGUMENT"
	# Edits: one rejected (garbage), one taken (the same policy again: generation + 1).
	t0=$(wc -l <"$log")
	echo '{ not json' >"$pol.tmp" && mv "$pol.tmp" "$pol"
	wait_for 20 sh -c "tail -n +$t0 '$log' | grep -q 'new policy rejected'" ||
		fail "the garbage policy was not rejected"
	t0=$(wc -l <"$log")
	write_dp_policy "" 1
	wait_for 30 sh -c "tail -n +$t0 '$log' | grep -q 'policy reloaded: generation'" ||
		fail "the restored policy was not taken"
	wait_for 30 sh -c "'$MDEVD' status --check --socket '$work/status.sock' >/dev/null" ||
		fail "not ready again after the reload"
	"$MDEVD" status --socket "$work/status.sock" -o json >"$work/status.json" ||
		fail "mdevd status -o json via the socket"
	scrape "$work/after.prom"
	cp "$work/after.prom" "$RESULTS/metrics.prom" 2>/dev/null || true
	printf '%s\n' "{\"allocate\": {\"$EDU_RES\": {\"ok\": 2, \"invalid_argument\": 1," \
		"\"failed_precondition\": 0}, \"$MTTY_RES\": {\"ok\": 2, \"invalid_argument\": 0}}," \
		"\"reloads\": {\"ok\": 1, \"rejected\": 1}}" >"$work/expect.json"
	/usr/bin/python3 "$REPO/tests/vm/metrics_check.py" "$work/before.prom" "$work/after.prom" \
		"$work/status.json" "$events" "$work/expect.json" || fail "metrics differ from the truth"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/readyz")
	[ "$code" = 200 ] || fail "/readyz: $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/livez")
	[ "$code" = 200 ] || fail "/livez: $code"
	"$MDEVD" status --check --socket "$work/status.sock" >"$work/check" ||
		fail "status --check: $(cat "$work/check")"
	say "# probes: /readyz 200, /livez 200, status --check: $(cat "$work/check")"
}

t_dp_policy_edit() { # a pool added: its plugin registers; a pool dropped: an empty list
	alive
	kalive
	local t0 t u
	u=$(mtty_type_uuids mtty-1)
	[ -n "$u" ] || fail "no mtty-1 mdev"
	t0=$(now_us)
	write_dp_policy "$SINGLE_SEL" 1
	wait_for $W registered "$t0" "$SINGLE_RES" >/dev/null || fail "$SINGLE_RES did not register"
	say "# policy edit adding a pool -> its plugin registered: $(us_to_ms "$t0" "$(registered "$t0" "$SINGLE_RES")") ms"
	t=$(dp_wait $W "$t0" "$SINGLE_RES" "$u:Healthy") || fail "$u not listed"
	[ "$(dp_devices "$t" "$SINGLE_RES")" = "$u:Healthy" ] ||
		fail "first $SINGLE_RES list: $(dp_devices "$t" "$SINGLE_RES")"
	registered "$t0" "$MTTY_RES" >/dev/null && fail "$MTTY_RES registered again on an unrelated edit"
	t0=$(now_us)
	write_dp_policy "$SINGLE_SEL" 0
	t=$(dp_wait $W "$t0" "$EDU_RES") || fail "no list for $EDU_RES after it left the policy"
	[ -z "$(dp_devices "$t" "$EDU_RES")" ] ||
		fail "$EDU_RES: the list after it left the policy: $(dp_devices "$t" "$EDU_RES")"
	say "# policy edit dropping a pool -> empty list: $(us_to_ms "$t0" "$t") ms"
	wait_for $W ended "$t0" "$EDU_RES" OK || fail "the $EDU_RES stream did not end with OK"
	wait_for $W test ! -e "$(edu_sock)" || fail "EDU socket left behind"
	[ -n "$(dp_first "$t0" "$MTTY_RES")" ] && fail "$MTTY_RES got a list on an unrelated edit"
	return 0
}

t_dp_stop() { # SIGTERM: every stream gets an empty list and ends; sockets removed
	alive
	kalive
	local p t0 t r f left
	p=$(dpid)
	t0=$(now_us)
	kill -TERM "$p"
	wait_exit $W "$p" || fail "still running $W s after SIGTERM"
	: >"$work/daemon.pid"
	for r in "$MTTY_RES" "$SINGLE_RES"; do
		t=$(dp_wait $W "$t0" "$r") || fail "$r: no list at shutdown"
		[ -z "$(dp_devices "$t" "$r")" ] || fail "$r: the list at shutdown: $(dp_devices "$t" "$r")"
		wait_for $W ended "$t0" "$r" OK || fail "$r: stream did not end with OK"
	done
	left=
	for f in "$dpdir"/*; do
		[ -e "$f" ] && [ "${f##*/}" != kubelet.sock ] && left="$left ${f##*/}"
	done
	[ -z "$left" ] || fail "sockets left behind:$left"
	p=$(kpid)
	kill -TERM "$p" 2>/dev/null
	wait_exit $W "$p" || fail "the kubelet stand-in did not stop"
	: >"$work/kubelet.pid"
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
run_test t_dp_start "device plugins: both register with kubelet; first lists: mdevs and edu, Healthy"
run_test t_dp_mdev_add_remove "device plugins: out-of-band mdev create/remove reaches ListAndWatch"
run_test t_dp_pci_unbind "device plugins: edu unbound from vfio-pci is Unhealthy (Allocate refused), rebound Healthy"
run_test t_dp_metrics "metrics: curl /metrics == sysfs, kubelet's lists, the status socket; Allocate and reload counters == the calls and edits; probes"
run_test t_dp_policy_edit "device plugins: a pool added registers; a pool dropped sends an empty list"
run_test t_dp_stop "device plugins: SIGTERM sends empty lists, ends the streams, removes the sockets"
vm_mdev_remove_all

run_summary
