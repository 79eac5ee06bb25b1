/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The applier: rounds of inventory -> plan -> execute; see apply.h for the rules. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/vgpu_vfio.h"
#include "node/nvidia_vgpu.h"
#include "node/inuse.h"
#include "node/mdev_lifecycle.h"
#include "util/log.h"
#include "libvirt/mdevctl.h"
#include "mdevd/inventory.h"
#include "mdevd/plan.h"
#include "node/sysfs.h"
#include "libvirt/libvirt_client.h"

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

/* --- the sysfs backend: mdev_lifecycle.c, and mdevctl definitions with persist --- */

static const char *mdevctl_dir(const struct apply_options *o)
{
	return o->mdevctl_dir ? o->mdevctl_dir : MDEVCTL_DEFAULT_DIR;
}

static int sysfs_create(void *data, const struct plan_action *a, char *why, size_t size)
{
	const struct apply_options *o = data;
	const char *what;
	int r;

	r = lifecycle_create(o->sysfs_fd, a->parent, a->type_id, a->uuid);
	if (r < 0) {
		what = lifecycle_create_error_str(r);
		snprintf(why, size, "%s (%s)", what ? what : strerror(-r), lifecycle_errno_name(r));
		return r;
	}
	return 0;
}

static int sysfs_remove(void *data, const struct plan_action *a, char *why, size_t size)
{
	const struct apply_options *o = data;
	const char *what;
	int r;

	r = lifecycle_remove(o->sysfs_fd, a->uuid);
	if (r < 0 && r != -ENOENT) {
		what = lifecycle_remove_error_str(r);
		snprintf(why, size, "%s (%s)", what ? what : strerror(-r), lifecycle_errno_name(r));
		return r;
	}
	if (o->persist) {
		int q = mdevctl_undefine(mdevctl_dir(o), a->parent, a->uuid);

		if (q < 0)
			log_warn(q,
				 "%s: removed, but cannot delete its mdevctl definition under %s",
				 a->uuid, mdevctl_dir(o));
	}
	return r;
}

/* The mdevctl definition of a live owned mdev; logged here (it knows the directory). */
static int sysfs_persist(void *data, const struct plan_action *a)
{
	const struct apply_options *o = data;
	int r = mdevctl_define(mdevctl_dir(o), a->parent, a->type_id, a->uuid);

	if (r < 0)
		log_warn(r,
			 "%s: cannot write its mdevctl definition under %s (the next run "
			 "tries again)",
			 a->uuid, mdevctl_dir(o));
	return r;
}

/* What sysfs_keep_definition() judges by: the settled round's node and plan. */
struct definitions_view {
	const struct apply_options *o;
	const struct inventory *inv;
	const struct plan *plan;
};

/*
 * Keep <dir>/<parent>/<name>? Yes when it is a live owned mdev the plan keeps as wanted,
 * when it is not mdevd's (no type of @parent derives that UUID), and when the parent is
 * not on the node now (gone, its driver unloaded): whether the policy wants its mdevs
 * cannot be told without it.
 */
static bool sysfs_keep_definition(void *data, const char *parent, const char *name)
{
	const struct definitions_view *v = data;
	const struct mdev_parent *p = NULL;

	for (size_t i = 0; i < v->plan->n_actions; i++) {
		const struct plan_action *a = &v->plan->actions[i];

		if (a->kind == PLAN_KEEP && a->reason == PLAN_REASON_WANTED && a->owned &&
		    streq(a->parent, parent) && strcasecmp(a->uuid, name) == 0)
			return true;
	}
	for (size_t i = 0; i < v->inv->n_parents && !p; i++)
		if (streq(v->inv->parents[i].name, parent))
			p = &v->inv->parents[i];
	if (!p || strlen(name) != MDEVD_UUID_STR_LEN - 1)
		return true;
	for (size_t i = 0; i < p->n_types; i++) {
		struct mdev_instance m = {.parent = (char *)parent, .type_id = p->types[i].id};

		for (size_t k = 0; k < MDEVD_UUID_STR_LEN - 1; k++)
			m.uuid[k] = (char)tolower((unsigned char)name[k]);
		if (plan_is_owned(v->inv, &m, v->o->machine_id, NULL))
			return false;
	}
	return true;
}

