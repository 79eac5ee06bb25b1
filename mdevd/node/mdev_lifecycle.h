/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lifecycle: create and remove one mdev through sysfs, and the words for the
 * kernel's answers. Source of truth: Documentation/driver-api/vfio-mediated-device.rst
 * and drivers/vfio/mdev/mdev_sysfs.c (Linux 6.1):
 *   class/mdev_bus/<parent>/mdev_supported_types/<type id>/create  <- "<uuid>"
 *   bus/mdev/devices/<uuid>/remove                                 <- "1"
 * Both writes are synchronous. A write to `remove` on an mdev a VM holds blocks in
 * the kernel until the VM lets go: callers must check the device is not in use
 * first (inuse.h). None of these calls logs.
 */
#pragma once

/*
 * lifecycle_create - create an instance of @type_id on @parent named @uuid.
 * Returns 0, or the kernel's answer as a negative errno:
 *   -EEXIST  the UUID is already in use, on this or any other parent
 *   -EINVAL  the kernel does not accept the UUID
 *   -ENOSPC, -EUSERS  the parent has no capacity left for this type
 *   -ENODEV  the parent is going away
 *   -ENOENT  no such parent or type (it vanished)
 *   or another errno from the vendor driver.
 */
int lifecycle_create(int sysfs_fd, const char *parent, const char *type_id, const char *uuid);

/*
 * lifecycle_remove - remove the instance @uuid. Returns 0, -ENOENT when it is
 * already gone, or the kernel's errno.
 */
int lifecycle_remove(int sysfs_fd, const char *uuid);

/*
 * lifecycle_create_error_str / lifecycle_remove_error_str - what the kernel's
 * answer @err (negative errno) means, as a phrase for a user-facing message;
 * static storage. NULL for an errno without a specific meaning.
 */
const char *lifecycle_create_error_str(int err);
const char *lifecycle_remove_error_str(int err);

/* lifecycle_errno_name - "ENOSPC" for -ENOSPC etc.; "errno N" style for others (static). */
const char *lifecycle_errno_name(int err);
