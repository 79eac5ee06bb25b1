#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/k8s/guest.sh kubelet [FILTER|bench] | cluster — a guest suite with kubelet in the
# real-kernel guest, with what it needs from the host: the binaries of tests/k8s/build.sh
# (cached) and the pause and busybox images of tests/k8s/images/build.sh under the sandbox
# image name containerd pins.
#   kubelet   tests/vm/guest-kubelet.sh: kubelet standalone (make check-vm-kubelet;
#             tests/bench/kubelet-bench.sh runs it with "bench")
#   cluster   tests/vm/guest-cluster.sh: etcd, kube-apiserver and kubelet registered with
#             them, in the guest (make check-vm-cluster)
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:-kubelet}
shift || true
eval "$(tests/k8s/build.sh kubelet kube-apiserver kubectl etcd containerd ctr containerd-shim-runc-v2 podresources)"
sandbox=$("$CONTAINERD_BIN/containerd" config default | sed -n "s/^ *sandbox = '\(.*\)'$/\1/p" | head -n 1)
[ -n "$sandbox" ] || { echo "tests/k8s/guest.sh: no sandbox image in containerd's default config"; exit 1; }
images=$(tests/k8s/images/build.sh "$sandbox")
case $suite in
kubelet)
	MDEVD_VM_MEM=${MDEVD_VM_MEM:-2048} MDEVD_VM_TIMEOUT=${MDEVD_VM_TIMEOUT:-1500} \
		exec tests/vm/run.sh tests/vm/guest-kubelet.sh "$K8S_BIN" "$CONTAINERD_BIN" \
		"$HARNESS_BIN" "$images" "$@"
	;;
cluster)
	MDEVD_VM_MEM=${MDEVD_VM_MEM:-3072} MDEVD_VM_TIMEOUT=${MDEVD_VM_TIMEOUT:-1800} \
		exec tests/vm/run.sh tests/vm/guest-cluster.sh "$K8S_BIN" "$CONTAINERD_BIN" "$images" "$@"
	;;
*) echo "usage: tests/k8s/guest.sh kubelet [FILTER|bench] | cluster [FILTER]" >&2; exit 2 ;;
esac
