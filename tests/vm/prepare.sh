#!/bin/bash
# tests/vm/prepare.sh — build everything the mdevd VM harness needs, cached
# under build/vm/. Idempotent: a second run only redoes what is missing or
# out of date (the initramfs is rebuilt when tests/vm/init.sh changes).
#
#   build/vm/debs/            downloaded Debian kernel packages
#   build/vm/kernel/          dpkg -x of image + headers + kbuild
#   build/vm/samples/         samples/vfio-mdev sources and built .ko files
#   build/vm/vmlinuz          the guest kernel
#   build/vm/initramfs.cpio.gz
#   build/vm/kernel.env       KVER=..., ABI=..., VERSION=...
#
# Environment:
#   MDEVD_VM_ABI=55      force a kernel ABI instead of the newest with headers
#   MDEVD_VM_NO_APT=1    never call apt-get install (fail if tools are missing)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${MDEVD_VM_BUILD:-$repo/build/vm}
mkdir -p "$out"

log() { printf 'prepare: %s\n' "$*" >&2; }
die() { printf 'prepare: error: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported"

# ---------------------------------------------------------------- host tools
# Install only the packages dpkg does not already report as installed.
need_pkgs=""
want() { # want PKG
	if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; then
		return 0
	fi
	need_pkgs="$need_pkgs $1"
}
want qemu-system-x86
want busybox-static
want kmod
want cpio
want build-essential
want gcc-12
want make
want bc
want xz-utils
want gzip
want libelf1
want libssl3
want python3
want jq
want uuid-runtime
want mdevctl
want coreutils

if [ -n "$need_pkgs" ]; then
	[ -z "${MDEVD_VM_NO_APT:-}" ] || die "missing host packages:$need_pkgs"
	[ "$(id -u)" = 0 ] || die "missing host packages:$need_pkgs (run as root to install them)"
	log "installing host packages:$need_pkgs"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	if ! apt-get install -y -q --no-install-recommends $need_pkgs >&2; then
		log "apt-get install failed; running apt-get update and retrying"
		apt-get update -q >&2
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $need_pkgs >&2
	fi
fi
# busybox-static may ship as /usr/bin/busybox on merged-/usr systems.
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found after install"
"$BUSYBOX" --list >/dev/null 2>&1 || die "$BUSYBOX does not run"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked; install busybox-static"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found after install"

# ---------------------------------------------------------- kernel packages
pkg_version() { # newest candidate version of a package, empty if unknown
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}
pkg_has_version() { # pkg_has_version PKG VERSION
	apt-cache madison "$1" 2>/dev/null | awk -v v="$2" -F' *\\| *' '$2 == v { f = 1 } END { exit !f }'
}

cached_abi=
if [ -f "$out/kernel.env" ] && [ -f "$out/kernel/.done" ]; then
	cached_abi=$(sed -n 's/^ABI=//p' "$out/kernel.env")
fi
if [ -n "$cached_abi" ] && { [ -z "${MDEVD_VM_ABI:-}" ] || [ "$MDEVD_VM_ABI" = "$cached_abi" ]; }; then
	. "$out/kernel.env"
else
	rm -f "$out/kernel/.done" "$out/samples/.done"
	if [ -n "${MDEVD_VM_ABI:-}" ]; then
		abis=$MDEVD_VM_ABI
	else
		abis=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
			sed -n 's/^linux-image-6\.1\.0-\([0-9]\+\)-amd64-unsigned$/\1/p' | sort -rn | uniq)
		if [ -z "$abis" ]; then
			log "no linux-image-6.1.0-*-amd64-unsigned in the apt cache; running apt-get update"
			apt-get update -q >&2
			abis=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
				sed -n 's/^linux-image-6\.1\.0-\([0-9]\+\)-amd64-unsigned$/\1/p' | sort -rn | uniq)
		fi
	fi
	ABI="" VERSION=""
	for a in $abis; do
		iv=$(pkg_version "linux-image-6.1.0-$a-amd64-unsigned")
		[ -n "$iv" ] || continue
		if pkg_has_version "linux-headers-6.1.0-$a-amd64" "$iv" &&
			pkg_has_version "linux-headers-6.1.0-$a-common" "$iv"; then
			ABI=$a VERSION=$iv
			break
		fi
		log "ABI $a: image $iv has no matching headers, trying an older ABI"
	done
	[ -n "$ABI" ] || die "no linux-image-6.1.0-N-amd64-unsigned with matching headers in the apt archive (abis tried: $(echo $abis))"
	KVER=6.1.0-$ABI-amd64
	log "guest kernel: $KVER (Debian $VERSION)"

	mkdir -p "$out/debs"
	dl() { # dl PKG VERSION-or-empty
		if [ -n "$2" ]; then spec="$1=$2"; else spec=$1; fi
		if ls "$out/debs/${1}_${2:-}"*.deb >/dev/null 2>&1; then
			return 0
		fi
		log "downloading $spec"
		# _apt cannot write into root-owned dirs; download in a world-writable temp dir.
		t=$(mktemp -d)
		chmod 777 "$t"
		(cd "$t" && apt-get download -q "$spec" >&2) || { rm -rf "$t"; die "apt-get download $spec failed"; }
		mv "$t"/*.deb "$out/debs/"
		rm -rf "$t"
	}
	dl "linux-image-$KVER-unsigned" "$VERSION"
	dl "linux-headers-$KVER" "$VERSION"
	dl "linux-headers-6.1.0-$ABI-common" "$VERSION"
	if pkg_has_version linux-kbuild-6.1 "$VERSION"; then
		dl linux-kbuild-6.1 "$VERSION"
	else
		dl linux-kbuild-6.1 "$(pkg_version linux-kbuild-6.1)"
	fi
	if pkg_has_version linux-source-6.1 "$VERSION"; then
		SRCVERSION=$VERSION
	else
		SRCVERSION=$(pkg_version linux-source-6.1)
		[ -n "$SRCVERSION" ] || die "linux-source-6.1 not in the apt archive"
		log "warning: linux-source-6.1 $VERSION not available, using $SRCVERSION"
	fi
	dl linux-source-6.1 "$SRCVERSION"

	log "extracting kernel packages into build/vm/kernel"
	rm -rf "$out/kernel" "$out/samples"
	mkdir -p "$out/kernel"
	for p in "linux-image-$KVER-unsigned" "linux-headers-$KVER" "linux-headers-6.1.0-$ABI-common"; do
		dpkg -x "$(ls "$out/debs/${p}_${VERSION}"_*.deb)" "$out/kernel"
	done
	dpkg -x "$(ls -t "$out/debs"/linux-kbuild-6.1_*.deb | head -n1)" "$out/kernel"
	# The headers' Makefile includes the -common tree by absolute path.
	sed -i "s|^include /usr/src/|include $out/kernel/usr/src/|" \
		"$out/kernel/usr/src/linux-headers-$KVER/Makefile"
	[ -f "$out/kernel/boot/vmlinuz-$KVER" ] || die "vmlinuz-$KVER missing from the image package"
	printf 'ABI=%s\nKVER=%s\nVERSION=%s\nSRCVERSION=%s\n' "$ABI" "$KVER" "$VERSION" "$SRCVERSION" >"$out/kernel.env"
	touch "$out/kernel/.done"
fi
. "$out/kernel.env"
kdir=$out/kernel
moddir=$kdir/lib/modules/$KVER
hdrs=$kdir/usr/src/linux-headers-$KVER

# ------------------------------------------------------ sample mdev drivers
if [ ! -f "$out/samples/.done" ]; then
	src=$(ls "$out/debs/linux-source-6.1_${SRCVERSION}_all.deb")
	log "extracting samples/vfio-mdev from $(basename "$src") (~10 s)"
	rm -rf "$out/samples"
	mkdir -p "$out/samples/src"
	dpkg-deb --fsys-tarfile "$src" |
		tar -xO ./usr/src/linux-source-6.1.tar.xz |
		tar -xJ -C "$out/samples/src" --wildcards '*/samples/vfio-mdev/*'
	mkdir -p "$out/samples/build"
	for f in mtty.c mdpy.c mbochs.c mdpy-defs.h; do
		cp "$out/samples/src"/*/samples/vfio-mdev/"$f" "$out/samples/build/"
	done
	echo 'obj-m := mtty.o mdpy.o mbochs.o' >"$out/samples/build/Kbuild"
	log "building mtty, mdpy, mbochs against $KVER headers"
	make -C "$hdrs" M="$out/samples/build" modules >"$out/samples/build.log" 2>&1 ||
		{ cat "$out/samples/build.log" >&2; die "building the sample modules failed"; }
	mkdir -p "$moddir/extra"
	cp "$out/samples/build"/mtty.ko "$out/samples/build"/mdpy.ko "$out/samples/build"/mbochs.ko "$moddir/extra/"
	depmod -b "$kdir" "$KVER"
	touch "$out/samples/.done"
fi

# --------------------------------------------------------------- initramfs
# Top-level modules; their dependencies come from modprobe --show-depends.
TOP_MODULES="overlay virtio_pci 9pnet_virtio 9p vfio vfio_iommu_type1 mdev irqbypass vfio_virqfd vfio-pci-core vfio-pci mtty mdpy mbochs e1000e"

init_src=$here/init.sh
cpio_out=$out/initramfs.cpio.gz
if [ ! -f "$cpio_out" ] || [ "$init_src" -nt "$cpio_out" ] || [ "$0" -nt "$cpio_out" ] ||
	[ "$out/samples/.done" -nt "$cpio_out" ]; then
	log "building initramfs"
	stage=$out/initramfs
	rm -rf "$stage"
	mkdir -p "$stage"/bin "$stage"/dev "$stage"/proc "$stage"/sys "$stage"/mnt/host \
		"$stage"/mnt/results "$stage"/lib/modules "$stage"/tmp
	cp "$BUSYBOX" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	: >"$stage/modules.list"
	for m in $TOP_MODULES; do
		deps=$(modprobe -d "$kdir" -S "$KVER" --show-depends "$m" 2>/dev/null) || {
			log "note: module $m not found (built in?) — skipped"
			continue
		}
		echo "$deps" | while read -r kind path _; do
			case $kind in
			insmod)
				rel=${path#"$moddir"/}
				if ! grep -qxF "$rel" "$stage/modules.list"; then
					mkdir -p "$stage/lib/modules/$(dirname "$rel")"
					cp "$path" "$stage/lib/modules/$rel"
					echo "$rel" >>"$stage/modules.list"
				fi
				;;
			builtin) ;;
			esac
		done
	done
	cp "$init_src" "$stage/init"
	chmod 755 "$stage/init"
	printf 'KVER=%s\n' "$KVER" >"$stage/kernel.env"
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9) >"$cpio_out.tmp"
	mv "$cpio_out.tmp" "$cpio_out"
	log "initramfs: $(wc -l <"$stage/modules.list") modules, $(du -h "$cpio_out" | cut -f1)"
fi
ln -sf "kernel/boot/vmlinuz-$KVER" "$out/vmlinuz"
log "ready: kernel $KVER, build/vm/vmlinuz + build/vm/initramfs.cpio.gz"