static int sysfs_reconcile(void *data, const struct inventory *inv, const struct plan *plan)
{
	const struct apply_options *o = data;
	struct definitions_view v = {.o = o, .inv = inv, .plan = plan};
	struct mdevctl_reconcile_result res = {};
	int r;

	r = mdevctl_reconcile(mdevctl_dir(o), sysfs_keep_definition, &v, &res);
	if (r < 0) {
		log_warn(r,
			 "%s: cannot reconcile the mdevctl definitions (the next run tries again)",
			 mdevctl_dir(o));
		return r;
	}
	if (res.removed)
		log_info("%s: deleted %u mdevctl definition%s of mdevs the policy does not keep",
			 mdevctl_dir(o), res.removed, res.removed == 1 ? "" : "s");
	if (res.temp_removed)
		log_info("%s: deleted %u temp file%s of an interrupted run", mdevctl_dir(o),
			 res.temp_removed, res.temp_removed == 1 ? "" : "s");
	return 0;
}

/* --- the libvirt backend: libvirt_client.c --- */

static int libvirt_create(void *data, const struct plan_action *a, char *why, size_t size)
{
	const struct apply_options *o = data;
	int r = virt_mdev_create(o->virt, a->parent, a->type_id, a->uuid, o->persist);

	if (r < 0)
		snprintf(why, size, "libvirt: %s", virt_last_error(o->virt));
	return r;
}

static int libvirt_remove(void *data, const struct plan_action *a, char *why, size_t size)
{
	const struct apply_options *o = data;
	int r = virt_mdev_remove(o->virt, a->uuid, o->persist);

	if (r < 0)
		snprintf(why, size, "libvirt: %s", virt_last_error(o->virt));
	return r;
}

static void backend_for(const struct apply_options *o, struct apply_backend *b)
{
	switch (o->backend_kind) {
	case APPLY_BACKEND_SYSFS:
		*b = (struct apply_backend){.name = "sysfs",
					    .create = sysfs_create,
					    .remove = sysfs_remove,
					    .persist = o->persist ? sysfs_persist : NULL,
					    .reconcile = o->persist ? sysfs_reconcile : NULL,
					    .data = (void *)o};
		return;
	case APPLY_BACKEND_LIBVIRT:
		*b = (struct apply_backend){.name = "libvirt",
					    .create = libvirt_create,
					    .remove = libvirt_remove,
					    .data = (void *)o};
		return;
	}
}

