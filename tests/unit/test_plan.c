/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The planner against in-memory inventories. A small node model stands in for
 * the kernel: it recomputes available_instances from the live instances the way
 * the sample drivers and NVIDIA do (independent counts, a shared pool, one type
 * per GPU), and a simulated applier executes plans against it, so convergence
 * over several rounds is tested the way the real applier loops.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MDEVD_TEST_FIXTURE_INVENTORY
#include "testutil.h"

#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "node/sysfs.h"

#define MID	      "0123456789abcdef0123456789abcdef"
#define MID2	      "fedcba9876543210fedcba9876543210"
#define NS	      MDEVD_UUID_NAMESPACE
#define FOREIGN_UUID1 "11111111-2222-4333-8444-555555555555"
#define FOREIGN_UUID2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

/* --- a node model --- */

enum model {
	MODEL_INDEPENDENT, /* avail(T) = max(T) - n(T) */
	MODEL_POOL,	   /* avail(T) = (pool - sum n(Ti) * cost(Ti)) / cost(T): mtty, mbochs */
	MODEL_TIMESLICED,  /* NVIDIA: once one type has instances, every other type reads 0 */
};

struct tcap {
	char parent[64], type[64];
	unsigned int max, cost;
};

struct tpar {
	char name[64];
	enum model model;
	unsigned int pool;
};

struct node {
	struct inventory inv;
	struct tpar par[16];
	size_t n_par;
	struct tcap cap[64];
	size_t n_cap;
};

static char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return d;
}

static struct node *node_new(void)
{
	struct node *n = calloc(1, sizeof(*n));

	assert_non_null(n);
	return n;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->inv.n_parents; i++) {
		struct mdev_parent *p = &n->inv.parents[i];

		for (size_t j = 0; j < p->n_types; j++) {
			free(p->types[j].id);
			free(p->types[j].name);
			free(p->types[j].description);
			free(p->types[j].device_api);
		}
		free(p->types);
		free(p->name);
		free(p->pci_address);
		free(p->physfn);
	}
	free(n->inv.parents);
	for (size_t i = 0; i < n->inv.n_mdevs; i++) {
		free(n->inv.mdevs[i].parent);
		free(n->inv.mdevs[i].type_id);
	}
	free(n->inv.mdevs);
	free(n);
}

static struct mdev_parent *node_parent_get(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->inv.n_parents; i++)
		if (streq(n->inv.parents[i].name, name))
			return &n->inv.parents[i];
	fail_msg("no parent %s in the test node", name);
	return NULL;
}

static struct mdev_type *node_type_get(struct node *n, const char *parent, const char *type)
{
	struct mdev_parent *p = node_parent_get(n, parent);

	for (size_t j = 0; j < p->n_types; j++)
		if (streq(p->types[j].id, type))
			return &p->types[j];
	fail_msg("no type %s on %s in the test node", type, parent);
	return NULL;
}

static struct tpar *node_tpar(struct node *n, const char *parent)
{
	for (size_t i = 0; i < n->n_par; i++)
		if (streq(n->par[i].name, parent))
			return &n->par[i];
	fail_msg("no model for %s", parent);
	return NULL;
}

static struct tcap *node_tcap(struct node *n, const char *parent, const char *type)
{
	for (size_t i = 0; i < n->n_cap; i++)
		if (streq(n->cap[i].parent, parent) && streq(n->cap[i].type, type))
			return &n->cap[i];
	fail_msg("no model for %s %s", parent, type);
	return NULL;
}

/* What the kernel would show in n_instances and available_instances now. */
static void node_recompute(struct node *n)
{
	for (size_t i = 0; i < n->inv.n_parents; i++) {
		struct mdev_parent *p = &n->inv.parents[i];
		const struct tpar *tp = node_tpar(n, p->name);
		unsigned int used = 0;
		bool any_other;

		for (size_t j = 0; j < p->n_types; j++) {
			struct mdev_type *t = &p->types[j];

			t->n_instances = 0;
			for (size_t k = 0; k < n->inv.n_mdevs; k++)
				if (streq(n->inv.mdevs[k].parent, p->name) &&
				    streq(n->inv.mdevs[k].type_id, t->id))
					t->n_instances++;
			used += t->n_instances * node_tcap(n, p->name, t->id)->cost;
		}
		for (size_t j = 0; j < p->n_types; j++) {
			struct mdev_type *t = &p->types[j];
			const struct tcap *c = node_tcap(n, p->name, t->id);

			switch (tp->model) {
			case MODEL_INDEPENDENT:
				t->available_instances =
					c->max > t->n_instances ? c->max - t->n_instances : 0;
				break;
			case MODEL_POOL:
				t->available_instances =
					tp->pool > used ? (tp->pool - used) / c->cost : 0;
				break;
			case MODEL_TIMESLICED:
				any_other = false;
				for (size_t k = 0; k < p->n_types; k++)
					if (k != j && p->types[k].n_instances)
						any_other = true;
				t->available_instances = !any_other && c->max > t->n_instances
								 ? c->max - t->n_instances
								 : 0;
				break;
			}
		}
	}
}

static int parent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mdev_parent *)a)->name, ((const struct mdev_parent *)b)->name);
}

static int type_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mdev_type *)a)->id, ((const struct mdev_type *)b)->id);
}

static int mdev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mdev_instance *)a)->uuid,
		      ((const struct mdev_instance *)b)->uuid);
}

/* A parent; @pci is its address (NULL for a virtual parent like mtty). */
static void node_parent(struct node *n, const char *name, const char *pci, uint16_t vendor,
			uint16_t device, enum model model, unsigned int pool)
{
	struct mdev_parent *p;

	n->inv.parents = realloc(n->inv.parents, (n->inv.n_parents + 1) * sizeof(*p));
	assert_non_null(n->inv.parents);
	p = &n->inv.parents[n->inv.n_parents++];
	*p = (struct mdev_parent){
		.name = xstrdup(name),
		.pci_address = xstrdup(pci),
		.vendor_id = vendor,
		.device_id = device,
		.numa_node = -1,
		.backend = PARENT_BACKEND_MDEV,
	};
	qsort(n->inv.parents, n->inv.n_parents, sizeof(*p), parent_cmp);
	assert_true(n->n_par < ARRAY_SIZE(n->par));
	n->par[n->n_par].model = model;
	n->par[n->n_par].pool = pool;
	snprintf(n->par[n->n_par++].name, sizeof(n->par[0].name), "%s", name);
}

/* A type: @max instances when alone (MODEL_INDEPENDENT, MODEL_TIMESLICED), @cost pool units. */
static void node_type(struct node *n, const char *parent, const char *id, const char *name,
		      unsigned int max, unsigned int cost)
{
	struct mdev_parent *p = node_parent_get(n, parent);
	struct mdev_type *t;

	p->types = realloc(p->types, (p->n_types + 1) * sizeof(*t));
	assert_non_null(p->types);
	t = &p->types[p->n_types++];
	*t = (struct mdev_type){
		.id = xstrdup(id),
		.name = xstrdup(name ? name : id),
		.device_api = xstrdup("vfio-pci"),
	};
	qsort(p->types, p->n_types, sizeof(*t), type_cmp);
	assert_true(n->n_cap < ARRAY_SIZE(n->cap));
	n->cap[n->n_cap].max = max;
	n->cap[n->n_cap].cost = cost ? cost : 1;
	snprintf(n->cap[n->n_cap].parent, sizeof(n->cap[0].parent), "%s", parent);
	snprintf(n->cap[n->n_cap++].type, sizeof(n->cap[0].type), "%s", id);
	node_recompute(n);
}

static void node_mdev(struct node *n, const char *uuid, const char *parent, const char *type,
		      int group)
{
	struct mdev_instance *m;

	n->inv.mdevs = realloc(n->inv.mdevs, (n->inv.n_mdevs + 1) * sizeof(*m));
	assert_non_null(n->inv.mdevs);
	m = &n->inv.mdevs[n->inv.n_mdevs++];
	memset(m, 0, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	m->parent = xstrdup(parent);
	m->type_id = xstrdup(type);
	m->iommu_group = group;
	qsort(n->inv.mdevs, n->inv.n_mdevs, sizeof(*m), mdev_cmp);
	node_recompute(n);
}

static void derive(const char *parent, const char *type, unsigned int slot,
		   char out[MDEVD_UUID_STR_LEN])
{
	assert_int_equal(plan_derive_uuid(MID, parent, type, slot, out), 0);
}

/* An mdev that mdevd created for (parent, type, slot). */
static void node_owned(struct node *n, const char *parent, const char *type, unsigned int slot,
		       int group)
{
	char u[MDEVD_UUID_STR_LEN];

	derive(parent, type, slot, u);
	node_mdev(n, u, parent, type, group);
}

static void node_remove_mdev(struct node *n, const char *uuid)
{
	for (size_t i = 0; i < n->inv.n_mdevs; i++) {
		if (!streq(n->inv.mdevs[i].uuid, uuid))
			continue;
		free(n->inv.mdevs[i].parent);
		free(n->inv.mdevs[i].type_id);
		memmove(&n->inv.mdevs[i], &n->inv.mdevs[i + 1],
			(n->inv.n_mdevs - i - 1) * sizeof(n->inv.mdevs[0]));
		n->inv.n_mdevs--;
		node_recompute(n);
		return;
	}
	fail_msg("remove of %s, which is not live", uuid);
}

static bool node_has_mdev(const struct node *n, const char *uuid)
{
	for (size_t i = 0; i < n->inv.n_mdevs; i++)
		if (streq(n->inv.mdevs[i].uuid, uuid))
			return true;
	return false;
}

static unsigned int node_count(const struct node *n, const char *parent, const char *type)
{
	unsigned int c = 0;

	for (size_t i = 0; i < n->inv.n_mdevs; i++)
		if (streq(n->inv.mdevs[i].parent, parent) && streq(n->inv.mdevs[i].type_id, type))
			c++;
	return c;
}

static struct node *node_clone(const struct node *src)
{
	struct node *n = node_new();

	memcpy(n->par, src->par, sizeof(n->par));
	n->n_par = src->n_par;
	memcpy(n->cap, src->cap, sizeof(n->cap));
	n->n_cap = src->n_cap;
	n->inv.n_parents = src->inv.n_parents;
	n->inv.parents = calloc(src->inv.n_parents + 1, sizeof(*n->inv.parents));
	assert_non_null(n->inv.parents);
	for (size_t i = 0; i < src->inv.n_parents; i++) {
		const struct mdev_parent *sp = &src->inv.parents[i];
		struct mdev_parent *p = &n->inv.parents[i];

		*p = *sp;
		p->name = xstrdup(sp->name);
		p->pci_address = xstrdup(sp->pci_address);
		p->physfn = xstrdup(sp->physfn);
		p->types = calloc(sp->n_types + 1, sizeof(*p->types));
		assert_non_null(p->types);
		for (size_t j = 0; j < sp->n_types; j++) {
			p->types[j] = sp->types[j];
			p->types[j].id = xstrdup(sp->types[j].id);
			p->types[j].name = xstrdup(sp->types[j].name);
			p->types[j].description = xstrdup(sp->types[j].description);
			p->types[j].device_api = xstrdup(sp->types[j].device_api);
		}
	}
	for (size_t i = 0; i < src->inv.n_mdevs; i++)
		node_mdev(n, src->inv.mdevs[i].uuid, src->inv.mdevs[i].parent,
			  src->inv.mdevs[i].type_id, src->inv.mdevs[i].iommu_group);
	node_recompute(n);
	return n;
}

/*
 * The applier, simulated: a copy of @n with @plan executed on it. Like the real
 * one it re-reads available_instances before each create and skips a create that
 * no longer fits or whose UUID is taken. *steps counts what was done.
 */
static struct node *sim_apply(const struct node *n, const struct plan *plan, unsigned int *steps)
{
	struct node *next = node_clone(n);

	*steps = 0;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];

		switch (a->kind) {
		case PLAN_REMOVE:
			node_remove_mdev(next, a->uuid);
			(*steps)++;
			break;
		case PLAN_CREATE:
			if (node_type_get(next, a->parent, a->type_id)->available_instances == 0 ||
			    node_has_mdev(next, a->uuid))
				break;
			node_mdev(next, a->uuid, a->parent, a->type_id, -1);
			(*steps)++;
			break;
		case PLAN_KEEP:
			break;
		}
	}
	return next;
}

