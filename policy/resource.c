/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resource: pools from the inventory and the policy's permittedHostDevices. Pure: the
 * inventory snapshot carries every fact (driver, IOMMU group, NUMA node, PF link).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdevd/macro.h"
#include "mdevd/resource.h"

#define VFIO_PCI_DRIVER "vfio-pci"

static void pool_clear(struct resource_pool *p)
{
	free(p->name);
	free(p->devices);
	for (size_t i = 0; i < p->n_unserved; i++)
		free(p->unserved[i].reason);
	free(p->unserved);
}

void resource_set_free(struct resource_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_pools; i++)
		pool_clear(&set->pools[i]);
	free(set->pools);
	free(set);
}

/* The pool named @name in @set, or NULL. Linear: pools are few, and not sorted yet. */
static struct resource_pool *find_pool(struct resource_set *set, const char *name)
{
	for (size_t i = 0; i < set->n_pools; i++)
		if (streq(set->pools[i].name, name))
			return &set->pools[i];
	return NULL;
}

static int get_pool(struct resource_set *set, const char *name, enum resource_kind kind,
		    bool external, struct resource_pool **out)
{
	struct resource_pool *p = find_pool(set, name), *pools;

	if (p) {
		*out = p;
		return 0;
	}
	pools = reallocarray(set->pools, set->n_pools + 1, sizeof(*pools));
	if (!pools)
		return -ENOMEM;
	set->pools = pools;
	p = &pools[set->n_pools];
	*p = (struct resource_pool){.kind = kind, .external_resource_provider = external};
	p->name = strdup(name);
	if (!p->name)
		return -ENOMEM;
	set->n_pools++;
	*out = p;
	return 0;
}

static int add_device(struct resource_pool *p, const struct resource_device *d)
{
	struct resource_device *devs;

	devs = reallocarray(p->devices, p->n_devices + 1, sizeof(*devs));
	if (!devs)
		return -ENOMEM;
	p->devices = devs;
	devs[p->n_devices++] = *d;
	return 0;
}

static int add_unserved(struct resource_pool *p, const char *id, const char *fmt, ...)
	_printf_(3, 4);

static int add_unserved(struct resource_pool *p, const char *id, const char *fmt, ...)
{
	struct resource_unserved *u;
	char *reason;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	u = reallocarray(p->unserved, p->n_unserved + 1, sizeof(*u));
	if (!u) {
		free(reason);
		return -ENOMEM;
	}
	p->unserved = u;
	u = &u[p->n_unserved++];
	snprintf(u->id, sizeof(u->id), "%s", id);
	u->reason = reason;
	return 0;
}

/* The pool other than @self that already lists @id, or NULL. */
static const struct resource_pool *holder(const struct resource_set *set,
					  const struct resource_pool *self, const char *id)
{
	for (size_t i = 0; i < set->n_pools; i++) {
		const struct resource_pool *p = &set->pools[i];

		if (p == self)
			continue;
		for (size_t j = 0; j < p->n_devices; j++)
			if (streq(p->devices[j].id, id))
				return p;
	}
	return NULL;
}

static bool listed(const struct resource_pool *p, const char *id)
{
	for (size_t j = 0; j < p->n_devices; j++)
		if (streq(p->devices[j].id, id))
			return true;
	return false;
}

/*
 * Put @d into @p unless another pool holds it or @p is of the other kind (then it is
 * unserved, with the reason), or @p lists it already (two selectors of one pool).
 */
static int offer(struct resource_set *set, struct resource_pool *p, enum resource_kind kind,
		 const struct resource_device *d)
{
	const struct resource_pool *other;

	if (p->kind != kind)
		return add_unserved(p, d->id,
				    "resource name \"%s\" already names %s devices, not %s devices",
				    p->name, p->kind == RESOURCE_MDEV ? "mediated" : "PCI",
				    kind == RESOURCE_MDEV ? "mediated" : "PCI");
	if (listed(p, d->id))
		return 0;
	other = holder(set, p, d->id);
	if (other)
		return add_unserved(p, d->id, "already served as \"%s\"", other->name);
	return add_device(p, d);
}

static int build_mdev(const struct inventory *inv, const struct pol_mdev_device *sel,
		      struct resource_set *set)
{
	char want[POL_NAME_MAX], have[POL_NAME_MAX];
	struct resource_pool *p;
	int r;

