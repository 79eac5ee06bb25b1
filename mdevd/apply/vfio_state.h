/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio_state: which PCI functions mdevd itself bound to vfio-pci, so that only those are
 * ever given back. One line per function in a small text file (default
 * VFIO_STATE_DEFAULT_PATH):
 *
 *     0000:00:04.0 8086:10d3 e1000e
 *
 * (address, vendor:device when it was bound, the host driver it had then or "-"). The
 * file is replaced whole (written to a temporary file in the same directory, fsync'ed,
 * renamed over), so after kill -9 at any moment it is either the old or the new list. A
 * function is recorded before the first write that binds it and dropped after it is
 * given back, so an interrupted run leaves nothing unowned behind.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdevd/inventory.h"

#define VFIO_STATE_DEFAULT_PATH "/var/lib/mdevd/vfio-bound"

struct vfio_owned {
	char address[MDEVD_BDF_STR_LEN];
	uint16_t vendor_id, device_id;
	char driver[64]; /* the host driver before mdevd bound it; "" when none */
};

struct vfio_state {
	struct vfio_owned *entries; /* sorted by address */
	size_t n;
};

/*
 * vfio_state_load - read @path; a missing file is an empty state. Malformed lines are
 * skipped (counted in *@skipped when not NULL). Fills @out (release with
 * vfio_state_release()). Returns 0, -ENOMEM or -errno from reading.
 */
int vfio_state_load(const char *path, struct vfio_state *out, unsigned int *skipped);

/*
 * vfio_state_save - replace @path with @s atomically (creating its directory, mode 0755).
 * Returns 0 or -errno.
 */
int vfio_state_save(const char *path, const struct vfio_state *s);

void vfio_state_release(struct vfio_state *s);

/* vfio_state_find - the entry for @address (borrowed), or NULL. */
const struct vfio_owned *vfio_state_find(const struct vfio_state *s, const char *address);

/* vfio_state_put - add or replace the entry for e->address. Returns 0 or -ENOMEM. */
int vfio_state_put(struct vfio_state *s, const struct vfio_owned *e);

/* vfio_state_drop - remove the entry for @address; true when there was one. */
bool vfio_state_drop(struct vfio_state *s, const char *address);
