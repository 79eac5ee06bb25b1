#!/bin/bash
# tests/daemon/run.sh — `mdevd run` on copies of the fixture trees: readiness, the
# sd_notify protocol (a fake NOTIFY_SOCKET), SIGHUP reload, the policy file replaced
# by garbage / by a policy with a bad key / edited / swapped the ConfigMap way, the
# safety-net resync seeing a changed tree, kubelet.sock re-created, no busy loop, and
# a clean SIGTERM. Also `mdevd status` (human and JSON).
#
# Usage: tests/daemon/run.sh [FILTER]   (FILTER: a regular expression on test names)
# Environment: MDEVD (default mdevd/mdevd), KEEP=1 keeps the work dir.
# Prints "ok N - desc" / "not ok N - desc" per test and ends with "N passed, N failed";
# exits non-zero on any failure. Numbers (context switches, CPU, shutdown time) are
# reported with "#", not asserted against wall-clock.
set -u
cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
MDEVD=${MDEVD:-$repo/mdevd/mdevd}
case $MDEVD in /*) ;; *) MDEVD=$repo/$MDEVD ;; esac
filter=${1:-.}
MID=0123456789abcdef0123456789abcdef

[ -x "$MDEVD" ] || { echo "daemon tests: $MDEVD is not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
command -v python3 >/dev/null || { echo "daemon tests: python3 is needed"; echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d /tmp/mdevd-daemon-test.XXXXXX)
pids=() # processes a test started; its subshell kills them when it ends
cleanup() {
	[ -n "${KEEP:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT

n=0 passed=0 failed=0

# ------------------------------------------------------------------ helpers
say() { printf '%s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

# A fresh copy of a fixture tree, and a policy, in a test's own directory $t.
setup_tree() { # setup_tree FIXTURE
	t=$work/$1.$n
	mkdir -p "$t/etc"
	cp -a "$repo/tests/fixtures/$1" "$t/sys"
	cp "$repo/tests/vm/policies/kubevirt.json" "$t/etc/policy.json"
}

# Listen on a fake NOTIFY_SOCKET: each datagram becomes one line of $t/notify
# (newlines inside a datagram shown as " | ").
start_notify() {
	export NOTIFY_SOCKET=$t/notify.sock
	python3 -u - "$NOTIFY_SOCKET" "$t/notify" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    print("LISTENING", file=f)
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
EOF
	pids+=($!)
	notify_pid=$!
	wait_file "$t/notify" LISTENING 5 || fail "notify listener did not start"
}

# start_daemon [ARGS after 'run --policy P']: the daemon's stderr goes to $t/log.
# MDEVD_GLOBAL: global options before the command (-v).
start_daemon() {
	"$MDEVD" ${MDEVD_GLOBAL:-} --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID run \
		--policy "$t/etc/policy.json" "$@" 2>"$t/log" &
	dpid=$!
	pids+=($dpid)
}

# wait_file FILE REGEX SECONDS -> 0 when a line matches in time (the test polls; the
# daemon does not).
wait_file() {
	local i max=$(($3 * 20))
	for ((i = 0; i < max; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_log() { wait_file "$t/log" "$1" "${2:-5}" || fail "no log line /$1/ within ${2:-5} s"; }
count_log() { grep -Ec -- "$1" "$t/log" || true; }
alive() { kill -0 "$dpid" 2>/dev/null || fail "the daemon died"; }

# Ends the daemon with SIGTERM; sets $rc and $stop_ms.
stop_daemon() {
	local t0 t1
	t0=$(date +%s%N)
	kill -TERM "$dpid"
	rc=0
	wait "$dpid" || rc=$?
	t1=$(date +%s%N)
	stop_ms=$(((t1 - t0) / 1000000))
}

# voluntary+nonvoluntary context switches and utime+stime (ticks) of a pid
proc_counts() {
	local v nv
	v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status")
	nv=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "/proc/$1/status")
	echo "$v $nv $(awk '{print $14 + $15}' "/proc/$1/stat")"
}

run_test() { # run_test FUNCTION DESCRIPTION
	[[ $1 =~ $filter ]] || return 0
	n=$((n + 1))
	local st=0
	(
		trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
		"$1"
	) >"$work/test.log" 2>&1 || st=$?
	if [ $st = 0 ]; then
		passed=$((passed + 1))
		say "ok $n - $2"
		grep '^#' "$work/test.log"
	else
		failed=$((failed + 1))
		say "not ok $n - $2"
		tail -n 40 "$work/test.log" | sed 's/^/#   /'
		for f in "$work"/*."$n"/log; do
			[ -f "$f" ] && tail -n 20 "$f" | sed 's/^/#   log: /'
		done
	fi
}

mkproc() { mkdir -p "$t/proc"; } # an empty proc root: nothing is in use

# -------------------------------------------------------------------- tests

t_start_ready_stop() {
	setup_tree samples
	mkproc
	start_notify
	start_daemon --no-apply --no-device-plugins
	wait_log 'ready: serving 2 resources \(2 devices\), 2 mdevs on 3 parents'
	wait_file "$t/notify" '^READY=1' 5 || fail "no READY=1 on NOTIFY_SOCKET"
	wait_file "$t/notify" '^STATUS=Serving 2 resources' 5 || fail "no STATUS= line"
	grep -q 'resource example.com/MTTY_DUAL: 1 devices, 1 healthy' "$t/log" ||
		fail "the mtty pool was not logged"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM, expected 0"
	grep -q 'SIGTERM: shutting down' "$t/log" || fail "no shutdown line"
	wait_file "$t/notify" '^STOPPING=1' 2 || fail "no STOPPING=1"
	say "# SIGTERM to exit: $stop_ms ms"
	[ "$stop_ms" -lt 1000 ] || fail "took $stop_ms ms to stop"
}

t_sigint() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	kill -INT "$dpid"
	rc=0
	wait "$dpid" || rc=$?
	[ "$rc" = 0 ] || fail "exit status $rc after SIGINT"
	grep -q 'SIGINT: shutting down' "$t/log" || fail "no shutdown line"
}

t_sighup_reload() {
	setup_tree samples
	mkproc
	start_notify
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	kill -HUP "$dpid"
	wait_log 'policy reloaded: generation 2'
	grep -q 'reloading .*policy.json (SIGHUP)' "$t/log" || fail "no 'reloading' line"
	wait_file "$t/notify" '^RELOADING=1' 2 || fail "no RELOADING=1"
	# READY=1 again after the reload: two READY=1 lines.
	for i in $(seq 40); do
		[ "$(grep -c '^READY=1' "$t/notify")" -ge 2 ] && break
		sleep 0.05
	done
	[ "$(grep -c '^READY=1' "$t/notify")" -ge 2 ] || fail "no READY=1 after the reload"
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_garbage_policy_kept_running() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	# An editor's save: write a new file, rename it over the old one.
	printf '{"permittedHostDevices": {,,, garbage\n' >"$t/etc/.policy.json.swp"
	mv "$t/etc/.policy.json.swp" "$t/etc/policy.json"
	wait_log 'policy.json: line 1: .*'
	wait_log 'new policy rejected; still running policy generation 1'
	alive
	# A policy that parses but names a bad key: the JSON path is in the message.
	cat >"$t/etc/policy.json" <<'EOF'
{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": "x", "resourceNam": "a.com/b"}]}}
EOF
	wait_log 'policy.json: \$\.permittedHostDevices\.mediatedDevices\[0\]\.resourceNam: unknown key'
	[ "$(count_log 'new policy rejected')" -ge 2 ] || wait_log 'new policy rejected.*' 2
	alive
	# Still serving the old pools: a SIGHUP-free check through the STATUS-free log.
	grep -q 'no longer served' "$t/log" && fail "a rejected policy changed the pools"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_policy_misfit_kept_running() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	# Parses, but names a type no parent offers: rejected against the node.
	cat >"$t/etc/policy.json" <<'EOF'
{"mediatedDevicesConfiguration": {"mediatedDeviceTypes": ["nvidia-9999"]}}
EOF
	wait_log 'policy.json: \$\..*nvidia-9999'
	wait_log 'new policy rejected; still running policy generation 1'
	alive
	stop_daemon
}

t_valid_edit_reloads() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	# Edited in place (IN_CLOSE_WRITE): drop the PCI resource.
	cat >"$t/etc/policy.json" <<'EOF'
{"permittedHostDevices": {"mediatedDevices": [
  {"mdevNameSelector": "Dual port serial", "resourceName": "example.com/MTTY_DUAL"}]}}
EOF
	wait_log 'policy reloaded: generation 2'
	wait_log 'resource example.com/EDU: no longer served'
	alive
	# Writes in one burst coalesce: three quick saves give few reloads, not one each
	# per inotify event.
	before=$(count_log 'reloading ')
	for i in 1 2 3; do cp "$t/etc/policy.json" "$t/etc/p.tmp" && mv "$t/etc/p.tmp" "$t/etc/policy.json"; done
	wait_log 'policy reloaded: generation 3'
	sleep 0.3
	after=$(count_log 'reloading ')
	say "# 3 saves in a burst -> $((after - before)) reload(s)"
	[ $((after - before)) -le 2 ] || fail "$((after - before)) reloads for one burst"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# A burst of saves: one reload at its start, one for the rest of it; the last save is the one
# served. Fixture trees get no uevents (the netlink socket takes only the kernel's messages),
# so the policy file shows the coalescing here; tests/vm/guest-daemon.sh counts uevents.
t_policy_burst_coalesces() {
	setup_tree samples
	mkproc
	MDEVD_GLOBAL=-v start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	python3 - "$t/etc" 40 <<'EOF2' || fail "the burst of saves failed"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
full = open(os.path.join(d, "policy.json")).read()
# The last save drops the EDU pool and the mdev side.
mtty = ('{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": "Dual port serial",'
        ' "resourceName": "example.com/MTTY_DUAL"}]}}')
for i in range(n):
    tmp = os.path.join(d, ".policy.json.%d" % i)
    with open(tmp, "w") as f:
        f.write(mtty if i % 2 or i == n - 1 else full)
    os.rename(tmp, os.path.join(d, "policy.json"))
EOF2
	wait_log 'resource example.com/EDU: no longer served'
	sleep 0.5
	reloads=$(count_log 'reloading .*\(policy file changed\)')
	say "# 40 saves in a burst -> $reloads reloads ($(count_log 'reconcile [0-9]+ ') reconciles in all)"
	grep -E 'reconcile [0-9]+ \(policy reload\)' "$t/log" | sed 's/^mdevd: /#   /'
	[ "$reloads" -ge 1 ] && [ "$reloads" -le 5 ] || fail "$reloads reloads for one burst of 40 saves"
	# Nothing lost: the pools are the last save's.
	last=$(grep -E 'resource example.com/EDU: ' "$t/log" | tail -1)
	case $last in *"no longer served"*) ;; *) fail "EDU after the burst: $last" ;; esac
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
	# That last policy has no mdev side (no layouts, no mediatedDeviceTypes): apply is
	# skipped even without --no-apply; a policy with one applies.
	MDEVD_GLOBAL=-v start_daemon --no-device-plugins
	wait_log '^mdevd: ready'
	wait_log 'reconcile 1 \(start\): .*apply skipped'
	grep -q 'applied the policy' "$t/log" && fail "applied a policy without an mdev side"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# Kubernetes ConfigMap volumes: policy.json -> ..data/policy.json, ..data -> ..<ts>/;
# an update writes a new ..<ts2>/ and renames a new ..data link over the old one.
t_configmap_swap() {
	setup_tree samples
	mkproc
	rm "$t/etc/policy.json"
	mkdir "$t/etc/..2026_01_01_00_00_00.1"
	cp "$repo/tests/vm/policies/kubevirt.json" "$t/etc/..2026_01_01_00_00_00.1/policy.json"
	ln -s ..2026_01_01_00_00_00.1 "$t/etc/..data"
	ln -s ..data/policy.json "$t/etc/policy.json"
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	mkdir "$t/etc/..2026_01_01_00_01_00.2"
	cat >"$t/etc/..2026_01_01_00_01_00.2/policy.json" <<'EOF'
{"permittedHostDevices": {"pciHostDevices": [{"pciVendorSelector": "1234:11e8", "resourceName": "example.com/EDU"}]}}
EOF
	ln -s ..2026_01_01_00_01_00.2 "$t/etc/..data_tmp"
	mv -T "$t/etc/..data_tmp" "$t/etc/..data"
	rm -rf "$t/etc/..2026_01_01_00_00_00.1"
	wait_log 'policy reloaded: generation 2'
	wait_log 'resource example.com/MTTY_DUAL: no longer served'
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# Fixture trees send no uevents: the safety-net resync must see a change by itself.
t_resync_sees_change() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins --resync 1
	wait_log '^mdevd: ready'
	# The mtty mdev vanishes from the tree (as if removed out of band).
	for m in "$t"/sys/bus/mdev/devices/*; do
		l=$(readlink -f "$m/mdev_type")
		case $l in *mtty*) rm "$m" ;; esac
	done
	wait_log 'resource example.com/MTTY_DUAL: 0 devices, 0 healthy \(was 1\)' 3
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_no_busy_loop() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	sleep 0.3
	read -r v0 nv0 cpu0 < <(proc_counts "$dpid")
	sleep 3
	read -r v1 nv1 cpu1 < <(proc_counts "$dpid")
	say "# idle 3 s: $((v1 - v0)) voluntary + $((nv1 - nv0)) involuntary context switches, $((cpu1 - cpu0)) CPU ticks"
	say "# (each host uevent wakes it once; the loop itself sleeps in epoll_wait)"
	[ $((v1 - v0)) -lt 50 ] || fail "woke up $((v1 - v0)) times in 3 s"
	[ $((cpu1 - cpu0)) -lt 10 ] || fail "used $((cpu1 - cpu0)) CPU ticks in 3 s"
	stop_daemon
	# With device plugins: every thread (gRPC's too), no kubelet.sock present.
	mkdir -p "$t/plugins"
	start_daemon --no-apply --device-plugin-dir "$t/plugins"
	wait_log '^mdevd: ready'
	sleep 0.3
	v0=$(cat /proc/$dpid/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')
	read -r _ _ cpu0 < <(proc_counts "$dpid")
	sleep 3
	v1=$(cat /proc/$dpid/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')
	read -r _ _ cpu1 < <(proc_counts "$dpid")
	say "# idle 3 s with device plugins: $(ls /proc/$dpid/task | wc -l) threads, $((v1 - v0)) voluntary context switches in all, $((cpu1 - cpu0)) CPU ticks"
	[ $((cpu1 - cpu0)) -lt 10 ] || fail "used $((cpu1 - cpu0)) CPU ticks in 3 s"
	stop_daemon
}

t_watchdog() {
	setup_tree samples
	mkproc
	start_notify
	WATCHDOG_USEC=200000 start_daemon --no-apply --no-device-plugins
	wait_log 'systemd watchdog: 0.2 s'
	wait_log '^mdevd: ready'
	sleep 1
	k=$(grep -c '^WATCHDOG=1' "$t/notify")
	say "# WatchdogSec=0.2: $k WATCHDOG=1 pings in ~1 s (expect ~10)"
	[ "$k" -ge 3 ] || fail "only $k WATCHDOG=1 pings"
	# WATCHDOG_PID naming another process: no watchdog for us.
	stop_daemon
	WATCHDOG_USEC=200000 WATCHDOG_PID=1 start_daemon --no-apply --no-device-plugins
	wait_log '^mdevd: ready'
	grep -q 'systemd watchdog' "$t/log" && fail "watchdog armed for another pid"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_bad_policy_at_start() {
	setup_tree samples
	mkproc
	printf 'not json' >"$t/etc/policy.json"
	rc=0
	"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" run --policy "$t/etc/policy.json" \
		--no-apply --no-device-plugins 2>"$t/log" || rc=$?
	[ "$rc" = 1 ] || fail "exit status $rc, expected 1"
	grep -q 'policy.json: line 1' "$t/log" || fail "the error does not name the file and line"
	rc=0
	"$MDEVD" run --no-apply 2>"$t/log" || rc=$?
	[ "$rc" = 64 ] || fail "no --policy: exit $rc, expected 64"
	rc=0
	"$MDEVD" run --policy x --resync soon 2>"$t/log" || rc=$?
	[ "$rc" = 64 ] || fail "--resync soon: exit $rc, expected 64"
}

# kubelet restarts: it deletes the plugin sockets and creates kubelet.sock again.
t_kubelet_restart() {
	setup_tree samples
	mkproc
	mkdir -p "$t/plugins"
	start_daemon --no-apply --device-plugin-dir "$t/plugins"
	wait_log '^mdevd: ready'
	# Create kubelet.sock, then time until the daemon logs that it noticed (5 ms steps).
	ms=$(python3 - "$t/plugins/kubelet.sock" "$t/log" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
t0 = time.monotonic()
s.bind(sys.argv[1])
while time.monotonic() - t0 < 5:
    if "kubelet (re)started" in open(sys.argv[2]).read():
        print(int((time.monotonic() - t0) * 1000))
        break
    time.sleep(0.005)
EOF
)
	[ -n "$ms" ] || fail "kubelet.sock re-creation not noticed within 5 s"
	say "# kubelet.sock created -> noticed in $ms ms"
	[ "$ms" -lt 1000 ] || fail "took $ms ms"
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# The plugin dir does not exist yet (kubelet not installed yet): watched once it appears.
t_kubelet_dir_late() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --device-plugin-dir "$t/plugins"
	wait_log 'plugins does not exist yet'
	wait_log '^mdevd: ready'
	mkdir "$t/plugins"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$t/plugins/kubelet.sock"
	wait_log 'kubelet \(re\)started' 2
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_status() {
	setup_tree samples
	mkproc
	rc=0
	"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID status \
		--policy "$t/etc/policy.json" >"$t/out" 2>"$t/err" || rc=$?
	cat "$t/out" "$t/err"
	[ "$rc" = 0 ] || fail "status exited $rc"
	grep -q '^example.com/MTTY_DUAL (mdev): 1 devices, 1 healthy' "$t/out" || fail "no mtty pool"
	grep -q '^example.com/EDU (pci): 1 devices' "$t/out" || fail "no EDU pool"
	grep -q '^mdevs: 2' "$t/out" || fail "no mdev list"
	grep -q '^Pending: ' "$t/out" || fail "no pending line"
	rc=0
	"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID status \
		--policy "$t/etc/policy.json" -o json >"$t/out.json" 2>"$t/err" || rc=$?
	[ "$rc" = 0 ] || fail "status -o json exited $rc"
	python3 - "$t/out.json" <<'EOF' || fail "bad JSON status"
import json, sys
s = json.load(open(sys.argv[1]))
names = [r["name"] for r in s["resources"]]
assert names == ["example.com/EDU", "example.com/MTTY_DUAL"], names
for r in s["resources"]:
    for d in r["devices"]:
        assert d["health"] in ("Healthy", "Unhealthy") and "numa_node" in d, d
    assert isinstance(r["unserved"], list)
assert len(s["mdevs"]) == 2 and all("owned" in m for m in s["mdevs"])
assert "create" in s["pending"] and "actions" in s["pending"], s["pending"]
EOF
	# Unserved devices say why: unbind the EDU function from vfio-pci in the tree.
	rm -f "$t/sys/bus/pci/devices/0000:00:03.0/driver" "$t/sys/devices/pci0000:00/0000:00:03.0/driver"
	"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID status \
		--policy "$t/etc/policy.json" >"$t/out" 2>"$t/err" || true
	cat "$t/out"
	grep -q 'not served: ' "$t/out" || fail "no 'not served' reason for an unbound function"
}

# Applying on a fixture tree: `create` is a plain file, so the kernel "accepts" and no mdev
# appears: every create fails. The daemon reports it and keeps serving.
t_apply_failure_keeps_serving() {
	setup_tree samples
	mkproc
	cat >"$t/etc/policy.json" <<'EOF'
{"permittedHostDevices": {"mediatedDevices": [
  {"mdevNameSelector": "Dual port serial", "resourceName": "example.com/MTTY_DUAL"}]},
 "mdevd": {"layouts": [{"parents": ["mtty"], "types": {"mtty-2": 2}}]}}
EOF
	start_daemon --no-device-plugins
	wait_log 'applied the policy: 0 created, 0 removed, [1-9][0-9]* failed'
	wait_log '^mdevd: ready: serving 1 resources \(1 devices\)'
	kill -HUP "$dpid"
	wait_log 'policy reloaded: generation 2'
	[ "$(count_log 'applied the policy')" -ge 2 ] || wait_log 'applied the policy.*' 2
	[ "$(count_log 'applied the policy')" -ge 2 ] || fail "the reload did not apply again"
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# The device plugins end to end: a kubelet stand-in (Python grpcio) on kubelet.sock.
t_kubelet_e2e() {
	/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
		fail "python3-grpcio / python3-grpc-tools missing (scripts/deps.sh installs them)"
	t=$work/e2e.$n
	mkdir -p "$t/gen"
	/usr/bin/python3 -m grpc_tools.protoc -I"$repo/mdevd/kubernetes" --python_out="$t/gen" \
		--grpc_python_out="$t/gen" "$repo/mdevd/kubernetes/deviceplugin.proto" || fail "protoc"
	/usr/bin/python3 "$repo/tests/daemon/kubelet_e2e.py" "$t/gen" "$MDEVD" "$t" ||
		fail "kubelet end-to-end"
}

# NVIDIA vendor VFIO: the driver forgets every VF's type at reboot; `mdevd run` applies at start
# and picks the same VFs each time (the lowest free ones that list the type).
t_vgpu_applied_at_start() {
	setup_tree l40s
	mkproc
	cp "$repo/tests/cli/policies/l40s-12q.json" "$t/etc/policy.json"
	export MDEVD_RUN_DIR=$t/run
	local vf boot
	for boot in 1 2; do
		start_daemon --no-device-plugins
		wait_log '^mdevd: ready' 20
		for vf in 0000:41:00.4 0000:41:00.5 0000:41:00.6 0000:41:00.7; do
			wait_file "$t/sys/bus/pci/devices/$vf/nvidia/current_vgpu_type" '^1153$' 20 ||
				fail "boot $boot: $vf did not become an L40S-12Q vGPU"
		done
		[ "$(cat "$t/sys/bus/pci/devices/0000:41:01.0/nvidia/current_vgpu_type")" = 0 ] ||
			fail "boot $boot: a fifth VF was configured"
		alive
		stop_daemon
		[ "$rc" = 0 ] || fail "exit status $rc"
		# "Reboot": every VF forgets its type; the driver lists every type again.
		for vf in "$t"/sys/bus/pci/devices/*/nvidia/current_vgpu_type; do echo 0 >"$vf"; done
		python3 "$repo/tests/fixtures/make-tree.py" --out "$t/sys" sim
	done
	say "# the same 4 VFs configured on both starts"
}

