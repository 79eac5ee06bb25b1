/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inventory: one immutable snapshot of a node's mdev parents, mdev types,
 * mdev instances and PCI functions.
 *
 * Source of truth: the kernel's sysfs ABI, Documentation/driver-api/vfio-mediated-device.rst
 * and Documentation/ABI/testing/sysfs-bus-vfio-mdev (Linux 6.1):
 *   /sys/class/mdev_bus/<parent>/mdev_supported_types/<type id>/{name,description,
 *       device_api,available_instances,create,devices/}
 *   /sys/bus/mdev/devices/<uuid>/{mdev_type -> type dir, iommu_group -> group, remove}
 * and for PCI functions the attributes under /sys/bus/pci/devices/<BDF>/ (read through libpci).
 *
 * Everything is read relative to one sysfs root directory fd, so a fixture
 * tree in a temp dir and the real /sys go through the same code.
 *
 * The snapshot owns all of its strings and arrays; inventory_free() releases
 * them. Nothing in a snapshot changes after inventory_load() returns: the
 * planner may keep pointers into it for as long as the snapshot lives.
 */
#pragma once

#include "macro.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDEVD_UUID_STR_LEN 37 /* 36 characters + NUL */
#define MDEVD_BDF_STR_LEN  16 /* "dddd:bb:ss.f" + NUL, with room */

/* How a parent offers vGPU slots (DESIGN.md "Two vGPU backends, one planner"). */
enum parent_backend {
	/* mdev framework: instances created by writing a UUID to <type>/create. */
	PARENT_BACKEND_MDEV,
	/*
	 * NVIDIA vGPU 17+ vendor VFIO: a VF offers nvidia/creatable_vgpu_types and
	 * takes one type id in nvidia/current_vgpu_type (0 = none). One slot per VF.
	 * The parent is the card (the PF); its VFs are in mdev_parent.vfs, its types the
	 * card's catalogue (node/nvidia_vgpu.h), its live instances the configured VFs.
	 */
	PARENT_BACKEND_NVIDIA_VGPU,
};

/* parent_backend_str - "mdev" or "nvidia-vgpu" (the word -o json and messages use). */
const char *parent_backend_str(enum parent_backend backend);

/*
 * One SR-IOV VF of a PARENT_BACKEND_NVIDIA_VGPU card, from /sys/bus/pci/devices/<VF>/:
 * nvidia/current_vgpu_type, nvidia/creatable_vgpu_types, iommu_group, vfio-dev/vfioN.
 */
struct vgpu_vf {
	char address[MDEVD_BDF_STR_LEN]; /* the VF's PCI address */
	int iommu_group;		 /* -1 when the VF has no iommu_group link */
	bool has_vfio_cdev;		 /* vfio-dev/vfioN exists (iommufd, Linux 6.2+) */
	unsigned int vfio_cdev;		 /* that N: /dev/vfio/devices/vfioN */
	unsigned int current_type;	 /* nvidia/current_vgpu_type; 0 = free */
	unsigned int *creatable;	 /* the ids creatable_vgpu_types lists now, ascending */
	size_t n_creatable;
};

/* One mdev type of one parent: a directory under <parent>/mdev_supported_types/. */
struct mdev_type {
	char *id;	   /* directory name, e.g. "nvidia-222", "mtty-2" */
	char *name;	   /* contents of `name`, trimmed; a copy of id when `name` is absent */
	char *description; /* contents of `description`, trimmed; NULL when absent */
	char *device_api;  /* contents of `device_api`, e.g. "vfio-pci" */
	unsigned int available_instances;
	unsigned int n_instances; /* live instances of this type on this parent (devices/ links) */
};

/* A parent device: an entry of /sys/class/mdev_bus/. */
struct mdev_parent {
	char *name;	   /* basename in class/mdev_bus: "0000:65:00.0", "mtty" */
	char *pci_address; /* BDF when the parent is a PCI function, else NULL */
	char *physfn;	   /* BDF of the SR-IOV physical function for a VF parent, else NULL */
	uint16_t vendor_id, device_id; /* 0 when the parent is not a PCI function */
	int numa_node;		       /* from numa_node; -1 when unknown or not PCI */
	enum parent_backend backend;
	/*
	 * Sorted by id. For PARENT_BACKEND_NVIDIA_VGPU: the card's catalogue, one type per id a
	 * VF lists or holds; id is the decimal type id ("1153"), name the driver's ("NVIDIA
	 * L40S-12Q"), available_instances the free VFs whose list offers it now, n_instances
	 * (with INVENTORY_MDEVS) the VFs configured with it. An id no VF on the node names has
	 * name = id and a description that says so.
	 */
	struct mdev_type *types;
	size_t n_types;
	struct vgpu_vf *vfs; /* PARENT_BACKEND_NVIDIA_VGPU: the card's VFs, by address; else NULL */
	size_t n_vfs;
};

/*
 * A live mdev instance: an entry of /sys/bus/mdev/devices/; or, with backend
 * PARENT_BACKEND_NVIDIA_VGPU, a VF whose nvidia/current_vgpu_type is not 0 (a vGPU
 * whose identity is its PCI address).
 */
struct mdev_instance {
	/* lower case, canonical 8-4-4-4-12 form; NVIDIA vGPU: the VF's address "dddd:bb:ss.f" */
	char uuid[MDEVD_UUID_STR_LEN];
	char *parent;	 /* parent name, as in struct mdev_parent.name (NVIDIA vGPU: the PF) */
	char *type_id;	 /* type id, as in struct mdev_type.id */
	int iommu_group; /* -1 when the instance has no iommu_group link */
	enum parent_backend backend;
	bool has_vfio_cdev;	/* <dev>/vfio-dev/vfioN exists (iommufd cdev, Linux 6.2+) */
	unsigned int vfio_cdev; /* that N: /dev/vfio/devices/vfioN */
};

