/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apply: take the node to a policy. Each round reads a fresh inventory and the
 * in-use groups, builds a plan (the pure planner) and executes it step by step:
 *
 *   - REMOVE: only after a last-moment rescan of /proc shows the mdev's IOMMU group
 *     is not open (a write to `remove` on a held mdev blocks in the kernel until the
 *     VM lets go); a vanished mdev counts as removed.
 *   - CREATE: only after re-reading the type's available_instances (types on one
 *     parent may share capacity, so an earlier create can use up a later one's).
 *
 * Rounds repeat until a plan has nothing to do or a round makes no progress
 * (capacity freed by removals is seen in the next round: NVIDIA time-sliced vGPU
 * and mbochs need that), at most APPLY_MAX_ROUNDS. UUIDs are deterministic, so a
 * run killed at any point and started again converges to the same node: it leaks
 * nothing and duplicates nothing.
 *
 * In use also means named by a libvirt domain: with a connection (apply_options.virt),
 * every round reads what the domains name, the planner keeps those mdevs (in use by
 * a running domain, reserved by a defined one), and a REMOVE is checked once more
 * against libvirt just before it runs.
 *
 * Backends. A step is executed by a backend: sysfs (mdev_lifecycle.c: write the UUID to
 * <type>/create, 1 to remove; with persist, also write or delete the mdevctl
 * definition, mdevctl.h, and once the node settled reconcile the whole definitions
 * directory: definitions = the live owned mdevs the policy wants, so a run killed
 * between a remove and its undefine leaves nothing behind after the next run) or libvirt
 * (libvirt_client.h: the node-device API; with persist, libvirt defines the mdev and marks it
 * autostart, through mdevctl). Both see the same plan and the same UUIDs, and the same safety
 * checks run before either.
 *
 * NVIDIA vendor-specific VFIO (actions of a PARENT_BACKEND_NVIDIA_VGPU card; plan.h): a
 * CREATE writes the type id to the chosen VF's nvidia/current_vgpu_type, a REMOVE writes 0,
 * both through apply/vgpu_vfio.h (per-card lock, re-read of the VF's list, read-back, roll
 * back to 0 on a mismatch), whatever backend_kind says (libvirt has no API for it), and
 * never with mdevctl definitions (the driver forgets the type at reboot; `mdevd run`
 * applies again at start). A REMOVE first rescans /proc for the VF's group and cdev.
 *
 * mdevd never opens a VFIO group and never fork()s here.
 */
#pragma once

#include <stdbool.h>

#include "mdevd/plan.h"
#include "mdevd/policy.h"

#define APPLY_MAX_ROUNDS 8

struct virt;

/*
 * How steps are executed. create/remove return 0 or a negative errno; on failure they
 * may write a phrase that explains it to @why (@size bytes), else leave it empty.
 * A remove of an mdev that is already gone returns -ENOENT.
 */
struct apply_backend {
	const char *name; /* "sysfs", "libvirt": for messages */
	int (*create)(void *data, const struct plan_action *a, char *why, size_t size);
	int (*remove)(void *data, const struct plan_action *a, char *why, size_t size);
	/*
	 * Make a live owned mdev persistent (after a create is seen in sysfs, and for every
	 * owned mdev the policy keeps, so an interrupted run is completed). NULL: nothing
	 * to do (no persist, or create already made it persistent).
	 */
	int (*persist)(void *data, const struct plan_action *a);
	/*
	 * Once the rounds settled (a round that changed nothing, so @plan describes the
	 * node in @inv as it is): make what the backend keeps besides the node agree with
	 * @plan, whatever an earlier, killed run left. NULL: nothing kept besides the node.
	 * The sysfs backend with persist deletes every definition of an owned mdev that is
	 * not live and wanted (KEEP WANTED), and stale temp files (mdevctl_reconcile()).
	 * Returns 0 or -errno (logged by the backend; apply_policy() goes on).
	 */
	int (*reconcile)(void *data, const struct inventory *inv, const struct plan *plan);
	void *data;
};

enum apply_backend_kind {
	APPLY_BACKEND_SYSFS, /* default */
	APPLY_BACKEND_LIBVIRT,
};

struct apply_options {
	int sysfs_fd;		/* sysfs root (borrowed) */
	const char *sysfs_path; /* the same root as a path, for libpci (borrowed) */
	int proc_fd;		/* proc root for in-use detection (borrowed) */
	const char *machine_id; /* 32 hex digits (borrowed) */
	bool dry_run;		/* plan one round and say what would be done; write nothing */
	/* Log the policy's warnings for this node (pol_check()) once, in the first round. */
	bool log_policy_warnings;
	enum apply_backend_kind backend_kind; /* ignored when @backend is set */
	/* Persistent mdevs: sysfs writes mdevctl definitions, libvirt defines + autostart. */
	bool persist;
	const char *mdevctl_dir; /* sysfs + persist: NULL means MDEVCTL_DEFAULT_DIR (borrowed) */
	/*
	 * A libvirt connection (borrowed), or NULL: then only the kernel's evidence (open
	 * VFIO groups) says what is in use. Required by APPLY_BACKEND_LIBVIRT.
	 */
	struct virt *virt;
	const struct apply_backend *backend; /* tests: a backend of their own; NULL: by kind */
	/* Device IDs kubelet holds (plan_context.allocated_ids); borrowed; may be empty. */
	const char *const *allocated_ids;
	size_t n_allocated_ids;
	/*
	 * Tests: called after each step that changed the node, with @after_step_data. A fixture
	 * tree's files do not change by themselves: the unit tests recompute the NVIDIA vGPU
	 * lists here as the driver would. NULL in production.
	 */
	void (*after_step)(void *data, const struct plan_action *a);
	void *after_step_data;
	/*
	 * Called for each mdev the last round keeps against the policy (in use, or reserved by
	 * a defined domain: a->reason says which), with the phrase logged for it (holder
	 * included). The daemon reports those as Events on the Node. May be NULL.
	 */
	void (*on_kept)(void *data, const struct plan_action *a, const char *why);
	void *on_kept_data;
};

struct apply_result {
	unsigned int created;	    /* mdevs created */
	unsigned int removed;	    /* mdevs removed (or found already gone) */
	unsigned int failed;	    /* steps the kernel refused for another reason than capacity */
	unsigned int no_capacity;   /* creates not done: no capacity (read 0, or ENOSPC/EUSERS) */
	unsigned int kept_in_use;   /* removals held back: in use (open group, running domain) */
	unsigned int kept_reserved; /* removals held back: a defined libvirt domain names it */
	unsigned int shortfall;	    /* instances the policy asks for that did not fit, at the end */
	unsigned int rounds;	    /* plan/execute rounds run */
	/* With dry_run: what the round would do (nothing is created or removed). */
	unsigned int would_create, would_remove;
};

/*
 * apply_policy - run rounds until the node matches @pol as far as it can.
 * Logs every step (log_info) and every refusal with its parent, type, UUID and the
 * kernel's errno (log_warnx), and the remaining shortfalls at the end.
 * Fills @res (always, also on error: what was done so far).
 * Returns 0 when the rounds ran (inspect @res), -EINVAL when @pol does not fit the
 * node (reported with its JSON path), or -errno when the node cannot be read.
 */
int apply_policy(const struct apply_options *o, const struct policy *pol, struct apply_result *res);
