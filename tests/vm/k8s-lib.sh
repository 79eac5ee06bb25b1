#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vm/k8s-lib.sh — the real kubelet and containerd in the real-kernel guest, shared by
# guest-kubelet.sh (kubelet standalone) and guest-cluster.sh (kubelet registered with an API
# server in the guest). Sources lib.sh and testlib.sh and sets $work (a new private
# directory: pid files, sockets, kubelet.yaml), $logs (the results share: the daemons' logs,
# readable from the host while the guest runs) and $W (the deadline for hangs, MDEVD_WAIT);
# puts containerd and kubelet on PATH from $CONTAINERD_BIN and $K8S_BIN.
. "$REPO/tests/vm/lib.sh"
. "$REPO/tests/vm/testlib.sh"
work=$(mktemp -d)
logs=$RESULTS # sockets stay in $work: 9p has none
W=${MDEVD_WAIT:-300}
export PATH=$CONTAINERD_BIN:$K8S_BIN:$PATH
CTR=(ctr --address /run/containerd/containerd.sock -n k8s.io)
MANIFESTS=/etc/kubernetes/manifests
DP=/var/lib/kubelet/device-plugins

# k8s_cgroups: cgroup v2 mounted, the controllers kubelet asks for enabled.
k8s_cgroups() {
	mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup || fail "no cgroup v2"
	local c
	for c in cpuset cpu io memory pids; do echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true; done
}

start_containerd() {
	mkdir -p /etc/containerd /var/lib/containerd /run/containerd
	# Version 3 config: native snapshotter (the guest's root is already an overlay), runc
	# from Debian with cgroupfs, and no CNI: every pod here is hostNetwork.
	cat >/etc/containerd/config.toml <<'EOF'
version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "native"
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "/usr/sbin/runc"
  SystemdCgroup = false
EOF
	containerd --config /etc/containerd/config.toml >"$logs/containerd.log" 2>&1 &
	echo $! >"$work/containerd.pid"
	wait_for $W "${CTR[@]}" version >/dev/null || fail "containerd did not answer"
}

# start_kubelet [KUBELET-ARGS...]: kubelet as node mdevd-vm on 127.0.0.1 (read-only port
# 10255, anonymous: the tests read /pods and /healthz), up to its device-plugin socket.
# $KUBELET_CONFIG_MORE: more KubeletConfiguration lines (YAML, top level).
start_kubelet() {
	mkdir -p "$MANIFESTS" /var/lib/kubelet
	cat >"$work/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: $MANIFESTS
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
address: 127.0.0.1
healthzBindAddress: 127.0.0.1
readOnlyPort: 10255
cgroupDriver: cgroupfs
failSwapOn: false
makeIPTablesUtilChains: false
localStorageCapacityIsolation: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
syncFrequency: 5s
fileCheckFrequency: 2s
resolvConf: ""
${KUBELET_CONFIG_MORE:-}
EOF
	kubelet --config "$work/kubelet.yaml" --hostname-override mdevd-vm --node-ip 127.0.0.1 \
		--v 2 "$@" >>"$logs/kubelet.log" 2>&1 &
	echo $! >"$work/kubelet.pid"
	wait_for $W test -S "$DP/kubelet.sock" || fail "kubelet did not create $DP/kubelet.sock"
	wait_for $W curl -sf -o /dev/null http://127.0.0.1:10255/healthz ||
		fail "kubelet's read-only port does not answer"
}

# k8s_signal SIGNAL NAME...: SIGNAL to each daemon whose pid is in $work/NAME.pid; one that
# is gone already is no failure (the suites' EXIT traps run under set -e).
k8s_signal() {
	local sig=$1 f
	shift
	for f in "$@"; do
		if [ -s "$work/$f.pid" ]; then kill -"$sig" "$(cat "$work/$f.pid")" 2>/dev/null || true; fi
	done
}

pod_manifest() { # pod_manifest NAME RESOURCE: a hostNetwork busybox pod holding one RESOURCE
	mkdir -p "$MANIFESTS"
	# kubelet's file source skips dot files: the manifest appears whole, by rename.
	cat >"$MANIFESTS/.$1.yaml.tmp" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: c
    image: docker.io/library/busybox:mdevd
    imagePullPolicy: Never
    # The environment as runc handed it to PID 1: a shell drops names that are no shell
    # identifiers, and KubeVirt's MDEV_PCI_RESOURCE_EXAMPLE_COM_MTTY-DUAL has a dash.
    command: ["/bin/sh", "-c", "tr '\\\\0' '\\\\n' </proc/1/environ | grep RESOURCE_; ls /dev/vfio; echo started; exec sleep 100000"]
    resources: {limits: {$2: 1}}
EOF
	mv "$MANIFESTS/.$1.yaml.tmp" "$MANIFESTS/$1.yaml"
}
