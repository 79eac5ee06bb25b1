#!/bin/bash
# tests/vm/guest-kubelet.sh — the real kubelet, standalone, with mdevd in the real-kernel
# guest: runs inside the test VM (make check-vm-kubelet; tests/vm/run.sh
# tests/vm/guest-kubelet.sh K8S_BIN CONTAINERD_BIN HARNESS_BIN IMAGES_DIR [FILTER]).
#
# containerd v2 + runc (Debian's) + kubelet (no API server: static pods from staticPodPath),
# built by tests/k8s/build.sh on the host and seen here through the 9p root; the pause and
# busybox images are local OCI archives (tests/k8s/images/build.sh) imported with ctr. mdevd
# creates two mtty-2 mdevs, then serves them (example.com/mtty-dual) and the edu function on
# vfio-pci (example.com/edu) from /var/lib/kubelet/device-plugins. The checks: a pod
# admitted before mdevd registered fails the way kubelet documents; kubelet's pod-resources
# API lists exactly mdevd's devices; hostNetwork busybox pods see KubeVirt's env var naming a
# UUID or address that exists, and /dev/vfio/<group> inside the container; pod-resources List
# agrees; a kubelet kill -9 and restart keeps the pods and their devices and mdevd
# registers again; an allocated mdev removed out of band leaves kubelet's allocatable.
#
# kubelet runs here, never on the host: with default settings it rewrites kernel settings.
# Every wait is for an event; $W is a deadline for hangs only (TCG is slow).
# Prints "ok N - desc" / "not ok N - desc" and ends with "N passed, N failed".
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
K8S_BIN=${1:?} CONTAINERD_BIN=${2:?} HARNESS_BIN=${3:?} IMAGES=${4:?}
filter=${5:-.}
. "$REPO/tests/vm/k8s-lib.sh"
MTTY_RES=example.com/mtty-dual EDU_RES=example.com/edu
MTTY_ENV=MDEV_PCI_RESOURCE_EXAMPLE_COM_MTTY-DUAL EDU_ENV=PCI_RESOURCE_EXAMPLE_COM_EDU
n=0 passed=0 failed=0
failures=()
cleanup() {
	k8s_signal KILL mdevd kubelet containerd
	rm -rf "$work"
}
trap cleanup EXIT
RUN_NOTES='^# '
run_failed() {
	local f
	for f in mdevd kubelet containerd; do
		say "#   $f.log (tail):"
		tail -n 12 "$logs/$f.log" 2>/dev/null | sed 's/^/#     /'
	done
}
run_test() { run_one kubelet "$@" || true; }

