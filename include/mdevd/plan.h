/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * plan: the pure planner. plan = f(inventory, policy, context). No I/O, no
 * clock, no randomness: the same inputs always give the same plan, byte for byte.
 *
 * Slots and UUIDs. The policy asks for instances of a type on a parent; the
 * planner numbers them: slot 0, 1, 2, ... of (parent, type). Slot s has the fixed
 * UUID plan_derive_uuid(machine id, parent, type id, s), so a reboot or a restart
 * recreates the same UUIDs and libvirt XML that names them stays valid.
 *
 * Ownership. An mdev is *owned* by mdevd iff its UUID is the one derived for its
 * own parent and type at some slot below plan_owned_slot_limit() (the type's
 * capacity, live instances + available_instances, but never less than
 * PLAN_OWNED_SLOTS_MIN, so that owned instances are still recognised after the
 * capacity shrank, e.g. when another type took shared capacity). plan_build()
 * also recognises slots below the exact count the policy asks for on that
 * (parent, type). An owned mdev above both bounds looks foreign: it is kept
 * (unless removeUnowned is set), never removed as "no longer wanted".
 *
 * Which parents a policy manages, and which (parent, type, count) it wants:
 *
 * (a) mediatedDeviceTypes only (no mdevd.layouts): KubeVirt's behaviour, mirrored
 *     from KubeVirt's MDEVTypesManager (pkg/virt-handler/device-manager/
 *     mediated_devices_types.go: discoverConfigurableMDEVTypes(),
 *     configureDesiredMDEVTypes(), getNextAvailableParentToConfigure()), made
 *     deterministic (KubeVirt builds its ring from a Go map, in random order).
 *     A list entry matches a type when it equals the type id, or when both,
 *     normalised (pol_normalize_name: trimmed, spaces to '_'), equal the type's name.
 *     1. A parent that offers none of the listed types is not managed.
 *     2. A parent that has live instances (owned or not) of a listed type keeps
 *        that type; of several, the first in ring order (below).
 *     3. A parent with live instances none of which is of a listed type and at
 *        least one of which mdevd did not create is left alone, as KubeVirt skips
 *        parents that are already configured (getAlreadyConfiguredMdevParents()),
 *        unless removeUnowned is set. It is not managed.
 *     4. The other parents take types round-robin: the ring is the listed type ids
 *        offered by those parents, in list order (type ids matching one entry in id
 *        order, each id once). Going round the ring, each type takes the first
 *        parent, in name order, that offers it and has no type yet; a type with no
 *        such parent left drops out; it ends when every parent has a type.
 *     mediatedDevicesConfiguration.enabled: false (pol->mediated_devices_disabled)
 *     turns this mode off: no parent is managed.
 *     Every managed parent's type is filled to capacity (POL_COUNT_MAX below); every
 *     other type on a managed parent is wanted 0 times. Unlike KubeVirt, a parent
 *     that keeps its type is topped up to capacity, and only mdevs mdevd owns are removed
 *     for being of a type no longer listed (on every parent, as virt-handler's
 *     removeUndesiredMDEVs() does for the types it configured before), not foreign ones.
 *
 * (b) mdevd.layouts (they replace mediatedDeviceTypes, and apply whatever
 *     mediatedDevicesConfiguration.enabled says: they are mdevd's own section, and a
 *     cluster that runs mdevd next to KubeVirt turns KubeVirt's handling off):
 *     each layout selects parents ("all", a parent name, a PCI
 *     address, or vendor:device of the parent's PCI function). A parent belongs to
 *     the first layout that selects it; later layouts skip it. Each type request is
 *     resolved on each selected parent by type id, else by normalised name (first
 *     type in id order); a request the parent does not offer is skipped on that
 *     parent (pol_validate() reports requests no selected parent offers); a second
 *     request that resolves to the same type on a parent is skipped. The parent
 *     gets exactly the requested count of each type and 0 of every other type. A
 *     layout with no types empties its parents of owned mdevs.
 *
 * Counts. An exact count N wants slots 0..N-1. POL_COUNT_MAX ("max", and every
 * type of mode (a)) wants every live owned instance of the type kept, plus as many
 * new slots (lowest free slot numbers first) as there is capacity: available_instances
 * plus the planned removals of that same (parent, type). New "max" slots stay below
 * plan_owned_slot_limit(), so the next plan still recognises them.
 *
 * What happens to each live mdev:
 *   owned, on a managed parent, its slot wanted     KEEP   WANTED
 *   owned, no rule wants it (on a managed parent,   REMOVE NOT_WANTED
 *   or on one no rule manages, or whose parent the
 *   inventory lacks)
 *   not owned, on a managed parent, removeUnowned   REMOVE FOREIGN_REMOVE
 *   not owned, otherwise                            KEEP   FOREIGN
 *   owned, the policy has no mdev side: no layouts, KEEP   UNMANAGED
 *   and no mediatedDeviceTypes or enabled: false
 *   any REMOVE above whose IOMMU group is in use    KEEP   IN_USE
 *   any REMOVE above that a running libvirt domain  KEEP   IN_USE (domain named)
 *   names (mdev UUID; for an NVIDIA vGPU VF parent,
 *   also the VF's PCI address)
 *   any REMOVE above that a defined, inactive       KEEP   RESERVED (domain named)
 *   libvirt domain names
 * mdevd knows exactly which mdevs it created (their UUIDs), so an owned mdev that no
 * rule of the current policy wants goes wherever it is: a type dropped from
 * mediatedDeviceTypes, a parent that now offers no listed type, a parent dropped from
 * every layout. Foreign mdevs stay unless removeUnowned is set, and then only on managed
 * parents. A policy with no mdev side (no layouts, and no mediatedDeviceTypes or
 * enabled: false: a device-plugin-only policy) manages no mdevs and removes nothing,
 * as `mdevd run` skips apply for it; to empty every parent of owned mdevs, use a layout
 * with parents "all" and no types.
 * A shrinking exact count removes the highest slots (the ones >= N); an in-use
 * one among them stays, and goes in a later plan once it is free.
 *
 * Creates. A wanted slot without a live instance is created while capacity lasts:
 * creates of (parent, type) never exceed available_instances as read plus the
 * planned REMOVEs of that same (parent, type). Types on one parent may share
 * capacity (mbochs: memory; mdpy: a counter; NVIDIA time-sliced vGPU: one type per
 * GPU, every other type reads 0 once one exists); the planner cannot know how, so
 * it trusts each type's available_instances, and the applier re-reads it before
 * each create and skips a type that no longer fits. A slot whose UUID is already
 * live elsewhere (on another parent, or of another type: UUIDs are global, the
 * kernel would answer EEXIST) is not created unless that mdev is planned for
 * removal (REMOVEs run first); it counts as blocked. Whatever is wanted and not
 * planned goes to plan.shortfalls.
 *
 * Convergence. A plan with REMOVEs and shortfalls is normal: switching a
 * time-sliced GPU from type A to type B removes A's instances, while B still reads
 * available_instances 0 and is a shortfall. The applier runs rounds of inventory ->
 * plan -> apply until a plan has no CREATE and no REMOVE; the second round sees B's
 * capacity and creates it. On a node nothing else changes, rounds reach a plan with
 * no CREATE and no REMOVE; what capacity, in-use groups or blocked UUIDs still hold
 * back stays in its shortfalls until the node changes.
 *
 * Backends. Actions speak of (parent, type, slot); for PARENT_BACKEND_MDEV the
 * applier writes the UUID to <type>/create or the instance's remove.
 * PARENT_BACKEND_NVIDIA_VGPU (NVIDIA vendor-specific VFIO, node/nvidia_vgpu.h): the parent
 * is the card (its PF), a slot is one of its VFs, and an action's `uuid` holds that VF's PCI
 * address (the vGPU's identity; a CREATE writes the type id to its nvidia/current_vgpu_type,
 * a REMOVE writes 0). The same rules apply, with these differences:
 *   - Ownership: the driver records no owner, and a configured VF loses its type at reboot.
 *     Every configured VF counts as mdevd's; its slot is its rank (by address) among the VFs
 *     of its card holding that type. So only a card the policy manages is ever changed, and
 *     there the policy describes the whole card (a layout's "0 of every other type").
 *   - Capacity: a type's available_instances is the number of free VFs whose list offers it
 *     (an upper bound; the lists shrink as the card fills, which the applier re-reads).
 *   - VF choice: each CREATE takes the lowest-addressed free VF (current_vgpu_type 0) whose
 *     list offers the type and that no earlier CREATE of the plan took: deterministic, so
 *     the same policy on the same node gives the same VF addresses (also after a reboot).
 *   - In use also means the VF's iommufd cdev /dev/vfio/devices/vfioN is open
 *     (plan_context.in_use_cdevs), as for an mdev's cdev; and a libvirt domain naming the
 *     VF's address.
 */
#pragma once

#include "macro.h"

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "policy.h"

/*
 * The fixed namespace of mdevd's name-based (RFC 9562 version 5) UUIDs.
 * Changing it would change every UUID on every node: never do that.
 */
#define MDEVD_UUID_NAMESPACE "6d646576-6400-4a5e-9d1c-6d6465766400"

/*
 * Ownership is checked over at least PLAN_OWNED_SLOTS_MIN slots, whatever the
 * capacity reads now, and at most PLAN_OWNED_SLOTS_MAX (a bound on the work per
 * foreign mdev should a driver report absurd capacities).
 */
#define PLAN_OWNED_SLOTS_MIN 64U
#define PLAN_OWNED_SLOTS_MAX 4096U

enum plan_action_kind {
	PLAN_CREATE, /* create an instance of type_id on parent with uuid */
	PLAN_REMOVE, /* remove the instance uuid */
	PLAN_KEEP,   /* the instance stays: wanted, foreign, or in use (see reason) */
};

/* Why an action is there; plan_reason_str() turns these into words. */
enum plan_reason {
	PLAN_REASON_WANTED,	    /* CREATE/KEEP: the policy asks for this slot */
	PLAN_REASON_NOT_WANTED,	    /* REMOVE: owned, and no rule of the policy asks for it */
	PLAN_REASON_FOREIGN,	    /* KEEP: not created by mdevd and not to be removed */
	PLAN_REASON_FOREIGN_REMOVE, /* REMOVE: not created by mdevd, removeUnowned is on */
	PLAN_REASON_IN_USE,	    /* KEEP: would be removed, but its IOMMU group is open */
	PLAN_REASON_UNMANAGED,	    /* KEEP: owned; the policy has no mdev side */
	PLAN_REASON_RESERVED, /* KEEP: would be removed, but a defined libvirt domain names it */
	PLAN_REASON_CARD_UNSELECTED, /* KEEP: a vGPU VF on a card no rule of the policy selects */
};

struct plan_action {
	enum plan_action_kind kind;
	enum plan_reason reason;
	char uuid[MDEVD_UUID_STR_LEN];
	const char *parent;  /* borrowed from the inventory */
	const char *type_id; /* borrowed from the inventory */
	bool owned;	     /* the UUID is mdevd's (always true for CREATE) */
	unsigned int slot;   /* slot index for owned instances; 0 for foreign ones */
	int iommu_group;     /* KEEP/REMOVE: the instance's group (-1: none); -1 for CREATE */
	/*
	 * KEEP/REMOVE: the libvirt domain that names this mdev (borrowed from the
	 * plan_context), a running one before a defined one; NULL when none does.
	 * Set whatever the reason; IN_USE and RESERVED because of a domain always have it.
	 */
	const char *domain;
	bool domain_running; /* @domain is running (it holds the mdev) rather than only defined */
	enum parent_backend backend; /* of the parent: how the applier executes the action */
	/* KEEP/REMOVE: the device has an iommufd cdev /dev/vfio/devices/vfio<cdev>. */
	bool has_cdev;
	unsigned int cdev;
	bool cdev_in_use; /* KEEP (IN_USE): that cdev is open */
	bool allocated;	  /* KEEP (IN_USE): kubelet holds it (plan_context.allocated_ids) */
};

/* A (parent, type) that gets fewer instances than the policy asks for. */
struct plan_shortfall {
	const char *parent;   /* borrowed from the inventory */
	const char *type_id;  /* borrowed from the inventory */
	unsigned int wanted;  /* instances the policy asks for (for "max": owned + capacity) */
	unsigned int planned; /* wanted slots that exist and stay, or are planned */
	/*
	 * Of the missing ones (wanted - planned), how many are held back because
	 * their UUID is live as another mdev (another parent or type) that stays;
	 * the rest lack capacity.
	 */
	unsigned int blocked;
};

struct plan {
	/*
	 * Ordered: all REMOVEs first (they free capacity), sorted by parent name,
	 * type id, owned before foreign, slot descending (an interrupted shrink
	 * leaves the low slots), UUID; then CREATEs in policy order (mode (a):
	 * parent name order; layouts: layout order, parent name order, type
	 * requests as written, slot ascending); then KEEPs, sorted by parent name,
	 * type id, owned before foreign, slot ascending, UUID.
	 */
	struct plan_action *actions;
	size_t n_actions;
	size_t n_create, n_remove;	   /* counts of CREATE and REMOVE actions */
	struct plan_shortfall *shortfalls; /* in the order of CREATEs */
	size_t n_shortfalls;
};

/*
 * A device a libvirt domain names in a <hostdev>: an mdev UUID or a PCI address. A
 * running domain holds it (in use); a defined, inactive one reserves it (it needs
 * the device when it starts). The planner never removes either.
 */
struct plan_domain_ref {
	const char *id;	    /* mdev UUID (lower case) or PCI address "dddd:bb:ss.f" */
	const char *domain; /* the domain's name */
	bool running;	    /* true: in use by a running domain; false: reserved */
};

struct plan_context {
	/* /etc/machine-id contents without the newline: exactly 32 lower-case hex digits. */
	const char *machine_id;
	/* IOMMU groups held open by some process (from /proc/ * /fd): in use. Borrowed. */
	const int *in_use_groups;
	size_t n_in_use_groups;
	/*
	 * iommufd cdevs held open (N of /dev/vfio/devices/vfioN, from /proc/ * /fd): an mdev or
	 * vGPU VF whose vfio-dev/vfioN is among them is in use. Borrowed; may be empty.
	 */
	const unsigned int *in_use_cdevs;
	size_t n_in_use_cdevs;
	/*
	 * Device IDs (mdev UUIDs, VF addresses) kubelet was handed by Allocate and has not given
	 * back (the device-plugin API never does): in use, never removed. Borrowed; may be empty.
	 */
	const char *const *allocated_ids;
	size_t n_allocated_ids;
	/* What libvirt domains name (from mdevd/libvirt/libvirt_client.c); borrowed; may be empty.
	 */
	const struct plan_domain_ref *domain_refs;
	size_t n_domain_refs;
};

/*
 * plan_build - compute the actions that take the node in @inv to @pol.
 * @inv, @pol, @ctx: borrowed; @pol should have passed pol_validate() against @inv.
 * @out: set to a new plan on success (free with plan_free()); it borrows strings
 *       from @inv, so free it before the inventory. Untouched on error.
 *
 * The rules are in the comment at the top of this header.
 * Returns 0, -EINVAL (machine id missing or not 32 lower-case hex digits) or -ENOMEM.
 */
int plan_build(const struct inventory *inv, const struct policy *pol,
	       const struct plan_context *ctx, struct plan **out);

/* plan_free - release a plan. NULL is a no-op. */
void plan_free(struct plan *plan);
DEFINE_CLEANUP(struct plan, plan_free) /* plan_freep() for _cleanup_() */

/*
 * plan_derive_uuid - mdevd's deterministic UUID for a slot.
 * Name-based (SHA-1, version 5) UUID in MDEVD_UUID_NAMESPACE over the string
 * "<machine_id>/<parent>/<type_id>/<slot>" (slot in decimal). Writes the
 * lower-case canonical form to @out, only on success.
 * Returns 0, -EINVAL (an argument is NULL) or -ENAMETOOLONG (the name exceeds
 * 1023 bytes; sysfs names are at most 255).
 */
int plan_derive_uuid(const char *machine_id, const char *parent, const char *type_id,
		     unsigned int slot, char out[MDEVD_UUID_STR_LEN]);

/*
 * plan_owned_slot_limit - the slots ownership is checked over for @type:
 * n_instances + available_instances, clamped to [PLAN_OWNED_SLOTS_MIN,
 * PLAN_OWNED_SLOTS_MAX]. @type may be NULL (a type the inventory does not
 * list): PLAN_OWNED_SLOTS_MIN.
 */
unsigned int plan_owned_slot_limit(const struct mdev_type *type);

/*
 * plan_is_owned - is @m one of mdevd's? Compares its UUID with those derived for
 * its parent and type at every slot below plan_owned_slot_limit() of that type.
 * On true, *slot (if not NULL) is set to the slot index. Returns true or false.
 */
bool plan_is_owned(const struct inventory *inv, const struct mdev_instance *m,
		   const char *machine_id, unsigned int *slot);

/*
 * Human words for an action kind ("create", "remove", "keep") and a reason
 * ("wanted by the policy", ...). Static strings; "?" for a value out of range.
 * PLAN_REASON_IN_USE gives "in use: its /dev/vfio group is open"; for the group's
 * number, or the libvirt domain, use plan_action_reason().
 */
const char *plan_action_kind_str(enum plan_action_kind kind);
const char *plan_reason_str(enum plan_reason reason);

/*
 * plan_action_reason - the reason of @a in words, with the group named for an
 * in-use instance ("in use: /dev/vfio/12 is open"), or the libvirt domain ("in use by
 * libvirt domain vm1 (running)", "reserved by libvirt domain vm2"). Writes at most @size bytes to
 * @buf, always NUL-terminated (truncated when short). Returns @buf.
 */
const char *plan_action_reason(const struct plan_action *a, char *buf, size_t size);