/* Re-read after a step: does bus/mdev/devices/<uuid> exist? */
static bool mdev_present(const struct apply_options *o, const char *uuid)
{
	char path[128];

	snprintf(path, sizeof(path), "bus/mdev/devices/%s", uuid);
	return faccessat(o->sysfs_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Just before a remove: does a libvirt domain name @uuid now? 1 (logged), 0, or -errno.
 * Without a connection, 0: only the kernel's evidence counts.
 */
static int named_by_domain(const struct apply_options *o, const struct plan_action *a,
			   struct apply_result *res)
{
	struct virt_refs refs = {};
	const struct plan_domain_ref *ref;
	int r;

	if (!o->virt)
		return 0;
	r = virt_domain_refs(o->virt, &refs);
	if (r < 0) {
		log_warnx("%s: not removed: cannot ask libvirt (%s) whether a domain uses it: %s",
			  a->uuid, virt_uri(o->virt), virt_last_error(o->virt));
		res->kept_in_use++;
		return 1;
	}
	ref = virt_refs_find(&refs, a->uuid);
	if (ref) {
		log_warnx("%s: not removed: libvirt domain %s %s it meanwhile", a->uuid,
			  ref->domain, ref->running ? "uses" : "reserves");
		if (ref->running)
			res->kept_in_use++;
		else
			res->kept_reserved++;
	}
	virt_refs_release(&refs);
	return ref ? 1 : 0;
}

static void stepped(const struct apply_options *o, const struct plan_action *a)
{
	if (o->after_step)
		o->after_step(o->after_step_data, a);
}

/* NVIDIA vGPU: free the VF (write 0 to its current_vgpu_type). Returns 1 when done, else 0. */
static int vgpu_remove(const struct apply_options *o, const struct plan_action *a, const char *step,
		       struct apply_result *res)
{
	char why[640] = "";
	int r = vgpu_vfio_set(o->sysfs_fd, a->parent, a->uuid, 0, why, sizeof(why));

	if (r < 0) {
		log_warnx("%s: %s: freeing the vGPU VF failed: %s", a->parent, a->uuid, why);
		res->failed++;
		return 0;
	}
	log_info("%sfreed vGPU VF %s (type %s on card %s): %s", step, a->uuid, a->type_id,
		 a->parent, plan_reason_str(a->reason));
	res->removed++;
	stepped(o, a);
	return 1;
}

/* NVIDIA vGPU: make the chosen VF a vGPU of the type. Returns 1 when done, else 0. */
static int vgpu_create(const struct apply_options *o, const struct plan_action *a, const char *step,
		       struct apply_result *res)
{
	char why[640] = "";
	unsigned int id;
	int r;

	if (nvidia_vgpu_type_id(a->type_id, &id) < 0) {
		log_warnx("%s: %s: not an NVIDIA vGPU type id", a->parent, a->type_id);
		res->failed++;
		return 0;
	}
	if (o->dry_run) {
		log_info("%swould make VF %s a vGPU of type %s (card %s, slot %u)", step, a->uuid,
			 a->type_id, a->parent, a->slot);
		res->would_create++;
		return 0;
	}
	r = vgpu_vfio_set(o->sysfs_fd, a->parent, a->uuid, id, why, sizeof(why));
	if (r < 0) {
		log_warnx("%s: %s: VF %s: %s", a->parent, a->type_id, a->uuid, why);
		if (r == -ENOSPC)
			res->no_capacity++;
		else
			res->failed++;
		return 0;
	}
	log_info("%smade VF %s a vGPU of type %s (card %s, slot %u)", step, a->uuid, a->type_id,
		 a->parent, a->slot);
	res->created++;
	stepped(o, a);
	return 1;
}

static int do_remove(const struct apply_options *o, const struct apply_backend *b,
		     const struct plan_action *a, const char *step, struct apply_result *res)
{
	char why[640] = "";
	int r;

	if (a->iommu_group >= 0 || a->has_cdev) {
		r = inuse_device_is_open(o->proc_fd, a->iommu_group, a->has_cdev, a->cdev);
		if (r != 0) {
			if (r < 0)
				log_warn(r, "%s: not removed: cannot tell whether it is in use",
					 a->uuid);
			else if (a->has_cdev)
				log_warnx(
					"%s: not removed: /dev/vfio/%d or /dev/vfio/devices/vfio%u "
					"was opened meanwhile (in use)",
					a->uuid, a->iommu_group, a->cdev);
			else
				log_warnx("%s: not removed: /dev/vfio/%d was opened meanwhile (in "
					  "use)",
					  a->uuid, a->iommu_group);
			res->kept_in_use++;
			return 0;
		}
	}
	if (o->dry_run) {
		log_info("%swould remove %s (%s on %s): %s", step, a->uuid, a->type_id, a->parent,
			 plan_reason_str(a->reason));
		res->would_remove++;
		return 0;
	}
	if (named_by_domain(o, a, res))
		return 0;
	if (a->backend == PARENT_BACKEND_NVIDIA_VGPU)
		return vgpu_remove(o, a, step, res);
	r = b->remove(b->data, a, why, sizeof(why));
	if (r == -ENOENT && mdev_present(o, a->uuid)) {
		/* libvirt may not list an mdev that sysfs has (e.g. on a virtual parent). */
		log_warnx("%s: remove failed: the %s backend knows no such mdev, but sysfs lists "
			  "it%s%s",
			  a->uuid, b->name, why[0] ? ": " : "", why);
		res->failed++;
		return 0;
	}
	if (r == -ENOENT) {
		log_info("%s%s: already gone", step, a->uuid);
		res->removed++;
		return 1;
	}
	if (r < 0) {
		log_warnx("%s: remove failed: %s", a->uuid, why[0] ? why : strerror(-r));
		res->failed++;
		return 0;
	}
	if (mdev_present(o, a->uuid)) {
		log_warnx("%s: the kernel accepted the remove, but the mdev is still there",
			  a->uuid);
		res->failed++;
		return 0;
	}
	log_info("%sremoved %s (%s on %s): %s", step, a->uuid, a->type_id, a->parent,
		 plan_reason_str(a->reason));
	res->removed++;
	stepped(o, a);
	return 1;
}

static int do_create(const struct apply_options *o, const struct apply_backend *b,
		     const struct plan_action *a, const char *step, struct apply_result *res)
{
	char path[PATH_MAX], why[640] = "";
	unsigned int avail;
	int r;

	if (a->backend == PARENT_BACKEND_NVIDIA_VGPU)
		return vgpu_create(o, a, step, res);
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
		log_info("%swould create %s (%s on %s, slot %u)", step, a->uuid, a->type_id,
			 a->parent, a->slot);
		res->would_create++;
		return 0;
	}
	r = b->create(b->data, a, why, sizeof(why));
	if (r < 0) {
		log_warnx("%s: %s: create %s failed: %s", a->parent, a->type_id, a->uuid,
			  why[0] ? why : strerror(-r));
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
	log_info("%screated %s (%s on %s, slot %u%s)", step, a->uuid, a->type_id, a->parent,
		 a->slot, b->create == libvirt_create ? ", through libvirt" : "");
	if (b->persist)
		b->persist(b->data, a);
	res->created++;
	stepped(o, a);
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
static int run_round(const struct apply_options *o, const struct apply_backend *b,
		     const struct policy *pol, struct apply_result *res, bool *done)
{
	struct virt_refs refs = {};
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct inuse in = {};
	struct pol_error perr = {};
	struct plan_context ctx;
	size_t n_step = 0, n_steps;
	const struct plan_action *full = NULL; /* NVIDIA vGPU: a (card, type) found full */
	char step[48];
	int steps = 0, r;

	r = inventory_load(o->sysfs_fd, o->sysfs_path, INVENTORY_TYPES | INVENTORY_MDEVS,
			   report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "cannot read the node's mdevs");
		return r;
	}
	if (o->log_policy_warnings && res->rounds == 1) {
		struct pol_report rep = {};

		pol_check(pol, inv, &rep); /* errors: pol_validate() below */
		for (size_t i = 0; i < rep.n; i++)
			if (rep.diags[i].severity == POL_SEVERITY_WARNING)
				log_warnx("policy: %s: warning: %s", rep.diags[i].path,
					  rep.diags[i].message);
		pol_report_clear(&rep);
	}
	if (!o->dry_run) {
		/* Remember the vGPU type names while VFs still list them (a full card lists none).
		 */
		char path[PATH_MAX];

		r = nvidia_vgpu_catalogue_save(inv);
		if (r < 0)
			log_warn(r, "cannot save NVIDIA vGPU type names to %s",
				 nvidia_vgpu_catalogue_path(path, sizeof(path)));
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
	if (o->virt) {
		r = virt_domain_refs(o->virt, &refs);
		if (r < 0) {
			/* Without libvirt's answer, a removal could take a domain's device. */
			inuse_release(&in);
			log_warnx("cannot read libvirt's domains (%s): %s", virt_uri(o->virt),
				  virt_last_error(o->virt));
			return r;
		}
	}
	ctx = (struct plan_context){
		.machine_id = o->machine_id,
		.in_use_groups = in.groups,
		.n_in_use_groups = in.unreadable ? 0 : in.n_groups,
		.in_use_cdevs = in.cdevs,
		.n_in_use_cdevs = in.unreadable ? 0 : in.n_cdevs,
		.allocated_ids = o->allocated_ids,
		.n_allocated_ids = o->n_allocated_ids,
		.domain_refs = refs.refs,
		.n_domain_refs = refs.n,
	};
	r = plan_build(inv, pol, &ctx, &plan);
	if (r < 0) {
		inuse_release(&in);
		virt_refs_release(&refs);
		log_warn(r, "cannot build a plan");
		return r;
	}

	n_steps = plan->n_create + plan->n_remove;
	*done = plan->n_create == 0 && plan->n_remove == 0;
	res->kept_in_use = 0;
	res->kept_reserved = 0;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];
		char reason[160];

		switch (a->kind) {
		case PLAN_REMOVE:
			/* With unreadable processes, nothing is removed. */
			if (in.unreadable) {
				res->kept_in_use++;
				break;
			}
			snprintf(step, sizeof(step), "[%zu/%zu] ", ++n_step, n_steps);
			steps += do_remove(o, b, a, step, res);
			break;
		case PLAN_CREATE:
			snprintf(step, sizeof(step), "[%zu/%zu] ", ++n_step, n_steps);
			if (full && streq(full->parent, a->parent) &&
			    streq(full->type_id, a->type_id)) {
				/* The card's lists stopped offering the type: no more this round.
				 */
				res->no_capacity++;
				break;
			}
			{
				unsigned int before = res->no_capacity;

				steps += do_create(o, b, a, step, res);
				if (a->backend == PARENT_BACKEND_NVIDIA_VGPU &&
				    res->no_capacity > before)
					full = a;
			}
			break;
		case PLAN_KEEP:
			if (a->reason == PLAN_REASON_WANTED && a->owned && b->persist &&
			    !o->dry_run && a->backend == PARENT_BACKEND_MDEV)
				b->persist(b->data, a);
			if (a->reason != PLAN_REASON_IN_USE && a->reason != PLAN_REASON_RESERVED)
				break;
			if (a->reason == PLAN_REASON_IN_USE)
				res->kept_in_use++;
			else
				res->kept_reserved++;
			if (o->dry_run || *done) {
				const struct inuse_holder *h =
					a->reason == PLAN_REASON_IN_USE
						? inuse_get_holder(&in, a->iommu_group)
						: NULL;
				char who[128] = "";
				char why[320];

				if (h)
					inuse_holder_str(h, who, sizeof(who));
				snprintf(why, sizeof(why), "%s%s%s",
					 plan_action_reason(a, reason, sizeof(reason)),
					 h ? ", by " : "", who);
				log_info("kept %s (%s on %s): %s", a->uuid, a->type_id, a->parent,
					 why);
				if (o->on_kept)
					o->on_kept(o->on_kept_data, a, why);
			}
			break;
		}
	}
	/* The last round (nothing done, or nothing left to do) reports what did not fit. */
	if (steps == 0 || o->dry_run)
		report_shortfalls(plan, res);
	/* Nothing changed in this round: @plan is the node as it is. */
	if (steps == 0 && !o->dry_run && b->reconcile)
		b->reconcile(b->data, inv, plan);
	inuse_release(&in);
	virt_refs_release(&refs);
	return steps;
}

int apply_policy(const struct apply_options *o, const struct policy *pol, struct apply_result *res)
{
	struct apply_backend own;
	const struct apply_backend *b = o->backend;

	memset(res, 0, sizeof(*res));
	if (!b) {
		if (o->backend_kind == APPLY_BACKEND_LIBVIRT && !o->virt)
			return -EINVAL;
		backend_for(o, &own);
		b = &own;
	}
	for (unsigned int round = 0; round < APPLY_MAX_ROUNDS; round++) {
		bool done = false;
		int r;

		res->rounds++;
		r = run_round(o, b, pol, res, &done);
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
