/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NVIDIA vendor-specific VFIO steps: write, read back, roll back. See vgpu_vfio.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "apply/vgpu_vfio.h"
#include "mdevd/macro.h"
#include "node/mdev_lifecycle.h"
#include "node/nvidia_vgpu.h"
#include "node/sysfs.h"

#define LIST_MAX 4096

/* Does the VF dir @fd's creatable_vgpu_types offer @id now? 1, 0, or -errno. */
static int list_offers(int fd, unsigned int id)
{
	struct nvidia_vgpu_entry *e = NULL;
	char buf[LIST_MAX];
	size_t n = 0;
	int r, found = 0;

	r = sysfs_read_attr(fd, "nvidia/creatable_vgpu_types", buf, sizeof(buf));
	if (r < 0)
		return r;
	r = nvidia_vgpu_parse_types(buf, (size_t)r, &e, &n, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (e[i].id == id)
			found = 1;
	nvidia_vgpu_entries_free(e, n);
	return found;
}

int vgpu_vfio_set(int sysfs_fd, const char *card, const char *vf, unsigned int id, char *why,
		  size_t size)
{
	_cleanup_close_ int card_fd = -1, fd = -1;
	char path[PATH_MAX], value[16];
	unsigned int cur = 0;
	int r, q;

	snprintf(path, sizeof(path), "bus/pci/devices/%s", card);
	card_fd = openat(sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (card_fd < 0) {
		r = -errno;
		snprintf(why, size, "cannot open the card %s (%s)", card, lifecycle_errno_name(r));
		return r;
	}
	/* One step at a time per card, across processes: the lists change as siblings are set. */
	while (flock(card_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			snprintf(why, size, "cannot lock the card %s (%s)", card,
				 lifecycle_errno_name(r));
			return r;
		}
	}
	snprintf(path, sizeof(path), "bus/pci/devices/%s", vf);
	fd = openat(sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, size, "cannot open the VF %s (%s)", vf, lifecycle_errno_name(r));
		return r;
	}
	r = sysfs_read_uint(fd, "nvidia/current_vgpu_type", &cur);
	if (r < 0) {
		snprintf(why, size, "cannot read %s/nvidia/current_vgpu_type (%s)", vf,
			 lifecycle_errno_name(r));
		return r;
	}
	if (id) {
		if (cur == id)
			return 0; /* done before (an interrupted run): nothing to write */
		if (cur) {
			snprintf(why, size, "the VF holds type %u meanwhile (EBUSY)", cur);
			return -EBUSY;
		}
		r = list_offers(fd, id);
		if (r < 0) {
			snprintf(why, size, "cannot read %s/nvidia/creatable_vgpu_types (%s)", vf,
				 lifecycle_errno_name(r));
			return r;
		}
		if (!r) {
			snprintf(why, size,
				 "its creatable_vgpu_types no longer offers %u: the card filled "
				 "meanwhile (ENOSPC)",
				 id);
			return -ENOSPC;
		}
	} else if (cur == 0) {
		return 0; /* already free */
	}

	snprintf(value, sizeof(value), "%u", id);
	r = sysfs_replace_attr(fd, "nvidia/current_vgpu_type", value);
	if (r < 0) {
		snprintf(why, size, "the driver refused %s in current_vgpu_type (%s: %s)", value,
			 lifecycle_errno_name(r), strerror(-r));
		return r;
	}
	r = sysfs_read_uint(fd, "nvidia/current_vgpu_type", &cur);
	if (r == 0 && cur == id)
		return 0;
	if (!id) {
		if (r < 0)
			snprintf(why, size,
				 "wrote 0, but current_vgpu_type cannot be read back (%s)",
				 lifecycle_errno_name(r));
		else
			snprintf(why, size, "wrote 0, but current_vgpu_type still reads %u", cur);
		return -EIO;
	}
	/* A read-back other than what was written: undo it, so the VF is free as before. */
	q = sysfs_replace_attr(fd, "nvidia/current_vgpu_type", "0");
	if (r < 0)
		snprintf(why, size, "wrote %u, but current_vgpu_type cannot be read back (%s); %s",
			 id, lifecycle_errno_name(r),
			 q < 0 ? "rolling back to 0 failed too" : "rolled back to 0");
	else
		snprintf(why, size, "wrote %u, but current_vgpu_type reads %u; %s%s", id, cur,
			 q < 0 ? "rolling back to 0 failed: " : "rolled back to 0",
			 q < 0 ? lifecycle_errno_name(q) : "");
	return -EIO;
}
