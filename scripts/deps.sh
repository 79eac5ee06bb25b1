#!/bin/sh
# Install what building and testing mdevd needs on Debian 12, only what is missing.
# Run as root (or with sudo available). Safe to run again: it does nothing when all is there.
set -eu

PKGS="build-essential pkg-config libpci-dev pci.ids libcjson-dev uuid-dev libcmocka-dev \
libvirt0 libvirt-dev libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libsystemd-dev \
python3-grpcio python3-grpc-tools \
libxml2-dev libxml2-utils libyaml-dev clang-format python3 \
qemu-system-x86 busybox-static kmod cpio xz-utils mdevctl strace hyperfine uuid-runtime \
python3-yaml systemd udev jq valgrind groff-base \
libmicrohttpd-dev python3-prometheus-client runc libcurl4-openssl-dev openssl"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
