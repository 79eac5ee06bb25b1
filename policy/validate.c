/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checking a parsed policy against one node's inventory, collecting every finding: a
 * policy written for a fleet names what only some nodes have (warnings), and may
 * contradict itself on a node (errors). No I/O: the inventory is a snapshot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
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
	struct pol_report *rep;
	struct pol_path path;
	bool oom;
};

static void add(struct validator *vd, enum pol_severity sev, const char *fmt, ...) _printf_(3, 4);

/* Append a finding at the current path. */
static void add(struct validator *vd, enum pol_severity sev, const char *fmt, ...)
{
	struct pol_report *rep = vd->rep;
	struct pol_diag *d;
	va_list ap;

	if (rep->n == rep->cap) {
		size_t cap = rep->cap ? rep->cap * 2 : 8;
		struct pol_diag *v = realloc(rep->diags, cap * sizeof(*v));

		if (!v) {
			vd->oom = true;
			return;
		}
		rep->diags = v;
		rep->cap = cap;
	}
	d = &rep->diags[rep->n++];
	/* realloc() leaves the new entries as it found them: no line or column unless set. */
	*d = (struct pol_diag){.severity = sev};
	snprintf(d->path, sizeof(d->path), "%s", vd->path.buf);
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
	if (sev == POL_SEVERITY_ERROR)
		rep->n_errors++;
	else
		rep->n_warnings++;
}

#define error(vd, ...) add(vd, POL_SEVERITY_ERROR, __VA_ARGS__)
#define warn(vd, ...)  add(vd, POL_SEVERITY_WARNING, __VA_ARGS__)

static void layout_path(struct validator *vd, size_t i)
{
	pol_path_init(&vd->path, "$.mdevd.layouts");
	pol_path_push_index(&vd->path, i);
}

/* Does the layout own @p (is it the most specific layout that selects it)? */
static bool owns(struct validator *vd, const struct pol_layout *l, const struct mdev_parent *p)
{
	return pol_get_layout(vd->pol, p) == l;
}

/* "the vendor:device ids of the node's PCI parents" or "the parents' names" into @buf. */
static void parent_list(struct validator *vd, bool ids, char *buf, size_t size)
{
	const struct inventory *inv = vd->inv;
	char(*vd_ids)[10] = calloc(inv->n_parents ? inv->n_parents : 1, sizeof(*vd_ids));
	struct strlist names = {};
	int r = vd_ids ? 0 : -ENOMEM;

	for (size_t k = 0; k < inv->n_parents && r == 0; k++) {
		const struct mdev_parent *p = &inv->parents[k];

		if (!ids) {
			r = strlist_add(&names, p->name);
		} else if (p->pci_address) {
			snprintf(vd_ids[k], sizeof(vd_ids[k]), "%04x:%04x", p->vendor_id,
				 p->device_id);
			r = strlist_add(&names, vd_ids[k]);
		}
	}
	if (r < 0)
		vd->oom = true;
	strlist_format(&names, buf, size, "none");
	strlist_clear(&names);
	free(vd_ids);
}

/* Every explicit parent of every layout selects a parent of the node: else a warning. */
static void check_parents_exist(struct validator *vd)
{
	const struct inventory *inv = vd->inv;

	for (size_t i = 0; i < vd->pol->n_layouts; i++) {
		const struct pol_layout *l = &vd->pol->layouts[i];
		bool any_owned = false, any_selected = false;

		for (size_t j = 0; j < l->n_parents; j++) {
			const struct pol_parent_match *m = &l->parents[j];
			char list[POL_ERROR_MAX / 2];
			bool found = false;

			for (size_t k = 0; k < inv->n_parents && !found; k++)
				found = pol_parent_matches(m, &inv->parents[k]);
			any_selected |= found;
			if (found)
				continue;

			layout_path(vd, i);
			pol_path_push_key(&vd->path, "parents");
			pol_path_push_index(&vd->path, j);
			if (inv->n_parents == 0) {
				warn(vd,
				     "selects no parent: this node has no mdev parents (is an mdev "
				     "driver loaded?)");
				continue;
			}
			parent_list(vd, m->kind == POL_PARENT_VENDOR_DEVICE, list, sizeof(list));
			if (m->kind == POL_PARENT_VENDOR_DEVICE)
				warn(vd,
				     "no PCI parent on this node is a %s device (PCI parents here: "
				     "%s): nothing here for this entry",
				     m->value, list);
			else
				warn(vd, "no parent \"%s\" on this node (parents: %s)", m->value,
				     list);
		}
		for (size_t k = 0; k < inv->n_parents; k++)
			any_owned |= owns(vd, l, &inv->parents[k]);
		if (!any_owned && any_selected) {
			layout_path(vd, i);
			pol_path_push_key(&vd->path, "parents");
			warn(vd,
			     "every parent this layout selects here is taken by a more specific "
			     "layout: it applies to no parent of this node");
		}
	}
}

