#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Kubernetes image: build deploy/kubernetes/Containerfile with podman and run it. The
# CLI on the fixture trees against tests/cli's and tests/hostdev's golden files (libxml2
# and pci.ids in the image), the kubelet stand-in of tests/kubelet against `dp-serve` in a
# container (gRPC, dlopen()ed from the image's libgrpc29), and the image's own default
# command, as the DaemonSet runs it, up to readiness and a clean SIGTERM.
#
#   tests/deploy/image.sh             run every test, end with "N passed, N failed"
#   IMAGE=name tests/deploy/image.sh  the tag to build and test (default localhost/mdevd:test)
#   MIRROR=url tests/deploy/image.sh  the Debian mirror (default: the one this host's apt uses,
#                                     else http://deb.debian.org)
#
# Root, Debian 12, and a Debian mirror; no registry. The base images the Containerfile names
# (docker.io/library/debian:12 and :12-slim) are made here with mmdebstrap when podman does
# not have them (about two minutes), so `podman build --pull=never` never asks docker.io. The
# RUN steps reach the mirror through the host's network (--network=host); every container
# of the tests runs with --network=none. Installs podman, runc, mmdebstrap and the Python
# packages of tests/kubelet and tests/deploy when missing.
set -eu
cd "$(dirname "$0")/../.." || exit 1
. tests/wait.sh # wait_for SECONDS COMMAND...
container_ready() { podman logs "$1" 2>&1 | grep -q 'ready: serving'; }
IMAGE=${IMAGE:-localhost/mdevd:test}
# The mirrors this host's apt uses (deps.sh reached them), unless MIRROR is given.
host_uri() { # host_uri PATTERN -> the first apt source URI matching PATTERN, or nothing
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p; s/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}//p' |
		awk '{print $1}' | grep -E "$1" | head -1
}
if [ -z "${MIRROR:-}" ]; then
	MIRROR=$(host_uri '/debian/?$' | sed 's#/debian/*$##')
	SECURITY=$(host_uri '/debian-security/?$' | sed 's#/*$##')
