/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checking a parsed policy against one node's inventory: do the parents a layout
 * names exist, does each parent belong to one layout only, and is every type the
 * policy names offered where it is asked for. No I/O: the inventory is a snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "pol_private.h"

#define LIST_SHOWN 10 /* names listed in a message before ", … N more" */

/* A growable list of borrowed strings. */
struct strlist {
	const char **v;
	size_t n, cap;
};

static void strlist_clear(struct strlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int strlist_add(struct strlist *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		const char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Sort and de-duplicate @l, then write "a, b, c" into @buf, at most LIST_SHOWN names
 * and then ", … N more". @none is written when the list is empty.
 */
static void strlist_format(struct strlist *l, char *buf, size_t size, const char *none)
{
	size_t n = 0, len = 0;

	buf[0] = '\0';
	if (l->n == 0) {
		snprintf(buf, size, "%s", none);
		return;
	}
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (size_t i = 0; i < l->n; i++)
		if (n == 0 || !streq(l->v[n - 1], l->v[i]))
			l->v[n++] = l->v[i];
	l->n = n;
	for (size_t i = 0; i < n && i < LIST_SHOWN; i++) {
		int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", l->v[i]);

		if (w < 0 || (size_t)w >= size - len)
			return;
		len += (size_t)w;
	}
	if (n > LIST_SHOWN)
		snprintf(buf + len, size - len, ", … %zu more", n - LIST_SHOWN);
}

struct validator {
	const struct policy *pol;
	const struct inventory *inv;
	struct pol_error *err;
	struct pol_path path;
};

static int nomem(struct validator *vd)
{
	pol_fail(vd->err, vd->path.buf, "out of memory");
	return -ENOMEM;
}

static void layout_path(struct validator *vd, size_t i)
{
	pol_path_init(&vd->path, "$.mdevd.layouts");
	pol_path_push_index(&vd->path, i);
}

/* Every explicit parent of every layout selects at least one parent of the node. */
static int check_parents_exist(struct validator *vd)
{
	const struct inventory *inv = vd->inv;

	for (size_t i = 0; i < vd->pol->n_layouts; i++) {
		const struct pol_layout *l = &vd->pol->layouts[i];

		for (size_t j = 0; j < l->n_parents; j++) {
			const struct pol_parent_match *m = &l->parents[j];
			_cleanup_free_ char *ids = NULL;
			struct strlist names = {};
			char list[POL_ERROR_MAX / 2];
			bool found = false;
			int r = 0;

			for (size_t k = 0; k < inv->n_parents && !found; k++)
				found = pol_parent_matches(m, &inv->parents[k]);
			if (found)
				continue;

			layout_path(vd, i);
			pol_path_push_key(&vd->path, "parents");
			pol_path_push_index(&vd->path, j);
			if (m->kind == POL_PARENT_VENDOR_DEVICE) {
				/* List the vendor:device ids the node's PCI parents have. */
				ids = calloc(inv->n_parents ? inv->n_parents : 1, 10);
				if (!ids)
					return nomem(vd);
				for (size_t k = 0; k < inv->n_parents && r == 0; k++) {
					const struct mdev_parent *p = &inv->parents[k];

					if (!p->pci_address)
						continue;
					snprintf(ids + k * 10, 10, "%04x:%04x", p->vendor_id,
						 p->device_id);
					r = strlist_add(&names, ids + k * 10);
				}
			} else {
				for (size_t k = 0; k < inv->n_parents && r == 0; k++)
					r = strlist_add(&names, inv->parents[k].name);
			}
			if (r < 0) {
				strlist_clear(&names);
				return nomem(vd);
			}
			strlist_format(&names, list, sizeof(list), "none");
			strlist_clear(&names);
			if (m->kind == POL_PARENT_VENDOR_DEVICE)
				return pol_fail(
					vd->err, vd->path.buf,
					"no PCI parent on this node is a %s device (PCI parents "
					"here: %s)",
					m->value, list);
			if (inv->n_parents == 0)
				return pol_fail(
					vd->err, vd->path.buf,
					"no parent \"%s\" on this node: it has no mdev parents "
					"(is an mdev driver loaded?)",
					m->value);
			return pol_fail(vd->err, vd->path.buf,
					"no parent \"%s\" on this node (parents: %s)", m->value,
					list);
		}
	}
	return 0;
}

/* The entry of layout @l that selects @p: its path under the layout. */
static void matching_entry_path(struct validator *vd, size_t li, const struct mdev_parent *p)
{
	const struct pol_layout *l = &vd->pol->layouts[li];

	layout_path(vd, li);
	pol_path_push_key(&vd->path, "parents");
	for (size_t j = 0; j < l->n_parents; j++) {
		if (pol_parent_matches(&l->parents[j], p)) {
			pol_path_push_index(&vd->path, j);
			return;
		}
	}
}

/* No parent of the node is selected by two layouts. */
static int check_overlap(struct validator *vd)
{
	const struct policy *pol = vd->pol;

	for (size_t k = 0; k < vd->inv->n_parents; k++) {
		const struct mdev_parent *p = &vd->inv->parents[k];
		size_t first = SIZE_MAX;

		for (size_t i = 0; i < pol->n_layouts; i++) {
			if (!pol_layout_matches(&pol->layouts[i], p))
				continue;
			if (first == SIZE_MAX) {
				first = i;
				continue;
			}
			matching_entry_path(vd, i, p);
			return pol_fail(
				vd->err, vd->path.buf,
				"selects parent %s, which $.mdevd.layouts[%zu] selects too: "
				"a parent may be in one layout only",
				p->name, first);
		}
	}
	return 0;
}

/* Type ids offered by the parents that @l selects (all parents when @l is NULL). */
static int offered_ids(const struct inventory *inv, const struct pol_layout *l, struct strlist *out)
{
	for (size_t k = 0; k < inv->n_parents; k++) {
		const struct mdev_parent *p = &inv->parents[k];

		if (l && !pol_layout_matches(l, p))
			continue;
		for (size_t t = 0; t < p->n_types; t++)
			if (strlist_add(out, p->types[t].id) < 0)
				return -ENOMEM;
	}
	return 0;
}

static int type_not_offered(struct validator *vd, const struct pol_layout *l, const char *type)
{
	const struct inventory *inv = vd->inv;
	struct strlist ids = {}, elsewhere = {};
	char list[POL_ERROR_MAX / 2], other[POL_ERROR_MAX / 4];
	int r;

	if (inv->n_parents == 0)
		return pol_fail(vd->err, vd->path.buf,
				"no parent on this node offers this type: it has no mdev parents "
				"(is an mdev driver loaded?)");
	r = offered_ids(inv, l, &ids);
	for (size_t k = 0; k < inv->n_parents && r == 0 && !l->all_parents; k++) {
		const struct mdev_parent *p = &inv->parents[k];

		if (!pol_layout_matches(l, p) && pol_find_type(p, type))
			r = strlist_add(&elsewhere, p->name);
	}
	if (r < 0) {
		strlist_clear(&ids);
		strlist_clear(&elsewhere);
		return nomem(vd);
	}
	strlist_format(&ids, list, sizeof(list), "nothing");
	strlist_format(&elsewhere, other, sizeof(other), "");
	strlist_clear(&ids);
	r = elsewhere.n > 0;
	strlist_clear(&elsewhere);
	if (l->all_parents)
		return pol_fail(vd->err, vd->path.buf,
				"no parent on this node offers this type (offered: %s)", list);
	if (r)
		return pol_fail(vd->err, vd->path.buf,
				"none of this layout's parents offers this type (they offer: %s); "
				"it is offered by %s, which this layout does not select",
				list, other);
	return pol_fail(vd->err, vd->path.buf,
			"no parent on this node offers this type (offered: %s)", list);
}

/* Every type of every layout is offered by one of the layout's parents, once. */
static int check_layout_types(struct validator *vd)
{
	const struct inventory *inv = vd->inv;

	for (size_t i = 0; i < vd->pol->n_layouts; i++) {
		const struct pol_layout *l = &vd->pol->layouts[i];

		for (size_t t = 0; t < l->n_types; t++) {
			const char *want = l->types[t].type;
			bool found = false;

			layout_path(vd, i);
			pol_path_push_key(&vd->path, "types");
			pol_path_push_quoted(&vd->path, want);
			for (size_t k = 0; k < inv->n_parents; k++) {
				const struct mdev_parent *p = &inv->parents[k];
				const struct mdev_type *ty;

				if (!pol_layout_matches(l, p))
					continue;
				ty = pol_find_type(p, want);
				if (!ty)
					continue;
				found = true;
				for (size_t u = 0; u < t; u++)
					if (pol_find_type(p, l->types[u].type) == ty)
						return pol_fail(vd->err, vd->path.buf,
								"names the same type of parent %s "
								"(%s) as types[\"%s\"]",
								p->name, ty->id, l->types[u].type);
			}
			if (!found)
				return type_not_offered(vd, l, want);
		}
	}
	return 0;
}

/* Every mediatedDeviceTypes entry is a type id some parent offers. */
static int check_mediated_device_types(struct validator *vd)
{
	const struct policy *pol = vd->pol;
	const struct inventory *inv = vd->inv;

	for (size_t i = 0; i < pol->n_mediated_device_types; i++) {
		const char *want = pol->mediated_device_types[i];
		struct strlist ids = {};
		char list[POL_ERROR_MAX / 2];
		bool found = false;
		int r = 0;

		for (size_t k = 0; k < inv->n_parents && !found; k++)
			for (size_t t = 0; t < inv->parents[k].n_types && !found; t++)
				found = streq(inv->parents[k].types[t].id, want);
		if (found)
			continue;

		pol_path_init(&vd->path, pol->mediated_device_types_path ?: "$");
		pol_path_push_index(&vd->path, i);
		if (inv->n_parents == 0)
			return pol_fail(vd->err, vd->path.buf,
					"type \"%s\" is not offered by any parent on this node: it "
					"has no mdev parents (is an mdev driver loaded?)",
					want);
		/* A type name where an id belongs: say which ids it names. */
		for (size_t k = 0; k < inv->n_parents && r == 0; k++) {
			const struct mdev_type *ty = pol_find_type(&inv->parents[k], want);

			if (ty)
				r = strlist_add(&ids, ty->id);
		}
		if (r == 0 && ids.n > 0) {
			strlist_format(&ids, list, sizeof(list), "");
			strlist_clear(&ids);
			return pol_fail(
				vd->err, vd->path.buf,
				"\"%s\" is a type name; mediatedDeviceTypes takes type ids: "
				"%s",
				want, list);
		}
		if (r == 0)
			r = offered_ids(inv, NULL, &ids);
		if (r < 0) {
			strlist_clear(&ids);
			return nomem(vd);
		}
		strlist_format(&ids, list, sizeof(list), "nothing");
		strlist_clear(&ids);
		return pol_fail(vd->err, vd->path.buf,
				"type \"%s\" is not offered by any parent on this node (offered: "
				"%s)",
				want, list);
	}
	return 0;
}

int pol_validate(const struct policy *pol, const struct inventory *inv, struct pol_error *err)
{
	struct validator vd = {.pol = pol, .inv = inv, .err = err};
	int r;

	if (err)
		memset(err, 0, sizeof(*err));
	pol_path_init(&vd.path, "$");
	r = check_parents_exist(&vd);
	if (r < 0)
		return r;
	r = check_overlap(&vd);
	if (r < 0)
		return r;
	r = check_layout_types(&vd);
	if (r < 0)
		return r;
	return check_mediated_device_types(&vd);
}
