#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/k8s/images/build.sh SANDBOX_NAME — the test cluster's two images, built locally
# (no registry is reachable): the pod sandbox (pause.c, static) under SANDBOX_NAME, the
# name containerd pins, and busybox from Debian's busybox-static as
# docker.io/library/busybox:mdevd. Written once into $MDEVD_K8S_CACHE (default
# /var/cache/mdevd-k8s)/images-<hash of these sources>/{pause,busybox}.tar; prints that dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: build.sh SANDBOX_IMAGE_NAME}
key=$(cat "$here/pause.c" "$here/oci-image.py" "$0" /bin/busybox <(echo "$name") | sha256sum | cut -c1-16)
dir=${MDEVD_K8S_CACHE:-/var/cache/mdevd-k8s}/images-$key
if [ ! -f "$dir/busybox.tar" ]; then
	mkdir -p "$dir"
	cc -static -Os -s -o "$dir/pause" "$here/pause.c"
	python3 "$here/oci-image.py" "$dir/pause.tar" "$name" /pause "$dir/pause=/pause"
	links=()
	for l in sh cat ls sleep env test grep head ps tr; do links+=("@/bin/$l=busybox"); done
	python3 "$here/oci-image.py" "$dir/busybox.tar.tmp" docker.io/library/busybox:mdevd /bin/sh \
		/bin/busybox=/bin/busybox "${links[@]}"
	mv "$dir/busybox.tar.tmp" "$dir/busybox.tar"
fi
echo "$dir"
