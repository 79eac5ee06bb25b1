#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/guest-cluster.sh — the OpenShift guide's check, end to end, in the real-kernel
# guest: runs inside the test VM (make check-vm-cluster; tests/vm/run.sh
# tests/vm/guest-cluster.sh K8S_BIN CONTAINERD_BIN IMAGES_DIR [FILTER]).
#
# A whole node's worth of cluster on the guest's loopback, nothing else: etcd and
# kube-apiserver (tests/k8s/cluster-lib.sh, the same setup as make check-apiserver, with
# the minimal KubeVirt / HyperConverged CRDs), the real kubelet with a system:node:mdevd-vm
# client certificate registering its own Node, containerd + runc beneath it
# (tests/vm/k8s-lib.sh, as guest-kubelet.sh), and `mdevd run --policy-source hyperconverged
# --node-name mdevd-vm` creating mdevs on the mtty sample driver and serving them. The
# proof is `kubectl describe node`'s Capacity and Allocatable, as the guide has it:
#   - the HyperConverged CR's nodeMediatedDeviceTypes, selected by a label set with
#     kubectl label, makes mdevd create mtty-2 mdevs: example.com/mtty-dual: N;
#   - kubectl patch hyperconverged adding a pciDeviceSelector "1234:11E8" entry makes
#     example.com/edu: 1 (the edu function on vfio-pci); removing it makes 0; the same
#     mdevd process throughout, no ConfigMap anywhere;
#   - relabelling the node switches the entry (mtty-1 instead): mdevd re-types the parent;
#   - an mdev removed out of band (mdevd observing only, --no-apply) leaves Capacity and
#     Allocatable; one a static busybox pod holds goes Unhealthy: Allocatable drops, and
#     Capacity keeps it (the pod's devices under "Allocated resources").
# No traffic leaves loopback (the guest's NIC has no address). Every wait is for an event;
# $W is a deadline for hangs only (TCG is slow). Timings are printed ("#"), never asserted.
# Prints "ok N - desc" / "not ok N - desc" and ends with "N passed, N failed".
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
K8S_BIN=${1:?} CONTAINERD_BIN=${2:?} IMAGES=${3:?}
filter=${4:-.}
. "$REPO/tests/vm/k8s-lib.sh" # $work (etcd's data goes there too), $logs, $W
kbin=$K8S_BIN repo=$REPO
. "$REPO/tests/k8s/cluster-lib.sh"
NODE=mdevd-vm HCO=(hyperconverged kubevirt-hyperconverged -n openshift-cnv)
DUAL=example.com/mtty-dual SINGLE=example.com/mtty-single EDU=example.com/edu
TYPES=/sys/class/mdev_bus/mtty/mdev_supported_types
n=0 passed=0 failed=0
failures=()
DAEMONS="mdevd kubelet containerd apiserver etcd"
cleanup() {
	k8s_signal KILL $DAEMONS
	rm -rf "$work"
}
trap cleanup EXIT
RUN_NOTES='^# '
run_failed() {
	local f
	for f in $DAEMONS; do
		say "#   $f.log (tail):"
		tail -n 8 "$logs/$f.log" 2>/dev/null | cut -c1-300 | sed 's/^/#     /'
	done
}
run_test() { run_one cluster "$@" || true; }