	r = get_pool(set, sel->resource_name, RESOURCE_MDEV, sel->external_resource_provider, &p);
	if (r < 0)
		return r;
	if (pol_normalize_name(sel->name_selector, want, sizeof(want)) < 0)
		return 0; /* longer than any type name can be: matches nothing */
	for (size_t i = 0; i < inv->n_mdevs; i++) {
		const struct mdev_instance *m = &inv->mdevs[i];
		const struct mdev_parent *parent = inventory_get_parent(inv, m->parent);
		const struct mdev_type *t = parent ? inventory_get_type(parent, m->type_id) : NULL;
		struct resource_device d = {.iommu_group = m->iommu_group, .numa_node = -1};

		/* struct mdev_type.name is a copy of the id when the type has no name file. */
		if (!t || pol_normalize_name(t->name, have, sizeof(have)) < 0 || !streq(have, want))
			continue;
		snprintf(d.id, sizeof(d.id), "%s", m->uuid);
		d.numa_node = parent->numa_node;
		d.healthy = m->iommu_group >= 0;
		d.has_vfio_cdev = m->has_vfio_cdev;
		d.vfio_cdev = m->vfio_cdev;
		if (m->backend == PARENT_BACKEND_NVIDIA_VGPU) {
			/*
			 * A vendor-VFIO vGPU is a whole VF: a PCI device of its card, served
			 * with KubeVirt's PCI contract. The pool its name selects is a PCI pool.
			 */
			if (p->kind == RESOURCE_MDEV && !p->n_devices && !p->n_unserved)
				p->kind = RESOURCE_PCI;
			d.card = parent->name;
			r = offer(set, p, RESOURCE_PCI, &d);
			if (r < 0)
				return r;
			continue;
		}
		d.parent = parent->name;
		d.card = parent->physfn ? parent->physfn : parent->name;
		r = offer(set, p, RESOURCE_MDEV, &d);
		if (r < 0)
			return r;
	}
	return 0;
}

static int build_pci(const struct inventory *inv, const struct pol_pci_device *sel,
		     struct resource_set *set)
{
	struct resource_pool *p;
	int r;

	r = get_pool(set, sel->resource_name, RESOURCE_PCI, sel->external_resource_provider, &p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];
		struct resource_device d = {.iommu_group = f->iommu_group};
		char ids[16];

		snprintf(ids, sizeof(ids), "%04x:%04x", f->vendor_id, f->device_id);
		if (strcasecmp(ids, sel->selector) != 0)
			continue;
		if (!f->driver || !streq(f->driver, VFIO_PCI_DRIVER)) {
			if (listed(p, f->address))
				continue;
			r = f->driver ? add_unserved(p, f->address, "bound to %s, not vfio-pci",
						     f->driver)
				      : add_unserved(p, f->address,
						     "bound to no driver, not vfio-pci");
			if (r < 0)
				return r;
			continue;
		}
		snprintf(d.id, sizeof(d.id), "%s", f->address);
		d.numa_node = f->numa_node;
		d.card = f->physfn ? f->physfn : f->address;
		d.healthy = f->iommu_group >= 0;
		r = offer(set, p, RESOURCE_PCI, &d);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_device(const void *a, const void *b)
{
	return strcmp(((const struct resource_device *)a)->id,
		      ((const struct resource_device *)b)->id);
}

static int cmp_unserved(const void *a, const void *b)
{
	return strcmp(((const struct resource_unserved *)a)->id,
		      ((const struct resource_unserved *)b)->id);
}

static int cmp_pool(const void *a, const void *b)
{
	return strcmp(((const struct resource_pool *)a)->name,
		      ((const struct resource_pool *)b)->name);
}

int resource_build(const struct inventory *inv, const struct policy *pol, struct resource_set **out)
{
	_cleanup_(resource_set_freep) struct resource_set *set = calloc(1, sizeof(*set));
	int r;

	if (!set)
		return -ENOMEM;
	/* From the cluster's CR, virt-handler serves the entries not marked external. */
	for (size_t i = 0; i < pol->n_mdev_devices; i++) {
		if (pol->external_only && !pol->mdev_devices[i].external_resource_provider)
			continue;
		r = build_mdev(inv, &pol->mdev_devices[i], set);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < pol->n_pci_devices; i++) {
		if (pol->external_only && !pol->pci_devices[i].external_resource_provider)
			continue;
		r = build_pci(inv, &pol->pci_devices[i], set);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < set->n_pools; i++) {
		struct resource_pool *p = &set->pools[i];

		if (p->n_devices)
			qsort(p->devices, p->n_devices, sizeof(*p->devices), cmp_device);
		if (p->n_unserved)
			qsort(p->unserved, p->n_unserved, sizeof(*p->unserved), cmp_unserved);
	}
	if (set->n_pools)
		qsort(set->pools, set->n_pools, sizeof(*set->pools), cmp_pool);
	*out = steal_ptr(set);
	return 0;
}

const struct resource_pool *resource_get_pool(const struct resource_set *set, const char *name)
{
	for (size_t i = 0; i < set->n_pools; i++)
		if (streq(set->pools[i].name, name))
			return &set->pools[i];
	return NULL;
}

const char *resource_device_physfn(const struct resource_device *d)
{
	/* The card is the PF exactly when the parent (mdev) or the function (PCI) is a VF. */
	const char *self = d->parent ? d->parent : d->id;

	return d->card && !streq(d->card, self) ? d->card : NULL;
}

int resource_env_name(enum resource_kind kind, const char *resource_name, char *buf, size_t size)
{
	const char *prefix = kind == RESOURCE_MDEV ? "MDEV_PCI_RESOURCE_" : "PCI_RESOURCE_";
	size_t plen = strlen(prefix), n = strlen(resource_name);

	if (plen + n + 1 > size) {
		if (size)
			buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(buf, prefix, plen);
	for (size_t i = 0; i < n; i++) {
		char c = resource_name[i];

		buf[plen + i] = c == '/' || c == '.' ? '_' : (char)toupper((unsigned char)c);
	}
	buf[plen + n] = '\0';
	return 0;
}
