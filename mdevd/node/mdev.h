/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdev: discovery of mdev parents, their types and live mdev instances, read through
 * sysfs.h relative to one sysfs root fd. The results are the inventory's own structs
 * (include/mdevd/inventory.h); inventory.c assembles them into a snapshot.
 * Nothing here logs: skipped entries go to the inventory_report_fn.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdevd/inventory.h"

/*
 * mdev_parents_load - every entry of class/mdev_bus/ with its types.
 * @count_instances: also count each type's devices/ entries into n_instances (one more
 *                   open + getdents per type); when false n_instances stays 0. The
 *                   `types` command leaves it off to stay within a few syscalls per type.
 * On success *out is a new array of *n parents sorted by name, each with types sorted
 * by id (free with mdev_parents_free()). A parent or type that is malformed or vanishes
 * during the scan is reported through @report and left out.
 * Returns 0, -ENOMEM, or -errno when class/mdev_bus exists but cannot be read
 * (a missing class/mdev_bus is no error: no parents).
 */
int mdev_parents_load(int sysfs_fd, bool count_instances, inventory_report_fn report,
		      void *userdata, struct mdev_parent **out, size_t *n);

/* mdev_parent_clear - free what one parent owns (not the parent itself). */
void mdev_parent_clear(struct mdev_parent *p);

/* mdev_parents_free - free an array from mdev_parents_load() and all it owns. */
void mdev_parents_free(struct mdev_parent *parents, size_t n);

/*
 * mdev_instances_load - every entry of bus/mdev/devices/. On success *out is a new array
 * of *n instances sorted by UUID (free with mdev_instances_free()). Entries whose name is
 * no UUID (-EINVAL) or that vanish during the scan (-ENOENT) are reported and left out.
 * Returns 0, -ENOMEM, or -errno when bus/mdev/devices exists but cannot be read.
 */
int mdev_instances_load(int sysfs_fd, inventory_report_fn report, void *userdata,
			struct mdev_instance **out, size_t *n);

/* mdev_instances_free - free an array from mdev_instances_load() and all it owns. */
void mdev_instances_free(struct mdev_instance *mdevs, size_t n);

/*
 * mdev_uuid_normalize - check that @s is a UUID in canonical 8-4-4-4-12 hex form (either
 * case) and write it lower-cased into @out. Returns 0 or -EINVAL (@out untouched).
 */
int mdev_uuid_normalize(const char *s, char out[MDEVD_UUID_STR_LEN]);

/*
 * mdev_parse_count - a type's available_instances as the kernel prints it ("%u\n", after
 * sysfs_attr_trim() took the newline): decimal digits only, no sign, no white space, at most
 * UINT_MAX. *out is written only on success. Pure (no I/O); exposed for the fuzz target
 * tests/fuzz/fuzz_sysfs.c. Returns 0, or -EINVAL for an empty string, any other character,
 * or a value above UINT_MAX.
 */
int mdev_parse_count(const char *s, unsigned int *out);

/* mdev_is_bdf - whether @s has the form of a PCI address "dddd:bb:ss.f" (hex digits). */
bool mdev_is_bdf(const char *s);

/*
 * mdev_parse_index - a decimal number of 0..UINT_MAX without sign or blanks ("12" of an
 * iommu_group link, "3" of vfio3). Returns 0 or -EINVAL (@out untouched).
 */
int mdev_parse_index(const char *s, unsigned int *out);

/*
 * mdev_read_vfio_cdev - the N of the device dir @fd's vfio-dev/vfioN entry: the iommufd
 * cdev /dev/vfio/devices/vfioN of that device (Linux 6.2+, Documentation/driver-api/vfio.rst
 * "VFIO device cdev"; an mdev and a PCI function alike). Returns true and sets *out, or
 * false when the device has none.
 */
bool mdev_read_vfio_cdev(int fd, unsigned int *out);

/* The scan state both readers share: the root, and where skipped entries are reported. */
struct mdev_scan {
	int sysfs_fd;
	inventory_report_fn report;
	void *userdata;
};

/* mdev_report - format and hand one skipped entry to @s->report (nothing when NULL). */
void mdev_report(const struct mdev_scan *s, const char *path, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* mdev_read_hex16 - a "0x10de" attribute of @dirfd; 0 when absent or not 16-bit hex. */
uint16_t mdev_read_hex16(int dirfd, const char *attr);
