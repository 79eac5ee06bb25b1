#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kubelet's own device manager against mdevd (make check-devicemanager).
#   tests/k8s/run.sh [MDEVD]
# Builds tests/k8s/devicemanager (a Go harness around k8s.io/kubernetes's
# pkg/kubelet/cm/devicemanager at the release go.mod pins) once into a cache outside the work
# tree, keyed by that release and the harness's sources: $MDEVD_K8S_CACHE, default
# /var/cache/mdevd-k8s. A cold build downloads the modules and compiles a large part of
# kubelet: about 6 minutes on 2 cores; later runs reuse it. Then runs it as root in a
# private mount namespace with /var/lib (so /var/lib/kubelet) on tmpfs: kubelet's
# device-plugin directory is a fixed path, and the host's is never touched.
# Ends with "N passed, N failed"; exits non-zero when a check failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
mdevd=$(realpath "${1:-mdevd/mdevd}")
fail() { echo "tests/k8s: $*"; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "tests/k8s: SKIP: needs root (a private mount namespace, /var/lib/kubelet on tmpfs)"; exit 0; }
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || fail "needs Go >= 1.25 (kubelet's go.mod), found none"
k8s=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p; s/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' tests/k8s/go.mod)
[ -n "$k8s" ] || fail "no k8s.io/kubernetes version in tests/k8s/go.mod"
key=$(cat tests/k8s/go.mod tests/k8s/go.sum tests/k8s/devicemanager/*.go | sha256sum | cut -c1-16)
cache=${MDEVD_K8S_CACHE:-/var/cache/mdevd-k8s}/k8s-$k8s
bin=$cache/devicemanager-$key
if [ ! -x "$bin" ]; then
	echo "tests/k8s: building kubelet's device manager ($k8s) and the harness into $cache (a cold build takes minutes)"
	mkdir -p "$cache" || fail "cannot create $cache"
	t0=$SECONDS
	(cd tests/k8s && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" ./devicemanager) ||
		fail "go build of tests/k8s/devicemanager failed"
	mv "$bin.tmp" "$bin"
	echo "tests/k8s: built in $((SECONDS - t0)) s"
fi
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