DEFINE_CLEANUP(struct node, node_free)

static const struct plan_context ctx_plain = {.machine_id = MID};

static struct plan *build(const struct node *n, const struct policy *pol,
			  const struct plan_context *ctx)
{
	struct plan *plan = NULL;

	assert_int_equal(plan_build(&n->inv, pol, ctx ? ctx : &ctx_plain, &plan), 0);
	assert_non_null(plan);
	return plan;
}

/*
 * Loop inventory -> plan -> apply like the applier until a plan has nothing to do
 * or a round does nothing. Returns the rounds that did something; *np is the final node.
 */
static unsigned int converge(struct node **np, const struct policy *pol,
			     const struct plan_context *ctx)
{
	unsigned int rounds = 0;

	for (;;) {
		_cleanup_(plan_freep) struct plan *plan = build(*np, pol, ctx);
		unsigned int steps;
		struct node *next;

		if (plan->n_create == 0 && plan->n_remove == 0)
			return rounds;
		next = sim_apply(*np, plan, &steps);
		plan_free(steal_ptr(plan));
		node_free(*np);
		*np = next;
		if (steps == 0)
			return rounds;
		rounds++;
		assert_true(rounds < 8);
	}
}

/* --- plan helpers --- */

static const struct plan_action *find_action(const struct plan *plan, const char *uuid)
{
	for (size_t i = 0; i < plan->n_actions; i++)
		if (streq(plan->actions[i].uuid, uuid))
			return &plan->actions[i];
	return NULL;
}

static const struct plan_action *find_slot(const struct plan *plan, const char *parent,
					   const char *type, unsigned int slot)
{
	char u[MDEVD_UUID_STR_LEN];

	derive(parent, type, slot, u);
	return find_action(plan, u);
}

/* Actions of @kind (and @reason, unless negative) on @parent (unless NULL) of @type (unless NULL).
 */
static unsigned int count_actions(const struct plan *plan, enum plan_action_kind kind, int reason,
				  const char *parent, const char *type)
{
	unsigned int c = 0;

	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];

		if (a->kind != kind || (reason >= 0 && a->reason != (enum plan_reason)reason))
			continue;
		if ((parent && !streq(a->parent, parent)) || (type && !streq(a->type_id, type)))
			continue;
		c++;
	}
	return c;
}

static const struct plan_shortfall *find_shortfall(const struct plan *plan, const char *parent,
						   const char *type)
{
	for (size_t i = 0; i < plan->n_shortfalls; i++)
		if (streq(plan->shortfalls[i].parent, parent) &&
		    streq(plan->shortfalls[i].type_id, type))
			return &plan->shortfalls[i];
	return NULL;
}

/* Structural checks every plan must pass: order, counts, borrowed strings. */
static void check_plan_shape(const struct node *n, const struct plan *plan)
{
	size_t creates = 0, removes = 0;
	int phase = 0; /* 0 removes, 1 creates, 2 keeps */

	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];
		int want = a->kind == PLAN_REMOVE ? 0 : a->kind == PLAN_CREATE ? 1 : 2;

		assert_true(want >= phase);
		phase = want;
		creates += a->kind == PLAN_CREATE;
		removes += a->kind == PLAN_REMOVE;
		assert_int_equal(strlen(a->uuid), 36);
		assert_non_null(node_parent_get((struct node *)n, a->parent));
		if (a->kind == PLAN_CREATE) {
			char u[MDEVD_UUID_STR_LEN];

			assert_true(a->owned);
			assert_int_equal(a->reason, PLAN_REASON_WANTED);
			assert_int_equal(a->iommu_group, -1);
			derive(a->parent, a->type_id, a->slot, u);
			assert_string_equal(u, a->uuid);
			/* Live only when the plan removes it first (a UUID freed elsewhere). */
			if (node_has_mdev(n, a->uuid)) {
				const struct plan_action *r = find_action(plan, a->uuid);

				assert_int_equal(r->kind, PLAN_REMOVE);
				assert_true(r < a);
			}
		} else {
			assert_true(node_has_mdev(n, a->uuid));
		}
	}
	assert_int_equal(creates, plan->n_create);
	assert_int_equal(removes, plan->n_remove);
	assert_int_equal(plan->n_actions - creates, n->inv.n_mdevs);
	for (size_t i = 0; i < plan->n_shortfalls; i++) {
		assert_true(plan->shortfalls[i].planned < plan->shortfalls[i].wanted);
		assert_true(plan->shortfalls[i].blocked <=
			    plan->shortfalls[i].wanted - plan->shortfalls[i].planned);
	}
}

/* --- common nodes --- */

/* The mtty sample: 24 ports shared by mtty-1 (1 port) and mtty-2 (2 ports). */
static struct node *node_mtty(void)
{
	struct node *n = node_new();

	node_parent(n, "mtty", NULL, 0, 0, MODEL_POOL, 24);
	node_type(n, "mtty", "mtty-1", "Single port serial", 0, 1);
	node_type(n, "mtty", "mtty-2", "Dual port serial", 0, 2);
	return n;
}

/* The mbochs sample: 512 MB shared; types of 64, 128 and 256 MB (units of 64 MB). */
static struct node *node_mbochs(void)
{
	struct node *n = node_new();

	node_parent(n, "mbochs", NULL, 0, 0, MODEL_POOL, 8);
	node_type(n, "mbochs", "mbochs-1", "mbochs-small", 0, 1);
	node_type(n, "mbochs", "mbochs-2", "mbochs-medium", 0, 2);
	node_type(n, "mbochs", "mbochs-3", "mbochs-large", 0, 4);
	return n;
}

/* Two T4s (10de:1eb8) and an A10 (10de:2236), time-sliced. */
static struct node *node_gpus(void)
{
	struct node *n = node_new();

	node_parent(n, "0000:65:00.0", "0000:65:00.0", 0x10de, 0x1eb8, MODEL_TIMESLICED, 0);
	node_parent(n, "0000:66:00.0", "0000:66:00.0", 0x10de, 0x1eb8, MODEL_TIMESLICED, 0);
	node_parent(n, "0000:82:00.0", "0000:82:00.0", 0x10de, 0x2236, MODEL_TIMESLICED, 0);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? "0000:66:00.0" : "0000:65:00.0";

		node_type(n, p, "nvidia-222", "GRID T4-1Q", 16, 1);
		node_type(n, p, "nvidia-223", "GRID T4-2Q", 8, 1);
	}
	node_type(n, "0000:82:00.0", "nvidia-592", "NVIDIA A10-4Q", 6, 1);
	node_type(n, "0000:82:00.0", "nvidia-593", "NVIDIA A10-8Q", 3, 1);
	return n;
}

/* --- UUIDs and ownership --- */

static void test_uuid_known_vectors(void **state)
{
	char u[MDEVD_UUID_STR_LEN];

	/* Computed once with `uuidgen --sha1 --namespace NS --name ...` (and Python's uuid5). */
	assert_int_equal(plan_derive_uuid(MID, "mtty", "mtty-2", 0, u), 0);
	assert_string_equal(u, "3f82e062-4aeb-520c-bdd0-abdad2982004");
	assert_int_equal(plan_derive_uuid(MID, "0000:65:00.0", "nvidia-222", 3, u), 0);
	assert_string_equal(u, "08044423-cbad-5867-b516-958e441fe543");
	assert_int_equal(plan_derive_uuid(MID2, "mtty", "mtty-2", 0, u), 0);
	assert_string_equal(u, "fd26f7be-c4bf-5184-8a63-16ed585bce53");
}

static void test_uuid_deterministic_and_distinct(void **state)
{
	char a[MDEVD_UUID_STR_LEN], b[MDEVD_UUID_STR_LEN];
	char v[4][MDEVD_UUID_STR_LEN];

	assert_int_equal(plan_derive_uuid(MID, "mtty", "mtty-1", 5, a), 0);
	assert_int_equal(plan_derive_uuid(MID, "mtty", "mtty-1", 5, b), 0);
	assert_string_equal(a, b);
	/* Version 5, RFC variant, lower case. */
	assert_int_equal(a[14], '5');
	assert_non_null(strchr("89ab", a[19]));
	for (const char *c = a; *c; c++)
		assert_true((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-');

	assert_int_equal(plan_derive_uuid(MID, "mtty", "mtty-1", 6, v[0]), 0);
	assert_int_equal(plan_derive_uuid(MID, "mtty", "mtty-2", 5, v[1]), 0);
	assert_int_equal(plan_derive_uuid(MID, "mdpy", "mtty-1", 5, v[2]), 0);
	assert_int_equal(plan_derive_uuid(MID2, "mtty", "mtty-1", 5, v[3]), 0);
	for (int i = 0; i < 4; i++) {
		assert_string_not_equal(a, v[i]);
		for (int j = i + 1; j < 4; j++)
			assert_string_not_equal(v[i], v[j]);
	}
}

static void test_uuid_errors(void **state)
{
	char u[MDEVD_UUID_STR_LEN] = "untouched";
	char longname[1100];

	assert_int_equal(plan_derive_uuid(NULL, "mtty", "mtty-1", 0, u), -EINVAL);
	assert_int_equal(plan_derive_uuid(MID, NULL, "mtty-1", 0, u), -EINVAL);
	assert_int_equal(plan_derive_uuid(MID, "mtty", NULL, 0, u), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(plan_derive_uuid(MID, longname, "mtty-1", 0, u), -ENAMETOOLONG);
	assert_string_equal(u, "untouched");
}

static void test_owned_recognised(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	char u[MDEVD_UUID_STR_LEN];
	unsigned int slot = 99;

	node_owned(n, "mtty", "mtty-2", 3, -1);
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-2", -1);
	/* The UUID of (mtty, mtty-2, slot 1) on an mtty-1 instance: not ours. */
	derive("mtty", "mtty-2", 1, u);
	node_mdev(n, u, "mtty", "mtty-1", -1);

	for (size_t i = 0; i < n->inv.n_mdevs; i++) {
		const struct mdev_instance *m = &n->inv.mdevs[i];
		bool owned = plan_is_owned(&n->inv, m, MID, &slot);

		if (streq(m->type_id, "mtty-2") && !streq(m->uuid, FOREIGN_UUID1)) {
			assert_true(owned);
			assert_int_equal(slot, 3);
			/* Another machine's mdevd does not own it. */
			assert_false(plan_is_owned(&n->inv, m, MID2, NULL));
		} else {
			assert_false(owned);
		}
	}
}

static void test_owned_slot_limit(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	struct mdev_type *t;
	unsigned int slot = 0;

	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "small", NULL, 4, 1);
	node_type(n, "p", "big", NULL, 100, 1);
	assert_int_equal(plan_owned_slot_limit(NULL), PLAN_OWNED_SLOTS_MIN);
	assert_int_equal(plan_owned_slot_limit(node_type_get(n, "p", "small")),
			 PLAN_OWNED_SLOTS_MIN);
	assert_int_equal(plan_owned_slot_limit(node_type_get(n, "p", "big")), 100);
	t = node_type_get(n, "p", "big");
	t->available_instances = 4000000000U; /* absurd: clamped */
	assert_int_equal(plan_owned_slot_limit(t), PLAN_OWNED_SLOTS_MAX);
	node_recompute(n);

	/* Capacity 4, slot 40: still recognised (the minimum); slot 70 is not. */
	node_owned(n, "p", "small", 40, -1);
	node_owned(n, "p", "small", 70, -1);
	/* Capacity 100: slot 70 is. */
	node_owned(n, "p", "big", 70, -1);
	for (size_t i = 0; i < n->inv.n_mdevs; i++) {
		const struct mdev_instance *m = &n->inv.mdevs[i];
		bool owned = plan_is_owned(&n->inv, m, MID, &slot);

		if (streq(m->type_id, "big")) {
			assert_true(owned);
			assert_int_equal(slot, 70);
		} else {
			char u40[MDEVD_UUID_STR_LEN];

			derive("p", "small", 40, u40);
			assert_int_equal(owned, streq(m->uuid, u40));
		}
	}
}

static void test_owned_beyond_limit_recognised_by_count(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"t", 80}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_action *a;

	/* Slot 70 of a type whose capacity now reads 3: beyond the generic bound... */
	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "t", NULL, 3, 1);
	node_owned(n, "p", "t", 70, -1);
	assert_false(plan_is_owned(&n->inv, &n->inv.mdevs[0], MID, NULL));
	/* ...but below the count the policy asks for: it is ours, and wanted. */
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	a = find_slot(plan, "p", "t", 70);
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->reason, PLAN_REASON_WANTED);
	assert_true(a->owned);
	assert_int_equal(a->slot, 70);
	assert_int_equal(plan->n_create, 2);
	assert_int_equal(find_shortfall(plan, "p", "t")->planned, 3);
	assert_int_equal(find_shortfall(plan, "p", "t")->blocked, 0);
}

