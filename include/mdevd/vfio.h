/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio: the pure half of whole-function passthrough (policy/vfio.c; no I/O): which PCI
 * functions go to vfio-pci, which come back to their host driver, and why a function is
 * refused.
 *
 * Source of truth: Documentation/ABI/testing/sysfs-bus-pci (driver_override, unbind,
 * drivers_probe) and VFIO's group rule (Documentation/driver-api/vfio.rst): a group is
 * viable only when every endpoint in it is bound to a VFIO driver or pci-stub, or is a
 * bridge. Binding the rest of a group (a GPU's HDMI audio function) is the policy's
 * explicit choice: a function is refused, not its siblings bound, when its group would
 * not be viable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "policy.h"

#define VFIO_REASON_MAX 384

/* What the caller knows of each function, indexed like inv->pci (all borrowed). */
struct vfio_facts {
	const char *host_owned; /* the guard's reason (host_owned.h), or NULL */
	bool no_override;	/* that reason stands even in overrideHostOwned (a vGPU VF, an
				 * mdev parent with live mdevs) */
	bool owned;		/* mdevd bound it (its binding state file names it) */
	const char *in_use;	/* why it is in use (group open, domain, allocated), or NULL */
};

enum vfio_action {
	VFIO_LEAVE,	/* neither named by the policy nor bound by mdevd: not touched */
	VFIO_BIND,	/* bind to vfio-pci */
	VFIO_BOUND,	/* on vfio-pci already, as the policy wants */
	VFIO_REFUSED,	/* named by the policy but not bound: see the reason */
	VFIO_GIVE_BACK, /* bound by mdevd, no longer named: clear driver_override, re-probe */
	VFIO_KEEP,	/* bound by mdevd, no longer named, but in use: kept until released */
};

struct vfio_decision {
	enum vfio_action action;
	char reason[VFIO_REASON_MAX]; /* for VFIO_REFUSED and VFIO_KEEP; else empty */
};

/* vfio_driver_is_vfio - is @driver (NULL: unbound) a VFIO driver ("vfio-pci",
 * "*vfio*" variant drivers) or pci-stub, which keep a group viable? */
bool vfio_driver_is_vfio(const char *driver);

/* vfio_is_bridge - is @f a bridge (PCI base class 0x06)? */
bool vfio_is_bridge(const struct pci_function *f);

/*
 * vfio_group_blockers - the members of IOMMU group @group that keep it from being viable
 * (endpoints neither on a VFIO driver / pci-stub nor bridges), skipping those whose
 * @skip entry (indexed like inv->pci; may be NULL) is true, written to @buf as
 * "0000:00:1f.0 (lpc_ich), 0000:00:1f.3 (i801_smbus)". Returns how many there are
 * (0: viable).
 */
size_t vfio_group_blockers(const struct inventory *inv, int group, const bool *skip, char *buf,
			   size_t size);

/*
 * vfio_plan - decide for every function of @inv (borrowed).
 * @facts: one entry per inv->pci[i] (borrowed).
 * On success *out is a new array of inv->n_pci decisions (free()). Order of the rules:
 * not named and not owned: LEAVE; named and host-owned (and not overridden by
 * overrideHostOwned, which cannot override a no_override reason): REFUSED; named, its group not
 * viable once the named ones are bound: REFUSED (naming the blockers); named and on vfio-pci:
 * BOUND; named: BIND; owned, not named: KEEP when in use, else GIVE_BACK (or LEAVE when no longer
 * on vfio-pci). Returns 0 or -ENOMEM.
 */
int vfio_plan(const struct policy *pol, const struct inventory *inv, const struct vfio_facts *facts,
	      struct vfio_decision **out);

/* vfio_action_str - "leave", "bind", "bound", "refused", "give back", "keep". */
const char *vfio_action_str(enum vfio_action a);
