# shellcheck shell=sh
# tests/vm/lib.sh — helpers for scripts running inside the mdevd test VM.
# POSIX sh (also sourced by the busybox /init). Source it:
#   . "$REPO/tests/vm/lib.sh"
#
# Environment provided by the VM (tests/vm/run.sh + init.sh):
#   MDEVD    absolute path of the built mdevd binary
#   REPO     repository root
#   RESULTS  writable directory shared with the host (build/vm/results/...)
#   KROOT    extracted guest kernel tree (lib/modules/$(uname -r) under it)

SYS=${SYS:-/sys}

# vm_pci_find VENDOR:DEVICE -> prints the BDFs of matching PCI functions
vm_pci_find() {
	_v=${1%%:*} _d=${1##*:}
	for _dev in "$SYS"/bus/pci/devices/*; do
		[ -e "$_dev/vendor" ] || continue
		if [ "$(cat "$_dev/vendor")" = "0x$_v" ] && [ "$(cat "$_dev/device")" = "0x$_d" ]; then
			echo "${_dev##*/}"
		fi
	done
}

# vm_pci_driver BDF -> prints the bound driver name (empty if none)
vm_pci_driver() {
	if [ -e "$SYS/bus/pci/devices/$1/driver" ]; then
		_l=$(readlink "$SYS/bus/pci/devices/$1/driver")
		echo "${_l##*/}"
	fi
}

# vm_pci_bind BDF DRIVER -> rebinds one function via driver_override
vm_pci_bind() {
	_p=$SYS/bus/pci/devices/$1
	[ -e "$_p" ] || { echo "vm_pci_bind: no PCI device $1" >&2; return 1; }
	[ "$(vm_pci_driver "$1")" = "$2" ] && return 0
	echo "$2" >"$_p/driver_override" || return 1
	if [ -e "$_p/driver" ]; then
		echo "$1" >"$_p/driver/unbind" || return 1
	fi
	echo "$1" >"$SYS/bus/pci/drivers_probe" 2>/dev/null
	[ "$(vm_pci_driver "$1")" = "$2" ] || {
		echo "vm_pci_bind: $1 did not bind to $2" >&2
		return 1
	}
}

# vm_pci_unbind_override BDF -> clear driver_override, return to the default driver
vm_pci_restore() {
	_p=$SYS/bus/pci/devices/$1
	echo >"$_p/driver_override" || return 1
	if [ -e "$_p/driver" ]; then
		echo "$1" >"$_p/driver/unbind" || return 1
	fi
	echo "$1" >"$SYS/bus/pci/drivers_probe" 2>/dev/null
	return 0
}

# vm_bind_vfio VENDOR:DEVICE -> binds every matching function to vfio-pci
vm_bind_vfio() {
	_found=
	for _bdf in $(vm_pci_find "$1"); do
		_found=1
		vm_pci_bind "$_bdf" vfio-pci || return 1
	done
	[ -n "$_found" ] || { echo "vm_bind_vfio: no PCI device $1" >&2; return 1; }
}

# vm_modprobe ARGS... -> modprobe against the guest kernel's module tree
vm_modprobe() {
	if [ -d "/lib/modules/$(uname -r)" ]; then
		modprobe "$@"
	else
		modprobe -d "$KROOT" "$@"
	fi
}

# vm_mdev_count [PARENT [TYPE]] -> number of live mdevs (optionally filtered)
vm_mdev_count() {
	_n=0
	for _m in "$SYS"/bus/mdev/devices/*; do
		[ -e "$_m" ] || continue
		if [ -n "${1:-}" ]; then
			_par=$(readlink -f "$_m/..")
			[ "${_par##*/}" = "$1" ] || continue
		fi
		if [ -n "${2:-}" ]; then
			_t=$(readlink -f "$_m/mdev_type")
			[ "${_t##*/}" = "$2" ] || continue
		fi
		_n=$((_n + 1))
	done
	echo $_n
}

# vm_mdev_remove_all -> removes every mdev (test cleanup)
vm_mdev_remove_all() {
	for _m in "$SYS"/bus/mdev/devices/*; do
		[ -e "$_m/remove" ] && echo 1 >"$_m/remove"
	done
	return 0
}