static void test_owned_unknown_parent(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char u[MDEVD_UUID_STR_LEN];
	struct pol_type_request tr[] = {{"mtty-1", 0}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_action *a;

	/*
	 * An mdev whose parent the inventory does not list (it went away mid-scan):
	 * still ours, and no rule wants it.
	 */
	derive("gone", "gone-1", 2, u);
	node_mdev(n, u, "gone", "gone-1", -1);
	assert_true(plan_is_owned(&n->inv, &n->inv.mdevs[0], MID, NULL));
	plan = build(n, &pol, NULL);
	a = find_action(plan, u);
	assert_non_null(a);
	assert_int_equal(a->kind, PLAN_REMOVE);
	assert_int_equal(a->reason, PLAN_REASON_NOT_WANTED);
	assert_int_equal(a->slot, 2);
}

static void test_bad_machine_id(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	struct policy pol = {};
	struct plan *plan = (struct plan *)0x1;
	const char *bad[] = {
		"", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
		"0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdef\n"};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct plan_context ctx = {.machine_id = bad[i]};

		assert_int_equal(plan_build(&n->inv, &pol, &ctx, &plan), -EINVAL);
		assert_ptr_equal(plan, (struct plan *)0x1);
	}
	struct plan_context none = {.machine_id = NULL};

	assert_int_equal(plan_build(&n->inv, &pol, &none, &plan), -EINVAL);
	assert_ptr_equal(plan, (struct plan *)0x1);
}

/* --- empty policy and unmanaged parents --- */

static void test_empty_policy_keeps_everything(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct policy pol = {.remove_unowned = true};
	struct pol_layout lay = {.all_parents = true};

	/* No mdev side at all (no layouts, no type list): hands off, as `mdevd run` is. */
	node_owned(n, "mtty", "mtty-2", 0, -1);
	node_owned(n, "mtty", "mtty-1", 1, -1);
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-1", -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_create, 0);
	assert_int_equal(plan->n_remove, 0);
	assert_int_equal(plan->n_shortfalls, 0);
	assert_int_equal(plan->n_actions, 3);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_UNMANAGED, NULL, NULL), 2);
	/* removeUnowned acts only on parents the policy manages. */
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
	assert_false(find_action(plan, FOREIGN_UUID1)->owned);
	/* KEEPs sorted: mtty-1 before mtty-2, owned before foreign. */
	assert_string_equal(plan->actions[0].type_id, "mtty-1");
	assert_true(plan->actions[0].owned);
	assert_false(plan->actions[1].owned);
	assert_string_equal(plan->actions[2].type_id, "mtty-2");
	plan_free(steal_ptr(plan));

	/* The way to empty a node of mdevd's mdevs: a layout asking for no types. */
	pol.layouts = &lay;
	pol.n_layouts = 1;
	pol.remove_unowned = false;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_NOT_WANTED, NULL, NULL), 2);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_KEEP);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(n->inv.n_mdevs, 1);
	assert_true(node_has_mdev(n, FOREIGN_UUID1));
}

static void test_empty_node(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"mtty-2"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 1};

	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_actions, 0);
	assert_int_equal(plan->n_shortfalls, 0);
}

/* --- mode (a): KubeVirt's mediatedDeviceTypes --- */

static void test_kubevirt_round_robin(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"typeB", "typeA"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 2};
	const char *parents[] = {"p0", "p1", "p2", "p3", "p4"};

	for (size_t i = 0; i < ARRAY_SIZE(parents); i++) {
		node_parent(n, parents[i], NULL, 0, 0, MODEL_TIMESLICED, 0);
		node_type(n, parents[i], "typeA", NULL, 4, 1);
		node_type(n, parents[i], "typeB", NULL, 2, 1);
		node_type(n, parents[i], "typeC", NULL, 8, 1);
	}
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* The ring in list order: typeB, typeA, typeB, ... over parents in name order. */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p0", "typeB"), 2);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p1", "typeA"), 4);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p2", "typeB"), 2);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p3", "typeA"), 4);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p4", "typeB"), 2);
	assert_int_equal(plan->n_create, 14);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, NULL, "typeC"), 0);
	assert_int_equal(plan->n_shortfalls, 0);
	/* CREATEs in parent name order, slots ascending. */
	assert_string_equal(plan->actions[0].parent, "p0");
	assert_int_equal(plan->actions[0].slot, 0);
	assert_int_equal(plan->actions[1].slot, 1);
	assert_string_equal(plan->actions[2].parent, "p1");
	assert_string_equal(plan->actions[13].parent, "p4");
}

static void test_kubevirt_round_robin_uneven(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"A", "B"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 2};

	/* p1 offers A and B, p2 only A, p3 A and B, p4 only B, p5 neither. */
	node_parent(n, "p1", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "p2", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "p3", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "p4", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "p5", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p1", "A", NULL, 1, 1);
	node_type(n, "p1", "B", NULL, 1, 1);
	node_type(n, "p2", "A", NULL, 1, 1);
	node_type(n, "p3", "A", NULL, 1, 1);
	node_type(n, "p3", "B", NULL, 1, 1);
	node_type(n, "p4", "B", NULL, 1, 1);
	node_type(n, "p5", "C", NULL, 1, 1);
	node_owned(n, "p5", "C", 0, -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/*
	 * A -> p1; B -> p3 (first free parent offering B); A -> p2; B -> p4.
	 * KubeVirt's getNextAvailableParentToConfigure() walks each type's parents
	 * in name order the same way.
	 */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p1", "A"), 1);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p2", "A"), 1);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p3", "B"), 1);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p4", "B"), 1);
	assert_int_equal(plan->n_create, 4);
	/* p5 offers no listed type: not managed, and its owned mdev is wanted by no rule. */
	assert_int_equal(plan->n_remove, 1);
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_NOT_WANTED, "p5", "C"), 1);
}

static void test_kubevirt_existing_type_kept(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"nvidia-222", "nvidia-223"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 2};

	/* The first T4 already runs 2Q (listed second), one owned and one foreign. */
	node_owned(n, "0000:65:00.0", "nvidia-223", 0, 10);
	node_mdev(n, FOREIGN_UUID1, "0000:65:00.0", "nvidia-223", 11);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* It keeps 2Q and is topped up: 8 in all, 2 live, 6 to create (slots 1..6). */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-223"), 6);
	assert_non_null(find_slot(plan, "0000:65:00.0", "nvidia-223", 0));
	assert_int_equal(find_slot(plan, "0000:65:00.0", "nvidia-223", 0)->reason,
			 PLAN_REASON_WANTED);
	assert_int_equal(find_slot(plan, "0000:65:00.0", "nvidia-223", 6)->kind, PLAN_CREATE);
	assert_null(find_slot(plan, "0000:65:00.0", "nvidia-223", 7));
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
	/* The ring starts with 1Q for the free T4; the A10 offers neither. */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-222"), 16);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:82:00.0", NULL), 0);
	assert_int_equal(plan->n_remove, 0);
}

static void test_kubevirt_by_name(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"  GRID T4-2Q ", "NVIDIA_A10-8Q"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 2};

	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-223"), 8);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-223"), 8);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:82:00.0", "nvidia-593"), 3);
	assert_int_equal(plan->n_create, 19);
}

static void test_kubevirt_foreign_parent_left_alone(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"nvidia-222"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 1};

	/* Someone else configured the first T4 with 2Q: KubeVirt skips such a parent. */
	node_mdev(n, FOREIGN_UUID1, "0000:65:00.0", "nvidia-223", 3);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", NULL), 0);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_KEEP);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-222"), 16);
	assert_int_equal(plan->n_shortfalls, 0);
	plan_free(steal_ptr(plan));

	/* removeUnowned: the foreign 2Q goes, the T4 is managed and becomes 1Q next round. */
	pol.remove_unowned = true;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_REMOVE);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN_REMOVE);
	assert_int_equal(converge(&n, &pol, NULL), 2);
	assert_int_equal(node_count(n, "0000:65:00.0", "nvidia-222"), 16);
	assert_int_equal(node_count(n, "0000:65:00.0", "nvidia-223"), 0);
	assert_int_equal(node_count(n, "0000:66:00.0", "nvidia-222"), 16);
}

static void test_kubevirt_foreign_parent_not_managed(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"mtty-2"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 1};

	/* mtty has room for mtty-2, but someone else's mtty-1 is there: hands off. */
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-1", -1);
	node_owned(n, "mtty", "mtty-1", 0, -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_create, 0);
	/* The parent is not managed, but mdevd's own mtty-1 is wanted by no rule. */
	assert_int_equal(plan->n_remove, 1);
	assert_int_equal(find_slot(plan, "mtty", "mtty-1", 0)->reason, PLAN_REASON_NOT_WANTED);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_KEEP);
	plan_free(steal_ptr(plan));

	/* Only owned mdevs of another type: the parent is mdevd's to reconfigure. */
	node_remove_mdev(n, FOREIGN_UUID1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(find_slot(plan, "mtty", "mtty-1", 0)->reason, PLAN_REASON_NOT_WANTED);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "mtty", "mtty-2"), 11);
}

static void test_kubevirt_ring_uses_best_rank(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"Fancy Name", "t2", "t1"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 3};

	/*
	 * t1 is listed third by id, but on p2 its name is listed first: the ring
	 * orders t1 by its best position, before t2.
	 */
	node_parent(n, "p1", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "p2", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p1", "t1", "plain", 1, 1);
	node_type(n, "p1", "t2", NULL, 1, 1);
	node_type(n, "p2", "t1", "Fancy Name", 1, 1);
	node_type(n, "p2", "t2", NULL, 1, 1);
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create, 2);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p1", "t1"), 1);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "p2", "t2"), 1);
}