pods_json() { curl -sf http://127.0.0.1:10255/pods 2>/dev/null; }
# pod_field NAME PYTHON-EXPR -> evaluates EXPR with p = the pod NAME from kubelet's /pods
pod_field() {
	pods_json | /usr/bin/python3 -c "
import json, sys
for p in json.load(sys.stdin).get('items', []):
    if p['metadata']['name'].startswith('$1-'):
        print($2)" 2>/dev/null
}
pod_reason_is() { [ "$(pod_field "$1" "p['status'].get('reason')")" = "$2" ]; }
pod_running() { [ "$(pod_field "$1" "p['status'].get('phase')")" = Running ]; }
pod_log() { cat /var/log/pods/default_"$1"-*/c/0.log 2>/dev/null; }
in_pod_log() { pod_log "$1" | grep -q -- "$2"; }
allocatable() { "$HARNESS_BIN/podresources" allocatable; }
norm() { /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
not_allocatable() { ! allocatable | grep -q "$1"; }
allocatable_is() { [ "$(allocatable 2>/dev/null | norm 2>/dev/null)" = "$1" ]; }
in_log() { grep -Eq -- "$2" "$logs/$1.log"; }
registered_since() { [ "$(grep -c "registered $1 with kubelet" "$logs/mdevd.log")" -ge "$2" ]; }

start_mdevd() { # the node service, not applying: an mdev removed out of band stays removed
	"$MDEVD" run --policy "$work/policy.json" --no-apply --no-libvirt --device-plugin-dir "$DP" \
		--status-socket "$work/status.sock" >"$logs/mdevd.log" 2>&1 &
	echo $! >"$work/mdevd.pid"
}

# ------------------------------------------------------------------------ tests
t_cluster() { # containerd, the local images, cgroup v2
	k8s_cgroups
	start_containerd
	"${CTR[@]}" images import --all-platforms "$IMAGES/pause.tar" >/dev/null || fail "cannot import pause"
	"${CTR[@]}" images import --all-platforms "$IMAGES/busybox.tar" >/dev/null || fail "cannot import busybox"
	say "# images: $("${CTR[@]}" images ls -q | xargs)"
	say "# $(kubelet --version), containerd $(containerd --version | awk '{print $3}'), $(runc --version | head -n 1)"
}

t_admission() { # kubelet restarts (as after a reboot) before mdevd: a new pod is rejected
	# kubelet's checkpoint names mdevd's resources, so until mdevd registers again they are
	# known with no healthy device: admission fails with UnexpectedAdmissionError, the path
	# kubelet documents for a node reboot. (A resource kubelet never saw is not checked.)
	kill -TERM "$(cat "$work/mdevd.pid")"
	wait_for $W sh -c "! kill -0 $(cat "$work/mdevd.pid") 2>/dev/null" || fail "mdevd did not stop"
	: >"$work/mdevd.pid"
	kill -9 "$(cat "$work/kubelet.pid")"
	pod_manifest late "$MTTY_RES"
	start_kubelet
	wait_for $W pod_reason_is late UnexpectedAdmissionError ||
		fail "late pod: $(pod_field late "p['status']")"
	say "# late pod: $(pod_field late "p['status'].get('phase'), p['status'].get('reason'), p['status'].get('message')")"
	start_mdevd
	wait_for $W in_log mdevd "kubelet|registered $MTTY_RES" || fail "mdevd said nothing about kubelet"
	wait_for $W registered_since "$MTTY_RES" 1 || fail "$MTTY_RES did not register after the restart"
	grep -E "waiting for kubelet|registering|registered" "$logs/mdevd.log" | head -n 4 | sed 's/^/# mdevd: /'
	rm -f "$MANIFESTS/late.yaml"
	wait_for $W pod_running mtty || fail "the mtty pod did not survive"
}

t_mdevd_waits() { # mdevd before kubelet: it says what it waits for, then registers
	cat >"$work/policy.json" <<EOF
{"mdevd": {"layouts": [{"parents": ["mtty"], "types": {"mtty-2": 2}}]},
 "permittedHostDevices": {
   "mediatedDevices": [{"mdevNameSelector": "Dual port serial", "resourceName": "$MTTY_RES"}],
   "pciHostDevices": [{"pciVendorSelector": "1234:11e8", "resourceName": "$EDU_RES"}]}}
EOF
	"$MDEVD" apply --policy "$work/policy.json" --no-libvirt >"$logs/apply.log" 2>&1 ||
		fail "apply: $(cat "$logs/apply.log")"
	[ "$(vm_mdev_count mtty)" = 2 ] || fail "$(vm_mdev_count mtty) mtty mdevs after apply"
	start_mdevd
	wait_for $W in_log mdevd "waiting for kubelet" || fail "mdevd does not say it waits for kubelet"
	say "# $(grep -m1 'waiting for kubelet' "$logs/mdevd.log")"
	start_kubelet
	wait_for $W registered_since "$MTTY_RES" 1 || fail "$MTTY_RES not registered"
	wait_for $W registered_since "$EDU_RES" 1 || fail "$EDU_RES not registered"
}

t_allocatable() { # pod-resources GetAllocatableResources == mdevd's devices
	local want got
	want=$(/usr/bin/python3 - "$EDU_RES" "$MTTY_RES" <<'EOF'
import json, os, sys
edu, mtty = sys.argv[1:]
uuids = sorted(os.listdir("/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/devices"))
pci = sorted(d for d in os.listdir("/sys/bus/pci/devices")
             if open("/sys/bus/pci/devices/%s/vendor" % d).read().strip() == "0x1234" and
             os.path.basename(os.readlink("/sys/bus/pci/devices/%s/driver" % d)) == "vfio-pci")
print(json.dumps({edu: pci, mtty: uuids}, sort_keys=True))
EOF
)
	wait_for $W allocatable_is "$want" || true
	got=$(allocatable | norm)
	say "# pod-resources allocatable: $got"
	[ "$got" = "$want" ] || fail "kubelet's allocatable $got; mdevd serves $want"
}

t_pods() { # busybox pods get the devices: KubeVirt's env, /dev/vfio/<group>; List agrees
	pod_manifest mtty "$MTTY_RES"
	pod_manifest edu "$EDU_RES"
	wait_for $W pod_running mtty || fail "mtty pod: $(pod_field mtty "p['status']")"
	wait_for $W pod_running edu || fail "edu pod: $(pod_field edu "p['status']")"
	wait_for $W in_pod_log mtty started || fail "mtty pod log: $(pod_log mtty)"
	wait_for $W in_pod_log edu started || fail "edu pod log: $(pod_log edu)"
	local line uuid bdf g list
	line=$(pod_log mtty | grep -o "$MTTY_ENV=[^ ]*" | head -n 1)
	say "# mtty pod: $line"
	uuid=${line#*=}
	[ -e "/sys/bus/mdev/devices/$uuid" ] || fail "$MTTY_ENV names $uuid, which is no mdev"
	g=$(basename "$(readlink "/sys/bus/mdev/devices/$uuid/iommu_group")")
	pod_log mtty | grep -qw "$g" || fail "/dev/vfio/$g (the mdev's group) not in the container: $(pod_log mtty)"
	line=$(pod_log edu | grep -o "$EDU_ENV=[^ ]*" | head -n 1)
	say "# edu pod: $line"
	bdf=${line#*=}
	[ "$(vm_pci_driver "$bdf")" = vfio-pci ] || fail "$EDU_ENV names $bdf, not a vfio-pci function"
	g=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group")")
	pod_log edu | grep -qw "$g" || fail "/dev/vfio/$g not in the edu container: $(pod_log edu)"
	list=$("$HARNESS_BIN/podresources" list)
	say "# pod-resources list: $list"
	echo "$list" | grep -q "\"pod\":\"mtty-mdevd-vm\".*\"ids\":\[\"$uuid\"\]" || fail "List does not give mtty $uuid"
	echo "$list" | grep -q "\"pod\":\"edu-mdevd-vm\".*\"ids\":\[\"$bdf\"\]" || fail "List does not give edu $bdf"
	echo "$uuid" >"$work/mtty.uuid"
}

t_kubelet_restart() { # kill -9 kubelet: pods keep their devices, mdevd registers again
	local before after regs
	before=$("$HARNESS_BIN/podresources" list)
	regs=$(grep -c "registered $MTTY_RES with kubelet" "$logs/mdevd.log")
	kill -9 "$(cat "$work/kubelet.pid")"
	local t0=$SECONDS
	start_kubelet
	wait_for $W registered_since "$MTTY_RES" $((regs + 1)) || fail "$MTTY_RES did not register again"
	say "# mdevd registered again $((SECONDS - t0)) s after the kubelet restart began"
	wait_for $W pod_running mtty || fail "mtty pod not running after the restart"
	after=$("$HARNESS_BIN/podresources" list)
	[ "$after" = "$before" ] || fail "pod-resources before the restart: $before; after: $after"
	in_pod_log mtty started || fail "mtty container restarted?"
	[ "$(pod_log mtty | grep -c started)" = 1 ] || fail "the mtty container started again: $(pod_log mtty)"
}

t_unhealthy() { # an allocated mdev removed out of band: Unhealthy, out of allocatable
	local uuid
	uuid=$(cat "$work/mtty.uuid")
	echo 1 >"/sys/bus/mdev/devices/$uuid/remove" || fail "cannot remove $uuid"
	wait_for $W not_allocatable "$uuid" || fail "$uuid still allocatable: $(allocatable)"
	say "# allocatable after the removal: $(allocatable)"
	"$MDEVD" status --socket "$work/status.sock" >"$work/status.out" 2>&1 || true
	grep "$uuid" "$work/status.out" | sed 's/^/# status: /'
	grep "$uuid" "$work/status.out" | grep -qi unhealthy || fail "status does not show $uuid unhealthy: $(cat "$work/status.out")"
}

# ------------------------------------------------------------------------ bench
# kubelet's view, for make bench (FILTER "bench"): from mdevd's start to its resource being
# allocatable in kubelet, and from an mdev created (removed) in sysfs to kubelet's
# allocatable count changing, over $BENCH_CHANGES of each. kubelet is watched through its
# pod-resources API (podresources watch: one poll per millisecond on one connection).
# Figures as "# bench ..." lines and $RESULTS/kubelet-bench.json; nothing asserted on time.
count_seen() { # count_seen NS COUNT: the first watch line at or after NS with COUNT
	awk -v t="$1" -v c="$2" '$1 >= t && $2 == c {print $1; exit}' "$work/watch"
}
wait_count() { # wait_count NS COUNT -> that line's time in $seen
	seen=
	local end=$((SECONDS + W))
	while [ $SECONDS -lt $end ]; do
		seen=$(count_seen "$1" "$2")
		[ -n "$seen" ] && return 0
		sleep 0.005
	done
	return 1
}
b_kubelet_view() {
	local types=/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2 t0 u k
	printf '{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": "Dual port serial", "resourceName": "%s"}]}}\n' \
		"$MTTY_RES" >"$work/policy.json"
	u=$(cat /proc/sys/kernel/random/uuid)
	echo "$u" >"$types/create" || fail "cannot create an mtty-2 mdev"
	start_kubelet
	"$HARNESS_BIN/podresources" watch "$MTTY_RES" >"$work/watch" 2>"$logs/watch.log" &
	echo $! >"$work/watch.pid"
	wait_for $W test -s "$work/watch" || fail "the pod-resources watch gave nothing"
	t0=$(date +%s%N)
	start_mdevd
	wait_count "$t0" 1 || fail "$MTTY_RES never allocatable"
	echo "start $(((seen - t0) / 1000))" >"$work/bench"
	for ((k = 0; k < ${BENCH_CHANGES:-50}; k++)); do
		u=$(cat /proc/sys/kernel/random/uuid)
		t0=$(date +%s%N)
		echo "$u" >"$types/create" || fail "create $k"
		wait_count "$t0" 2 || fail "create $k not seen by kubelet"
		echo "create $(((seen - t0) / 1000))" >>"$work/bench"
		t0=$(date +%s%N)
		echo 1 >"/sys/bus/mdev/devices/$u/remove" || fail "remove $k"
		wait_count "$t0" 1 || fail "remove $k not seen by kubelet"
		echo "remove $(((seen - t0) / 1000))" >>"$work/bench"
	done
	kill "$(cat "$work/watch.pid")" 2>/dev/null
	/usr/bin/python3 "$REPO/tests/bench/kubelet-report.py" summary "$work/bench" \
		"$RESULTS/kubelet-bench.json"
}

# ------------------------------------------------------------------------- main
say "# mdevd with the real kubelet: kernel $(uname -r), $MDEVD"
if [ "$filter" = bench ]; then
	filter=.
	run_test t_cluster "containerd v2 + runc answer; the local pause and busybox images are imported"
	run_test b_kubelet_view "bench: kubelet's view of mdevd (start, mdev create and remove)"
	say "$passed passed, $failed failed"
	[ $failed = 0 ]
	exit
fi
run_test t_cluster "containerd v2 + runc answer; the local pause and busybox images are imported"
run_test t_mdevd_waits "mdevd before kubelet says it waits for kubelet, then registers both pools"
run_test t_allocatable "kubelet's pod-resources GetAllocatableResources lists exactly mdevd's devices"
run_test t_pods "busybox pods: $MTTY_ENV=<uuid> and $EDU_ENV=<bdf>, /dev/vfio/<group> inside; List agrees"
run_test t_kubelet_restart "kubelet kill -9 and restart: mdevd registers again, the pods keep their devices"
run_test t_unhealthy "an allocated mdev removed out of band is Unhealthy and leaves kubelet's allocatable"
run_test t_admission "kubelet back before mdevd (a reboot): a pod asking for $MTTY_RES fails admission (UnexpectedAdmissionError)"
rm -f "$MANIFESTS"/*.yaml
k8s_signal TERM mdevd kubelet containerd
vm_mdev_remove_all

run_summary
