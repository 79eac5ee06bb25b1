#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/k8s/guest.sh [FILTER|bench] — tests/vm/guest-kubelet.sh in the real-kernel guest with
# what it needs from the host: kubelet, containerd, ctr, the runc shim and the pod-resources
# client from tests/k8s/build.sh (cached), and the pause and busybox images from
# tests/k8s/images/build.sh under the sandbox image name containerd pins. `make
# check-vm-kubelet` runs it; tests/bench/kubelet-bench.sh runs it with "bench".
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(tests/k8s/build.sh kubelet containerd ctr containerd-shim-runc-v2 podresources)"
sandbox=$("$CONTAINERD_BIN/containerd" config default | sed -n "s/^ *sandbox = '\(.*\)'$/\1/p" | head -n 1)
[ -n "$sandbox" ] || { echo "tests/k8s/guest.sh: no sandbox image in containerd's default config"; exit 1; }
images=$(tests/k8s/images/build.sh "$sandbox")
MDEVD_VM_MEM=${MDEVD_VM_MEM:-2048} MDEVD_VM_TIMEOUT=${MDEVD_VM_TIMEOUT:-1500} \
	exec tests/vm/run.sh tests/vm/guest-kubelet.sh "$K8S_BIN" "$CONTAINERD_BIN" "$HARNESS_BIN" \
	"$images" "$@"