t_vgpu_kubelet() {
	/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
		fail "python3-grpcio / python3-grpc-tools missing (scripts/deps.sh installs them)"
	t=$work/vgpu-e2e.$n
	mkdir -p "$t/gen"
	/usr/bin/python3 -m grpc_tools.protoc -I"$repo/mdevd/kubernetes" --python_out="$t/gen" \
		--grpc_python_out="$t/gen" "$repo/mdevd/kubernetes/deviceplugin.proto" || fail "protoc"
	/usr/bin/python3 "$repo/tests/daemon/vgpu_e2e.py" "$t/gen" "$MDEVD" "$t" ||
		fail "NVIDIA vGPU end-to-end"
}

run_test t_start_ready_stop "starts, logs readiness, READY=1 + STATUS=, SIGTERM exits 0 quickly"
run_test t_sigint "SIGINT is a clean shutdown too"
run_test t_sighup_reload "SIGHUP reloads the policy (RELOADING=1, READY=1)"
run_test t_garbage_policy_kept_running "a garbage or bad-key policy is rejected with line / JSON path; daemon keeps running"
run_test t_policy_misfit_kept_running "a policy that does not fit the node is rejected; daemon keeps running"
run_test t_valid_edit_reloads "a valid edit reloads and changes the served pools; bursts coalesce"
run_test t_configmap_swap "a ConfigMap-style ..data swap reloads"
run_test t_policy_burst_coalesces "a burst of 40 saves: few reloads, the last save served; apply skipped without an mdev side"
run_test t_resync_sees_change "the resync timer sees a change in the tree"
run_test t_no_busy_loop "no busy loop while idle"
run_test t_watchdog "WATCHDOG=1 at half WATCHDOG_USEC; not for another WATCHDOG_PID"
run_test t_bad_policy_at_start "a bad policy at start: exit 1 naming file and line; usage errors 64"
run_test t_kubelet_restart "kubelet.sock re-created -> re-register within 1 s"
run_test t_kubelet_dir_late "a device-plugin dir created after start is watched"
run_test t_apply_failure_keeps_serving "apply failures are reported; the daemon keeps serving; reload applies again"
run_test t_kubelet_e2e "device plugins: register, stream updates, policy drop, kubelet restart, shutdown"
run_test t_status "mdevd status: pools, health, NUMA, unserved reasons, mdevs, pending (human, JSON)"
run_test t_vgpu_applied_at_start "NVIDIA vGPU (vendor VFIO): run applies at start, the same VFs after a reboot"
run_test t_vgpu_kubelet "NVIDIA vGPU (vendor VFIO): served to kubelet; a VF kubelet was allocated is never freed"

say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