static const char *specificity_str(int s)
{
	return s == 3 ? "by PCI address or name" : s == 2 ? "by vendor:device" : "as \"all\"";
}

/* The entry of layout @l that selects @p with specificity @s: its path under the layout. */
static void matching_entry_path(struct validator *vd, size_t li, const struct mdev_parent *p, int s)
{
	const struct pol_layout *l = &vd->pol->layouts[li];

	layout_path(vd, li);
	pol_path_push_key(&vd->path, "parents");
	for (size_t j = 0; j < l->n_parents; j++) {
		int sj = l->parents[j].kind == POL_PARENT_VENDOR_DEVICE ? 2 : 3;

		if (sj == s && pol_parent_matches(&l->parents[j], p)) {
			pol_path_push_index(&vd->path, j);
			return;
		}
	}
}

/* No parent is selected by two layouts at the same specificity. */
static void check_overlap(struct validator *vd)
{
	const struct policy *pol = vd->pol;

	for (size_t k = 0; k < vd->inv->n_parents; k++) {
		const struct mdev_parent *p = &vd->inv->parents[k];
		const struct pol_layout *owner = pol_get_layout(pol, p);
		int best = owner ? pol_layout_specificity(owner, p) : 0;
		size_t first = owner ? (size_t)(owner - pol->layouts) : 0;

		for (size_t i = first + 1; owner && i < pol->n_layouts; i++) {
			if (pol_layout_specificity(&pol->layouts[i], p) != best)
				continue;
			matching_entry_path(vd, i, p, best);
			error(vd,
			      "selects parent %s, which $.mdevd.layouts[%zu] selects too, %s as "
			      "well: the most specific layout takes a parent (an address or name "
			      "beats vendor:device, which beats \"all\"), so two at one level "
			      "contradict each other",
			      p->name, first, specificity_str(best));
		}
	}
}

/* A type string looks like a name (not an id) when it has a space or a capital. */
static bool looks_like_name(const char *s)
{
	for (; *s; s++)
		if (*s == ' ' || (*s >= 'A' && *s <= 'Z'))
			return true;
	return false;
}

/*
 * The types offered by the parents that @l owns (every parent when @l is NULL), as
 * `id` or, when @names, as `id "name"`, formatted into @buf.
 */
static void offered_list(struct validator *vd, const struct pol_layout *l, bool names, char *buf,
			 size_t size)
{
	const struct inventory *inv = vd->inv;
	struct strlist ids = {};
	char **owned = NULL;
	size_t n_owned = 0, n_all = 0;
	int r = 0;

	for (size_t k = 0; k < inv->n_parents; k++)
		n_all += inv->parents[k].n_types;
	if (names && n_all) {
		owned = calloc(n_all, sizeof(*owned));
		if (!owned)
			r = -ENOMEM;
	}
	for (size_t k = 0; k < inv->n_parents && r == 0; k++) {
		const struct mdev_parent *p = &inv->parents[k];

		if (l && !owns(vd, l, p))
			continue;
		for (size_t t = 0; t < p->n_types && r == 0; t++) {
			const struct mdev_type *ty = &p->types[t];

			if (!names) {
				r = strlist_add(&ids, ty->id);
				continue;
			}
			if (!ty->name || streq(ty->name, ty->id)) {
				r = strlist_add(&ids, ty->id);
				continue;
			}
			if (asprintf(&owned[n_owned], "%s \"%s\"", ty->id, ty->name) < 0) {
				owned[n_owned] = NULL;
				r = -ENOMEM;
				break;
			}
			r = strlist_add(&ids, owned[n_owned++]);
		}
	}
	if (r < 0)
		vd->oom = true;
	strlist_format(&ids, buf, size, "nothing");
	strlist_clear(&ids);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
}