fi
MIRROR=${MIRROR:-http://deb.debian.org}
SECURITY=${SECURITY:-$MIRROR/debian-security}
PY=/usr/bin/python3 # Debian's: the one that sees python3-grpcio
F=tests/fixtures
passed=0
failed=0

pass() { passed=$((passed + 1)); }
# fail NAME WHY [FILE]: count a failure; print why and, when given, FILE's first lines.
fail() {
	echo "FAIL $1: $2"
	if [ $# -ge 3 ] && [ -s "$3" ]; then sed 's/^/    /' "$3" | head -30; fi
	failed=$((failed + 1))
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

[ "$(id -u)" -eq 0 ] || { echo "tests/deploy/image.sh: run as root (rootful podman)"; exit 1; }

# --- what it needs, only what is missing (scripts/deps.sh's way) ------------------------------
missing=""
for p in podman runc mmdebstrap python3-grpcio python3-grpc-tools python3-yaml; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "image: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

tmp=$(mktemp -d /tmp/mdevd-image.XXXXXX)
label=mdevd-image-test=$$
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	ids=$(podman ps -aq --filter "label=$label" 2>/dev/null) || ids=
	# shellcheck disable=SC2086
	[ -z "$ids" ] || podman rm -f -t 0 $ids >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# podman's settings for this run only. runc, not crun: crun refuses a host whose cgroups
# are in hybrid mode (v1 controllers and a v2 mount); runc takes v1, v2 and hybrid. The
# ulimits: rootful podman asks the runtime for nofile and nproc above what a host without
# CAP_SYS_RESOURCE may grant ("setrlimit RLIMIT_NOFILE: Operation not permitted"), so ask
# for what this shell has. podman lowers its own RLIMIT_NPROC to kernel.pid_max (seen with
# podman 4.3), and a child cannot go above it.
nofile=$(awk '/^Max open files/ {print $5}' /proc/self/limits)
nproc=$(awk '/^Max processes/ {print $4}' /proc/self/limits)
pidmax=$(cat /proc/sys/kernel/pid_max)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ]; } && nproc=$pidmax
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$tmp/containers.conf"

# --- the base images, from the Debian mirror --------------------------------------------------
# debian:12 as the official image is made (minbase: apt, no recommends); debian:12-slim
# without docs, man pages and locales, as the official slim one is.
SOURCES="deb $MIRROR/debian bookworm main
deb $MIRROR/debian bookworm-updates main
deb $SECURITY bookworm-security main"
base() { # base TAG [MMDEBSTRAP-OPTIONS...]
	tag=$1
	shift
	podman image exists "$tag" && return 0
	echo "image: making $tag with mmdebstrap"
	if ! echo "$SOURCES" | nice -n 19 mmdebstrap --variant=minbase --quiet "$@" bookworm \
		"$tmp/base.tar" - >"$tmp/base.log" 2>&1 ||
		! podman import --change 'CMD ["bash"]' "$tmp/base.tar" "$tag" >>"$tmp/base.log" 2>&1
	then
		fail base-images "cannot make $tag" "$tmp/base.log"
		finish
	fi
	rm -f "$tmp/base.tar"
}
base docker.io/library/debian:12
base docker.io/library/debian:12-slim \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
	--dpkgopt='path-exclude=/usr/share/lintian/*'

# --- the build --------------------------------------------------------------------------------
# The build stage (~840 MB, the next build's cache) is tagged $IMAGE-build, so the current
# one is never dangling; earlier ones, untagged when the tag moves, go once this build has
# succeeded.
podman images -q --filter dangling=true | sort -u >"$tmp/dangling.before"
t0=$(date +%s)
if nice -n 19 podman build --pull=never --network=host -f deploy/kubernetes/Containerfile \
	-t "$IMAGE" . >"$tmp/build.log" 2>&1; then
	pass
	size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
	echo "# $IMAGE: built in $(($(date +%s) - t0)) s, $((size / 1000000)) MB"
	podman build --pull=never --network=host --target build -f deploy/kubernetes/Containerfile \
		-t "$IMAGE-build" . >>"$tmp/build.log" 2>&1 || true # all cached: seconds
	podman images -q --filter dangling=true | sort -u >"$tmp/dangling.after"
	comm -12 "$tmp/dangling.before" "$tmp/dangling.after" | xargs -r podman rmi -f \
		>/dev/null 2>&1 || true
else
	tail -30 "$tmp/build.log" >"$tmp/build.tail"
	fail image-builds "podman build -f deploy/kubernetes/Containerfile (the log's tail):" \
		"$tmp/build.tail"
	finish
fi

# run ARGS...: the image's mdevd with ARGS, the fixtures read-only at /fixtures, no network.
run() {
	podman run --rm --label "$label" --network=none -v "$PWD/$F:/fixtures:ro" "$IMAGE" "$@"
}

# golden NAME FILE ARGS...: `mdevd ARGS` in the image exits 0 and prints FILE.
golden() {
	name=$1
	want=$2
	shift 2
	rc=0
	run "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name" "mdevd $*: exit status $rc" "$tmp/err"
	elif ! diff -u "$want" "$tmp/out" >"$tmp/diff"; then
		fail "$name" "mdevd $* differs from $want" "$tmp/diff"
	else
		pass
	fi
}

# --- the CLI in the image ---------------------------------------------------------------------
version=$(sed -n 's/^#define MDEVD_VERSION "\(.*\)"$/\1/p' mdevd/cli/main.c)
echo "mdevd $version" >"$tmp/version"
golden image-version "$tmp/version" --version
golden image-types tests/cli/golden/samples-types-human.out --sysfs-root /fixtures/samples types
# Device names: libpci reads the image's pci.ids.
golden image-pci-names tests/cli/golden/samples-pci-human.out --sysfs-root /fixtures/samples pci
# libxml2, dlopen()ed on first use.
golden image-hostdev-mdev tests/hostdev/golden/mdev-nvidia.xml --sysfs-root /fixtures/nvidia \
	hostdev 6c1a7b2e-4a1e-4b8f-9d2c-1f0e3d2c1b0a
golden image-hostdev-pci tests/hostdev/golden/pci-edu.xml --sysfs-root /fixtures/samples \
	hostdev 0000:00:03.0

# The runtime stage carries no build tools, and no libvirt0 (left out on purpose).
if podman run --rm --label "$label" --network=none --entrypoint /bin/sh "$IMAGE" -c \
	'for f in /usr/bin/cc /usr/bin/make /usr/include/stdio.h; do [ ! -e $f ] || echo $f; done
	 ! dpkg -s libvirt0 >/dev/null 2>&1 || echo libvirt0' >"$tmp/out" 2>&1 && ! [ -s "$tmp/out" ]; then
	pass
else
	fail image-runtime-only "the runtime image has what it should not" "$tmp/out"
fi

# --- dp-serve in a container against the kubelet stand-in -------------------------------------
# The stand-in (tests/kubelet/kubelet_test.py) runs "MDEVD -v --sysfs-root DIR/sys dp-serve
# --policy DIR/policy.json --device-plugin-dir DIR/dp"; this MDEVD runs that in the image
# with DIR mounted at the same path, so the host's Python and the container's mdevd meet on
# the same sockets.
cat >"$tmp/mdevd-in-image" <<EOF
#!/bin/sh
root=
prev=
for a; do [ "\$prev" = --sysfs-root ] && root=\$a; prev=\$a; done
d=\$(dirname "\$root")
exec podman run --rm --label "$label" --network=none -v "\$d:\$d" "$IMAGE" "\$@"
EOF
chmod +x "$tmp/mdevd-in-image"
if ! "$PY" -c 'import grpc, grpc_tools' 2>/dev/null; then
	fail image-dp-serve "$PY: no grpc or grpc_tools (python3-grpcio, python3-grpc-tools)"
elif ! "$PY" -m grpc_tools.protoc -Imdevd/kubernetes --python_out="$tmp" --grpc_python_out="$tmp" \
	mdevd/kubernetes/deviceplugin.proto >"$tmp/out" 2>&1; then
	fail image-dp-serve "cannot compile mdevd/kubernetes/deviceplugin.proto" "$tmp/out"
else
	PYTHONPATH="$tmp:tests/kubelet" "$PY" tests/deploy/image_kubelet.py "$tmp/mdevd-in-image" \
		>"$tmp/kl" 2>&1 || true
	sed 's/^/    /' "$tmp/kl"
	kp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$tmp/kl")
	kf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$tmp/kl")
	if [ -z "$kp" ] || [ -z "$kf" ]; then
		fail image-dp-serve "tests/deploy/image_kubelet.py ended without its counts"
	else
		passed=$((passed + kp))
		failed=$((failed + kf))
	fi
fi

# --- the image's own command, as the DaemonSet runs it ----------------------------------------
# ENTRYPOINT + CMD untouched: `mdevd --sysfs-root /host/sys run --policy
# /etc/mdevd/policy.json`, with the DaemonSet's mounts: a (writable copy of a) sysfs tree, the
# ConfigMap's policy, the host's machine id, kubelet's device-plugin directory. The fixture
# accepts no mdev creation: the policy's layouts are reported as failed; the pools still
# serve. Readiness, the sockets, then SIGTERM (podman stop) and exit status 0.
mkdir -p "$tmp/node/dp"
cp -a "$F/nvidia" "$tmp/node/sys"
echo 0123456789abcdef0123456789abcdef >"$tmp/node/machine-id"
if ! "$PY" tests/deploy/manifests.py deploy policy >"$tmp/node/policy.json" 2>"$tmp/err"; then
	fail image-default-command "no policy in deploy/kubernetes/configmap.yaml" "$tmp/err"
elif ! podman run -d --name "mdevd-image-test-$$" --label "$label" --network=none \
	-v "$tmp/node/sys:/host/sys" -v "$tmp/node/policy.json:/etc/mdevd/policy.json:ro" \
	-v "$tmp/node/machine-id:/etc/machine-id:ro" \
	-v "$tmp/node/dp:/var/lib/kubelet/device-plugins" "$IMAGE" >"$tmp/out" 2>&1; then
	fail image-default-command "podman run $IMAGE (its CMD) did not start" "$tmp/out"
else
	c=mdevd-image-test-$$
	# Up to 60 s: a container start on a loaded machine is slow; ready ends the wait.
	wait_for 60 container_ready "$c" || true
	podman logs "$c" >"$tmp/log" 2>&1 || true
	# shellcheck disable=SC2012 # our own socket names, no odd characters
	socks=$(ls "$tmp/node/dp" | tr '\n' ' ')
	podman stop -t 10 "$c" >/dev/null 2>&1 || true
	rc=$(podman inspect --format '{{.State.ExitCode}}' "$c" 2>/dev/null) || rc=none
	podman logs "$c" >"$tmp/log" 2>&1 || true
	want="mdevd-nvidia.com_GA100_A100_PCIE_80GB.sock mdevd-nvidia.com_GRID_T4-1Q.sock \
mdevd-nvidia.com_NVIDIA_A10-4Q.sock "
	if ! grep -q 'ready: serving 3 resources (1 devices)' "$tmp/log"; then
		fail image-default-command "not ready with 3 resources (1 devices) in 60 s" "$tmp/log"
	elif [ "$socks" != "$want" ]; then
		fail image-default-command "sockets in the device-plugin dir: $socks(want $want)"
	elif [ "$rc" != 0 ] || ! grep -q 'SIGTERM: shutting down' "$tmp/log"; then
		fail image-default-command "exit status $rc after podman stop (SIGTERM), want 0" \
			"$tmp/log"
	elif [ -n "$(ls "$tmp/node/dp")" ]; then
		fail image-default-command "sockets left after SIGTERM: $(ls "$tmp/node/dp")"
	else
		pass
	fi
	podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
fi

finish