/* A PCI function, read through libpci. */
struct pci_function {
	char address[MDEVD_BDF_STR_LEN]; /* "dddd:bb:ss.f", always with the domain */
	uint16_t vendor_id, device_id;
	uint16_t subsys_vendor_id, subsys_device_id; /* 0 when the function has none */
	uint32_t class_code; /* 24 bits: base class << 16 | subclass << 8 | prog-if */
	char *driver;	     /* bound driver's name, NULL when unbound */
	int iommu_group;     /* -1 when the function is in no IOMMU group */
	int numa_node;	     /* -1 when unknown */
	char *physfn;	     /* BDF of the PF when this function is an SR-IOV VF, else NULL */
	unsigned int sriov_totalvfs, sriov_numvfs; /* 0 when not a PF */
	/* From pci.ids with INVENTORY_PCI_NAMES; NULL when unknown or not asked for. */
	char *vendor_name;
	char *device_name;
	char *class_name;
};

struct inventory {
	struct mdev_parent *parents; /* sorted by name */
	size_t n_parents;
	struct mdev_instance *mdevs; /* sorted by uuid */
	size_t n_mdevs;
	struct pci_function *pci; /* sorted by address; empty unless INVENTORY_PCI was asked */
	size_t n_pci;
};

/* What inventory_load() reads. */
enum inventory_what {
	INVENTORY_TYPES = 1 << 0, /* parents and their types */
	INVENTORY_MDEVS = 1 << 1, /* live mdev instances (and per-type instance counts) */
	INVENTORY_PCI = 1 << 2,	  /* PCI functions through libpci */
	/*
	 * With INVENTORY_PCI: the functions' vendor, device and class names from pci.ids.
	 * libpci parses the whole file (~1.3 MB) for every scan; what only acts on the node
	 * (the daemon, its reconciles) leaves them out and has them NULL.
	 */
	INVENTORY_PCI_NAMES = 1 << 3,
	INVENTORY_ALL = INVENTORY_TYPES | INVENTORY_MDEVS | INVENTORY_PCI, /* without names */
};

/*
 * Called once for every entry that is skipped because it is malformed or
 * vanished during the scan: @path is relative to the sysfs root, @err a
 * negative errno (-EINVAL for garbage contents, -ENOENT for a vanished entry,
 * -EIO for a libpci failure), @what a short human reason. The snapshot is still
 * produced without that entry.
 */
typedef void (*inventory_report_fn)(void *userdata, const char *path, int err, const char *what);

/*
 * inventory_load - read a snapshot of the node.
 * @sysfs_fd:   an O_DIRECTORY fd of the sysfs root ("/sys" in production); borrowed.
 * @sysfs_path: the same root as a path, for libpci's sysfs.path parameter; borrowed.
 * @what:       a mask of enum inventory_what.
 * @report:     called for each skipped entry; may be NULL.
 * @out:        set to a new snapshot on success (free with inventory_free()); untouched on error.
 *
 * A node without class/mdev_bus (no mdev driver loaded) has no parents: that is
 * not an error. Returns 0, -ENOMEM, or -EIO when the sysfs root itself cannot be
 * read or libpci fails on the whole bus.
 */
int inventory_load(int sysfs_fd, const char *sysfs_path, unsigned int what,
		   inventory_report_fn report, void *userdata, struct inventory **out);

/*
 * inventory_load_reusing_pci - a new snapshot of the parents, their types and the mdev
 * instances, read again as inventory_load(INVENTORY_TYPES | INVENTORY_MDEVS) does, with the PCI
 * functions copied from @prev instead of a libpci scan. For a refresh after a change that
 * leaves every PCI function as it was (an mdev created, removed, bound or unbound); anything
 * that may have changed a PCI function needs inventory_load() with INVENTORY_PCI.
 * @prev: borrowed and left as it is (snapshots are immutable); the new snapshot owns deep
 *        copies, so either may be freed first. NULL: the new snapshot has no PCI functions.
 * Other arguments and the return value as for inventory_load().
 */
int inventory_load_reusing_pci(int sysfs_fd, const struct inventory *prev,
			       inventory_report_fn report, void *userdata, struct inventory **out);

/* inventory_free - release a snapshot and everything it owns. NULL is a no-op. */
void inventory_free(struct inventory *inv);
DEFINE_CLEANUP(struct inventory, inventory_free) /* inventory_freep() for _cleanup_() */

/* Lookups. All return borrowed pointers into @inv, or NULL when absent. */
const struct mdev_parent *inventory_get_parent(const struct inventory *inv, const char *name);
const struct mdev_type *inventory_get_type(const struct mdev_parent *parent, const char *type_id);
const struct mdev_instance *inventory_get_mdev(const struct inventory *inv, const char *uuid);
const struct pci_function *inventory_get_pci(const struct inventory *inv, const char *address);
/*
 * The VF @address of a PARENT_BACKEND_NVIDIA_VGPU card, with its card in *card (when not
 * NULL); NULL when no such card has that VF. Linear in the cards' VFs.
 */
const struct vgpu_vf *inventory_get_vgpu_vf(const struct inventory *inv, const char *address,
					    const struct mdev_parent **card);