static void type_not_offered(struct validator *vd, const struct pol_layout *l, const char *type)
{
	const struct inventory *inv = vd->inv;
	struct strlist elsewhere = {};
	char list[POL_ERROR_MAX / 2], other[POL_ERROR_MAX / 4];
	bool names = looks_like_name(type);
	int r = 0;

	if (inv->n_parents == 0) {
		warn(vd, "no parent on this node offers this type: it has no mdev parents (is an "
			 "mdev driver loaded?)");
		return;
	}
	offered_list(vd, l, names, list, sizeof(list));
	for (size_t k = 0; k < inv->n_parents && r == 0 && !l->all_parents; k++) {
		const struct mdev_parent *p = &inv->parents[k];

		if (!owns(vd, l, p) && pol_find_type(p, type))
			r = strlist_add(&elsewhere, p->name);
	}
	if (r < 0)
		vd->oom = true;
	strlist_format(&elsewhere, other, sizeof(other), "");
	r = elsewhere.n > 0;
	strlist_clear(&elsewhere);
	if (r)
		warn(vd,
		     "none of this layout's parents offers this type (they offer: %s); it is "
		     "offered by %s, which this layout does not take",
		     list, other);
	else
		warn(vd, "no parent of this layout on this node offers this type (offered: %s)",
		     list);
}

/* Is @p a time-sliced NVIDIA vGPU parent (one profile at a time per GPU)? */
static bool nvidia_time_sliced(const struct mdev_parent *p)
{
	return p->pci_address && p->vendor_id == 0x10de && p->backend == PARENT_BACKEND_MDEV;
}

/* Per parent of a layout: mixed NVIDIA profiles, counts above capacity. */
static void check_layout_parent(struct validator *vd, size_t li, const struct mdev_parent *p)
{
	const struct pol_layout *l = &vd->pol->layouts[li];
	const struct mdev_type *first = NULL;
	size_t first_t = 0;

	for (size_t t = 0; t < l->n_types; t++) {
		const struct pol_type_request *req = &l->types[t];
		const struct mdev_type *ty = pol_find_type(p, req->type);
		unsigned int room;

		if (!ty || req->count == 0)
			continue;
		layout_path(vd, li);
		pol_path_push_key(&vd->path, "types");
		pol_path_push_quoted(&vd->path, req->type);
		room = ty->available_instances + ty->n_instances;
		if (req->count > 0 && (unsigned int)req->count > room)
			warn(vd,
			     "asks for %d on parent %s, which can hold %u of %s now (%u free, %u "
			     "existing): %u will not fit",
			     req->count, p->name, room, ty->id, ty->available_instances,
			     ty->n_instances, (unsigned int)req->count - room);
		if (!nvidia_time_sliced(p))
			continue;
		if (!first) {
			first = ty;
			first_t = t;
		} else if (first != ty) {
			warn(vd,
			     "parent %s is a time-sliced NVIDIA GPU, which runs one profile at a "
			     "time: once types[\"%s\"] (%s) exists it offers no %s; put one "
			     "profile per GPU in a layout",
			     p->name, l->types[first_t].type, first->id, ty->id);
		}
	}
}

/* Every type of every layout is offered by a parent the layout owns, once per parent. */
static void check_layout_types(struct validator *vd)
{
	const struct inventory *inv = vd->inv;

	for (size_t i = 0; i < vd->pol->n_layouts; i++) {
		const struct pol_layout *l = &vd->pol->layouts[i];
		bool any_owned = false;

		for (size_t k = 0; k < inv->n_parents; k++)
			any_owned |= owns(vd, l, &inv->parents[k]);
		if (!any_owned && inv->n_parents > 0)
			continue; /* check_parents_exist() said so */
		for (size_t t = 0; t < l->n_types; t++) {
			const char *want = l->types[t].type;
			bool found = false;

			for (size_t k = 0; k < inv->n_parents; k++) {
				const struct mdev_parent *p = &inv->parents[k];
				const struct mdev_type *ty;
				bool dup = false;

				if (!owns(vd, l, p))
					continue;
				ty = pol_find_type(p, want);
				if (!ty)
					continue;
				found = true;
				for (size_t u = 0; u < t && !dup; u++) {
					if (pol_find_type(p, l->types[u].type) != ty)
						continue;
					layout_path(vd, i);
					pol_path_push_key(&vd->path, "types");
					pol_path_push_quoted(&vd->path, want);
					error(vd,
					      "names the same type of parent %s (%s) as "
					      "types[\"%s\"]",
					      p->name, ty->id, l->types[u].type);
					dup = true;
				}
			}
			layout_path(vd, i);
			pol_path_push_key(&vd->path, "types");
			pol_path_push_quoted(&vd->path, want);
			if (!found)
				type_not_offered(vd, l, want);
		}
		for (size_t k = 0; k < inv->n_parents; k++)
			if (owns(vd, l, &inv->parents[k]))
				check_layout_parent(vd, i, &inv->parents[k]);
	}
}

