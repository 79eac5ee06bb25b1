/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The applier: rounds of inventory -> plan -> execute; see apply.h for the rules. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "apply.h"
#include "inuse.h"
#include "lifecycle.h"
#include "log.h"
#include "mdevd/inventory.h"
#include "mdevd/plan.h"
#include "sysfs.h"

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

/* Re-read after a step: does bus/mdev/devices/<uuid> exist? */
static bool mdev_present(const struct apply_options *o, const char *uuid)
{
	char path[128];

	snprintf(path, sizeof(path), "bus/mdev/devices/%s", uuid);
	return faccessat(o->sysfs_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int do_remove(const struct apply_options *o, const struct plan_action *a,
		     struct apply_result *res)
{
	int r;

	if (a->iommu_group >= 0) {
		r = inuse_group_is_open(o->proc_fd, a->iommu_group);
		if (r != 0) {
			if (r < 0)
				log_warn(r, "%s: not removed: cannot tell whether it is in use",
					 a->uuid);
			else
				log_warnx("%s: not removed: /dev/vfio/%d was opened meanwhile (in "
					  "use)",
					  a->uuid, a->iommu_group);
			res->kept_in_use++;
			return 0;
		}
	}
	if (o->dry_run) {
		log_info("would remove %s (%s on %s): %s", a->uuid, a->type_id, a->parent,
			 plan_reason_str(a->reason));
		return 0;
	}
	r = lifecycle_remove(o->sysfs_fd, a->uuid);
	if (r == -ENOENT) {
		log_info("%s: already gone", a->uuid);
		res->removed++;
		return 1;
	}
	if (r < 0) {
		const char *why = lifecycle_remove_error_str(r);

		log_warnx("%s: remove failed: %s (%s)", a->uuid, why ? why : strerror(-r),
			  lifecycle_errno_name(r));
		res->failed++;
		return 0;
	}
	if (mdev_present(o, a->uuid)) {
		log_warnx("%s: the kernel accepted the remove, but the mdev is still there",
			  a->uuid);
		res->failed++;
		return 0;
	}
	log_info("removed %s (%s on %s): %s", a->uuid, a->type_id, a->parent,
		 plan_reason_str(a->reason));
	res->removed++;
	return 1;
}

static int do_create(const struct apply_options *o, const struct plan_action *a,
		     struct apply_result *res)
{
	char path[PATH_MAX];
	unsigned int avail;
	int r;

	/* Re-read: an earlier create on this parent may have used shared capacity. */
	snprintf(path, sizeof(path),
		 "class/mdev_bus/%s/mdev_supported_types/%s/available_instances", a->parent,
		 a->type_id);
	r = sysfs_read_uint(o->sysfs_fd, path, &avail);
	if (r < 0) {
		log_warn(r, "%s: %s: cannot read available_instances before creating %s", a->parent,
			 a->type_id, a->uuid);
		res->failed++;
		return 0;
	}
	if (avail == 0) {
		log_warnx("%s: %s: no capacity left for %s (available_instances dropped to 0 after "
			  "earlier steps; types on one parent can share capacity)",
			  a->parent, a->type_id, a->uuid);
		res->no_capacity++;
		return 0;
	}
	if (o->dry_run) {
		log_info("would create %s (%s on %s, slot %u)", a->uuid, a->type_id, a->parent,
			 a->slot);
		return 0;
	}
	r = lifecycle_create(o->sysfs_fd, a->parent, a->type_id, a->uuid);
	if (r < 0) {
		const char *why = lifecycle_create_error_str(r);

		log_warnx("%s: %s: create %s failed: %s (%s)", a->parent, a->type_id, a->uuid,
			  why ? why : strerror(-r), lifecycle_errno_name(r));
		if (r == -ENOSPC || r == -EUSERS)
			res->no_capacity++;
		else
			res->failed++;
		return 0;
	}
	if (!mdev_present(o, a->uuid)) {
		log_warnx("%s: %s: the kernel accepted %s, but no such mdev appeared", a->parent,
			  a->type_id, a->uuid);
		res->failed++;
		return 0;
	}
	log_info("created %s (%s on %s, slot %u)", a->uuid, a->type_id, a->parent, a->slot);
	res->created++;
	return 1;
}

static void report_shortfalls(const struct plan *plan, struct apply_result *res)
{
	res->shortfall = 0;
	for (size_t i = 0; i < plan->n_shortfalls; i++) {
		const struct plan_shortfall *s = &plan->shortfalls[i];

		if (s->blocked)
			log_warnx(
				"%s: %s: the policy asks for %u, %u planned; %u slot%s held back: "
				"the UUID is already used by another mdev (EEXIST)",
				s->parent, s->type_id, s->wanted, s->planned, s->blocked,
				s->blocked == 1 ? "" : "s");
		if (s->wanted - s->planned > s->blocked)
			log_warnx(
				"%s: %s: the policy asks for %u, only %u fit: no capacity left on "
				"the parent (available_instances is 0; the kernel would answer "
				"ENOSPC or EUSERS)",
				s->parent, s->type_id, s->wanted, s->planned);
		res->shortfall += s->wanted - s->planned;
	}
}

/* One round: read, plan, execute. Returns steps done (>= 0), or -errno. */
static int run_round(const struct apply_options *o, const struct policy *pol,
		     struct apply_result *res, bool *done)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct inuse in = {};
	struct pol_error perr = {};
	struct plan_context ctx;
	int steps = 0, r;

	r = inventory_load(o->sysfs_fd, o->sysfs_path, INVENTORY_TYPES | INVENTORY_MDEVS,
			   report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "cannot read the node's mdevs");
		return r;
	}
	r = pol_validate(pol, inv, &perr);
	if (r < 0) {
		log_warnx("policy: %s: %s", perr.path, perr.message);
		return r;
	}
	r = inuse_scan(o->proc_fd, &in);
	if (r < 0) {
		log_warn(r, "cannot scan processes for open VFIO groups");
		return r;
	}
	if (in.unreadable)
		log_warnx("%u processes could not be inspected: every mdev counts as in use",
			  in.unreadable);
	ctx = (struct plan_context){
		.machine_id = o->machine_id,
		.in_use_groups = in.groups,
		.n_in_use_groups = in.unreadable ? 0 : in.n_groups,
	};
	r = plan_build(inv, pol, &ctx, &plan);
	if (r < 0) {
		inuse_release(&in);
		log_warn(r, "cannot build a plan");
		return r;
	}

	*done = plan->n_create == 0 && plan->n_remove == 0;
	res->kept_in_use = 0;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];

		switch (a->kind) {
		case PLAN_REMOVE:
			/* With unreadable processes, nothing is removed. */
			if (in.unreadable) {
				res->kept_in_use++;
				break;
			}
			steps += do_remove(o, a, res);
			break;
		case PLAN_CREATE:
			steps += do_create(o, a, res);
			break;
		case PLAN_KEEP:
			if (a->reason != PLAN_REASON_IN_USE)
				break;
			res->kept_in_use++;
			if (o->dry_run || *done)
				log_info("kept %s (%s on %s): %s", a->uuid, a->type_id, a->parent,
					 plan_reason_str(a->reason));
			break;
		}
	}
	/* The last round (nothing done, or nothing left to do) reports what did not fit. */
	if (steps == 0 || o->dry_run)
		report_shortfalls(plan, res);
	inuse_release(&in);
	return steps;
}

int apply_policy(const struct apply_options *o, const struct policy *pol, struct apply_result *res)
{
	memset(res, 0, sizeof(*res));
	for (unsigned int round = 0; round < APPLY_MAX_ROUNDS; round++) {
		bool done = false;
		int r;

		res->rounds++;
		r = run_round(o, pol, res, &done);
		if (r < 0)
			return r;
		/* Done, or no step succeeded (another round would plan the same). */
		if (done || r == 0 || o->dry_run)
			return 0;
	}
	log_warnx("the node did not settle after %d rounds; something else is changing mdevs",
		  APPLY_MAX_ROUNDS);
	return -EAGAIN;
}
