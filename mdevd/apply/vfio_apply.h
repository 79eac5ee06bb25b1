/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio_apply: take the node's PCI functions to the policy's mdevd.vfioPci: read the
 * inventory (INVENTORY_PCI), the host-owned guard (node/host_owned.h), the ownership file
 * (apply/vfio_state.h) and the open IOMMU groups and cdevs (node/inuse.h), decide with the pure
 * vfio_plan() (include/mdevd/vfio.h) and execute each decision with node/pci_bind.h.
 *
 * Safety: a host-owned function is never bound (unless overrideHostOwned names its exact
 * address); a function is given back only when the ownership file names it with the same
 * vendor:device and nothing uses it. In use is what this module sees in /proc (its
 * /dev/vfio/<group>, or its iommufd cdev /dev/vfio/devices/vfioN, held open; looked at again
 * just before the unbind) and what the caller says through @in_use: the commands and the
 * daemon name what libvirt's domains name, and only the daemon (daemon/vfio_worker.h) knows
 * what its device plugins handed to kubelet by Allocate and never saw released; a one-shot
 * `mdevd apply` cannot see another process's Allocates. A function whose unbind blocks ends
 * in a report naming it after the timeout, and the rest goes on.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "apply/vfio_state.h"
#include "mdevd/inventory.h"
#include "mdevd/policy.h"
#include "mdevd/vfio.h"
#include "node/host_owned.h"
#include "node/inuse.h"

struct vfio_apply_opts {
	int sysfs_fd;		/* sysfs root (borrowed) */
	const char *sysfs_path; /* the same as a path, for libpci (borrowed) */
	int proc_fd;		/* proc root: in-use groups, the guard's mounts/routes (borrowed) */
	int dev_fd;		/* /dev root for /dev/vfio/<group> (borrowed), or -1 */
	const char *state_path; /* ownership file; NULL: VFIO_STATE_DEFAULT_PATH (borrowed) */
	unsigned int timeout_ms; /* per blocking write; 0: PCI_BIND_TIMEOUT_MS */
	/* Blocked writes remembered across passes (node/pci_bind.h; borrowed), or NULL. */
	struct pci_inflight *inflight;
	bool dry_run; /* decide and report; write nothing */
	/* Interfaces with an IPv4 address for the guard (borrowed); see host_owned.h. */
	char *const *ipv4_ifaces;
	size_t n_ipv4_ifaces;
	/* Without @ipv4_ifaces: ask getifaddrs(3) on each pass (the real node only). */
	bool ipv4_getifaddrs;
	/* Is @address in use beyond an open group or cdev (allocated, named by a domain)?
	 * Returns a phrase (borrowed; it must live as long as the pass) or NULL. May be NULL. */
	const char *(*in_use)(void *data, const char *address);
	void *in_use_data;
	/*
	 * Refusals already reported (the caller keeps it across calls, so each refused
	 * binding is logged once): a list of "address\treason" strings; may be NULL (log
	 * each time).
	 */
	char ***refusals_seen;
	size_t *n_refusals_seen;
	/*
	 * Called with each refusal as it is logged (once per reason with @refusals_seen), on
	 * the pass's thread: @host_owned says whether the guard's reason made it. May be NULL.
	 */
	void (*on_refusal)(void *data, const char *address, bool host_owned, const char *reason);
	void *on_refusal_data;
	/*
	 * The udev rule file (apply/vfio_udev.h; NULL: VFIO_UDEV_DEFAULT_PATH, borrowed). With
	 * @persist it is written; without, an existing one is still reconciled (functions given
	 * back leave it), never created.
	 */
	const char *udev_path;
	bool persist;
};

struct vfio_apply_result {
	unsigned int bound;	 /* bound to vfio-pci now */
	unsigned int already;	 /* on vfio-pci already as wanted */
	unsigned int given_back; /* handed back to the host */
	unsigned int refused;	 /* named but host-owned or in a non-viable group */
	unsigned int kept;	 /* no longer named but in use: kept */
	unsigned int failed;	 /* a write failed or timed out (logged with the function) */
	unsigned int persisted;	 /* rules in the udev file after the pass */
};

/*
 * One view of the node for the commands that show it (pci, status, doctor) and for the
 * applier: the guard, the ownership file, the open groups and cdevs, and their facts per function.
 */
struct vfio_view {
	struct host_owned_set guard;
	struct vfio_state state;
	struct inuse inuse;
	struct vfio_facts *facts; /* inv->n_pci entries */
	char (*cdev_why)[64];	  /* inv->n_pci entries: the facts' phrases for an open cdev */
	char **ipv4;		  /* from getifaddrs when opts gave none and proc is /proc */
	size_t n_ipv4;
};

/*
 * vfio_view_load - fill @out for @inv (borrowed; it must outlive the view).
 * Returns 0, -ENOMEM, or -errno when the ownership file cannot be read.
 */
int vfio_view_load(const struct vfio_apply_opts *o, const struct inventory *inv,
		   struct vfio_view *out);
void vfio_view_release(struct vfio_view *v);

/*
 * vfio_apply - one pass: decide and execute. Logs each bind, give-back and failure
 * (naming the function), and each refusal once (see refusals_seen). Fills @res.
 * Returns 0 when the pass ran (inspect @res), or -errno when the node or the ownership
 * file cannot be read or the ownership file cannot be written (then nothing is bound).
 */
int vfio_apply(const struct vfio_apply_opts *o, const struct policy *pol,
	       struct vfio_apply_result *res);