/* Every mediatedDeviceTypes entry is a type id some parent offers. */
static void check_mediated_device_types(struct validator *vd)
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

		if (pol->mediated_device_type_paths) {
			pol_path_init(&vd->path, pol->mediated_device_type_paths[i]);
		} else {
			pol_path_init(&vd->path, pol->mediated_device_types_path ?: "$");
			pol_path_push_index(&vd->path, i);
		}
		if (inv->n_parents == 0) {
			warn(vd,
			     "type \"%s\" is not offered by any parent on this node: it has no "
			     "mdev parents (is an mdev driver loaded?)",
			     want);
			continue;
		}
		/* A type name where an id belongs: say which ids it names. */
		for (size_t k = 0; k < inv->n_parents && r == 0; k++) {
			const struct mdev_type *ty = pol_find_type(&inv->parents[k], want);

			if (ty)
				r = strlist_add(&ids, ty->id);
		}
		if (r < 0)
			vd->oom = true;
		if (ids.n > 0) {
			strlist_format(&ids, list, sizeof(list), "");
			strlist_clear(&ids);
			error(vd, "\"%s\" is a type name; mediatedDeviceTypes takes type ids: %s",
			      want, list);
			continue;
		}
		strlist_clear(&ids);
		offered_list(vd, NULL, looks_like_name(want), list, sizeof(list));
		warn(vd, "type \"%s\" is not offered by any parent on this node (offered: %s)",
		     want, list);
	}
}