# node_res RESOURCE -> "CAPACITY ALLOCATABLE" as `kubectl describe node` shows them ("-"
# where it lists none); the whole description is kept in $work/describe.
node_res() {
	kc describe node $NODE >"$work/describe.tmp" 2>&1 || return 1
	mv "$work/describe.tmp" "$work/describe"
	awk -v r="$1:" '
		/^Capacity:/ { s = "c"; next }
		/^Allocatable:/ { s = "a"; next }
		/^[^ ]/ { s = "" }
		s && $1 == r { v[s] = $2 }
		END { print (v["c"] == "" ? "-" : v["c"]), (v["a"] == "" ? "-" : v["a"]) }' "$work/describe"
}
node_res_is() { [ "$(node_res "$1")" = "$2" ]; }
# wait_node RESOURCE "CAPACITY ALLOCATABLE": until describe node says so; prints how long
wait_node() {
	local t0=$SECONDS
	wait_for $W node_res_is "$1" "$2" ||
		fail "describe node: $1 is '$(node_res "$1")', not '$2'; $(sed -n '/^Capacity:/,/^System Info:/p' "$work/describe")"
	say "# describe node: $1: $2 (capacity, allocatable) after $((SECONDS - t0)) s"
}
mdev_count() { vm_mdev_count mtty "$1"; }
mdev_count_is() { [ "$(mdev_count "$1")" = "$2" ]; }
mdevd_pid() { cat "$work/mdevd.pid"; }
registered_since() { [ "$(grep -c "registered $1 with kubelet" "$logs/mdevd.log")" -ge "$2" ]; }
pod_phase_is() { [ "$(kc get pod "$1-$NODE" -n default -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]; }
allocatable_is() { local r; r=$(node_res "$1") && [ "${r#* }" = "$2" ]; }

start_mdevd() { # start_mdevd [ARGS...]: following the HyperConverged CR and this Node
	"$MDEVD" run --policy-source hyperconverged --kubeconfig "$work/mdevd.kubeconfig" \
		--node-name $NODE --no-libvirt --device-plugin-dir "$DP" \
		--status-socket "$work/status.sock" "$@" >>"$logs/mdevd.log" 2>&1 &
	echo $! >"$work/mdevd.pid"
}

# ------------------------------------------------------------------------ tests
t_control_plane() { # etcd and kube-apiserver on the guest's 127.0.0.1, the CRDs, RBAC
	local t0=$SECONDS t1 out accel=TCG
	# Loopback only: the guest's NIC (QEMU's user network) is never given an address.
	out=$(ip -o addr show scope global 2>&1) || fail "ip addr: $out"
	[ -z "$out" ] || fail "an address beside loopback: $out"
	grep -qw kvm-clock /sys/devices/system/clocksource/clocksource0/available_clocksource 2>/dev/null &&
		accel=KVM
	cluster_start_etcd
	echo "$etcd_pid" >"$work/etcd.pid"
	cluster_start_apiserver
	echo "$api_pid" >"$work/apiserver.pid"
	out=$(cluster_api_ready $W) || fail "$out"
	t1=$SECONDS
	say "# etcd + kube-apiserver ready (/readyz) on $server in $((t1 - t0)) s under $accel"
	out=$(cluster_objects $W) || fail "$out"
	say "# CRDs established, namespaces and RBAC in $((SECONDS - t1)) s more"
	say "# $("$kbin/kube-apiserver" --version), etcd $("$kbin/etcd" --version | sed -n 's/^etcd Version: //p')"
}

t_node() { # kubelet registers its Node; mdevd serves the mtty-2 mdevs the label selects
	local t0 want
	k8s_cgroups
	start_containerd
	t0=$SECONDS
	KUBELET_CONFIG_MORE="nodeStatusUpdateFrequency: 2s" \
		start_kubelet --kubeconfig "$work/kubelet.kubeconfig"
	wait_for $W kc get node $NODE -o name >/dev/null 2>&1 || fail "kubelet did not register Node $NODE"
	say "# kubelet registered Node $NODE $((SECONDS - t0)) s after it started"
	kc label node $NODE mdevd-test/pool=dual >/dev/null || fail "kubectl label node"
	# The HCO spec as the OpenShift guide writes it; mdevd serves the external entries.
	cluster_hco <<EOF || fail "the HyperConverged CR cannot be created"
  permittedHostDevices:
    mediatedDevices:
    - {mdevNameSelector: Dual port serial, resourceName: $DUAL, externalResourceProvider: true}
    - {mdevNameSelector: Single port serial, resourceName: $SINGLE, externalResourceProvider: true}
  mediatedDevicesConfiguration:
    nodeMediatedDeviceTypes:
    - nodeSelector: {mdevd-test/pool: dual}
      mediatedDeviceTypes: [mtty-2]
    - nodeSelector: {mdevd-test/pool: single}
      mediatedDeviceTypes: [mtty-1]
EOF
	# KubeVirt's rule: the parent is filled with the selected type, as many as it offers.
	want=$(cat "$TYPES/mtty-2/available_instances")
	[ "$want" -gt 0 ] || fail "the mtty parent offers no mtty-2"
	t0=$SECONDS
	start_mdevd
	wait_for $W mdev_count_is mtty-2 "$want" || fail "$(mdev_count mtty-2) mtty-2 mdevs, not $want"
	say "# mdevd created $want mtty-2 mdevs in $((SECONDS - t0)) s"
	wait_node $DUAL "$want $want"
	echo "$want" >"$work/dual.count"
	sed -n '/^Capacity:/,/^System Info:/p' "$work/describe" | sed 's/^/# /'
	grep -m1 'policy reloaded' "$logs/mdevd.log" | sed 's/^/# mdevd: /'
}

t_hco_edit() { # the OpenShift guide's edit: a pciDeviceSelector entry added, then removed
	local pid reloads
	pid=$(mdevd_pid)
	reloads=$(grep -c 'policy reloaded' "$logs/mdevd.log")
	kc patch "${HCO[@]}" --type merge -p '{"spec": {"permittedHostDevices": {"pciHostDevices": [
		{"pciDeviceSelector": "1234:11E8", "resourceName": "'$EDU'", "externalResourceProvider": true}]}}}' \
		>/dev/null || fail "kubectl patch (add)"
	wait_node $EDU "1 1"
	kc patch "${HCO[@]}" --type merge -p '{"spec": {"permittedHostDevices": {"pciHostDevices": null}}}' \
		>/dev/null || fail "kubectl patch (remove)"
	# kubelet keeps a resource it once had listed, at 0.
	wait_node $EDU "0 0"
	node_res_is $DUAL "$(cat "$work/dual.count") $(cat "$work/dual.count")" ||
		fail "$DUAL changed: $(node_res $DUAL)"
	[ "$(mdevd_pid)" = "$pid" ] && kill -0 "$pid" || fail "mdevd is not the same process"
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '--policy ' && fail "mdevd was given a policy file"
	say "# mdevd pid $pid throughout; $(($(grep -c 'policy reloaded' "$logs/mdevd.log") - reloads)) reloads"
	# The API server keeps two of its own in kube-system; nothing else has any.
	kc get configmaps -A --no-headers | awk '{print "# configmap " $1 "/" $2}'
	[ -z "$(kc get configmaps -A --no-headers | awk '$1 != "kube-system"')" ] ||
		fail "ConfigMaps outside kube-system: $(kc get configmaps -A --no-headers)"
}

