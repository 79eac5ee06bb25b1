/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pure planner. The rules are documented in include/mdevd/plan.h; this file
 * only implements them. No I/O, no clock, no randomness: every loop runs in an
 * order fixed by the inputs (inventory order, policy order).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "mdevd_uuid.h"

/* Room for a normalised type name: the policy's names are shorter, sysfs names too. */
#define NAME_BUF POL_NAME_MAX

/* One live mdev, as the planner sees it; one per inv->mdevs[], same order. */
struct live {
	const struct mdev_instance *m;
	const struct mdev_type *type; /* NULL when the inventory lacks its parent or type */
	size_t pidx;		      /* index in inv->parents; valid when has_parent */
	bool has_parent;
	bool owned;
	unsigned int slot; /* when owned */
	enum plan_action_kind kind;
	enum plan_reason reason;
	const struct plan_domain_ref *ref; /* a libvirt domain naming it, running first; or NULL */
	bool cdev_in_use;		   /* IN_USE because its iommufd cdev is open */
	bool allocated;			   /* IN_USE because kubelet was handed it */
};

/* What the policy wants of one type on one parent, in policy order. */
struct want {
	size_t pidx;
	const struct mdev_type *type; /* borrowed from the inventory */
	int count;		      /* exact, or POL_COUNT_MAX */
};

struct planner {
	const struct inventory *inv;
	const struct policy *pol;
	const struct plan_context *ctx;
	struct live *live;
	bool *managed; /* one per inv->parents[] */
	struct want *wants;
	size_t n_wants, cap_wants;
	struct plan_action *creates;
	size_t n_creates, cap_creates;
	struct plan_shortfall *shortfalls;
	size_t n_shortfalls, cap_shortfalls;
};

static void planner_release(struct planner *p)
{
	free(p->live);
	free(p->managed);
	free(p->wants);
	free(p->creates);
	free(p->shortfalls);
}

