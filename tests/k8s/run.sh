#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kubelet's own device manager against mdevd (make check-devicemanager).
#   tests/k8s/run.sh [MDEVD]
# Builds tests/k8s/devicemanager (a Go harness around k8s.io/kubernetes's
# pkg/kubelet/cm/devicemanager at the release go.mod pins) once into a cache outside the work
# tree (tests/k8s/build.sh). A cold build downloads the modules and compiles a large part of
# kubelet: about 4 to 6 minutes on 2 cores; later runs reuse it. Then runs it as root in a
# private mount namespace with /var/lib (so /var/lib/kubelet) on tmpfs: kubelet's
# device-plugin directory is a fixed path, and the host's is never touched.
# Ends with "N passed, N failed"; exits non-zero when a check failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
mdevd=$(realpath "${1:-mdevd/mdevd}")
fail() { echo "tests/k8s: $*"; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "tests/k8s: SKIP: needs root (a private mount namespace, /var/lib/kubelet on tmpfs)"; exit 0; }
echo "tests/k8s: kubelet's device manager and the harness (tests/k8s/build.sh; a cold build takes minutes)"
vars=$(tests/k8s/build.sh devicemanager) || fail "tests/k8s/build.sh devicemanager failed"
eval "$vars"
bin=$HARNESS_BIN/devicemanager
work=$(mktemp -d /tmp/mdevd-k8s.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
python3 tests/k8s/node.py "$work/sys" || fail "cannot build the node's tree"
unshare --mount --propagation private -- sh -c \
	'mount -t tmpfs -o mode=0755 tmpfs /var/lib && exec "$0" "$@"' "$bin" "$mdevd" "$work/sys" "$work"
st=$?
if [ $st != 0 ]; then
	echo "# kubelet's log (tail):"
	tail -n 30 "$work/kubelet.log" 2>/dev/null | sed 's/^/#   /'
fi
exit $st
