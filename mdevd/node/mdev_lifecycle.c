/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mdev create/remove through sysfs; see mdev_lifecycle.h for the kernel ABI it follows. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "node/mdev_lifecycle.h"
#include "node/sysfs.h"

int lifecycle_create(int sysfs_fd, const char *parent, const char *type_id, const char *uuid)
{
	char path[PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "class/mdev_bus/%s/mdev_supported_types/%s/create", parent,
		     type_id);
	if (n < 0 || (size_t)n >= sizeof(path) || strchr(parent, '/') || strchr(type_id, '/'))
		return -EINVAL;
	return sysfs_write_attr(sysfs_fd, path, uuid);
}

int lifecycle_remove(int sysfs_fd, const char *uuid)
{
	char path[128];
	int n;

	n = snprintf(path, sizeof(path), "bus/mdev/devices/%s/remove", uuid);
	if (n < 0 || (size_t)n >= sizeof(path) || strchr(uuid, '/'))
		return -EINVAL;
	return sysfs_write_attr(sysfs_fd, path, "1");
}

const char *lifecycle_create_error_str(int err)
{
	switch (-err) {
	case EEXIST:
		return "the UUID is already used by another mdev (UUIDs are unique across all "
		       "parents)";
	case EINVAL:
		return "the kernel rejected the UUID";
	case ENOSPC:
	case EUSERS:
		return "the parent has no capacity left for this type";
	case ENODEV:
		return "the parent device is going away";
	case ENOENT:
		return "the parent or the type no longer exists";
	case EACCES:
	case EPERM:
		return "permission denied (mdevd must run as root to change mdevs)";
	default:
		return NULL;
	}
}

const char *lifecycle_remove_error_str(int err)
{
	switch (-err) {
	case ENOENT:
		return "the mdev is already gone";
	case EACCES:
	case EPERM:
		return "permission denied (mdevd must run as root to change mdevs)";
	default:
		return NULL;
	}
}

const char *lifecycle_errno_name(int err)
{
	const char *name = strerrorname_np(-err);

	return name ? name : "unknown errno";
}