static void test_kubevirt_unlisted_owned_removed(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"nvidia-222"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 1};

	/* mdevd made the first T4 2Q under an older policy; now only 1Q is listed. */
	for (unsigned int s = 0; s < 8; s++)
		node_owned(n, "0000:65:00.0", "nvidia-223", s, 20 + (int)s);
	/*
	 * An owned A10 type: the A10 offers no listed type, so it is not managed, and
	 * no rule wants the mdev.
	 */
	node_owned(n, "0000:82:00.0", "nvidia-592", 0, 40);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_NOT_WANTED, "0000:65:00.0",
				       "nvidia-223"),
			 8);
	/* Time-sliced: 1Q reads 0 until the 2Qs are gone; wanted "max" is 0 now. */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", NULL), 0);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-222"), 16);
	assert_int_equal(find_slot(plan, "0000:82:00.0", "nvidia-592", 0)->kind, PLAN_REMOVE);
	assert_int_equal(find_slot(plan, "0000:82:00.0", "nvidia-592", 0)->reason,
			 PLAN_REASON_NOT_WANTED);
	assert_int_equal(converge(&n, &pol, NULL), 2);
	assert_int_equal(node_count(n, "0000:65:00.0", "nvidia-222"), 16);
	assert_int_equal(node_count(n, "0000:82:00.0", "nvidia-592"), 0);
}

static void test_kubevirt_disabled(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"nvidia-222"};
	struct policy pol = {.mediated_device_types = types,
			     .n_mediated_device_types = 1,
			     .mediated_devices_disabled = true};

	node_owned(n, "0000:65:00.0", "nvidia-223", 0, -1);
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create, 0);
	assert_int_equal(plan->n_remove, 0);
	assert_int_equal(plan->actions[0].reason, PLAN_REASON_UNMANAGED);
}

/* The guest's sample parents: mtty (24 ports) and mbochs (here 2 GB: 16 medium). */
static struct node *node_mtty_mbochs(void)
{
	struct node *n = node_mtty();

	node_parent(n, "mbochs", NULL, 0, 0, MODEL_POOL, 32);
	node_type(n, "mbochs", "mbochs-1", "mbochs-small", 0, 1);
	node_type(n, "mbochs", "mbochs-2", "mbochs-medium", 0, 2);
	node_type(n, "mbochs", "mbochs-3", "mbochs-large", 0, 4);
	return n;
}

static void test_kubevirt_retype_removes_unlisted_everywhere(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty_mbochs();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *both[] = {"mtty-2", "mbochs-medium"}, *one[] = {"mbochs-medium"};
	struct policy pol = {.mediated_device_types = both, .n_mediated_device_types = 2};
	char busy[MDEVD_UUID_STR_LEN], kept[MDEVD_UUID_STR_LEN];
	const int groups[] = {105};
	struct plan_domain_ref refs[1];
	struct plan_context ctx = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = 1};

	/* The sequence: both types, then only mbochs-medium. */
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "mtty", "mtty-2"), 12);
	assert_int_equal(node_count(n, "mbochs", "mbochs-2"), 16);
	pol.mediated_device_types = one;
	pol.n_mediated_device_types = 1;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* mtty offers no listed type, so it is not managed: still, nothing wants its 12. */
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_NOT_WANTED, "mtty", "mtty-2"),
			 12);
	assert_int_equal(plan->n_remove, 12);
	assert_int_equal(plan->n_create, 0);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_WANTED, "mbochs", "mbochs-2"),
			 16);
	plan_free(steal_ptr(plan));

	/* One of them open, one reserved by a defined domain, a foreign one: those stay. */
	for (size_t i = 0; i < n->inv.n_mdevs; i++) {
		struct mdev_instance *m = &n->inv.mdevs[i];

		if (streq(m->type_id, "mtty-2"))
			m->iommu_group = (int)(100 + i);
	}
	derive("mtty", "mtty-2", 5, busy);
	derive("mtty", "mtty-2", 7, kept);
	for (size_t i = 0; i < n->inv.n_mdevs; i++)
		if (streq(n->inv.mdevs[i].uuid, busy))
			n->inv.mdevs[i].iommu_group = 105;
	refs[0] = (struct plan_domain_ref){.id = kept, .domain = "vm-off", .running = false};
	ctx.domain_refs = refs;
	ctx.n_domain_refs = 1;
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-2", -1);
	plan = build(n, &pol, &ctx);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 10);
	assert_int_equal(find_action(plan, busy)->reason, PLAN_REASON_IN_USE);
	assert_int_equal(find_action(plan, kept)->reason, PLAN_REASON_RESERVED);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_KEEP);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
	plan_free(steal_ptr(plan));

	/* removeUnowned does not reach a parent no rule manages: the foreign one stays. */
	pol.remove_unowned = true;
	assert_int_equal(converge(&n, &pol, &ctx), 1);
	assert_int_equal(node_count(n, "mtty", "mtty-2"), 3);
	assert_true(node_has_mdev(n, FOREIGN_UUID1));
	assert_true(node_has_mdev(n, busy));
	assert_true(node_has_mdev(n, kept));
	assert_int_equal(node_count(n, "mbochs", "mbochs-2"), 16);
}

static void test_layout_parent_dropped_loses_owned(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty_mbochs();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm_mtty[] = {{POL_PARENT_NAME, "mtty"}};
	struct pol_parent_match pm_mbochs[] = {{POL_PARENT_NAME, "mbochs"}};
	struct pol_type_request tr_mtty[] = {{"mtty-1", 3}};
	struct pol_type_request tr_mbochs[] = {{"mbochs-medium", 2}};
	struct pol_layout lay[] = {
		{.parents = pm_mtty, .n_parents = 1, .types = tr_mtty, .n_types = 1},
		{.parents = pm_mbochs, .n_parents = 1, .types = tr_mbochs, .n_types = 1},
	};
	struct policy pol = {.layouts = lay, .n_layouts = 2, .remove_unowned = true};

	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "mtty", "mtty-1"), 3);
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-2", -1);
	/* Only the mbochs layout is left: mtty is in none, its owned three go. */
	pol.layouts = &lay[1];
	pol.n_layouts = 1;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_NOT_WANTED, "mtty", "mtty-1"),
			 3);
	assert_int_equal(plan->n_remove, 3);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_WANTED, "mbochs", "mbochs-2"),
			 2);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "mtty", "mtty-1"), 0);
	assert_true(node_has_mdev(n, FOREIGN_UUID1));
	/* Settled: nothing more to do. */
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create + plan->n_remove, 0);
}

static void test_kubevirt_several_listed_types_on_parent(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"mtty-2", "mtty-1"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 2};

	/* Both listed types live on mtty (a layout made them): the first listed stays. */
	node_owned(n, "mtty", "mtty-1", 0, -1);
	node_owned(n, "mtty", "mtty-1", 1, -1);
	node_owned(n, "mtty", "mtty-2", 0, -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_NOT_WANTED, "mtty", "mtty-1"),
			 2);
	/* 24 ports - 2 - 2 = 20 free: 10 more mtty-2 (the pool frees more next round). */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "mtty", "mtty-2"), 10);
	assert_true(converge(&n, &pol, NULL) >= 1);
	assert_int_equal(node_count(n, "mtty", "mtty-2"), 12);
	assert_int_equal(node_count(n, "mtty", "mtty-1"), 0);
}

/* --- mode (b): layouts --- */

static void test_layout_exact_counts_mtty(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm[] = {{POL_PARENT_NAME, "mtty"}};
	struct pol_type_request tr[] = {{"mtty-2", 2}, {"mtty-1", 3}};
	struct pol_layout lay = {.parents = pm, .n_parents = 1, .types = tr, .n_types = 2};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};

	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_create, 5);
	assert_int_equal(plan->n_actions, 5);
	/* Type order as written, slots ascending. */
	assert_string_equal(plan->actions[0].type_id, "mtty-2");
	assert_int_equal(plan->actions[0].slot, 0);
	assert_string_equal(plan->actions[1].type_id, "mtty-2");
	assert_int_equal(plan->actions[1].slot, 1);
	for (int i = 2; i < 5; i++) {
		assert_string_equal(plan->actions[i].type_id, "mtty-1");
		assert_int_equal(plan->actions[i].slot, (unsigned int)(i - 2));
	}
	assert_string_equal(plan->actions[0].uuid, "3f82e062-4aeb-520c-bdd0-abdad2982004");

	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "mtty", "mtty-2"), 2);
	assert_int_equal(node_count(n, "mtty", "mtty-1"), 3);
	/* Settled: the next plan keeps all five as wanted. */
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create + plan->n_remove, 0);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_WANTED, "mtty", NULL), 5);
}

static void test_layout_by_name(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{" GRID T4-2Q", 2}, {"NVIDIA_A10-4Q", 1}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 2};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};

	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-223"), 2);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-223"), 2);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:82:00.0", "nvidia-592"), 1);
	assert_int_equal(plan->n_create, 5);
	/* Requests a parent does not offer are skipped there, not shortfalls. */
	assert_int_equal(plan->n_shortfalls, 0);
}

static void test_layout_parents_by_vendor_device_and_address(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm_t4[] = {{POL_PARENT_VENDOR_DEVICE, "10de:1eb8"}};
	struct pol_parent_match pm_a10[] = {{POL_PARENT_ADDRESS, "0000:82:00.0"}};
	struct pol_type_request tr_t4[] = {{"nvidia-222", 3}};
	struct pol_type_request tr_a10[] = {{"nvidia-593", 1}};
	struct pol_layout lay[] = {
		{.parents = pm_t4, .n_parents = 1, .types = tr_t4, .n_types = 1},
		{.parents = pm_a10, .n_parents = 1, .types = tr_a10, .n_types = 1},
	};
	struct policy pol = {.layouts = lay, .n_layouts = 2};

	node_parent(n, "mtty", NULL, 0, 0, MODEL_POOL, 24);
	node_type(n, "mtty", "mtty-1", NULL, 0, 1);
	node_owned(n, "mtty", "mtty-1", 0, -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-222"), 3);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-222"), 3);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:82:00.0", "nvidia-593"), 1);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "mtty", NULL), 0);
	/* Layout order, then parent name order. */
	/* mtty is in no layout: its owned mtty-1 goes (REMOVEs first). */
	assert_int_equal(plan->n_remove, 1);
	assert_int_equal(find_slot(plan, "mtty", "mtty-1", 0)->reason, PLAN_REASON_NOT_WANTED);
	assert_string_equal(plan->actions[1].parent, "0000:65:00.0");
	assert_string_equal(plan->actions[4].parent, "0000:66:00.0");
	assert_string_equal(plan->actions[7].parent, "0000:82:00.0");
	plan_free(steal_ptr(plan));

	/* A non-PCI parent never matches vendor:device, not even 0000:0000. */
	pm_t4[0].value = "0000:0000";
	plan = build(n, &pol, NULL);
	assert_int_equal(find_slot(plan, "mtty", "mtty-1", 0)->reason, PLAN_REASON_NOT_WANTED);
	assert_int_equal(plan->n_remove, 1);
	assert_int_equal(plan->n_create, 1);
	plan_free(steal_ptr(plan));

	/* Upper case in the policy still matches (compared case-insensitively). */
	pm_t4[0].value = "10DE:1EB8";
	pm_a10[0].value = "0000:66:00.0";
	plan = build(n, &pol, NULL);
	/*
	 * Specific over general: the layout naming 0000:66:00.0 by address has it, not the
	 * vendor:device one; it asks for an A10 type the T4 does not offer, so nothing is
	 * created there, and the other T4 still gets its 3.
	 */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", NULL), 0);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-222"), 3);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, NULL, "nvidia-593"), 0);
	assert_int_equal(plan->n_create, 3);
	plan_free(steal_ptr(plan));

	/* mdevd-policy(5)'s example: two 2Q on the first T4, 1Q on every other T4. */
	pm_a10[0].value = "0000:65:00.0";
	tr_a10[0] = (struct pol_type_request){"nvidia-223", 2};
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-223"), 2);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:65:00.0", "nvidia-222"), 0);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:66:00.0", "nvidia-222"), 3);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "0000:82:00.0", NULL), 0);
	assert_int_equal(plan->n_create, 5);
}

