/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resource: the policy's selectors group inventory items into named pools, one
 * per Kubernetes resource name. Pure: no I/O (the in-use / health facts come in
 * through the inventory).
 *
 * Source of truth: KubeVirt's permittedHostDevices semantics
 * (pkg/virt-handler/device-manager): mdevNameSelector is compared with the mdev
 * type's name, both normalised (trimmed, spaces -> '_'), exactly; a type without a
 * name file uses its type id. pciVendorSelector is "vendor:device", compared
 * case-insensitively; only functions bound to vfio-pci are served.
 */
#pragma once

#include "macro.h"

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "policy.h"

enum resource_kind {
	RESOURCE_MDEV, /* device ids are mdev UUIDs */
	RESOURCE_PCI,  /* device ids are PCI addresses */
};

/* One device in a pool. */
struct resource_device {
	char id[MDEVD_UUID_STR_LEN]; /* UUID (mdev) or BDF (PCI); stable across restarts */
	int iommu_group;	     /* -1 when none: then the device is not healthy */
	int numa_node;		     /* -1 when unknown: topology left out */
	/*
	 * The mdev's parent device (DESIGN.md "parent device": the device offering the mdev
	 * type), a PCI address or a virtual parent's name ("mtty"); NULL for a PCI function.
	 * Borrowed from the inventory.
	 */
	const char *parent;
	/*
	 * The card the device sits on: the unit GetPreferredAllocation groups devices by ("on a
	 * card a must-include device sits on", "packed onto the fewest cards"). DESIGN.md: group
	 * parents by their PF. Never NULL; borrowed from the inventory. Exactly:
	 *   - an mdev: its parent's PF address (the parent's physfn link) when the parent is an
	 *     SR-IOV VF (NVIDIA Ampere+: one vGPU per VF, the PF is the GPU they share), else
	 *     the parent itself;
	 *   - a PCI function: its PF address when it is a VF, else its own address.
	 * So it differs from @parent (mdev) or @id (PCI) exactly when that is a VF, and is then
	 * its PF (resource_device_physfn()).
	 */
	const char *card;
	bool healthy; /* false when the device has no IOMMU group (it cannot be assigned) */
	/* An mdev's or NVIDIA vGPU VF's iommufd cdev (vfio-dev/vfioN); false for a PCI function. */
	bool has_vfio_cdev;
	unsigned int vfio_cdev;
};

/* A device that matches a selector but is not served, and why ("bound to nvidia, not vfio-pci"). */
struct resource_unserved {
	char id[MDEVD_UUID_STR_LEN];
	char *reason; /* owned */
};

/*
 * One pool per distinct resource name of the policy, even when nothing on the node matches
 * yet (its plugin then lists no devices, and devices may appear later). Two selectors with
 * the same resource name and kind share one pool; a device that an earlier pool (in policy
 * order, mediatedDevices before pciHostDevices) already holds is not listed twice: it goes
 * into the later pool's unserved list. A selector whose resource name is already used by a
 * pool of the other kind serves nothing: its matches are unserved, with that reason.
 */
struct resource_pool {
	char *name; /* resource name, e.g. "nvidia.com/GRID_T4-1Q" (owned) */
	enum resource_kind kind;
	bool external_resource_provider;
	struct resource_device *devices; /* sorted by id */
	size_t n_devices;
	struct resource_unserved *unserved;
	size_t n_unserved;
};

struct resource_set {
	struct resource_pool *pools; /* sorted by name */
	size_t n_pools;
};

/*
 * resource_build - the pools @pol's permittedHostDevices describe on the node @inv.
 * mediatedDevices match live mdev instances (INVENTORY_TYPES | INVENTORY_MDEVS), and
 * pciHostDevices PCI functions (INVENTORY_PCI). A mediatedDevices selector whose type name
 * matches NVIDIA vendor-VFIO vGPUs (node/nvidia_vgpu.h) serves those VFs as PCI devices
 * (kind RESOURCE_PCI, ids = VF addresses, card = the PF), because KubeVirt assigns them as
 * PCI host devices: its pool is a PCI pool when they are the first devices it matches.
 * @out: set to a new set on success (resource_set_free()); it borrows strings from
 * @inv, so free it first. Returns 0 or -ENOMEM.
 */
int resource_build(const struct inventory *inv, const struct policy *pol,
		   struct resource_set **out);

/* resource_set_free - release a set. NULL is a no-op. */
void resource_set_free(struct resource_set *set);
DEFINE_CLEANUP(struct resource_set, resource_set_free) /* resource_set_freep() for _cleanup_() */

/* resource_get_pool - the pool named @name, or NULL (borrowed). */
const struct resource_pool *resource_get_pool(const struct resource_set *set, const char *name);

/*
 * resource_device_physfn - the PF address behind @d: for an mdev (@parent set) whose parent
 * is an SR-IOV VF, that VF's PF; for a PCI function (@parent NULL) that is a VF, its PF.
 * Returns it (borrowed, as @d's strings), or NULL when there is no VF.
 */
const char *resource_device_physfn(const struct resource_device *d);

/*
 * resource_env_name - the KubeVirt env var for a pool's Allocate response:
 * "PCI_RESOURCE_<NAME>" or "MDEV_PCI_RESOURCE_<NAME>", <NAME> = the resource name
 * upper-cased with '/' and '.' turned into '_'
 * ("nvidia.com/GRID_T4-1Q" -> "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q").
 * Writes to @buf (NUL-terminated). Returns 0 or -ENAMETOOLONG.
 */
int resource_env_name(enum resource_kind kind, const char *resource_name, char *buf, size_t size);