t_relabel() { # a label change selects the other nodeMediatedDeviceTypes entry: re-planned
	local pid want dual
	pid=$(mdevd_pid)
	dual=$(cat "$work/dual.count")
	want=$(($(cat "$TYPES/mtty-1/available_instances") + 2 * dual)) # mtty-2 takes two ports
	kc label node $NODE mdevd-test/pool=single --overwrite >/dev/null || fail "kubectl label node"
	wait_for $W mdev_count_is mtty-1 "$want" ||
		fail "$(mdev_count mtty-1) mtty-1 and $(mdev_count mtty-2) mtty-2 mdevs, not $want and 0"
	mdev_count_is mtty-2 0 || fail "$(mdev_count mtty-2) mtty-2 mdevs left"
	wait_node $SINGLE "$want $want"
	wait_node $DUAL "0 0"
	kc label node $NODE mdevd-test/pool=dual --overwrite >/dev/null || fail "kubectl label node"
	wait_for $W mdev_count_is mtty-2 "$dual" || fail "$(mdev_count mtty-2) mtty-2 mdevs, not $dual"
	wait_node $DUAL "$dual $dual"
	wait_node $SINGLE "0 0"
	[ "$(mdevd_pid)" = "$pid" ] && kill -0 "$pid" || fail "mdevd is not the same process"
	grep -E 'node_mediated|label|re-?plan' "$logs/mdevd.log" | tail -n 3 | cut -c1-200 | sed 's/^/# mdevd: /'
}

t_removed() { # an mdev removed out of band, mdevd only observing: Allocatable drops
	local dual uuid regs got
	dual=$(cat "$work/dual.count")
	regs=$(grep -c "registered $DUAL with kubelet" "$logs/mdevd.log")
	kill -TERM "$(mdevd_pid)"
	wait_exit $W "$(mdevd_pid)" || fail "mdevd did not stop"
	start_mdevd --no-apply
	wait_for $W registered_since $DUAL $((regs + 1)) || fail "$DUAL not registered again"
	wait_node $DUAL "$dual $dual"
	uuid=$(ls "$TYPES/mtty-2/devices" | head -n 1)
	echo 1 >"/sys/bus/mdev/devices/$uuid/remove" || fail "cannot remove $uuid"
	wait_for $W allocatable_is $DUAL $((dual - 1)) || true
	got=$(node_res $DUAL)
	say "# describe node after removing $uuid: $DUAL: $got (capacity, allocatable)"
	[ "${got#* }" = $((dual - 1)) ] || fail "allocatable is ${got#* }, not $((dual - 1))"
}