/* The type names of the node within 3 edits of @sel (after normalisation), into @buf. */
static void close_names(struct validator *vd, const char *sel, char *buf, size_t size)
{
	const struct inventory *inv = vd->inv;
	struct strlist names = {};
	char want[POL_NAME_MAX], have[POL_NAME_MAX];
	size_t best = 4; /* at most 3 edits */
	int r = 0;

	pol_normalize_name(sel, want, sizeof(want));
	/* Two passes: the smallest distance, then the names at that distance. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < inv->n_parents && r == 0; k++) {
			for (size_t t = 0; t < inv->parents[k].n_types && r == 0; t++) {
				const char *name = inv->parents[k].types[t].name;
				size_t d;

				if (!name || pol_normalize_name(name, have, sizeof(have)) < 0)
					continue;
				d = strcasecmp(have, want) == 0 ? 0 : pol_edit_distance(have, want);
				if (pass == 0 && d < best)
					best = d;
				else if (pass == 1 && d == best)
					r = strlist_add(&names, name);
			}
		}
	}
	if (r < 0)
		vd->oom = true;
	buf[0] = '\0';
	if (names.n)
		strlist_format(&names, buf, size, "");
	strlist_clear(&names);
}

/* Does any parent of the node offer a type whose name the selector matches? */
static bool name_selector_matches(const struct inventory *inv, const char *sel)
{
	char want[POL_NAME_MAX], have[POL_NAME_MAX];

	if (pol_normalize_name(sel, want, sizeof(want)) < 0)
		return false;
	for (size_t k = 0; k < inv->n_parents; k++)
		for (size_t t = 0; t < inv->parents[k].n_types; t++) {
			const char *name = inv->parents[k].types[t].name;

			if (name && pol_normalize_name(name, have, sizeof(have)) == 0 &&
			    streq(have, want))
				return true;
		}
	return false;
}

/* Does the policy create mdevs on @p (a layout owns it with a non-zero count, or
 * mediatedDeviceTypes lists a type it offers)? */
static bool slices_parent(const struct policy *pol, const struct mdev_parent *p)
{
	const struct pol_layout *l;

	if (pol->n_layouts) {
		l = pol_get_layout(pol, p);
		for (size_t t = 0; l && t < l->n_types; t++)
			if (l->types[t].count != 0 && pol_find_type(p, l->types[t].type))
				return true;
		return false;
	}
	if (pol->mediated_devices_disabled)
		return false;
	for (size_t i = 0; i < pol->n_mediated_device_types; i++)
		for (size_t t = 0; t < p->n_types; t++)
			if (streq(p->types[t].id, pol->mediated_device_types[i]))
				return true;
	return false;
}

static void selector_path(struct validator *vd, const char *list, size_t i, const char *key)
{
	pol_path_init(&vd->path, pol_config_root(vd->pol->shape));
	pol_path_push_key(&vd->path, "permittedHostDevices");
	pol_path_push_key(&vd->path, list);
	pol_path_push_index(&vd->path, i);
	if (key)
		pol_path_push_key(&vd->path, key);
}

/* permittedHostDevices against the node: selectors that match nothing, cards in two roles. */
static void check_selectors(struct validator *vd)
{
	const struct policy *pol = vd->pol;
	const struct inventory *inv = vd->inv;
	const char *pci_key =
		pol->shape == POL_SHAPE_HYPERCONVERGED ? "pciDeviceSelector" : "pciVendorSelector";

	for (size_t i = 0; i < pol->n_mdev_devices; i++) {
		const struct pol_mdev_device *d = &pol->mdev_devices[i];
		char list[POL_ERROR_MAX / 2];

		if (name_selector_matches(inv, d->name_selector))
			continue;
		selector_path(vd, "mediatedDevices", i, "mdevNameSelector");
		close_names(vd, d->name_selector, list, sizeof(list));
		if (list[0])
			warn(vd, "\"%s\" matches no mdev type on this node (close: %s)",
			     d->name_selector, list);
		else
			warn(vd,
			     "\"%s\" matches no mdev type on this node: %s serves no devices "
			     "here",
			     d->name_selector, d->resource_name);
	}
	for (size_t i = 0; i < pol->n_pci_devices; i++) {
		const struct pol_pci_device *d = &pol->pci_devices[i];
		bool found = false;

		for (size_t k = 0; k < inv->n_pci && !found; k++) {
			char vdid[16];

			snprintf(vdid, sizeof(vdid), "%04x:%04x", inv->pci[k].vendor_id,
				 inv->pci[k].device_id);
			found = streq(vdid, d->selector);
		}
		if (inv->n_pci > 0 && !found) {
			selector_path(vd, "pciHostDevices", i, pci_key);
			warn(vd,
			     "no PCI function on this node is a %s device: %s serves no "
			     "devices here",
			     d->selector, d->resource_name);
		}
		for (size_t k = 0; k < inv->n_parents; k++) {
			const struct mdev_parent *p = &inv->parents[k];
			char vdid[16];

			if (!p->pci_address)
				continue;
			snprintf(vdid, sizeof(vdid), "%04x:%04x", p->vendor_id, p->device_id);
			if (!streq(vdid, d->selector) || !slices_parent(pol, p))
				continue;
			selector_path(vd, "pciHostDevices", i, pci_key);
			warn(vd,
			     "takes %s for whole-device passthrough, and the policy also creates "
			     "vGPUs on it: a card is either passed through or sliced (drop the "
			     "selector, or the card from the vGPU types)",
			     p->name);
		}
	}
}

static void not_external(struct validator *vd, const char *list, size_t i, const char *resource)
{
	selector_path(vd, list, i, NULL);
	warn(vd,
	     "no \"externalResourceProvider\": true: KubeVirt's virt-handler serves %s too, and "
	     "kubelet keeps one plugin per resource name (set it so that only mdevd serves it)",
	     resource);
}

/* What needs no node: entries KubeVirt's virt-handler would serve too. */
static void check_document(struct validator *vd)
{
	const struct policy *pol = vd->pol;

	/* A bare config is mdevd's alone; in a CR, virt-handler reads the same entries. */
	if (pol->shape == POL_SHAPE_BARE)
		return;
	for (size_t i = 0; i < pol->n_mdev_devices; i++)
		if (!pol->mdev_devices[i].external_resource_provider)
			not_external(vd, "mediatedDevices", i, pol->mdev_devices[i].resource_name);
	for (size_t i = 0; i < pol->n_pci_devices; i++)
		if (!pol->pci_devices[i].external_resource_provider)
			not_external(vd, "pciHostDevices", i, pol->pci_devices[i].resource_name);
}

void pol_report_clear(struct pol_report *rep)
{
	free(rep->diags);
	*rep = (struct pol_report){};
}

int pol_check(const struct policy *pol, const struct inventory *inv, struct pol_report *rep)
{
	struct validator vd = {.pol = pol, .inv = inv, .rep = rep};

	pol_path_init(&vd.path, "$");
	if (inv) {
		check_parents_exist(&vd);
		check_overlap(&vd);
		check_layout_types(&vd);
		check_mediated_device_types(&vd);
		check_selectors(&vd);
	}
	check_document(&vd);
	if (vd.oom)
		return -ENOMEM;
	return rep->n_errors ? -EINVAL : 0;
}

int pol_validate(const struct policy *pol, const struct inventory *inv, struct pol_error *err)
{
	struct pol_report rep = {};
	int r;

	if (err)
		memset(err, 0, sizeof(*err));
	r = pol_check(pol, inv, &rep);
	if (r == -ENOMEM) {
		pol_fail(err, "$", "out of memory");
	} else if (r == -EINVAL) {
		for (size_t i = 0; i < rep.n; i++) {
			if (rep.diags[i].severity != POL_SEVERITY_ERROR)
				continue;
			pol_fail(err, rep.diags[i].path, "%s", rep.diags[i].message);
			break;
		}
	}
	pol_report_clear(&rep);
	return r;
}