static void test_layout_first_layout_wins(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm[] = {{POL_PARENT_NAME, "mtty"}};
	struct pol_type_request tr1[] = {{"mtty-1", 1}};
	struct pol_type_request tr2[] = {{"mtty-2", 4}};
	struct pol_layout lay[] = {
		{.parents = pm, .n_parents = 1, .types = tr1, .n_types = 1},
		{.all_parents = true, .types = tr2, .n_types = 1},
	};
	struct policy pol = {.layouts = lay, .n_layouts = 2};

	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create, 1);
	assert_string_equal(plan->actions[0].type_id, "mtty-1");
}

static void test_layout_max_mbochs(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mbochs();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mbochs-large", 1}, {"mbochs-medium", POL_COUNT_MAX}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 2};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_shortfall *s;

	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/*
	 * The planner trusts each type's available_instances as read: 1 large and 4
	 * medium; the pool (8 units) holds 1 large (4) + 2 medium (4). The applier
	 * finds out; the next round sees medium at capacity.
	 */
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "mbochs", "mbochs-3"), 1);
	assert_int_equal(count_actions(plan, PLAN_CREATE, -1, "mbochs", "mbochs-2"), 4);
	assert_string_equal(plan->actions[0].type_id, "mbochs-3");
	assert_int_equal(plan->n_shortfalls, 0);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "mbochs", "mbochs-3"), 1);
	assert_int_equal(node_count(n, "mbochs", "mbochs-2"), 2);
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create + plan->n_remove, 0);
	assert_int_equal(plan->n_shortfalls, 0);

	/* An exact count beyond the pool is a shortfall that stays. */
	tr[0].count = 3;
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	s = find_shortfall(plan, "mbochs", "mbochs-3");
	assert_non_null(s);
	assert_int_equal(s->wanted, 3);
	assert_int_equal(s->planned, 1);
	assert_int_equal(s->blocked, 0);
}

static void test_layout_max_counts_owned_not_foreign(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"t", POL_COUNT_MAX}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};

	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "t", NULL, 8, 1);
	/* Owned slots 0 and 5 (a hole), one foreign: 5 available. */
	node_owned(n, "p", "t", 0, -1);
	node_owned(n, "p", "t", 5, -1);
	node_mdev(n, FOREIGN_UUID1, "p", "t", -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* "max" keeps every owned instance and fills the lowest free slots: 1-4 and 6. */
	assert_int_equal(plan->n_remove, 0);
	assert_int_equal(plan->n_create, 5);
	for (unsigned int s = 1; s <= 6; s++)
		assert_int_equal(find_slot(plan, "p", "t", s)->kind,
				 s == 5 ? PLAN_KEEP : PLAN_CREATE);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
	plan_free(steal_ptr(plan));

	/* removeUnowned: the foreign one goes and its instance is used as well. */
	pol.remove_unowned = true;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 1);
	assert_int_equal(plan->n_create, 6);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "p", "t"), 8);
}

static void test_layout_empty_types_empties_parent(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm[] = {{POL_PARENT_NAME, "mtty"}};
	struct pol_layout lay = {.parents = pm, .n_parents = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};

	node_owned(n, "mtty", "mtty-1", 0, -1);
	node_owned(n, "mtty", "mtty-2", 0, -1);
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-2", -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 2);
	assert_int_equal(plan->n_create, 0);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
}

/* --- shrink, in use, foreign --- */

static void test_shrink_removes_highest_slots(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-2", 2}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};

	for (unsigned int s = 0; s < 5; s++)
		node_owned(n, "mtty", "mtty-2", s, 30 + (int)s);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 3);
	assert_int_equal(plan->n_create, 0);
	/* Highest slot first. */
	assert_int_equal(plan->actions[0].slot, 4);
	assert_int_equal(plan->actions[1].slot, 3);
	assert_int_equal(plan->actions[2].slot, 2);
	assert_int_equal(plan->actions[0].reason, PLAN_REASON_NOT_WANTED);
	assert_int_equal(plan->actions[0].iommu_group, 34);
	assert_int_equal(find_slot(plan, "mtty", "mtty-2", 0)->reason, PLAN_REASON_WANTED);
	assert_int_equal(find_slot(plan, "mtty", "mtty-2", 1)->reason, PLAN_REASON_WANTED);
	/* Dropping the type from the layout removes the rest. */
	tr[0].count = 0;
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_remove, 5);
}

static void test_in_use_kept(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-2", 2}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1, .remove_unowned = true};
	const int groups[] = {99, 33, 50};
	const struct plan_context ctx = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = ARRAY_SIZE(groups)};
	const struct plan_action *a;
	char buf[64];

	for (unsigned int s = 0; s < 4; s++)
		node_owned(n, "mtty", "mtty-2", s, 30 + (int)s);
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-1", 50);
	node_mdev(n, FOREIGN_UUID2, "mtty", "mtty-1", 51);
	plan = build(n, &pol, &ctx);
	check_plan_shape(n, plan);
	a = find_slot(plan, "mtty", "mtty-2", 3);
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_string_equal(plan_action_reason(a, buf, sizeof(buf)),
			    "in use: /dev/vfio/33 is open");
	assert_int_equal(find_slot(plan, "mtty", "mtty-2", 2)->kind, PLAN_REMOVE);
	/* A foreign one in use stays even with removeUnowned; the other goes. */
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_IN_USE);
	assert_int_equal(find_action(plan, FOREIGN_UUID2)->reason, PLAN_REASON_FOREIGN_REMOVE);
	assert_int_equal(plan->n_remove, 2);

	/* Once the group is closed, the next plan removes it. */
	assert_int_equal(converge(&n, &pol, &ctx), 1);
	assert_int_equal(node_count(n, "mtty", "mtty-2"), 3);
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_remove, 2);
	assert_int_equal(find_slot(plan, "mtty", "mtty-2", 3)->kind, PLAN_REMOVE);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_REMOVE);
}

static void test_wanted_in_use_is_wanted(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-1", 2}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const int groups[] = {7};
	const struct plan_context ctx = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = 1};

	node_owned(n, "mtty", "mtty-1", 0, 7);
	plan = build(n, &pol, &ctx);
	assert_int_equal(find_slot(plan, "mtty", "mtty-1", 0)->reason, PLAN_REASON_WANTED);
	assert_int_equal(plan->n_create, 1);
}

static void test_foreign_kept_and_removed(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-1", 1}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	char other[MDEVD_UUID_STR_LEN];

	/* A foreign mtty-1 and one made by another machine's mdevd (a copied image). */
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-1", -1);
	assert_int_equal(plan_derive_uuid(MID2, "mtty", "mtty-1", 0, other), 0);
	node_mdev(n, other, "mtty", "mtty-1", -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->reason, PLAN_REASON_FOREIGN);
	assert_int_equal(find_action(plan, other)->reason, PLAN_REASON_FOREIGN);
	assert_int_equal(find_action(plan, other)->slot, 0);
	assert_false(find_action(plan, other)->owned);
	/* Foreign instances count toward nothing: slot 0 is still created. */
	assert_int_equal(plan->n_create, 1);
	assert_int_equal(plan->n_remove, 0);
	plan_free(steal_ptr(plan));

	pol.remove_unowned = true;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 2);
	assert_int_equal(count_actions(plan, PLAN_REMOVE, PLAN_REASON_FOREIGN_REMOVE, NULL, NULL),
			 2);
	/* Sorted by UUID among foreign ones of one type. */
	assert_true(strcmp(plan->actions[0].uuid, plan->actions[1].uuid) < 0);
}

/* --- capacity --- */

static void test_capacity_shortfall(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"t", 5}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_shortfall *s;

	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "t", NULL, 3, 1);
	node_owned(n, "p", "t", 1, -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* 1 live + 2 available: slots 0 and 2 are created, 3 and 4 do not fit. */
	assert_int_equal(plan->n_create, 2);
	assert_int_equal(find_slot(plan, "p", "t", 0)->kind, PLAN_CREATE);
	assert_int_equal(find_slot(plan, "p", "t", 2)->kind, PLAN_CREATE);
	assert_null(find_slot(plan, "p", "t", 3));
	assert_int_equal(plan->n_shortfalls, 1);
	s = &plan->shortfalls[0];
	assert_string_equal(s->parent, "p");
	assert_string_equal(s->type_id, "t");
	assert_int_equal(s->wanted, 5);
	assert_int_equal(s->planned, 3);
	assert_int_equal(s->blocked, 0);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "p", "t"), 3);
}

static void test_same_type_removal_frees_capacity(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"t", 2}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1, .remove_unowned = true};

	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "t", NULL, 3, 1);
	/* Full: owned slots 7 and 8 (above the count), one foreign; 0 available. */
	node_owned(n, "p", "t", 7, -1);
	node_owned(n, "p", "t", 8, -1);
	node_mdev(n, FOREIGN_UUID1, "p", "t", -1);
	assert_int_equal(node_type_get(n, "p", "t")->available_instances, 0);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 3);
	assert_int_equal(plan->n_create, 2);
	assert_int_equal(plan->n_shortfalls, 0);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	assert_int_equal(node_count(n, "p", "t"), 2);
	plan_free(steal_ptr(plan));

	/* Without removeUnowned the foreign one holds its instance: one fits. */
	_cleanup_(node_freep) struct node *m = node_new();

	pol.remove_unowned = false;
	node_parent(m, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(m, "p", "t", NULL, 3, 1);
	node_owned(m, "p", "t", 7, -1);
	node_mdev(m, FOREIGN_UUID1, "p", "t", -1);
	node_owned(m, "p", "t", 8, -1);
	plan = build(m, &pol, NULL);
	assert_int_equal(plan->n_remove, 2);
	assert_int_equal(plan->n_create, 2);
	assert_int_equal(converge(&m, &pol, NULL), 1);
	assert_int_equal(node_count(m, "p", "t"), 3);
}

static void test_removal_of_other_type_does_not_count(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-2", 12}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_shortfall *s;

	/* 24 mtty-1 fill the pool; mtty-2 reads 0 until they are gone. */
	for (unsigned int i = 0; i < 24; i++)
		node_owned(n, "mtty", "mtty-1", i, -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 24);
	assert_int_equal(plan->n_create, 0);
	s = find_shortfall(plan, "mtty", "mtty-2");
	assert_non_null(s);
	assert_int_equal(s->wanted, 12);
	assert_int_equal(s->planned, 0);
	assert_int_equal(converge(&n, &pol, NULL), 2);
	assert_int_equal(node_count(n, "mtty", "mtty-2"), 12);
	assert_int_equal(node_count(n, "mtty", "mtty-1"), 0);
}

