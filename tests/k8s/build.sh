#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/k8s/build.sh [COMPONENT...] — builds the real Kubernetes parts the tests run, once,
# into a cache outside the work tree keyed by version, and prints where they are as shell
# assignments (K8S_BIN=..., CONTAINERD_BIN=..., HARNESS_BIN=...) for eval.
#   kubelet kube-apiserver kubectl etcd   from k8s.io/kubernetes at the release tests/k8s/go.mod
#                                         pins (etcd at the version that release requires)
#   containerd ctr containerd-shim-runc-v2   containerd v2 (CONTAINERD_VERSION below)
#   devicemanager podresources            this module's harnesses (tests/k8s/<name>), keyed
#                                         by a hash of go.mod, go.sum and their sources
# Default: all of them. runc comes from Debian (scripts/deps.sh). Cache:
# $MDEVD_K8S_CACHE (default /var/cache/mdevd-k8s)/k8s-<release>/bin,
# .../containerd-<version>/bin and .../k8s-<release>/harness-<hash>; a binary is built only
# when missing. A cold build of all of them takes tens of minutes on 2 cores (figures in the
# README); the script says what it builds and how long each took, on stderr. Exits non-zero
# naming the part that failed.
set -euo pipefail
cd "$(dirname "$0")"
CONTAINERD_VERSION=v2.4.2
export PATH=$PATH:/usr/local/go/bin GOFLAGS=-mod=mod CGO_ENABLED=0
k8s=$(sed -n 's/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' go.mod)
[ -n "$k8s" ] || { echo "build.sh: no k8s.io/kubernetes in tests/k8s/go.mod" >&2; exit 1; }
command -v go >/dev/null || { echo "build.sh: needs Go >= 1.25 (kubelet's go.mod), found none" >&2; exit 1; }
root=${MDEVD_K8S_CACHE:-/var/cache/mdevd-k8s}
kbin=$root/k8s-$k8s/bin cbin=$root/containerd-$CONTAINERD_VERSION/bin
hbin=$root/k8s-$k8s/harness-$(cat go.mod go.sum ./*/*.go | sha256sum | cut -c1-16)
mkdir -p "$kbin" "$cbin" "$hbin"
minor=${k8s#v1.}
minor=${minor%%.*}
kver="-X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1"
kver+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
kver+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitMajor=1"
kver+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
cver="-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
cver+=" -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"

build() { # build NAME DIR PACKAGE LDFLAGS [TAGS]
	local t0=$SECONDS
	[ -x "$2/$1" ] && return 0
	echo "build.sh: building $1 ($3) into $2" >&2
	if [ "$2" = "$cbin" ]; then
		GOBIN=$2 go install -trimpath -tags "${5:-}" -ldflags "-s -w $4" "$3@$CONTAINERD_VERSION" >&2
	else
		go build -trimpath -tags "${5:-}" -ldflags "-s -w $4" -o "$2/$1.tmp" "$3" >&2
		mv "$2/$1.tmp" "$2/$1"
	fi
	echo "build.sh: $1 built in $((SECONDS - t0)) s" >&2
}
want=("$@")
[ ${#want[@]} -gt 0 ] ||
	want=(devicemanager podresources kubelet kube-apiserver kubectl etcd containerd ctr containerd-shim-runc-v2)
for c in "${want[@]}"; do
	case $c in
	kubelet | kube-apiserver | kubectl) build "$c" "$kbin" "k8s.io/kubernetes/cmd/$c" "$kver" ;;
	etcd) build etcd "$kbin" go.etcd.io/etcd/server/v3 "" ;;
	devicemanager | podresources) build "$c" "$hbin" "./$c" "" ;;
	containerd | ctr | containerd-shim-runc-v2)
		build "$c" "$cbin" "github.com/containerd/containerd/v2/cmd/$c" "$cver" "no_btrfs urfave_cli_no_docs" ;;
	*) echo "build.sh: unknown component $c" >&2; exit 2 ;;
	esac
done
printf 'K8S_BIN=%s CONTAINERD_BIN=%s HARNESS_BIN=%s\n' "$kbin" "$cbin" "$hbin"