t_unhealthy() { # an mdev a pod holds, removed out of band: Unhealthy, out of Allocatable
	local before line uuid after
	"${CTR[@]}" images import --all-platforms "$IMAGES/pause.tar" >/dev/null || fail "cannot import pause"
	"${CTR[@]}" images import --all-platforms "$IMAGES/busybox.tar" >/dev/null || fail "cannot import busybox"
	before=$(node_res $DUAL)
	pod_manifest mtty $DUAL
	wait_for $W pod_phase_is mtty Running || fail "mtty pod: $(kc get pod mtty-$NODE -o yaml 2>&1 | tail -n 20)"
	wait_for $W sh -c "grep -q started /var/log/pods/default_mtty-*/c/0.log" ||
		fail "the mtty pod said nothing"
	line=$(grep -ho "MDEV_PCI_RESOURCE_EXAMPLE_COM_MTTY-DUAL=[^ ]*" /var/log/pods/default_mtty-*/c/0.log | head -n 1)
	uuid=${line#*=}
	say "# mtty pod (mirror pod mtty-$NODE Running): $line"
	[ -e "/sys/bus/mdev/devices/$uuid" ] || fail "the pod's $uuid is no mdev"
	kc describe node $NODE | sed -n '/^Allocated resources:/,/^Events:/p' | grep -E 'Resource|example.com' |
		sed 's/^/# /'
	echo 1 >"/sys/bus/mdev/devices/$uuid/remove" || fail "cannot remove $uuid"
	wait_for $W allocatable_is $DUAL $((${before#* } - 1)) ||
		fail "describe node: $DUAL: $(node_res $DUAL) (capacity, allocatable); before: $before"
	after=$(node_res $DUAL)
	say "# describe node after removing the pod's $uuid: $DUAL: $after (was $before)"
	[ "${after% *}" = "${before% *}" ] || fail "capacity $after; an Unhealthy device stays in Capacity"
	"$MDEVD" status --socket "$work/status.sock" 2>&1 | grep "$uuid" | sed 's/^/# status: /'
	rm -f "$MANIFESTS/mtty.yaml"
}

# ------------------------------------------------------------------------- main
say "# a cluster on the guest's loopback: kernel $(uname -r), $MDEVD"
t0=$SECONDS
cluster_init || { say "Bail out! no free loopback ports"; exit 1; }
out=$(cluster_pki && cluster_client_cert kubelet "/O=system:nodes/CN=system:node:$NODE") ||
	{ say "Bail out! $out"; exit 1; }
cluster_kubeconfig "$work/mdevd.kubeconfig" "client-certificate: $pki/mdevd.crt" "client-key: $pki/mdevd.key"
cluster_kubeconfig "$work/kubelet.kubeconfig" "client-certificate: $pki/kubelet.crt" \
	"client-key: $pki/kubelet.key"
say "# certificates in $((SECONDS - t0)) s"
run_test t_control_plane "etcd and kube-apiserver serve on the guest's 127.0.0.1; CRDs, namespaces, RBAC"
run_test t_node "kubelet registers Node $NODE; describe node shows $DUAL: N (the mtty-2 mdevs of the label's nodeMediatedDeviceTypes entry)"
run_test t_hco_edit "kubectl patch hyperconverged: pciDeviceSelector 1234:11E8 added makes $EDU: 1, removed makes 0; same mdevd, no ConfigMap"
run_test t_relabel "kubectl label node: the other nodeMediatedDeviceTypes entry (mtty-1); mdevd re-types, describe node follows, and back"
run_test t_removed "an mdev removed out of band (mdevd --no-apply): describe node's Capacity and Allocatable drop"
run_test t_unhealthy "an mdev a pod holds, removed out of band: Unhealthy, describe node's Allocatable drops, Capacity keeps it"
rm -f "$MANIFESTS"/*.yaml
k8s_signal TERM $DAEMONS
vm_mdev_remove_all

run_summary
