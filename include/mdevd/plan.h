/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * plan: the pure planner. plan = f(inventory, policy, context). No I/O, no
 * clock, no randomness: the same inputs always give the same plan, byte for byte.
 *
 * Ownership of mdevs: an mdev is *owned* by mdevd iff its UUID is one that
 * plan_derive_uuid() yields for its (machine id, parent, type id, slot index)
 * with a slot index below the type's capacity on that parent (live instances +
 * available_instances). Owned mdevs are created and removed to match the
 * policy; foreign ones are kept unless the policy sets removeUnowned.
 * Nothing in use (plan_context.in_use_groups) is ever planned for removal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "policy.h"

/*
 * The fixed namespace of mdevd's name-based (RFC 9562 version 5) UUIDs.
 * Changing it would change every UUID on every node: never do that.
 */
#define MDEVD_UUID_NAMESPACE "6d646576-6400-4a5e-9d1c-6d6465766400"

enum plan_action_kind {
	PLAN_CREATE, /* create an instance of type_id on parent with uuid */
	PLAN_REMOVE, /* remove the instance uuid */
	PLAN_KEEP,   /* the instance stays: wanted, foreign, or in use (see reason) */
};

/* Why an action is there; the CLI turns these into words. */
enum plan_reason {
	PLAN_REASON_WANTED,       /* CREATE/KEEP: the policy asks for this slot */
	PLAN_REASON_NOT_WANTED,   /* REMOVE: owned, and the policy no longer asks for it */
	PLAN_REASON_FOREIGN,      /* KEEP: not created by mdevd and removeUnowned is off */
	PLAN_REASON_FOREIGN_REMOVE, /* REMOVE: not created by mdevd, removeUnowned is on */
	PLAN_REASON_IN_USE,       /* KEEP: would be removed, but its IOMMU group is open */
	PLAN_REASON_UNMANAGED,    /* KEEP: on a parent or type the policy does not manage */
};

struct plan_action {
	enum plan_action_kind kind;
	enum plan_reason reason;
	char uuid[MDEVD_UUID_STR_LEN];
	const char *parent;  /* borrowed from the inventory */
	const char *type_id; /* borrowed from the inventory */
	unsigned int slot;   /* slot index for owned instances; 0 for foreign ones */
	int iommu_group;     /* KEEP/REMOVE: the instance's group, -1 for CREATE */
};

/* A slot the policy asks for that cannot be planned because the parent lacks capacity. */
struct plan_shortfall {
	const char *parent;  /* borrowed from the inventory */
	const char *type_id; /* borrowed from the inventory */
	unsigned int wanted; /* instances the policy asks for */
	unsigned int planned; /* instances that exist or are planned */
};

struct plan {
	/*
	 * Ordered: all REMOVEs first (they free capacity), then CREATEs in policy
	 * order, parent by parent; KEEPs last. Sorting inside each group is
	 * deterministic (parent name, type id, slot).
	 */
	struct plan_action *actions;
	size_t n_actions;
	size_t n_create, n_remove; /* counts of CREATE and REMOVE actions */
	struct plan_shortfall *shortfalls;
	size_t n_shortfalls;
};

struct plan_context {
	const char *machine_id; /* /etc/machine-id contents, 32 hex digits; borrowed */
	/* IOMMU groups held open by some process (from /proc/ * /fd): in use. */
	const int *in_use_groups;
	size_t n_in_use_groups;
};

/*
 * plan_build - compute the actions that take the node in @inv to @pol.
 * @inv, @pol, @ctx: borrowed; @pol should have passed pol_validate() against @inv.
 * @out: set to a new plan on success (free with plan_free()); it borrows strings
 *       from @inv, so free it before the inventory.
 *
 * KubeVirt semantics when the policy has no mdevd.layouts: every parent that
 * offers one of mediatedDeviceTypes gets exactly one of them, filled to its
 * capacity; a parent that already has instances of a listed type keeps that type;
 * other parents take the listed types round-robin in list order.
 * With mdevd.layouts: each matched parent gets exactly the requested counts.
 * Creates never exceed available_instances as read (plus what planned removals
 * of the same type free); the rest is reported in plan.shortfalls.
 * Returns 0, -EINVAL (no machine id) or -ENOMEM.
 */
int plan_build(const struct inventory *inv, const struct policy *pol,
	       const struct plan_context *ctx, struct plan **out);

/* plan_free - release a plan. NULL is a no-op. */
void plan_free(struct plan *plan);

/*
 * plan_derive_uuid - mdevd's deterministic UUID for a slot.
 * Name-based (SHA-1, version 5) UUID in MDEVD_UUID_NAMESPACE over the string
 * "<machine_id>/<parent>/<type_id>/<slot>". Writes the lower-case canonical form
 * to @out. Returns 0.
 */
int plan_derive_uuid(const char *machine_id, const char *parent, const char *type_id,
		     unsigned int slot, char out[MDEVD_UUID_STR_LEN]);

/*
 * plan_is_owned - is @m one of mdevd's? Checks the UUIDs derived for its parent
 * and type over every slot index below the type's capacity. On true, *slot (if
 * not NULL) is set to the slot index. Returns true or false.
 */
bool plan_is_owned(const struct inventory *inv, const struct mdev_instance *m,
		   const char *machine_id, unsigned int *slot);

/* Human word for an action kind / reason ("create", "not wanted by the policy"). */
const char *plan_action_kind_str(enum plan_action_kind kind);
const char *plan_reason_str(enum plan_reason reason);