static void test_nvidia_timesliced_two_rounds(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(node_freep) struct node *n2 = NULL;
	_cleanup_(node_freep) struct node *n3 = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm[] = {{POL_PARENT_ADDRESS, "0000:65:00.0"}};
	struct pol_type_request tr[] = {{"GRID T4-2Q", 4}};
	struct pol_layout lay = {.parents = pm, .n_parents = 1, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_shortfall *s;
	unsigned int steps;

	for (unsigned int i = 0; i < 16; i++)
		node_owned(n, "0000:65:00.0", "nvidia-222", i, 100 + (int)i);
	assert_int_equal(node_type_get(n, "0000:65:00.0", "nvidia-223")->available_instances, 0);

	/* Round 1: the 1Qs go; 2Q reads 0, so it is a shortfall for now. */
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(plan->n_remove, 16);
	assert_int_equal(plan->n_create, 0);
	s = find_shortfall(plan, "0000:65:00.0", "nvidia-223");
	assert_non_null(s);
	assert_int_equal(s->wanted, 4);
	assert_int_equal(s->planned, 0);
	n2 = sim_apply(n, plan, &steps);
	assert_int_equal(steps, 16);
	assert_int_equal(node_type_get(n2, "0000:65:00.0", "nvidia-223")->available_instances, 8);

	/* Round 2: 2Q now has capacity. */
	plan_free(steal_ptr(plan));
	plan = build(n2, &pol, NULL);
	check_plan_shape(n2, plan);
	assert_int_equal(plan->n_remove, 0);
	assert_int_equal(plan->n_create, 4);
	assert_int_equal(plan->n_shortfalls, 0);
	n3 = sim_apply(n2, plan, &steps);
	assert_int_equal(steps, 4);

	/* Round 3: settled. */
	plan_free(steal_ptr(plan));
	plan = build(n3, &pol, NULL);
	assert_int_equal(plan->n_create + plan->n_remove + plan->n_shortfalls, 0);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_WANTED, NULL, "nvidia-223"), 4);
}

static void test_nvidia_timesliced_in_use_blocks_switch(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"nvidia-223", 2}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const int groups[] = {101};
	const struct plan_context ctx = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = 1};

	node_owned(n, "0000:65:00.0", "nvidia-222", 0, 100);
	node_owned(n, "0000:65:00.0", "nvidia-222", 1, 101);
	/* One 1Q is in use: the GPU cannot switch; the node settles with a shortfall. */
	converge(&n, &pol, &ctx);
	assert_int_equal(node_count(n, "0000:65:00.0", "nvidia-222"), 1);
	assert_int_equal(node_count(n, "0000:65:00.0", "nvidia-223"), 0);
	assert_int_equal(node_count(n, "0000:66:00.0", "nvidia-223"), 2);
	plan = build(n, &pol, &ctx);
	assert_int_equal(plan->n_create + plan->n_remove, 0);
	assert_non_null(find_shortfall(plan, "0000:65:00.0", "nvidia-223"));
	assert_null(find_shortfall(plan, "0000:66:00.0", "nvidia-223"));
}

/* --- UUIDs live elsewhere --- */

static void test_duplicate_uuid_on_another_parent(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm[] = {{POL_PARENT_NAME, "p1"}};
	struct pol_parent_match pm2[] = {{POL_PARENT_NAME, "p2"}};
	struct pol_type_request tr[] = {{"t", 2}};
	struct pol_layout lay[] = {
		{.parents = pm, .n_parents = 1, .types = tr, .n_types = 1},
		{.parents = pm2, .n_parents = 1}, /* manages p2, wants nothing there */
	};
	struct policy pol = {.layouts = lay, .n_layouts = 1};
	char u0[MDEVD_UUID_STR_LEN];
	const struct plan_shortfall *s;

	node_parent(n, "p1", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "p2", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p1", "t", NULL, 4, 1);
	node_type(n, "p2", "t", NULL, 4, 1);
	node_type(n, "p1", "u", NULL, 4, 1);
	/* p1/t slot 0's UUID is live on p2 (mdevctl copied a definition, say). */
	derive("p1", "t", 0, u0);
	node_mdev(n, u0, "p2", "t", -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(find_action(plan, u0)->kind, PLAN_KEEP);
	assert_int_equal(find_action(plan, u0)->reason, PLAN_REASON_FOREIGN);
	assert_int_equal(plan->n_create, 1);
	assert_int_equal(plan->actions[0].slot, 1);
	s = find_shortfall(plan, "p1", "t");
	assert_non_null(s);
	assert_int_equal(s->wanted, 2);
	assert_int_equal(s->planned, 1);
	assert_int_equal(s->blocked, 1);
	/* Settles without an EEXIST loop. */
	assert_int_equal(converge(&n, &pol, NULL), 1);
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create + plan->n_remove, 0);
	plan_free(steal_ptr(plan));

	/* removeUnowned on an unmanaged p2: still not removed, still blocked. */
	pol.remove_unowned = true;
	plan = build(n, &pol, NULL);
	assert_int_equal(find_action(plan, u0)->kind, PLAN_KEEP);
	assert_int_equal(find_shortfall(plan, "p1", "t")->blocked, 1);
	plan_free(steal_ptr(plan));

	/* p2 managed and removeUnowned: removed first, then created on p1. */
	pol.n_layouts = 2;
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	assert_int_equal(find_action(plan, u0)->kind, PLAN_REMOVE);
	assert_int_equal(plan->n_create, 1);
	assert_int_equal(plan->actions[1].kind, PLAN_CREATE);
	assert_string_equal(plan->actions[1].uuid, u0);
	assert_string_equal(plan->actions[1].parent, "p1");
	assert_null(find_shortfall(plan, "p1", "t"));
}

static void test_duplicate_uuid_other_type_same_parent(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"t", POL_COUNT_MAX}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	char u0[MDEVD_UUID_STR_LEN];

	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "t", NULL, 3, 1);
	node_type(n, "p", "u", NULL, 3, 1);
	derive("p", "t", 0, u0);
	node_mdev(n, u0, "p", "u", -1);
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* "max" skips the blocked slot and uses the next free ones: 1, 2, 3. */
	assert_int_equal(plan->n_create, 3);
	assert_non_null(find_slot(plan, "p", "t", 0));
	assert_int_equal(find_slot(plan, "p", "t", 0)->kind, PLAN_KEEP);
	assert_int_equal(find_slot(plan, "p", "t", 3)->kind, PLAN_CREATE);
	assert_int_equal(plan->n_shortfalls, 0);
	assert_int_equal(converge(&n, &pol, NULL), 1);
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_create + plan->n_remove, 0);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_WANTED, "p", "t"), 3);
}

static void test_max_stays_below_ownership_bound(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_parent_match pm[] = {{POL_PARENT_NAME, "p"}};
	struct pol_type_request tr[] = {{"t", POL_COUNT_MAX}};
	struct pol_layout lay = {.parents = pm, .n_parents = 1, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_shortfall *s;
	char u[MDEVD_UUID_STR_LEN];

	/* Slot 0 live; every other slot below the bound taken by an mdev on q. */
	node_parent(n, "p", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_parent(n, "q", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "p", "t", NULL, 2, 1);
	node_type(n, "q", "t", NULL, PLAN_OWNED_SLOTS_MIN, 1);
	node_owned(n, "p", "t", 0, -1);
	for (unsigned int slot = 1; slot < PLAN_OWNED_SLOTS_MIN; slot++) {
		derive("p", "t", slot, u);
		node_mdev(n, u, "q", "t", -1);
	}
	plan = build(n, &pol, NULL);
	check_plan_shape(n, plan);
	/* No create at slot 64: the next plan would not recognise it as ours. */
	assert_int_equal(plan->n_create, 0);
	s = find_shortfall(plan, "p", "t");
	assert_non_null(s);
	assert_int_equal(s->wanted, 2);
	assert_int_equal(s->planned, 1);
	assert_int_equal(s->blocked, 1);
}

/* --- determinism, order, words --- */

static void assert_plans_equal(const struct plan *a, const struct plan *b)
{
	assert_int_equal(a->n_actions, b->n_actions);
	assert_int_equal(a->n_create, b->n_create);
	assert_int_equal(a->n_remove, b->n_remove);
	assert_int_equal(a->n_shortfalls, b->n_shortfalls);
	for (size_t i = 0; i < a->n_actions; i++) {
		const struct plan_action *x = &a->actions[i], *y = &b->actions[i];

		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->reason, y->reason);
		assert_string_equal(x->uuid, y->uuid);
		assert_string_equal(x->parent, y->parent);
		assert_string_equal(x->type_id, y->type_id);
		assert_int_equal(x->owned, y->owned);
		assert_int_equal(x->slot, y->slot);
		assert_int_equal(x->iommu_group, y->iommu_group);
	}
	for (size_t i = 0; i < a->n_shortfalls; i++) {
		assert_string_equal(a->shortfalls[i].parent, b->shortfalls[i].parent);
		assert_string_equal(a->shortfalls[i].type_id, b->shortfalls[i].type_id);
		assert_int_equal(a->shortfalls[i].wanted, b->shortfalls[i].wanted);
		assert_int_equal(a->shortfalls[i].planned, b->shortfalls[i].planned);
		assert_int_equal(a->shortfalls[i].blocked, b->shortfalls[i].blocked);
	}
}

static void test_deterministic(void **state)
{
	_cleanup_(node_freep) struct node *n = node_gpus();
	_cleanup_(node_freep) struct node *copy = NULL;
	_cleanup_(plan_freep) struct plan *a = NULL;
	_cleanup_(plan_freep) struct plan *b = NULL;
	_cleanup_(plan_freep) struct plan *c = NULL;
	char *types[] = {"nvidia-223", "nvidia-222", "nvidia-593"};
	struct policy pol = {.mediated_device_types = types,
			     .n_mediated_device_types = 3,
			     .remove_unowned = true};
	const int groups[] = {5};
	const struct plan_context ctx = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = 1};

	node_owned(n, "0000:82:00.0", "nvidia-592", 0, 5);
	node_owned(n, "0000:82:00.0", "nvidia-592", 1, 6);
	node_mdev(n, FOREIGN_UUID2, "0000:66:00.0", "nvidia-222", 7);
	a = build(n, &pol, &ctx);
	b = build(n, &pol, &ctx);
	check_plan_shape(n, a);
	assert_plans_equal(a, b);
	/* A copy of the node (other addresses, same contents) plans the same. */
	copy = node_clone(n);
	c = build(copy, &pol, &ctx);
	assert_plans_equal(a, c);
	assert_true(a->n_create > 0 && a->n_remove > 0);
}

static void test_words(void **state)
{
	struct plan_action a = {.kind = PLAN_KEEP, .reason = PLAN_REASON_IN_USE, .iommu_group = -1};
	char buf[64], tiny[8];

	assert_string_equal(plan_action_kind_str(PLAN_CREATE), "create");
	assert_string_equal(plan_action_kind_str(PLAN_REMOVE), "remove");
	assert_string_equal(plan_action_kind_str(PLAN_KEEP), "keep");
	assert_string_equal(plan_action_kind_str((enum plan_action_kind)42), "?");
	assert_string_equal(plan_reason_str(PLAN_REASON_WANTED), "wanted by the policy");
	assert_string_equal(plan_reason_str(PLAN_REASON_NOT_WANTED), "no longer wanted");
	assert_string_equal(plan_reason_str(PLAN_REASON_FOREIGN), "not created by mdevd");
	assert_string_equal(plan_reason_str(PLAN_REASON_FOREIGN_REMOVE),
			    "not created by mdevd; removeUnowned is set");
	assert_string_equal(plan_reason_str(PLAN_REASON_UNMANAGED),
			    "not managed: the policy has no mdev side");
	assert_non_null(strstr(plan_reason_str(PLAN_REASON_IN_USE), "in use"));
	assert_string_equal(plan_reason_str((enum plan_reason)42), "?");
	assert_string_equal(plan_action_reason(&a, buf, sizeof(buf)),
			    plan_reason_str(PLAN_REASON_IN_USE));
	a.iommu_group = 12;
	assert_string_equal(plan_action_reason(&a, buf, sizeof(buf)),
			    "in use: /dev/vfio/12 is open");
	assert_string_equal(plan_action_reason(&a, tiny, sizeof(tiny)), "in use:");
	a.reason = PLAN_REASON_WANTED;
	assert_string_equal(plan_action_reason(&a, buf, sizeof(buf)), "wanted by the policy");
	plan_free(NULL);
}

