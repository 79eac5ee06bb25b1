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
# reported with "#", not asserted against wall-clock: every wait is for an event, with a
# generous deadline (WAIT, default 30 s) that only a hang reaches, and the counts that are
# checked (reloads per burst, wakeups while idle, watchdog pings) have bounds derived from
# what was measured in the same test (the burst's length, the uevents that came meanwhile).
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
	wait_file "$t/notify" LISTENING $WAIT || fail "notify listener did not start"
}

# start_daemon [ARGS after 'run --policy P']: the daemon's stderr goes to $t/log.
# MDEVD_GLOBAL: global options before the command (-v).
start_daemon() {
	"$MDEVD" ${MDEVD_GLOBAL:-} --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID run \
		--policy "$t/etc/policy.json" "$@" 2>"$t/log" &
	dpid=$!
	pids+=($dpid)
}

. "$repo/tests/wait.sh" # wait_for SECONDS COMMAND..., wait_exit SECONDS PID

# wait_file FILE REGEX SECONDS -> 0 when a line matches in time (the test polls; the
# daemon does not).
wait_file() { wait_for "$3" grep -Eq -- "$2" "$1" 2>/dev/null; }
WAIT=${WAIT:-30}
wait_log() { wait_file "$t/log" "$1" "${2:-$WAIT}" || fail "no log line /$1/ within ${2:-$WAIT} s"; }
count_log() { grep -Ec -- "$1" "$t/log" || true; }
# wait_count REGEX N: until at least N log lines match (within $WAIT s)
log_has() { [ "$(count_log "$1")" -ge "$2" ]; }
wait_count() {
	wait_for "$WAIT" log_has "$1" "$2" ||
		fail "only $(count_log "$1") log lines /$1/ within $WAIT s, expected $2"
}
# wait_notify_count REGEX N: until at least N datagrams on NOTIFY_SOCKET match
notify_has() { [ "$(grep -Ec -- "$1" "$t/notify")" -ge "$2" ]; }
wait_notify_count() {
	wait_for "$WAIT" notify_has "$1" "$2" ||
		fail "only $(grep -Ec -- "$1" "$t/notify") notifications /$1/ within $WAIT s, expected $2"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
alive() { kill -0 "$dpid" 2>/dev/null || fail "the daemon died"; }

# Ends the daemon with SIGTERM; sets $rc and $stop_ms. A daemon still there after $WAIT s
# hangs: that fails the test.
stop_daemon() {
	local t0 t1
	t0=$(date +%s%N)
	kill -TERM "$dpid"
	wait_exit "$WAIT" "$dpid" || fail "the daemon did not exit within $WAIT s of SIGTERM"
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
	wait_file "$t/notify" '^READY=1' $WAIT || fail "no READY=1 on NOTIFY_SOCKET"
	wait_file "$t/notify" '^STATUS=Serving 2 resources' $WAIT || fail "no STATUS= line"
	grep -q 'resource example.com/MTTY_DUAL: 1 devices, 1 healthy' "$t/log" ||
		fail "the mtty pool was not logged"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM, expected 0"
	grep -q 'SIGTERM: shutting down' "$t/log" || fail "no shutdown line"
	wait_file "$t/notify" '^STOPPING=1' $WAIT || fail "no STOPPING=1"
	say "# SIGTERM to exit: $stop_ms ms"
}

t_sigint() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log 'mdevd: ready'
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
	wait_log 'mdevd: ready'
	kill -HUP "$dpid"
	wait_log 'policy reloaded: generation 2'
	grep -q 'reloading .*policy.json (SIGHUP)' "$t/log" || fail "no 'reloading' line"
	wait_file "$t/notify" '^RELOADING=1' $WAIT || fail "no RELOADING=1"
	# READY=1 again after the reload: two READY=1 lines.
	wait_notify_count '^READY=1' 2
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_garbage_policy_kept_running() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log 'mdevd: ready'
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
	wait_count 'new policy rejected' 2
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
	wait_log 'mdevd: ready'
	# Parses, but contradicts itself on this node (a type name where KubeVirt takes ids):
	# rejected against the node.
	cat >"$t/etc/policy.json" <<'EOF'
{"mediatedDevicesConfiguration": {"mediatedDeviceTypes": ["Dual port serial"]}}
EOF
	wait_log 'policy.json: \$\..*"Dual port serial" is a type name'
	wait_log 'new policy rejected; still running policy generation 1'
	alive
	# A fleet-wide policy naming a type this node lacks: a warning, the rest applies.
	cat >"$t/etc/policy.json" <<'EOF'
{"mediatedDevicesConfiguration": {"mediatedDeviceTypes": ["nvidia-9999", "mtty-2"]}}
EOF
	wait_log 'policy.json: \$\..*: warning: type "nvidia-9999" is not offered'
	wait_log 'policy reloaded: generation 2'
	[ "$(count_log 'warning: type "nvidia-9999"')" -eq 1 ] || fail "the warning is not logged once"
	alive
	stop_daemon
}

