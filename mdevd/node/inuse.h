/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inuse: which IOMMU groups some process holds open, from the kernel's
 * evidence: the links in /proc/<pid>/fd that point at /dev/vfio/<group>.
 *
 * Why not probe with open(/dev/vfio/N)? A group opens only once, so a probe
 * open would itself take the group from the VM that is about to open it, and a
 * process that fork()s while holding a VFIO fd hands it to the child. mdevd never
 * opens a VFIO group; it only reads /proc.
 *
 * iommufd's device cdevs count too (Linux 6.2+): QEMU with iommufd opens only
 * /dev/vfio/devices/vfioN, never the group. They are collected by N; the device they
 * belong to is the one whose sysfs dir has vfio-dev/vfioN (an mdev's, or a VF's on NVIDIA
 * vendor-specific VFIO), which the inventory records (mdev_instance.vfio_cdev).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The first process found holding a group open. */
struct inuse_holder {
	int group;
	int pid;
	char comm[17];	/* /proc/PID/comm, "" when unreadable */
	char guest[64]; /* QEMU's -name (guest=NAME or NAME), "" when none */
};

struct inuse {
	int *groups; /* sorted, unique IOMMU group numbers held open */
	size_t n_groups;
	unsigned int unreadable;      /* processes whose fd table could not be read (EACCES) */
	struct inuse_holder *holders; /* one per group, in the order found */
	size_t n_holders;
	unsigned int *cdevs; /* sorted, unique N of /dev/vfio/devices/vfioN held open */
	size_t n_cdevs;
};

/*
 * inuse_scan - scan every /proc/<pid>/fd under @proc_fd (an O_DIRECTORY fd of the
 * proc root; borrowed). Processes that exit mid-scan are skipped. A process whose
 * fd directory is not readable counts in ->unreadable: the caller must then assume
 * any group may be open (mdevd runs as root, where this does not happen).
 * On success fills @out (free with inuse_release()). Returns 0, -ENOMEM, or
 * -errno when @proc_fd itself cannot be listed.
 */
int inuse_scan(int proc_fd, struct inuse *out);

/* inuse_release - free what inuse_scan() filled. */
void inuse_release(struct inuse *in);

/* inuse_has_cdev - is /dev/vfio/devices/vfio@cdev among the cdevs held open? */
bool inuse_has_cdev(const struct inuse *in, unsigned int cdev);

/*
 * inuse_device_is_open - rescan /proc just before a destructive step on one device: its
 * group @group (-1: none) or its cdev (@has_cdev, @cdev). Returns 1 when either is open or
 * the scan was incomplete (assume open), 0 when neither, -errno on error.
 */
int inuse_device_is_open(int proc_fd, int group, bool has_cdev, unsigned int cdev);

/*
 * inuse_has_device - is a device held: its @group (-1: none) among the groups, or its cdev
 * (@has_cdev, @cdev) among the cdevs held open?
 */
bool inuse_has_device(const struct inuse *in, int group, bool has_cdev, unsigned int cdev);

/* inuse_has_group - is @group among the groups held open? */
bool inuse_has_group(const struct inuse *in, int group);

/* inuse_get_holder - the process found holding @group, borrowed from @in; NULL if none. */
const struct inuse_holder *inuse_get_holder(const struct inuse *in, int group);

/*
 * inuse_holder_str - "pid 1234 (qemu-system-x86, guest vm1)" for @h into @buf (always
 * NUL-terminated); returns @buf.
 */
const char *inuse_holder_str(const struct inuse_holder *h, char *buf, size_t size);

/*
 * inuse_group_is_open - rescan /proc for one group just before a destructive step.
 * Returns 1 when some process holds /dev/vfio/@group open or the scan was
 * incomplete (unreadable processes: assume it is open), 0 when not, -errno on error.
 */
int inuse_group_is_open(int proc_fd, int group);