/* Many starting states, one policy: every one converges to the same node. */
static void test_convergence_from_many_states(void **state)
{
	struct pol_type_request tr[] = {{"mtty-2", 3}, {"mtty-1", 4}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 2};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};

	for (unsigned int start = 0; start < 32; start++) {
		_cleanup_(node_freep) struct node *n = node_mtty();
		_cleanup_(plan_freep) struct plan *plan = NULL;

		/* A start state from the bits of @start: some owned slots of each type. */
		for (unsigned int s = 0; s < 5; s++) {
			if (start & (1U << s))
				node_owned(n, "mtty", "mtty-2", s * 2, -1);
			if (!(start & (1U << s)))
				node_owned(n, "mtty", "mtty-1", s + 3, -1);
		}
		converge(&n, &pol, NULL);
		assert_int_equal(node_count(n, "mtty", "mtty-2"), 3);
		assert_int_equal(node_count(n, "mtty", "mtty-1"), 4);
		plan = build(n, &pol, NULL);
		assert_int_equal(plan->n_create + plan->n_remove + plan->n_shortfalls, 0);
		for (unsigned int s = 0; s < 3; s++)
			assert_int_equal(find_slot(plan, "mtty", "mtty-2", s)->reason,
					 PLAN_REASON_WANTED);
		for (unsigned int s = 0; s < 4; s++)
			assert_int_equal(find_slot(plan, "mtty", "mtty-1", s)->reason,
					 PLAN_REASON_WANTED);
	}
}

/* --- libvirt domains: in use (running) and reserved (defined) --- */

static void test_domain_reserved_and_in_use_kept(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-2", 1}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1, .remove_unowned = true};
	char s2[MDEVD_UUID_STR_LEN], s3[MDEVD_UUID_STR_LEN], up[MDEVD_UUID_STR_LEN];
	struct plan_domain_ref refs[4];
	struct plan_context ctx = {.machine_id = MID};
	const struct plan_action *a;
	char buf[96];

	for (unsigned int s = 0; s < 4; s++)
		node_owned(n, "mtty", "mtty-2", s, 30 + (int)s);
	node_mdev(n, FOREIGN_UUID1, "mtty", "mtty-1", 50);
	node_mdev(n, FOREIGN_UUID2, "mtty", "mtty-1", 51);
	derive("mtty", "mtty-2", 2, s2);
	derive("mtty", "mtty-2", 3, s3);
	/* libvirt keeps UUIDs as written: matched without regard to case. */
	snprintf(up, sizeof(up), "%s", FOREIGN_UUID2);
	for (char *c = up; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
	refs[0] = (struct plan_domain_ref){.id = s2, .domain = "vm-off", .running = false};
	refs[1] = (struct plan_domain_ref){.id = s3, .domain = "vm-on", .running = true};
	refs[2] = (struct plan_domain_ref){.id = up, .domain = "vm-foreign", .running = false};
	refs[3] =
		(struct plan_domain_ref){.id = "0000:06:00.0", .domain = "vm-pci", .running = true};
	ctx.domain_refs = refs;
	ctx.n_domain_refs = ARRAY_SIZE(refs);

	plan = build(n, &pol, &ctx);
	check_plan_shape(n, plan);
	a = find_slot(plan, "mtty", "mtty-2", 2);
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->reason, PLAN_REASON_RESERVED);
	assert_string_equal(a->domain, "vm-off");
	assert_false(a->domain_running);
	assert_string_equal(plan_action_reason(a, buf, sizeof(buf)),
			    "reserved by libvirt domain vm-off");
	a = find_slot(plan, "mtty", "mtty-2", 3);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_string_equal(plan_action_reason(a, buf, sizeof(buf)),
			    "in use by libvirt domain vm-on (running)");
	/* A foreign mdev a domain reserves stays even with removeUnowned; the other goes. */
	assert_int_equal(find_action(plan, FOREIGN_UUID2)->reason, PLAN_REASON_RESERVED);
	assert_int_equal(find_action(plan, FOREIGN_UUID1)->kind, PLAN_REMOVE);
	/* Slot 1 goes: nothing names it. */
	assert_int_equal(find_slot(plan, "mtty", "mtty-2", 1)->kind, PLAN_REMOVE);
	assert_null(find_slot(plan, "mtty", "mtty-2", 1)->domain);
	assert_int_equal(plan->n_remove, 2);
	assert_int_equal(count_actions(plan, PLAN_KEEP, PLAN_REASON_RESERVED, NULL, NULL), 2);
	assert_string_equal(plan_reason_str(PLAN_REASON_RESERVED),
			    "reserved by a defined libvirt domain");

	/* The domains are gone: the next plan removes them. */
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, NULL);
	assert_int_equal(plan->n_remove, 5);
}

static void test_domain_running_wins_and_wanted_shows_domain(void **state)
{
	_cleanup_(node_freep) struct node *n = node_mtty();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-2", 1}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	char s0[MDEVD_UUID_STR_LEN], s1[MDEVD_UUID_STR_LEN];
	struct plan_domain_ref refs[3];
	const int groups[] = {31};
	struct plan_context ctx = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = 1};
	const struct plan_action *a;
	char buf[96];

	node_owned(n, "mtty", "mtty-2", 0, 30);
	node_owned(n, "mtty", "mtty-2", 1, 31);
	derive("mtty", "mtty-2", 0, s0);
	derive("mtty", "mtty-2", 1, s1);
	/* One UUID in two domains: the running one is what holds it. */
	refs[0] = (struct plan_domain_ref){.id = s1, .domain = "a-defined", .running = false};
	refs[1] = (struct plan_domain_ref){.id = s1, .domain = "b-running", .running = true};
	refs[2] = (struct plan_domain_ref){.id = s0, .domain = "vm0", .running = true};
	ctx.domain_refs = refs;
	ctx.n_domain_refs = ARRAY_SIZE(refs);
	plan = build(n, &pol, &ctx);
	a = find_slot(plan, "mtty", "mtty-2", 1);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_string_equal(a->domain, "b-running");
	assert_string_equal(plan_action_reason(a, buf, sizeof(buf)),
			    "in use by libvirt domain b-running (running)");
	/* A wanted one keeps its reason and names its domain. */
	a = find_slot(plan, "mtty", "mtty-2", 0);
	assert_int_equal(a->reason, PLAN_REASON_WANTED);
	assert_string_equal(a->domain, "vm0");
	assert_int_equal(plan->n_remove, 0);

	/* An open group with only a defined domain naming it: the group is the evidence. */
	refs[1].running = false;
	ctx.n_domain_refs = 2;
	plan_free(steal_ptr(plan));
	plan = build(n, &pol, &ctx);
	a = find_slot(plan, "mtty", "mtty-2", 1);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_string_equal(plan_action_reason(a, buf, sizeof(buf)),
			    "in use: /dev/vfio/31 is open");
}

static void test_domain_names_nvidia_vf(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"nvidia-222", 0}, {"1153", 0}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 2};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const struct plan_domain_ref refs[] = {
		{.id = "0000:41:00.4", .domain = "vm-vf", .running = true},
		{.id = "0000:3b:00.5", .domain = "vm-mdev-parent", .running = true},
	};
	const struct plan_context ctx = {
		.machine_id = MID, .domain_refs = refs, .n_domain_refs = ARRAY_SIZE(refs)};
	const struct plan_action *a;

	/*
	 * A vGPU 17+ VF is assigned as a PCI function: a domain naming the VF holds it. Its
	 * instance is the VF (uuid = its address) on its card (the PF).
	 */
	node_parent(n, "0000:41:00.0", "0000:41:00.0", 0x10de, 0x26b9, MODEL_INDEPENDENT, 0);
	node_parent_get(n, "0000:41:00.0")->backend = PARENT_BACKEND_NVIDIA_VGPU;
	node_type(n, "0000:41:00.0", "1153", "NVIDIA L40S-12Q", 4, 1);
	node_mdev(n, "0000:41:00.4", "0000:41:00.0", "1153", 501);
	node_mdev(n, "0000:41:00.5", "0000:41:00.0", "1153", 502);
	for (size_t i = 0; i < n->inv.n_mdevs; i++)
		n->inv.mdevs[i].backend = PARENT_BACKEND_NVIDIA_VGPU;
	/* An mdev parent's PCI address in a domain says nothing about its mdevs. */
	node_parent(n, "0000:3b:00.5", "0000:3b:00.5", 0x10de, 0x1eb8, MODEL_INDEPENDENT, 0);
	node_type(n, "0000:3b:00.5", "nvidia-222", "GRID T4-1Q", 1, 1);
	node_owned(n, "0000:3b:00.5", "nvidia-222", 0, 7);
	plan = build(n, &pol, &ctx);
	a = find_action(plan, "0000:41:00.4");
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_string_equal(a->domain, "vm-vf");
	a = find_action(plan, "0000:41:00.5");
	assert_int_equal(a->kind, PLAN_REMOVE);
	assert_int_equal(a->backend, PARENT_BACKEND_NVIDIA_VGPU);
	a = find_slot(plan, "0000:3b:00.5", "nvidia-222", 0);
	assert_int_equal(a->kind, PLAN_REMOVE);
	assert_null(a->domain);
}

/* --- NVIDIA vendor-specific VFIO cards, from the generation fixtures (make-tree.py) --- */

static struct plan *plan_vgpu(const struct inventory *inv, const char *parent, const char *type,
			      int count, const struct plan_context *ctx)
{
	struct pol_type_request tr[] = {{(char *)type, count}};
	struct pol_parent_match pm = {.kind = strchr(parent, '.') ? POL_PARENT_ADDRESS
								  : POL_PARENT_VENDOR_DEVICE,
				      .value = (char *)parent};
	struct pol_layout lay = {.parents = &pm, .n_parents = 1, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	struct plan *plan = NULL;

	assert_int_equal(plan_build(inv, &pol, ctx, &plan), 0);
	return plan;
}

static void test_vgpu_free_vfs_lowest_first(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("l40s");
	_cleanup_(plan_freep) struct plan *plan = NULL;
	const struct plan_context ctx = {.machine_id = MID};
	static const char *const vfs[] = {"0000:41:00.4", "0000:41:00.5", "0000:41:00.6",
					  "0000:41:00.7"};

	/* The policy: by vendor:device and name, on a fresh and a full card. */
	plan = plan_vgpu(inv, "10de:26b9", "NVIDIA L40S-12Q", 4, &ctx);
	/* The full card's 2 x 24Q go first (the layout says 0 of every other type)... */
	assert_int_equal(plan->n_remove, 2);
	assert_string_equal(plan->actions[0].uuid, "0000:c1:00.5");
	assert_int_equal(plan->actions[0].backend, PARENT_BACKEND_NVIDIA_VGPU);
	assert_string_equal(plan->actions[1].uuid, "0000:c1:00.4");
	/* ...and the fresh card takes 12Q on its 4 lowest free VFs, slot by slot. */
	assert_int_equal(plan->n_create, 4);
	for (unsigned int i = 0; i < 4; i++) {
		const struct plan_action *a = &plan->actions[2 + i];

		assert_int_equal(a->kind, PLAN_CREATE);
		assert_string_equal(a->parent, "0000:41:00.0");
		assert_string_equal(a->type_id, "1153");
		assert_string_equal(a->uuid, vfs[i]);
		assert_int_equal(a->slot, i);
		assert_int_equal(a->backend, PARENT_BACKEND_NVIDIA_VGPU);
	}
	/* The full card lists nothing now: 12Q is not offered there yet (the next round). */
	assert_int_equal(plan->n_shortfalls, 0);
}

static void test_vgpu_configured_kept_and_shrunk(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("mixed");
	_cleanup_(plan_freep) struct plan *grow = NULL, *shrink = NULL, *max = NULL;
	const struct plan_context ctx = {.machine_id = MID};
	const struct plan_action *a;

	/* 41:00.4 and .5 hold 12Q: they are slots 0 and 1; .6 and .7 are taken next. */
	grow = plan_vgpu(inv, "0000:41:00.0", "1153", 4, &ctx);
	assert_int_equal(grow->n_create, 2);
	assert_int_equal(grow->n_remove, 0);
	assert_string_equal(grow->actions[0].uuid, "0000:41:00.6");
	assert_int_equal(grow->actions[0].slot, 2);
	assert_string_equal(grow->actions[1].uuid, "0000:41:00.7");
	a = find_action(grow, "0000:41:00.4");
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->slot, 0);
	assert_true(a->owned);
	/* Shrinking frees the highest slot: the higher VF address. */
	shrink = plan_vgpu(inv, "0000:41:00.0", "NVIDIA L40S-12Q", 1, &ctx);
	assert_int_equal(shrink->n_remove, 1);
	assert_string_equal(shrink->actions[0].uuid, "0000:41:00.5");
	assert_int_equal(find_action(shrink, "0000:41:00.4")->kind, PLAN_KEEP);
	/* "max": the planner trusts the lists (30 free VFs offer 12Q); the card's own limit of
	 * 4 shows as the lists shrink, which the applier re-reads before each write. */
	max = plan_vgpu(inv, "0000:41:00.0", "NVIDIA L40S-12Q", POL_COUNT_MAX, &ctx);
	assert_int_equal(max->n_create, 30);
	/* The T4 beside it is left alone: the layout does not select it. */
	for (size_t i = 0; i < max->n_actions; i++)
		assert_string_equal(max->actions[i].parent, "0000:41:00.0");
}