/* Make room for one more element in a growing array. Returns 0 or -ENOMEM. */
static int grow(void **array, size_t *cap, size_t n, size_t elem_size)
{
	size_t new_cap;
	void *p;

	if (n < *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : 8;
	p = reallocarray(*array, new_cap, elem_size);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = new_cap;
	return 0;
}

/* Does the policy's @want (a type id or a type name) name @t? */
static bool type_name_matches(const struct mdev_type *t, const char *want)
{
	char a[NAME_BUF], b[NAME_BUF];

	if (pol_normalize_name(want, a, sizeof(a)) < 0 ||
	    pol_normalize_name(t->name ? t->name : t->id, b, sizeof(b)) < 0)
		return false;
	return streq(a, b);
}

static bool type_matches(const struct mdev_type *t, const char *want)
{
	return streq(t->id, want) || type_name_matches(t, want);
}

static const struct mdev_parent *find_parent(const struct inventory *inv, const char *name,
					     size_t *idx)
{
	for (size_t i = 0; i < inv->n_parents; i++) {
		if (streq(inv->parents[i].name, name)) {
			*idx = i;
			return &inv->parents[i];
		}
	}
	return NULL;
}

static const struct mdev_type *find_type(const struct mdev_parent *parent, const char *id)
{
	for (size_t i = 0; i < parent->n_types; i++)
		if (streq(parent->types[i].id, id))
			return &parent->types[i];
	return NULL;
}

static bool machine_id_valid(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return i == 32;
}

int plan_derive_uuid(const char *machine_id, const char *parent, const char *type_id,
		     unsigned int slot, char out[MDEVD_UUID_STR_LEN])
{
	char name[1024];
	int n;

	if (!machine_id || !parent || !type_id || !out)
		return -EINVAL;
	n = snprintf(name, sizeof(name), "%s/%s/%s/%u", machine_id, parent, type_id, slot);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -ENAMETOOLONG;
	return mdevd_uuid_v5(MDEVD_UUID_NAMESPACE, name, out);
}

unsigned int plan_owned_slot_limit(const struct mdev_type *type)
{
	unsigned int cap;

	if (!type)
		return PLAN_OWNED_SLOTS_MIN;
	cap = type->n_instances + type->available_instances;
	if (cap < type->n_instances || cap > PLAN_OWNED_SLOTS_MAX) /* absurd sysfs values */
		cap = PLAN_OWNED_SLOTS_MAX;
	return cap > PLAN_OWNED_SLOTS_MIN ? cap : PLAN_OWNED_SLOTS_MIN;
}

/* Is @uuid the derived UUID of (parent, type_id) at a slot below @limit? */
static bool owned_slot(const char *machine_id, const char *parent, const char *type_id,
		       unsigned int limit, const char *uuid, unsigned int *slot)
{
	char u[MDEVD_UUID_STR_LEN];

	for (unsigned int s = 0; s < limit; s++) {
		if (plan_derive_uuid(machine_id, parent, type_id, s, u) < 0)
			return false;
		if (streq(u, uuid)) {
			if (slot)
				*slot = s;
			return true;
		}
	}
	return false;
}

bool plan_is_owned(const struct inventory *inv, const struct mdev_instance *m,
		   const char *machine_id, unsigned int *slot)
{
	const struct mdev_parent *parent;
	const struct mdev_type *type = NULL;
	size_t pidx;

	if (!m || !m->parent || !m->type_id || !machine_id)
		return false;
	if (m->backend == PARENT_BACKEND_NVIDIA_VGPU) {
		/* Every configured VF is mdevd's (plan.h "Backends"); the slot is its rank. */
		unsigned int rank = 0;

		for (size_t i = 0; inv && i < inv->n_mdevs && &inv->mdevs[i] != m; i++)
			rank += inv->mdevs[i].backend == PARENT_BACKEND_NVIDIA_VGPU &&
				streq(inv->mdevs[i].parent, m->parent) &&
				streq(inv->mdevs[i].type_id, m->type_id);
		if (slot)
			*slot = rank;
		return true;
	}
	parent = inv ? find_parent(inv, m->parent, &pidx) : NULL;
	if (parent)
		type = find_type(parent, m->type_id);
	return owned_slot(machine_id, m->parent, m->type_id, plan_owned_slot_limit(type), m->uuid,
			  slot);
}

static bool group_in_use(const struct plan_context *ctx, int group)
{
	if (group < 0)
		return false;
	for (size_t i = 0; i < ctx->n_in_use_groups; i++)
		if (ctx->in_use_groups[i] == group)
			return true;
	return false;
}

static bool cdev_in_use(const struct plan_context *ctx, const struct mdev_instance *m)
{
	if (!m->has_vfio_cdev)
		return false;
	for (size_t i = 0; i < ctx->n_in_use_cdevs; i++)
		if (ctx->in_use_cdevs[i] == m->vfio_cdev)
			return true;
	return false;
}

static bool allocated(const struct plan_context *ctx, const char *id)
{
	for (size_t i = 0; i < ctx->n_allocated_ids; i++)
		if (ctx->allocated_ids[i] && strcasecmp(ctx->allocated_ids[i], id) == 0)
			return true;
	return false;
}

/*
 * A libvirt domain that names @m: by UUID, or, for an NVIDIA vGPU, by its VF's address
 * (which is what the instance's uuid holds).
 */
static const struct plan_domain_ref *find_domain_ref(const struct planner *p, const struct live *l)
{
	const struct plan_context *ctx = p->ctx;
	const char *vf = NULL;
	const struct plan_domain_ref *best = NULL;

	if (l->m->backend == PARENT_BACKEND_NVIDIA_VGPU)
		vf = l->m->uuid;
	for (size_t i = 0; i < ctx->n_domain_refs; i++) {
		const struct plan_domain_ref *r = &ctx->domain_refs[i];

		if (!r->id || !r->domain)
			continue;
		if (strcasecmp(r->id, l->m->uuid) != 0 && !(vf && strcasecmp(r->id, vf) == 0))
			continue;
		/* A running domain wins; of equals, the first in the context's order. */
		if (!best || (r->running && !best->running))
			best = r;
	}
	return best;
}

static struct want *find_want(struct planner *p, size_t pidx, const struct mdev_type *type)
{
	for (size_t i = 0; i < p->n_wants; i++)
		if (p->wants[i].pidx == pidx && p->wants[i].type == type)
			return &p->wants[i];
	return NULL;
}

static int add_want(struct planner *p, size_t pidx, const struct mdev_type *type, int count)
{
	int r;

	r = grow((void **)&p->wants, &p->cap_wants, p->n_wants, sizeof(*p->wants));
	if (r < 0)
		return r;
	p->wants[p->n_wants++] = (struct want){.pidx = pidx, .type = type, .count = count};
	p->managed[pidx] = true;
	return 0;
}

/* --- mode (b): mdevd.layouts --- */

/* A type request on one parent: by type id, else by normalised name (first in id order). */
static const struct mdev_type *resolve_request(const struct mdev_parent *parent, const char *req)
{
	const struct mdev_type *t = find_type(parent, req);

	if (t)
		return t;
	for (size_t i = 0; i < parent->n_types; i++)
		if (type_name_matches(&parent->types[i], req))
			return &parent->types[i];
	return NULL;
}

static int wants_from_layouts(struct planner *p)
{
	const struct inventory *inv = p->inv;
	int r;

	for (size_t li = 0; li < p->pol->n_layouts; li++) {
		const struct pol_layout *l = &p->pol->layouts[li];

		for (size_t pi = 0; pi < inv->n_parents; pi++) {
			const struct mdev_parent *parent = &inv->parents[pi];

			/* The most specific layout that selects a parent has it. */
			if (p->managed[pi] || pol_get_layout(p->pol, parent) != l)
				continue;
			p->managed[pi] = true;
			for (size_t ti = 0; ti < l->n_types; ti++) {
				const struct pol_type_request *req = &l->types[ti];
				const struct mdev_type *t = resolve_request(parent, req->type);

				if (!t || find_want(p, pi, t))
					continue;
				r = add_want(p, pi, t, req->count < 0 ? POL_COUNT_MAX : req->count);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* --- mode (a): mediatedDeviceTypes, KubeVirt's round robin --- */

/* The position of the first list entry that names @t, or -1. */
static long list_rank(const struct policy *pol, const struct mdev_type *t)
{
	for (size_t i = 0; i < pol->n_mediated_device_types; i++)
		if (type_matches(t, pol->mediated_device_types[i]))
			return (long)i;
	return -1;
}

struct ring_entry {
	const char *id;
	long rank;
	bool alive;
};

static int ring_entry_cmp(const void *a, const void *b)
{
	const struct ring_entry *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Does @rank order (rank, id) before (best_rank, best_id)? */
static bool ranks_before(long rank, const char *id, long best_rank, const char *best_id)
{
	if (best_rank < 0)
		return true;
	return rank < best_rank || (rank == best_rank && strcmp(id, best_id) < 0);
}

static int wants_from_type_list(struct planner *p)
{
	const struct inventory *inv = p->inv;
	_cleanup_free_ const struct mdev_type **assigned = NULL;
	_cleanup_free_ bool *pool = NULL;
	_cleanup_free_ struct ring_entry *ring = NULL;
	size_t n_ring = 0, cap_ring = 0, n_pool = 0, alive;
	int r;

	assigned = calloc(inv->n_parents ? inv->n_parents : 1, sizeof(*assigned));
	pool = calloc(inv->n_parents ? inv->n_parents : 1, sizeof(*pool));
	if (!assigned || !pool)
		return -ENOMEM;

	for (size_t pi = 0; pi < inv->n_parents; pi++) {
		const struct mdev_parent *parent = &inv->parents[pi];
		const struct mdev_type *keep = NULL;
		long keep_rank = -1;
		bool offers = false, foreign = false;

		for (size_t ti = 0; ti < parent->n_types; ti++) {
			long rank = list_rank(p->pol, &parent->types[ti]);

			if (rank < 0)
				continue;
			offers = true;
			/* The ring: each listed type id once, with its best rank. */
			for (size_t k = 0; k <= n_ring; k++) {
				if (k == n_ring) {
					r = grow((void **)&ring, &cap_ring, n_ring, sizeof(*ring));
					if (r < 0)
						return r;
					ring[n_ring++] =
						(struct ring_entry){.id = parent->types[ti].id,
								    .rank = rank,
								    .alive = true};
					break;
				}
				if (streq(ring[k].id, parent->types[ti].id)) {
					if (rank < ring[k].rank)
						ring[k].rank = rank;
					break;
				}
			}
		}
		if (!offers)
			continue; /* rule 1: not managed */

		for (size_t mi = 0; mi < inv->n_mdevs; mi++) {
			const struct live *l = &p->live[mi];
			long rank;

			if (!l->has_parent || l->pidx != pi)
				continue;
			rank = l->type ? list_rank(p->pol, l->type) : -1;
			if (rank >= 0) {
				if (ranks_before(rank, l->type->id, keep_rank,
						 keep ? keep->id : NULL)) {
					keep = l->type;
					keep_rank = rank;
				}
			} else if (!l->owned) {
				foreign = true;
			}
		}
		if (keep) {
			assigned[pi] = keep; /* rule 2 */
		} else if (foreign && !p->pol->remove_unowned) {
			continue; /* rule 3: configured by someone else */
		} else {
			pool[pi] = true; /* rule 4 */
			n_pool++;
		}
	}

	/* Rule 4: round robin over the ring; each type takes the next free parent. */
	if (n_ring)
		qsort(ring, n_ring, sizeof(*ring), ring_entry_cmp);
	alive = n_ring;
	for (size_t pos = 0; n_pool > 0 && alive > 0; pos = (pos + 1) % n_ring) {
		struct ring_entry *e = &ring[pos];
		bool found = false;

		if (!e->alive)
			continue;
		for (size_t pi = 0; pi < inv->n_parents && !found; pi++) {
			const struct mdev_type *t;

			if (!pool[pi] || assigned[pi])
				continue;
			t = find_type(&inv->parents[pi], e->id);
			if (!t || list_rank(p->pol, t) < 0)
				continue;
			assigned[pi] = t;
			n_pool--;
			found = true;
		}
		if (!found) {
			e->alive = false;
			alive--;
		}
	}

	for (size_t pi = 0; pi < inv->n_parents; pi++) {
		if (!assigned[pi])
			continue;
		r = add_want(p, pi, assigned[pi], POL_COUNT_MAX);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- classification of live mdevs --- */

/* The highest exact count wanted of (pidx, type) by a layout, for ownership checks. */
static unsigned int wanted_exact(struct planner *p, size_t pidx, const struct mdev_type *type)
{
	const struct want *w = find_want(p, pidx, type);

	return w && w->count > 0 ? (unsigned int)w->count : 0;
}

static void classify_ownership(struct planner *p)
{
	const struct inventory *inv = p->inv;

	for (size_t mi = 0; mi < inv->n_mdevs; mi++) {
		struct live *l = &p->live[mi];
		const struct mdev_parent *parent;
		unsigned int limit, exact = 0;

		l->m = &inv->mdevs[mi];
		parent = find_parent(inv, l->m->parent, &l->pidx);
		l->has_parent = parent != NULL;
		l->type = parent ? find_type(parent, l->m->type_id) : NULL;
		limit = plan_owned_slot_limit(l->type);
		if (parent && l->type)
			exact = wanted_exact(p, l->pidx, l->type);
		if (exact > limit)
			limit = exact;
		if (l->m->backend == PARENT_BACKEND_NVIDIA_VGPU) {
			/* No owner on record: every configured VF is mdevd's; slot = its rank. */
			l->owned = true;
			l->slot = 0;
			for (size_t k = 0; k < mi; k++)
				if (inv->mdevs[k].backend == PARENT_BACKEND_NVIDIA_VGPU &&
				    streq(inv->mdevs[k].parent, l->m->parent) &&
				    streq(inv->mdevs[k].type_id, l->m->type_id))
					l->slot++;
			continue;
		}
		l->owned = owned_slot(p->ctx->machine_id, l->m->parent, l->m->type_id, limit,
				      l->m->uuid, &l->slot);
		if (!l->owned)
			l->slot = 0;
	}
}

static void classify_actions(struct planner *p)
{
	/* No layouts, and no enabled mediatedDeviceTypes: the policy has no mdev side. */
	bool hands_off = p->pol->n_layouts == 0 && (p->pol->n_mediated_device_types == 0 ||
						    p->pol->mediated_devices_disabled);

	for (size_t mi = 0; mi < p->inv->n_mdevs; mi++) {
		struct live *l = &p->live[mi];
		const struct want *w;
		bool managed, remove;

		l->ref = find_domain_ref(p, l);
		managed = l->has_parent && p->managed[l->pidx];
		/*
		 * Off a managed parent only owned mdevs can go (nothing wants them), and
		 * none when the policy has no mdev side at all.
		 */
		if (!managed && (!l->owned || hands_off)) {
			l->kind = PLAN_KEEP;
			l->reason = l->owned ? PLAN_REASON_UNMANAGED : PLAN_REASON_FOREIGN;
			continue;
		}
		/*
		 * A vGPU VF is mdevd's only on a card the policy manages (the driver records no
		 * owner): a fleet policy's layout for another model must not free this card.
		 */
		if (!managed && l->m->backend == PARENT_BACKEND_NVIDIA_VGPU) {
			l->kind = PLAN_KEEP;
			l->reason = PLAN_REASON_CARD_UNSELECTED;
			continue;
		}
		w = managed && l->type ? find_want(p, l->pidx, l->type) : NULL;
		if (l->owned && w &&
		    (w->count == POL_COUNT_MAX || l->slot < (unsigned int)w->count)) {
			l->kind = PLAN_KEEP;
			l->reason = PLAN_REASON_WANTED;
			continue;
		}
		if (l->owned) {
			remove = true;
			l->reason = PLAN_REASON_NOT_WANTED;
		} else {
			remove = p->pol->remove_unowned;
			l->reason = remove ? PLAN_REASON_FOREIGN_REMOVE : PLAN_REASON_FOREIGN;
		}
		l->kind = remove ? PLAN_REMOVE : PLAN_KEEP;
		if (remove && group_in_use(p->ctx, l->m->iommu_group)) {
			l->kind = PLAN_KEEP;
			l->reason = PLAN_REASON_IN_USE;
		} else if (remove && cdev_in_use(p->ctx, l->m)) {
			l->kind = PLAN_KEEP;
			l->reason = PLAN_REASON_IN_USE;
			l->cdev_in_use = true;
		} else if (remove && allocated(p->ctx, l->m->uuid)) {
			l->kind = PLAN_KEEP;
			l->reason = PLAN_REASON_IN_USE;
			l->allocated = true;
		} else if (remove && l->ref) {
			l->kind = PLAN_KEEP;
			l->reason = l->ref->running ? PLAN_REASON_IN_USE : PLAN_REASON_RESERVED;
		}
	}
}

/* --- creates --- */

/* Is @uuid live as an mdev that stays (so a create with it would get EEXIST)? */
static bool uuid_blocked(struct planner *p, const char *uuid)
{
	for (size_t mi = 0; mi < p->inv->n_mdevs; mi++)
		if (streq(p->inv->mdevs[mi].uuid, uuid))
			return p->live[mi].kind != PLAN_REMOVE;
	return false;
}

static int uint_cmp(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/*
 * NVIDIA vGPU: the VF a create of @w takes: the lowest-addressed free VF whose list offers
 * the type and that no earlier create took. NULL when none is left.
 */
static const struct vgpu_vf *pick_vf(const struct planner *p, const struct want *w)
{
	const struct mdev_parent *card = &p->inv->parents[w->pidx];
	unsigned int id = 0;

	for (const char *c = w->type->id; *c >= '0' && *c <= '9'; c++)
		id = id * 10 + (unsigned int)(*c - '0');
	for (size_t i = 0; i < card->n_vfs; i++) {
		const struct vgpu_vf *vf = &card->vfs[i];
		bool taken = false, offers = false;

		if (vf->current_type)
			continue;
		for (size_t k = 0; k < vf->n_creatable && !offers; k++)
			offers = vf->creatable[k] == id;
		for (size_t k = 0; k < p->n_creates && !taken; k++)
			taken = streq(p->creates[k].uuid, vf->address);
		if (offers && !taken)
			return vf;
	}
	return NULL;
}

static int add_create(struct planner *p, const struct want *w, unsigned int slot, const char *uuid)
{
	int r;

	r = grow((void **)&p->creates, &p->cap_creates, p->n_creates, sizeof(*p->creates));
	if (r < 0)
		return r;
	p->creates[p->n_creates] = (struct plan_action){
		.kind = PLAN_CREATE,
		.reason = PLAN_REASON_WANTED,
		.parent = p->inv->parents[w->pidx].name,
		.type_id = w->type->id,
		.owned = true,
		.slot = slot,
		.iommu_group = -1,
		.backend = p->inv->parents[w->pidx].backend,
	};
	snprintf(p->creates[p->n_creates].uuid, MDEVD_UUID_STR_LEN, "%s", uuid);
	p->n_creates++;
	return 0;
}

static int plan_want(struct planner *p, const struct want *w)
{
	const char *parent = p->inv->parents[w->pidx].name;
	_cleanup_free_ unsigned int *have = NULL;
	unsigned int n_have = 0, removes = 0, capacity, wanted, limit, created = 0, blocked = 0;
	unsigned int next = 0;
	char uuid[MDEVD_UUID_STR_LEN];
	int r;

	have = calloc(p->inv->n_mdevs ? p->inv->n_mdevs : 1, sizeof(*have));
	if (!have)
		return -ENOMEM;
	for (size_t mi = 0; mi < p->inv->n_mdevs; mi++) {
		const struct live *l = &p->live[mi];

		if (!l->has_parent || l->pidx != w->pidx || l->type != w->type)
			continue;
		if (l->kind == PLAN_REMOVE)
			removes++;
		else if (l->reason == PLAN_REASON_WANTED)
			have[n_have++] = l->slot;
	}
	qsort(have, n_have, sizeof(*have), uint_cmp);

	/* Each planned removal of this same (parent, type) frees one instance. */
	capacity = w->type->available_instances + removes;
	if (w->count == POL_COUNT_MAX) {
		wanted = n_have + capacity;
		limit = plan_owned_slot_limit(w->type);
	} else {
		wanted = (unsigned int)w->count;
		limit = wanted;
	}

	/* Lowest free slots first; @have is sorted, so walk it alongside. */
	for (unsigned int s = 0; s < limit && capacity > 0; s++) {
		if (next < n_have && have[next] == s) {
			next++;
			continue;
		}
		if (p->inv->parents[w->pidx].backend == PARENT_BACKEND_NVIDIA_VGPU) {
			const struct vgpu_vf *vf = pick_vf(p, w);

			if (!vf)
				break; /* no free VF offers it: a shortfall, as no capacity */
			r = add_create(p, w, s, vf->address);
			if (r < 0)
				return r;
			capacity--;
			created++;
			continue;
		}
		r = plan_derive_uuid(p->ctx->machine_id, parent, w->type->id, s, uuid);
		if (r < 0)
			return r;
		if (uuid_blocked(p, uuid)) {
			blocked++;
			continue;
		}
		r = add_create(p, w, s, uuid);
		if (r < 0)
			return r;
		capacity--;
		created++;
	}

	if (n_have + created < wanted) {
		unsigned int missing = wanted - n_have - created;

		r = grow((void **)&p->shortfalls, &p->cap_shortfalls, p->n_shortfalls,
			 sizeof(*p->shortfalls));
		if (r < 0)
			return r;
		p->shortfalls[p->n_shortfalls++] = (struct plan_shortfall){
			.parent = parent,
			.type_id = w->type->id,
			.wanted = wanted,
			.planned = n_have + created,
			.blocked = blocked < missing ? blocked : missing,
		};
	}
	return 0;
}

/* --- assembly --- */

/* Parent name, type id, owned before foreign, then @slot_dir * slot, then UUID. */
static int action_order(const struct plan_action *x, const struct plan_action *y, int slot_dir)
{
	int c;

	c = strcmp(x->parent, y->parent);
	if (c)
		return c;
	c = strcmp(x->type_id, y->type_id);
	if (c)
		return c;
	if (x->owned != y->owned)
		return x->owned ? -1 : 1;
	if (x->slot != y->slot)
		return (x->slot < y->slot ? -1 : 1) * slot_dir;
	return strcmp(x->uuid, y->uuid);
}

/* REMOVEs: highest slot first, so an interrupted shrink leaves the low slots. */
static int remove_cmp(const void *a, const void *b)
{
	return action_order(a, b, -1);
}

static int keep_cmp(const void *a, const void *b)
{
	return action_order(a, b, 1);
}

static void live_action(const struct live *l, struct plan_action *a)
{
	*a = (struct plan_action){
		.kind = l->kind,
		.reason = l->reason,
		.parent = l->m->parent,
		.type_id = l->m->type_id,
		.owned = l->owned,
		.slot = l->owned ? l->slot : 0,
		.iommu_group = l->m->iommu_group,
		.domain = l->ref ? l->ref->domain : NULL,
		.domain_running = l->ref && l->ref->running,
		.backend = l->m->backend,
		.has_cdev = l->m->has_vfio_cdev,
		.cdev = l->m->vfio_cdev,
		.cdev_in_use = l->cdev_in_use,
		.allocated = l->allocated,
	};
	memcpy(a->uuid, l->m->uuid, MDEVD_UUID_STR_LEN);
	a->uuid[MDEVD_UUID_STR_LEN - 1] = '\0';
}

static int assemble(struct planner *p, struct plan **out)
{
	_cleanup_(plan_freep) struct plan *plan = NULL;
	size_t n_remove = 0, n_keep = 0, i_remove, i_keep;

	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return -ENOMEM;
	for (size_t mi = 0; mi < p->inv->n_mdevs; mi++) {
		if (p->live[mi].kind == PLAN_REMOVE)
			n_remove++;
		else
			n_keep++;
	}
	plan->n_actions = n_remove + p->n_creates + n_keep;
	plan->actions = calloc(plan->n_actions ? plan->n_actions : 1, sizeof(*plan->actions));
	if (!plan->actions)
		return -ENOMEM;

	i_remove = 0;
	i_keep = n_remove + p->n_creates;
	for (size_t mi = 0; mi < p->inv->n_mdevs; mi++) {
		const struct live *l = &p->live[mi];

		live_action(l, &plan->actions[l->kind == PLAN_REMOVE ? i_remove++ : i_keep++]);
	}
	if (n_remove)
		qsort(plan->actions, n_remove, sizeof(*plan->actions), remove_cmp);
	if (n_keep)
		qsort(plan->actions + n_remove + p->n_creates, n_keep, sizeof(*plan->actions),
		      keep_cmp);
	if (p->n_creates)
		memcpy(plan->actions + n_remove, p->creates, p->n_creates * sizeof(*p->creates));
	plan->n_remove = n_remove;
	plan->n_create = p->n_creates;

	plan->shortfalls = steal_ptr(p->shortfalls);
	plan->n_shortfalls = p->n_shortfalls;
	p->n_shortfalls = p->cap_shortfalls = 0;

	*out = steal_ptr(plan);
	return 0;
}

int plan_build(const struct inventory *inv, const struct policy *pol,
	       const struct plan_context *ctx, struct plan **out)
{
	_cleanup_(planner_release) struct planner p = {.inv = inv, .pol = pol, .ctx = ctx};
	int r;

	if (!inv || !pol || !ctx || !out || !machine_id_valid(ctx->machine_id))
		return -EINVAL;
	p.live = calloc(inv->n_mdevs ? inv->n_mdevs : 1, sizeof(*p.live));
	p.managed = calloc(inv->n_parents ? inv->n_parents : 1, sizeof(*p.managed));
	if (!p.live || !p.managed)
		return -ENOMEM;

	/* Layouts first: their exact counts widen the ownership check. */
	if (pol->n_layouts > 0) {
		r = wants_from_layouts(&p);
		if (r < 0)
			return r;
	}
	classify_ownership(&p);
	/* enabled: false turns KubeVirt's list off; mdevd's own layouts still apply. */
	if (pol->n_layouts == 0 && !pol->mediated_devices_disabled) {
		r = wants_from_type_list(&p);
		if (r < 0)
			return r;
	}
	classify_actions(&p);
	for (size_t i = 0; i < p.n_wants; i++) {
		r = plan_want(&p, &p.wants[i]);
		if (r < 0)
			return r;
	}
	return assemble(&p, out);
}

void plan_free(struct plan *plan)
{
	if (!plan)
		return;
	free(plan->actions);
	free(plan->shortfalls);
	free(plan);
}

const char *plan_action_kind_str(enum plan_action_kind kind)
{
	switch (kind) {
	case PLAN_CREATE:
		return "create";
	case PLAN_REMOVE:
		return "remove";
	case PLAN_KEEP:
		return "keep";
	}
	return "?";
}

const char *plan_reason_str(enum plan_reason reason)
{
	switch (reason) {
	case PLAN_REASON_WANTED:
		return "wanted by the policy";
	case PLAN_REASON_NOT_WANTED:
		return "no longer wanted";
	case PLAN_REASON_FOREIGN:
		return "not created by mdevd";
	case PLAN_REASON_FOREIGN_REMOVE:
		return "not created by mdevd; removeUnowned is set";
	case PLAN_REASON_IN_USE:
		return "in use: its /dev/vfio group is open";
	case PLAN_REASON_UNMANAGED:
		return "not managed: the policy has no mdev side";
	case PLAN_REASON_RESERVED:
		return "reserved by a defined libvirt domain";
	case PLAN_REASON_CARD_UNSELECTED:
		return "not managed: no rule of the policy selects this card";
	}
	return "?";
}

const char *plan_action_reason(const struct plan_action *a, char *buf, size_t size)
{
	if (!size)
		return buf;
	/* The kernel's evidence (an open group) first: it is what blocks a remove. */
	if (a->reason == PLAN_REASON_IN_USE && a->domain && a->domain_running)
		snprintf(buf, size, "in use by libvirt domain %s (running)", a->domain);
	else if (a->reason == PLAN_REASON_IN_USE && a->allocated)
		snprintf(buf, size, "in use: kubelet allocated it to a pod");
	else if (a->reason == PLAN_REASON_IN_USE && a->cdev_in_use)
		snprintf(buf, size, "in use: /dev/vfio/devices/vfio%u is open", a->cdev);
	else if (a->reason == PLAN_REASON_IN_USE && a->iommu_group >= 0)
		snprintf(buf, size, "in use: /dev/vfio/%d is open", a->iommu_group);
	else if (a->reason == PLAN_REASON_IN_USE && a->domain)
		snprintf(buf, size, "in use by libvirt domain %s (running)", a->domain);
	else if (a->reason == PLAN_REASON_RESERVED && a->domain)
		snprintf(buf, size, "reserved by libvirt domain %s", a->domain);
	else
		snprintf(buf, size, "%s", plan_reason_str(a->reason));
	return buf;
}