t_valid_edit_reloads() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --no-device-plugins
	wait_log 'mdevd: ready'
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
	t0=$(now_ms)
	for i in 1 2 3; do cp "$t/etc/policy.json" "$t/etc/p.tmp" && mv "$t/etc/p.tmp" "$t/etc/policy.json"; done
	burst=$(($(now_ms) - t0))
	wait_log 'policy reloaded: generation 3'
	# A SIGHUP reload after the burst: every reload the burst asked for comes before it.
	kill -HUP "$dpid"
	wait_count 'reloading .*\(SIGHUP\)' 1
	wait_count 'policy reloaded|new policy rejected' $(count_log 'reloading ') # all ended
	after=$(($(count_log 'reloading ') - 1))
	# One reload at the start of a burst, then at most one per DAEMON_DEBOUNCE_MSEC (50 ms):
	# a slow machine stretches the burst, and the bound with it.
	allow=$((2 + burst / 50))
	say "# 3 saves in a burst of $burst ms -> $((after - before)) reload(s) (at most $allow)"
	[ $((after - before)) -le $allow ] || fail "$((after - before)) reloads for one burst of $burst ms"
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
	wait_log 'mdevd: ready'
	burst=$(
		python3 - "$t/etc" 40 <<'EOF2'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
full = open(os.path.join(d, "policy.json")).read()
# The last save drops the EDU pool and the mdev side.
mtty = ('{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": "Dual port serial",'
        ' "resourceName": "example.com/MTTY_DUAL"}]}}')
for i in range(n):
    tmp = os.path.join(d, ".policy.json.%d" % i)
    with open(tmp, "w") as f:
        f.write(mtty if i % 2 or i == n - 1 else full)
    os.rename(tmp, os.path.join(d, "policy.json"))
print(int((time.monotonic() - t0) * 1000))
EOF2
	) || fail "the burst of saves failed"
	wait_log 'resource example.com/EDU: no longer served'
	# A SIGHUP reload after the burst: every reload the burst asked for comes before it.
	kill -HUP "$dpid"
	wait_count 'reloading .*\(SIGHUP\)' 1
	wait_count 'policy reloaded|new policy rejected' $(count_log 'reloading ')
	reloads=$(count_log 'reloading .*\(policy file changed\)')
	# One at the start, then at most one per DAEMON_DEBOUNCE_MSEC (50 ms) while it lasts.
	allow=$((2 + burst / 50))
	say "# 40 saves in a burst of $burst ms -> $reloads reloads, at most $allow ($(count_log 'reconcile [0-9]+ ') reconciles in all)"
	grep -E 'reconcile [0-9]+ \(policy reload\)' "$t/log" | sed 's/^.*mdevd: /#   /'
	[ "$reloads" -ge 1 ] && [ "$reloads" -le $allow ] || fail "$reloads reloads for one burst of 40 saves in $burst ms"
	# Nothing lost: the pools are the last save's.
	last=$(grep -E 'resource example.com/EDU: ' "$t/log" | tail -1)
	case $last in *"no longer served"*) ;; *) fail "EDU after the burst: $last" ;; esac
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
	# That last policy has no mdev side (no layouts, no mediatedDeviceTypes): apply is
	# skipped even without --no-apply; a policy with one applies.
	MDEVD_GLOBAL=-v start_daemon --no-device-plugins
	wait_log 'mdevd: ready'
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
	wait_log 'mdevd: ready'
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
	wait_log 'mdevd: ready'
	# The mtty mdev vanishes from the tree (as if removed out of band).
	for m in "$t"/sys/bus/mdev/devices/*; do
		l=$(readlink -f "$m/mdev_type")
		case $l in *mtty*) rm "$m" ;; esac
	done
	wait_log 'resource example.com/MTTY_DUAL: 0 devices, 0 healthy \(was 1\)'
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# Idle: the daemon sleeps in epoll_wait. What can wake it is a host uevent (this machine may
# be busy: other work plugs devices), each logged with -v; the bounds allow for those. A busy
# loop or a short periodic timer gives hundreds or thousands of wakeups a second.
t_no_busy_loop() {
	local ev0 uev allow
	setup_tree samples
	mkproc
	MDEVD_GLOBAL=-v start_daemon --no-apply --no-device-plugins
	wait_log 'mdevd: ready'
	sleep 0.3
	ev0=$(count_log 'mdevd: uevent: ')
	read -r v0 nv0 cpu0 < <(proc_counts "$dpid")
	sleep 3
	read -r v1 nv1 cpu1 < <(proc_counts "$dpid")
	uev=$(($(count_log 'mdevd: uevent: ') - ev0))
	allow=$((50 + 4 * uev))
	say "# idle 3 s: $((v1 - v0)) voluntary + $((nv1 - nv0)) involuntary context switches, $((cpu1 - cpu0)) CPU ticks, $uev host uevents"
	say "# (each host uevent wakes it once or twice; the loop itself sleeps in epoll_wait)"
	[ $((v1 - v0)) -lt $allow ] || fail "woke up $((v1 - v0)) times in 3 s with $uev uevents (at most $allow)"
	[ $((cpu1 - cpu0)) -lt $((10 + uev / 4)) ] || fail "used $((cpu1 - cpu0)) CPU ticks in 3 s with $uev uevents"
	stop_daemon
	# With device plugins: every thread (gRPC's too), no kubelet.sock present.
	mkdir -p "$t/plugins"
	MDEVD_GLOBAL=-v start_daemon --no-apply --device-plugin-dir "$t/plugins"
	wait_log 'mdevd: ready'
	sleep 0.3
	ev0=$(count_log 'mdevd: uevent: ')
	v0=$(cat /proc/$dpid/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')
	read -r _ _ cpu0 < <(proc_counts "$dpid")
	sleep 3
	v1=$(cat /proc/$dpid/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')
	read -r _ _ cpu1 < <(proc_counts "$dpid")
	uev=$(($(count_log 'mdevd: uevent: ') - ev0))
	say "# idle 3 s with device plugins: $(ls /proc/$dpid/task | wc -l) threads, $((v1 - v0)) voluntary context switches in all, $((cpu1 - cpu0)) CPU ticks, $uev host uevents"
	[ $((cpu1 - cpu0)) -lt $((10 + uev / 4)) ] || fail "used $((cpu1 - cpu0)) CPU ticks in 3 s with $uev uevents"
	stop_daemon
}

# The pings come from a timerfd at half WATCHDOG_USEC (0.1 s here). Counted as events: wait
# for 5 of them (however long a loaded machine takes), then check they were not sent faster
# than the period allows (5 pings span at least 4 periods: 0.4 s).
t_watchdog() {
	local t0 ms
	setup_tree samples
	mkproc
	start_notify
	t0=$(now_ms)
	WATCHDOG_USEC=200000 start_daemon --no-apply --no-device-plugins
	wait_log 'systemd watchdog: 0.2 s'
	wait_log 'mdevd: ready'
	wait_notify_count '^WATCHDOG=1' 5
	ms=$(($(now_ms) - t0))
	say "# WatchdogSec=0.2: 5 WATCHDOG=1 pings $ms ms after the start (at 0.1 s: >= 400 ms)"
	[ "$ms" -ge 400 ] || fail "5 pings within $ms ms: faster than every 0.1 s"
	# WATCHDOG_PID naming another process: no watchdog for us.
	stop_daemon
	WATCHDOG_USEC=200000 WATCHDOG_PID=1 start_daemon --no-apply --no-device-plugins
	wait_log 'mdevd: ready'
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
	# no --policy: the default /etc/mdevd/policy.json (absent on a test machine)
	if [ ! -e /etc/mdevd/policy.json ]; then
		"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" run --no-apply 2>"$t/log" || rc=$?
		[ "$rc" = 1 ] || fail "no --policy: exit $rc, expected 1 (no /etc/mdevd/policy.json)"
		grep -q '/etc/mdevd/policy.json' "$t/log" || fail "no --policy: the default path is not named"
	fi
	rc=0
	"$MDEVD" run --no-apply extra 2>"$t/log" || rc=$?
	[ "$rc" = 64 ] || fail "an operand: exit $rc, expected 64"
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
	wait_log 'mdevd: ready'
	# Create kubelet.sock, then time until the daemon logs that it noticed (5 ms steps): a
	# figure, not a verdict (make bench measures speed); only a miss within $WAIT s fails.
	ms=$(python3 - "$t/plugins/kubelet.sock" "$t/log" "$WAIT" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
t0 = time.monotonic()
s.bind(sys.argv[1])
while time.monotonic() - t0 < int(sys.argv[3]):
    if "kubelet (re)started" in open(sys.argv[2]).read():
        print(int((time.monotonic() - t0) * 1000))
        break
    time.sleep(0.005)
EOF
)
	[ -n "$ms" ] || fail "kubelet.sock re-creation not noticed within $WAIT s"
	say "# kubelet.sock created -> noticed in $ms ms"
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# The plugin dir does not exist yet, nor its parent (kubelet never ran on this node, as in
# the real-kubelet guest): watched as it appears, one level at a time; then the pools whose
# plugins could not start are served and registered.
t_kubelet_dir_late() {
	setup_tree samples
	mkproc
	start_daemon --no-apply --device-plugin-dir "$t/kubelet/plugins"
	wait_log 'plugins does not exist yet'
	wait_log 'mdevd: ready'
	! ls "$t"/kubelet/plugins/mdevd-*.sock >/dev/null 2>&1 || fail "sockets before the dir?"
	mkdir "$t/kubelet"
	mkdir "$t/kubelet/plugins"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$t/kubelet/plugins/kubelet.sock"
	wait_log 'kubelet \(re\)started'
	wait_log 'device plugin example.com/MTTY_DUAL: serving'
	wait_log 'device plugin example.com/EDU: serving'
	[ -S "$t/kubelet/plugins/mdevd-example.com_MTTY_DUAL.sock" ] || fail "no MTTY_DUAL socket"
	[ -S "$t/kubelet/plugins/mdevd-example.com_EDU.sock" ] || fail "no EDU socket"
	! grep -q "Address already in use" "$t/log" || fail "a missing directory reported as EADDRINUSE"
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
	# 2: degraded (the policy still wants mdevs created)
	[ "$rc" = 2 ] || fail "status exited $rc, want 2 (changes pending)"
	grep -q '^example.com/MTTY_DUAL (mdev): 1 devices, 1 healthy' "$t/out" || fail "no mtty pool"
	grep -q '^example.com/EDU (pci): 1 devices' "$t/out" || fail "no EDU pool"
	grep -q '^mdevs: 2' "$t/out" || fail "no mdev list"
	grep -q '^Pending: ' "$t/out" || fail "no pending line"
	rc=0
	"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID status \
		--policy "$t/etc/policy.json" -o json >"$t/out.json" 2>"$t/err" || rc=$?
	[ "$rc" = 2 ] || fail "status -o json exited $rc, want 2"
	python3 - "$t/out.json" <<'EOF' || fail "bad JSON status"
import json, sys
s = json.load(open(sys.argv[1]))
names = [r["name"] for r in s["resources"]]
assert names == ["example.com/EDU", "example.com/MTTY_DUAL"], names
for r in s["resources"]:
    for d in r["devices"]:
        assert d["health"] in ("healthy", "unhealthy") and "numa_node" in d, d
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
	wait_log 'mdevd: ready: serving 1 resources \(1 devices\)'
	kill -HUP "$dpid"
	wait_log 'policy reloaded: generation 2'
	wait_count 'applied the policy' 2
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# README's T4 + mtty policy on a node without T4s (issue 14): the T4 layout is a warning,
# logged once; the mtty layout is applied (the fixture's kernel-less create files make the
# creates fail, so the attempt is what shows) and the pools are served.
t_fleet_policy_applies_what_fits() {
	setup_tree samples
	mkproc
	cat >"$t/etc/policy.json" <<'EOF'
{"permittedHostDevices": {"mediatedDevices": [
  {"mdevNameSelector": "Dual port serial", "resourceName": "example.com/MTTY_DUAL"}]},
 "mdevd": {"layouts": [
   {"parents": ["10de:1eb8"], "types": {"GRID T4-2Q": 4}},
   {"parents": ["mtty"], "types": {"mtty-2": 3}}]}}
EOF
	start_daemon --no-device-plugins
	wait_log 'mdevd: ready: serving 1 resources'
	wait_log 'policy.json: \$\.mdevd\.layouts\[0\]\.parents\[0\]: warning: no PCI parent on this node is a 10de:1eb8 device'
	wait_log 'mtty: mtty-2: the kernel accepted'
	grep -q 'does not fit\|new policy rejected' "$t/log" && fail "the policy was rejected"
	kill -HUP "$dpid"
	wait_log 'policy reloaded: generation 2'
	# once at start and once for the reload: not on every reconcile
	[ "$(count_log 'warning: no PCI parent on this node is a 10de:1eb8')" -eq 2 ] ||
		fail "the warning is not logged once per policy load: $(count_log 'warning: no PCI')"
	alive
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

# py_test SCRIPT WHAT: tests/daemon/SCRIPT.py (GEN_DIR MDEVD WORK_DIR; standin.py is what
# they share) with the device-plugin stubs generated for it, in $work/SCRIPT.$n.
py_test() {
	/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
		fail "python3-grpcio / python3-grpc-tools missing (scripts/deps.sh installs them)"
	t=$work/$1.$n
	mkdir -p "$t/gen"
	/usr/bin/python3 -m grpc_tools.protoc -I"$repo/mdevd/kubernetes" --python_out="$t/gen" \
		--grpc_python_out="$t/gen" "$repo/mdevd/kubernetes/deviceplugin.proto" || fail "protoc"
	/usr/bin/python3 "$repo/tests/daemon/$1.py" "$t/gen" "$MDEVD" "$t" || fail "$2"
}

# The device plugins end to end: a kubelet stand-in (Python grpcio) on kubelet.sock.
t_kubelet_e2e() { py_test kubelet_e2e "kubelet end-to-end"; }

# Whole records under load: 1 000 Allocates, reloads and kubelet restarts at once, stderr a
# journal-style stream socket ($JOURNAL_STREAM): every line must be one "<N>mdevd: " record.
t_log_stress() { py_test log_stress "log records under load"; }

t_observe_e2e() {
	/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null ||
		fail "python3-prometheus-client missing (scripts/deps.sh installs it)"
	py_test observe_e2e "metrics, probes and status socket end-to-end"
}

# The inodes of $1's listening sockets: "tcp" ones (IPv4/6) and unix ones with a path.
listening() { # listening PID tcp|unix
	local ino inos=""
	for f in /proc/"$1"/fd/*; do
		ino=$(readlink "$f" 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
		[ -n "$ino" ] && inos="$inos $ino"
	done
	if [ "$2" = tcp ]; then # state 0A: LISTEN; field 10: inode
		cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v l="$inos" \
			'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) s[a[i]] = 1 }
			 $4 == "0A" && ($10 in s) { print $10 }'
	else # flags 00010000: __SO_ACCEPTCON (listening); field 7: inode, 8: path
		awk -v l="$inos" 'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) s[a[i]] = 1 }
			 $4 == "00010000" && ($7 in s) && NF >= 8 { print $8 }' /proc/net/unix
	fi
}

t_observe_off() {
	local tasks_off tasks_sock tasks_on
	setup_tree samples
	mkproc
	# Everything off: no status socket, no metrics: one thread, no listening socket.
	rm -f "$t/log" # wait_log must see this daemon's lines, not the last one's
	start_daemon --no-apply --no-device-plugins --no-status-socket
	wait_log 'mdevd: ready'
	tasks_off=$(ls /proc/$dpid/task | wc -l)
	[ "$tasks_off" = 1 ] || fail "metrics and status socket off: $tasks_off threads, want 1"
	[ -z "$(listening $dpid tcp)" ] || fail "metrics off, yet a TCP port: $(listening $dpid tcp)"
	[ -z "$(listening $dpid unix)" ] || fail "no status socket, yet: $(listening $dpid unix)"
	"$MDEVD" status --socket "$t/none.sock" --check --timeout 1 >/dev/null 2>&1
	[ $? = 1 ] || fail "status --check with no daemon socket: want exit 1"
	stop_daemon
	# The status socket alone: served by the loop, still one thread, no TCP port.
	rm -f "$t/log" # wait_log must see this daemon's lines, not the last one's
	start_daemon --no-apply --no-device-plugins --status-socket "$t/status.sock"
	wait_log 'mdevd: ready'
	tasks_sock=$(ls /proc/$dpid/task | wc -l)
	[ "$tasks_sock" = 1 ] || fail "status socket on: $tasks_sock threads, want 1"
	[ -z "$(listening $dpid tcp)" ] || fail "metrics off, yet a TCP port"
	[ "$(listening $dpid unix)" = "$t/status.sock" ] ||
		fail "status socket: listening on '$(listening $dpid unix)', want $t/status.sock"
	[ "$(stat -c %a "$t/status.sock")" = 600 ] || fail "status socket mode $(stat -c %a "$t/status.sock")"
	"$MDEVD" status --socket "$t/status.sock" >"$t/out" || fail "mdevd status via the socket"
	grep -q '^mdevd .*: ready$' "$t/out" || fail "status: not the daemon's answer: $(head -1 "$t/out")"
	grep -q 'example.com/MTTY_DUAL (mdev): 1 devices sent to kubelet, 1 healthy; no device plugin' \
		"$t/out" || fail "status: the MTTY pool is missing"
	stop_daemon
	[ ! -e "$t/status.sock" ] || fail "the status socket was left behind"
	# Fallback: no daemon answers; with --policy the node is read, and that is said.
	"$MDEVD" --sysfs-root "$t/sys" --proc-root "$t/proc" --machine-id $MID status \
		--socket "$t/status.sock" --policy "$t/etc/policy.json" >"$t/out" 2>"$t/err"
	# 0 all served, 2 degraded (changes pending on this tree): both are answers.
	case $? in 0 | 2) ;; *) fail "status fallback failed: $(cat "$t/err")" ;; esac
	grep -q 'no mdevd daemon answers on' "$t/err" && grep -q 'reading the node instead' "$t/err" ||
		fail "the fallback did not say so: $(cat "$t/err")"
	grep -q '^Pending:' "$t/out" || fail "the fallback did not read the node"
	# Metrics on: one more thread (libmicrohttpd's), one TCP listening socket.
	rm -f "$t/log" # wait_log must see this daemon's lines, not the last one's
	start_daemon --no-apply --no-device-plugins --no-status-socket --metrics-address 127.0.0.1:0
	wait_log 'mdevd: ready'
	tasks_on=$(ls /proc/$dpid/task | wc -l)
	[ "$tasks_on" = 2 ] || fail "metrics on: $tasks_on threads, want 2"
	[ "$(listening $dpid tcp | wc -l)" = 1 ] || fail "metrics on: no single TCP listening socket"
	say "# threads: $tasks_off off, $tasks_sock with the status socket, $tasks_on with metrics"
	stop_daemon
	[ "$rc" = 0 ] || fail "exit status $rc"
}

t_log_options() {
	setup_tree samples
	mkproc
	rm -f "$t/log" # wait_log must see this daemon's lines, not the last one's
	start_daemon --no-apply --no-device-plugins --no-status-socket --log-format json
	wait_log '"message":"ready: serving 2 resources'
	stop_daemon
	python3 - "$t/log" <<'EOF2' || fail "--log-format json: a line is not one JSON record"
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert set(r) >= {"time", "level", "message"}, r
    assert r["level"] in ("error", "warning", "info", "debug"), r
    n += 1
assert n >= 3, n
EOF2
	# Text: timestamped; --log-level warning: no info records.
	rm -f "$t/log" # wait_log must see this daemon's lines, not the last one's
	start_daemon --no-apply --no-device-plugins --no-status-socket --log-level debug
	wait_log 'mdevd: ready'
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z mdevd: ready' "$t/log" ||
		fail "text records are not timestamped: $(head -1 "$t/log")"
	grep -q 'mdevd: reconcile 1 (start)' "$t/log" || fail "--log-level debug: no debug record"
	stop_daemon
	rm -f "$t/log" # wait_log must see this daemon's lines, not the last one's
	start_daemon --no-apply --no-device-plugins --no-status-socket --log-level warning
	sleep 0.5 # nothing to wait for: warning hides the readiness line; the loop is up
	alive
	stop_daemon
	! grep -q 'ready: serving' "$t/log" || fail "--log-level warning printed info records"
	"$MDEVD" run --policy "$t/etc/policy.json" --log-level loud 2>"$t/err"
	[ $? = 64 ] && grep -q 'expected error, warning, info or debug' "$t/err" ||
		fail "--log-level loud: want usage error 64"
}


# A host driver whose unbind blocks (a FIFO) while the device plugins keep answering.
t_vfio_busy_unbind() { py_test vfio_busy "busy unbind"; }

# A function mdevd bound that kubelet was handed (Allocate) stays on vfio-pci when the policy
# drops it; a daemon that handed out nothing gives it back.
t_vfio_allocated_kept() { py_test vfio_allocated "allocated function given back"; }

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
		wait_log 'mdevd: ready' 20
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

t_vgpu_kubelet() { py_test vgpu_e2e "NVIDIA vGPU end-to-end"; }

run_test t_start_ready_stop "starts, logs readiness, READY=1 + STATUS=, SIGTERM exits 0 quickly"
run_test t_sigint "SIGINT is a clean shutdown too"
run_test t_sighup_reload "SIGHUP reloads the policy (RELOADING=1, READY=1)"
run_test t_garbage_policy_kept_running "a garbage or bad-key policy is rejected with line / JSON path; daemon keeps running"
run_test t_policy_misfit_kept_running "a policy that contradicts itself on the node is rejected (daemon keeps running); one naming what the node lacks is applied with a warning logged once"
run_test t_valid_edit_reloads "a valid edit reloads and changes the served pools; bursts coalesce"
run_test t_configmap_swap "a ConfigMap-style ..data swap reloads"
run_test t_policy_burst_coalesces "a burst of 40 saves: few reloads, the last save served; apply skipped without an mdev side"
run_test t_resync_sees_change "the resync timer sees a change in the tree"
run_test t_no_busy_loop "no busy loop while idle"
run_test t_watchdog "WATCHDOG=1 at half WATCHDOG_USEC; not for another WATCHDOG_PID"
run_test t_bad_policy_at_start "a bad policy at start: exit 1 naming file and line; no --policy: the default path; usage errors 64"
run_test t_kubelet_restart "kubelet.sock re-created -> noticed and re-registered (time reported)"
run_test t_kubelet_dir_late "a device-plugin dir (and its parent) created after start: watched, then every pool served"
run_test t_fleet_policy_applies_what_fits "a fleet policy: what the node lacks is a warning logged once per load; the rest is applied and served"
run_test t_apply_failure_keeps_serving "apply failures are reported; the daemon keeps serving; reload applies again"
run_test t_kubelet_e2e "device plugins: register, stream updates, policy drop, kubelet restart, shutdown"
run_test t_log_stress "log lines stay whole records under 1 000 Allocates, reloads and kubelet restarts (journal stream)"
run_test t_observe_e2e "metrics vs truth (devices, mdevs, Allocate, reloads), probes flip, status socket (kubelet stand-in)"
run_test t_observe_off "metrics and status socket off: one thread, no port, no socket; status falls back and says so"
run_test t_log_options "--log-format json: one JSON record a line; text timestamped; --log-level"
run_test t_vfio_busy_unbind "vfio-pci: an unbind that blocks is reported naming the function; Allocate and ListAndWatch answer meanwhile"
run_test t_vfio_allocated_kept "vfio-pci: a function handed out by Allocate is kept when the policy drops it; given back by a daemon that handed out nothing"
run_test t_status "mdevd status: pools, health, NUMA, unserved reasons, mdevs, pending (human, JSON)"
run_test t_vgpu_applied_at_start "NVIDIA vGPU (vendor VFIO): run applies at start, the same VFs after a reboot"
run_test t_vgpu_kubelet "NVIDIA vGPU (vendor VFIO): served to kubelet; a VF kubelet was allocated is never freed"

say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