static void test_vgpu_in_use_by_cdev_or_group(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("mixed");
	_cleanup_(plan_freep) struct plan *plan = NULL, *plan2 = NULL;
	const unsigned int cdevs[] = {0}; /* 41:00.4's vfio-dev/vfio0 */
	const int groups[] = {502};	  /* 41:00.5's group */
	const struct plan_context by_cdev = {
		.machine_id = MID, .in_use_cdevs = cdevs, .n_in_use_cdevs = 1};
	const struct plan_context by_group = {
		.machine_id = MID, .in_use_groups = groups, .n_in_use_groups = 1};
	const struct plan_action *a;
	char reason[128];

	/* QEMU with iommufd opens only the cdev: that VF is in use, the other is freed. */
	plan = plan_vgpu(inv, "0000:41:00.0", "NVIDIA L40S-12Q", 0, &by_cdev);
	a = find_action(plan, "0000:41:00.4");
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_true(a->cdev_in_use);
	assert_string_equal(plan_action_reason(a, reason, sizeof(reason)),
			    "in use: /dev/vfio/devices/vfio0 is open");
	assert_int_equal(find_action(plan, "0000:41:00.5")->kind, PLAN_REMOVE);
	assert_int_equal(plan->n_remove, 1);

	/* kubelet was handed 41:00.5 (Allocate; the API never says when the pod let go). */
	{
		const char *const ids[] = {"0000:41:00.5"};
		const struct plan_context by_kubelet = {
			.machine_id = MID, .allocated_ids = ids, .n_allocated_ids = 1};
		_cleanup_(plan_freep) struct plan *plan3 =
			plan_vgpu(inv, "0000:41:00.0", "NVIDIA L40S-12Q", 0, &by_kubelet);

		a = find_action(plan3, "0000:41:00.5");
		assert_int_equal(a->kind, PLAN_KEEP);
		assert_true(a->allocated);
		assert_string_equal(plan_action_reason(a, reason, sizeof(reason)),
				    "in use: kubelet allocated it to a pod");
		assert_int_equal(find_action(plan3, "0000:41:00.4")->kind, PLAN_REMOVE);
	}
	plan2 = plan_vgpu(inv, "0000:41:00.0", "NVIDIA L40S-12Q", 0, &by_group);
	assert_int_equal(find_action(plan2, "0000:41:00.4")->kind, PLAN_REMOVE);
	a = find_action(plan2, "0000:41:00.5");
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_string_equal(plan_action_reason(a, reason, sizeof(reason)),
			    "in use: /dev/vfio/502 is open");
}

static void test_vgpu_kubevirt_type_list(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("mixed");
	_cleanup_(plan_freep) struct plan *plan = NULL;
	char *types[] = {"NVIDIA_L40S-12Q"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 1};
	const struct plan_context ctx = {.machine_id = MID};

	/*
	 * KubeVirt's mediatedDeviceTypes names select vendor-VFIO types too (normalised): the
	 * L40S card keeps its 12Q and is filled as far as its lists offer; the T4 beside it
	 * offers no L40S type and is not managed.
	 */
	assert_int_equal(plan_build(inv, &pol, &ctx, &plan), 0);
	assert_int_equal(plan->n_remove, 0);
	assert_int_equal(plan->n_create, 30);
	assert_string_equal(plan->actions[0].uuid, "0000:41:00.6");
	assert_string_equal(plan->actions[0].type_id, "1153");
	for (size_t i = 0; i < plan->n_actions; i++)
		assert_string_equal(plan->actions[i].parent, "0000:41:00.0");
}

/* A fleet policy's T4 layout on the mixed node: the L40S beside it keeps its 12Q VFs. */
static void test_vgpu_unselected_card_never_changed(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("mixed");
	_cleanup_(plan_freep) struct plan *plan = NULL, *list = NULL;
	char *types[] = {"GRID T4-2Q"};
	struct policy pol = {.mediated_device_types = types, .n_mediated_device_types = 1};
	const struct plan_context ctx = {.machine_id = MID};
	static const char *const vfs[] = {"0000:41:00.4", "0000:41:00.5"};
	const struct plan_action *a;

	plan = plan_vgpu(inv, "10de:1eb8", "GRID T4-2Q", 2, &ctx);
	assert_int_equal(plan->n_remove, 0);
	assert_int_equal(plan->n_create, 2);
	/* KubeVirt's type list that only the T4 offers leaves the L40S alone as well. */
	assert_int_equal(plan_build(inv, &pol, &ctx, &list), 0);
	assert_int_equal(list->n_remove, 0);
	for (size_t i = 0; i < ARRAY_SIZE(vfs); i++) {
		a = find_action(plan, vfs[i]);
		assert_int_equal(a->kind, PLAN_KEEP);
		assert_int_equal(a->reason, PLAN_REASON_CARD_UNSELECTED);
		assert_int_equal(find_action(list, vfs[i])->reason, PLAN_REASON_CARD_UNSELECTED);
	}
	assert_string_equal(plan_reason_str(PLAN_REASON_CARD_UNSELECTED),
			    "not managed: no rule of the policy selects this card");
}

static void test_mdev_in_use_by_cdev(void **state)
{
	_cleanup_(node_freep) struct node *n = node_new();
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct pol_type_request tr[] = {{"mtty-1", 0}};
	struct pol_layout lay = {.all_parents = true, .types = tr, .n_types = 1};
	struct policy pol = {.layouts = &lay, .n_layouts = 1};
	const unsigned int cdevs[] = {3};
	const struct plan_context ctx = {
		.machine_id = MID, .in_use_cdevs = cdevs, .n_in_use_cdevs = 1};
	const struct plan_action *a;

	/* An mdev whose group is closed but whose cdev (vfio-dev/vfio3) QEMU holds. */
	node_parent(n, "mtty", NULL, 0, 0, MODEL_INDEPENDENT, 0);
	node_type(n, "mtty", "mtty-1", "Single port serial", 2, 1);
	node_owned(n, "mtty", "mtty-1", 0, 10);
	node_owned(n, "mtty", "mtty-1", 1, 11);
	n->inv.mdevs[0].has_vfio_cdev = true;
	n->inv.mdevs[0].vfio_cdev = 3;
	n->inv.mdevs[1].has_vfio_cdev = true;
	n->inv.mdevs[1].vfio_cdev = 4;
	plan = build(n, &pol, &ctx);
	a = find_action(plan, n->inv.mdevs[0].uuid);
	assert_int_equal(a->kind, PLAN_KEEP);
	assert_int_equal(a->reason, PLAN_REASON_IN_USE);
	assert_int_equal(find_action(plan, n->inv.mdevs[1].uuid)->kind, PLAN_REMOVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_known_vectors),
		cmocka_unit_test(test_uuid_deterministic_and_distinct),
		cmocka_unit_test(test_uuid_errors),
		cmocka_unit_test(test_owned_recognised),
		cmocka_unit_test(test_owned_slot_limit),
		cmocka_unit_test(test_owned_beyond_limit_recognised_by_count),
		cmocka_unit_test(test_owned_unknown_parent),
		cmocka_unit_test(test_bad_machine_id),
		cmocka_unit_test(test_empty_policy_keeps_everything),
		cmocka_unit_test(test_empty_node),
		cmocka_unit_test(test_kubevirt_round_robin),
		cmocka_unit_test(test_kubevirt_round_robin_uneven),
		cmocka_unit_test(test_kubevirt_existing_type_kept),
		cmocka_unit_test(test_kubevirt_by_name),
		cmocka_unit_test(test_kubevirt_foreign_parent_left_alone),
		cmocka_unit_test(test_kubevirt_foreign_parent_not_managed),
		cmocka_unit_test(test_kubevirt_ring_uses_best_rank),
		cmocka_unit_test(test_kubevirt_unlisted_owned_removed),
		cmocka_unit_test(test_kubevirt_disabled),
		cmocka_unit_test(test_kubevirt_retype_removes_unlisted_everywhere),
		cmocka_unit_test(test_layout_parent_dropped_loses_owned),
		cmocka_unit_test(test_kubevirt_several_listed_types_on_parent),
		cmocka_unit_test(test_layout_exact_counts_mtty),
		cmocka_unit_test(test_layout_by_name),
		cmocka_unit_test(test_layout_parents_by_vendor_device_and_address),
		cmocka_unit_test(test_layout_first_layout_wins),
		cmocka_unit_test(test_layout_max_mbochs),
		cmocka_unit_test(test_layout_max_counts_owned_not_foreign),
		cmocka_unit_test(test_layout_empty_types_empties_parent),
		cmocka_unit_test(test_shrink_removes_highest_slots),
		cmocka_unit_test(test_in_use_kept),
		cmocka_unit_test(test_wanted_in_use_is_wanted),
		cmocka_unit_test(test_foreign_kept_and_removed),
		cmocka_unit_test(test_capacity_shortfall),
		cmocka_unit_test(test_same_type_removal_frees_capacity),
		cmocka_unit_test(test_removal_of_other_type_does_not_count),
		cmocka_unit_test(test_nvidia_timesliced_two_rounds),
		cmocka_unit_test(test_nvidia_timesliced_in_use_blocks_switch),
		cmocka_unit_test(test_duplicate_uuid_on_another_parent),
		cmocka_unit_test(test_duplicate_uuid_other_type_same_parent),
		cmocka_unit_test(test_max_stays_below_ownership_bound),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_convergence_from_many_states),
		cmocka_unit_test(test_domain_reserved_and_in_use_kept),
		cmocka_unit_test(test_domain_running_wins_and_wanted_shows_domain),
		cmocka_unit_test(test_domain_names_nvidia_vf),
		cmocka_unit_test(test_vgpu_free_vfs_lowest_first),
		cmocka_unit_test(test_vgpu_configured_kept_and_shrunk),
		cmocka_unit_test(test_vgpu_in_use_by_cdev_or_group),
		cmocka_unit_test(test_vgpu_kubevirt_type_list),
		cmocka_unit_test(test_vgpu_unselected_card_never_changed),
		cmocka_unit_test(test_mdev_in_use_by_cdev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
