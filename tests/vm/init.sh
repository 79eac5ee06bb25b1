#!/bin/sh
# tests/vm/init.sh — /init of the mdevd test VM's initramfs (busybox sh).
#
# 1. mount proc/sys/devtmpfs, insmod the modules listed in /modules.list (but those
#    named by mdevd_vm.noload=a,b on the kernel command line)
# 2. mount the host root (9p tag "hostroot", read-only) at /mnt/host and the
#    writable results share (tag "results") at /mnt/results
# 3. build the chroot at /mnt/root: an overlay of the host root with a tmpfs
#    upper layer (host stays untouched, guest sees a writable tree), or the
#    plain read-only host root if overlayfs is unavailable; the guest's own
#    /proc, /sys, /dev, a tmpfs /run (and /tmp without overlay), the guest kernel's modules at
#    /lib/modules/$KVER and the results share at /run/results
# 4. bind the PCI devices named in $VM_VFIO_IDS to vfio-pci (tests/vm/lib.sh)
# 5. run /mnt/results/job.sh (written by tests/vm/run.sh) inside the chroot,
#    write its exit status to /mnt/results/rc and power off.
/bin/busybox --install -s /bin
export PATH=/bin
umask 022

say() { echo "vm-init: $*"; }
halt() {
	sync
	umount /mnt/results 2>/dev/null
	poweroff -f
	echo o >/proc/sysrq-trigger 2>/dev/null
	sleep 10
}
fatal() {
	say "FATAL: $*"
	if mountpoint -q /mnt/results 2>/dev/null; then
		echo "init: $*" >/mnt/results/init-error
		echo 125 >/mnt/results/rc
	fi
	halt
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 >/proc/sys/kernel/sysrq 2>/dev/null
. /kernel.env

# mdevd_vm.noload=a,b on the command line: modules this boot leaves to udev, as a real boot
# does (the guest loads them itself).
noload=,
for a in $(cat /proc/cmdline); do
	case $a in mdevd_vm.noload=*) noload=",${a#mdevd_vm.noload=}," ;; esac
done
for m in $(cat /modules.list); do
	b=${m##*/}
	case $noload in *",${b%.ko},"*)
		say "not loading ${b%.ko} (mdevd_vm.noload)"
		continue
		;;
	esac
	out=$(insmod "/lib/modules/$m" 2>&1) || say "insmod $m failed: $out"
done

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /mnt/host ||
	fatal "cannot mount the 9p host root (tag hostroot)"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /mnt/results ||
	fatal "cannot mount the 9p results share (tag results)"
[ -f /mnt/results/job.env ] || fatal "no job.env in the results share"
. /mnt/results/job.env # sets REPO, KROOT, VM_VFIO_IDS, VM_OVERLAY

root=/mnt/root
mkdir -p $root /mnt/rw
overlay=no
if [ "${VM_OVERLAY:-1}" = 1 ] && mount -t tmpfs -o mode=755 tmpfs /mnt/rw &&
	mkdir -p /mnt/rw/upper /mnt/rw/work &&
	mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work $root 2>/dev/null; then
	overlay=yes
else
	mount --bind /mnt/host $root || fatal "cannot bind the host root"
fi

mount -t proc proc $root/proc || fatal "cannot mount /proc in the chroot"
mount -t sysfs sysfs $root/sys || fatal "cannot mount /sys in the chroot"
mkdir -p /dev/pts /dev/shm
# What udev would provide: bash process substitution needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm 2>/dev/null
mount --rbind /dev $root/dev || fatal "cannot bind /dev in the chroot"
# With the overlay, /tmp stays the host's (read-through, writes go to the
# guest's tmpfs upper layer); without it, /tmp must be a fresh tmpfs.
if [ $overlay = no ]; then
	mount -t tmpfs -o mode=1777 tmpfs $root/tmp || fatal "cannot mount /tmp in the chroot"
fi
mount -t tmpfs -o mode=755 tmpfs $root/run || fatal "cannot mount /run in the chroot"
mkdir -p $root/run/results
mount --bind /mnt/results $root/run/results || fatal "cannot bind the results share"
# The guest kernel's modules, so that modprobe/rmmod work inside the chroot.
if [ $overlay = yes ]; then
	mkdir -p $root/lib/modules/$KVER &&
		mount --bind "$root$KROOT/lib/modules/$KVER" $root/lib/modules/$KVER ||
		say "warning: cannot provide /lib/modules/$KVER in the chroot"
fi
ip link set lo up 2>/dev/null
hostname mdevd-vm

# Bind the requested PCI devices to vfio-pci (same helper the tests use).
if [ -n "${VM_VFIO_IDS:-}" ]; then
	# shellcheck source=tests/vm/lib.sh
	if . "$root$REPO/tests/vm/lib.sh"; then
		for id in $VM_VFIO_IDS; do
			vm_bind_vfio "$id" || say "warning: could not bind $id to vfio-pci"
		done
	else
		say "warning: cannot read $REPO/tests/vm/lib.sh"
	fi
fi

say "kernel $(uname -r), overlay root: $overlay, running job"
chroot $root /bin/sh /run/results/job.sh </dev/console >/dev/console 2>&1
rc=$?
say "job exited with status $rc"
echo $rc >/mnt/results/rc
halt
