/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inventory: assembles one immutable snapshot of the node (include/mdevd/inventory.h)
 * from mdev.c (class/mdev_bus parents and types, bus/mdev/devices instances) and
 * pcidev_libpci.c (bus/pci/devices through libpci), all relative to one sysfs root. It reads only
 * what was asked: `mdevd types` asks for INVENTORY_TYPES alone, so no libpci, no instance
 * scan and no devices/ listing per type (n_instances stays 0 unless INVENTORY_MDEVS is
 * asked too). Lookups are binary searches over the sorted arrays.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "node/mdev.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "node/nvidia_vgpu.h"
#include "node/pcidev.h"

static int cmp_parents(const void *a, const void *b)
{
	return strcmp(((const struct mdev_parent *)a)->name, ((const struct mdev_parent *)b)->name);
}

static int cmp_instances(const void *a, const void *b)
{
	return strcmp(((const struct mdev_instance *)a)->uuid,
		      ((const struct mdev_instance *)b)->uuid);
}

/*
 * Append the NVIDIA vendor-VFIO cards (node/nvidia_vgpu.h) to the mdev parents and their
 * configured VFs to the instances, keeping both sorted. A card whose PF is also an mdev
 * parent (no driver does both) is reported and left out. Returns 0 or -errno.
 */
static int add_vendor_vfio(int sysfs_fd, unsigned int what, inventory_report_fn report,
			   void *userdata, struct inventory *inv)
{
	struct mdev_parent *cards = NULL, *np;
	struct mdev_instance *vgpus = NULL, *nm;
	size_t n_cards = 0, n_vgpus = 0, kept = 0;
	bool mdevs = what & INVENTORY_MDEVS;
	int r;

	r = nvidia_vgpu_load(sysfs_fd, mdevs, report, userdata, &cards, &n_cards,
			     mdevs ? &vgpus : NULL, &n_vgpus);
	if (r < 0)
		return r;
	np = n_cards ? reallocarray(inv->parents, inv->n_parents + n_cards, sizeof(*np)) : NULL;
	nm = n_vgpus ? reallocarray(inv->mdevs, inv->n_mdevs + n_vgpus, sizeof(*nm)) : NULL;
	if ((n_cards && !np) || (n_vgpus && !nm)) {
		if (np)
			inv->parents = np;
		if (nm)
			inv->mdevs = nm;
		mdev_parents_free(cards, n_cards);
		mdev_instances_free(vgpus, n_vgpus);
		return -ENOMEM;
	}
	if (np)
		inv->parents = np;
	if (nm)
		inv->mdevs = nm;
	for (size_t i = 0; i < n_cards; i++) {
		bool dup = false;

		for (size_t k = 0; k < inv->n_parents && !dup; k++)
			dup = streq(inv->parents[k].name, cards[i].name);
		if (dup && report)
			report(userdata, cards[i].name, -EEXIST,
			       "is an mdev parent and has VFs with nvidia/current_vgpu_type: its "
			       "VFs are left out");
		if (dup || !(what & INVENTORY_TYPES)) {
			/* Its configured VFs go too: they would name a card that is not there. */
			for (size_t k = 0; dup && k < n_vgpus; k++)
				if (vgpus[k].parent && streq(vgpus[k].parent, cards[i].name)) {
					free(vgpus[k].parent);
					vgpus[k].parent = NULL;
				}
			mdev_parent_clear(&cards[i]);
			continue;
		}
		inv->parents[inv->n_parents + kept++] = cards[i];
	}
	inv->n_parents += kept;
	for (size_t i = 0; i < n_vgpus; i++) {
		if (!vgpus[i].parent) {
			free(vgpus[i].type_id);
			continue;
		}
		inv->mdevs[inv->n_mdevs++] = vgpus[i];
	}
	free(cards);
	free(vgpus);
	if (inv->n_parents > 1)
		qsort(inv->parents, inv->n_parents, sizeof(*inv->parents), cmp_parents);
	if (inv->n_mdevs > 1)
		qsort(inv->mdevs, inv->n_mdevs, sizeof(*inv->mdevs), cmp_instances);
	return 0;
}

int inventory_load(int sysfs_fd, const char *sysfs_path, unsigned int what,
		   inventory_report_fn report, void *userdata, struct inventory **out)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	int r;

	inv = calloc(1, sizeof(*inv));
	if (!inv)
		return -ENOMEM;
	if (what & INVENTORY_TYPES) {
		r = mdev_parents_load(sysfs_fd, what & INVENTORY_MDEVS, report, userdata,
				      &inv->parents, &inv->n_parents);
		if (r < 0)
			return r == -ENOMEM ? r : -EIO;
	}
	if (what & INVENTORY_MDEVS) {
		r = mdev_instances_load(sysfs_fd, report, userdata, &inv->mdevs, &inv->n_mdevs);
		if (r < 0)
			return r == -ENOMEM ? r : -EIO;
	}
	if (what & (INVENTORY_TYPES | INVENTORY_MDEVS)) {
		r = add_vendor_vfio(sysfs_fd, what, report, userdata, inv);
		if (r < 0)
			return r == -ENOMEM ? r : -EIO;
	}
	if (what & INVENTORY_PCI) {
		r = pcidev_scan(sysfs_fd, sysfs_path, what & INVENTORY_PCI_NAMES, report, userdata,
				&inv->pci, &inv->n_pci);
		if (r < 0)
			return r == -ENOMEM ? r : -EIO;
	}
	*out = steal_ptr(inv);
	return 0;
}

/* Deep copies of @n functions, into a new array. Returns 0 or -ENOMEM. */
static int pci_functions_copy(const struct pci_function *src, size_t n, struct pci_function **out)
{
	struct pci_function *fns;

	if (!n) {
		*out = NULL;
		return 0;
	}
	fns = calloc(n, sizeof(*fns));
	if (!fns)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pci_function *f = &fns[i];
		char **strs[] = {&f->driver, &f->physfn, &f->vendor_name, &f->device_name,
				 &f->class_name};

		*f = src[i];
		for (size_t k = 0; k < ARRAY_SIZE(strs); k++) {
			if (!*strs[k])
				continue;
			*strs[k] = strdup(*strs[k]);
			if (!*strs[k]) {
				/* The strings not copied yet still point into @src: drop them. */
				for (size_t j = k + 1; j < ARRAY_SIZE(strs); j++)
					*strs[j] = NULL;
				pcidev_functions_free(fns, i + 1);
				return -ENOMEM;
			}
		}
	}
	*out = fns;
	return 0;
}

int inventory_load_reusing_pci(int sysfs_fd, const struct inventory *prev,
			       inventory_report_fn report, void *userdata, struct inventory **out)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	int r;

	/* No libpci here: the path is only for its sysfs.path. */
	r = inventory_load(sysfs_fd, NULL, INVENTORY_TYPES | INVENTORY_MDEVS, report, userdata,
			   &inv);
	if (r < 0)
		return r;
	if (prev) {
		r = pci_functions_copy(prev->pci, prev->n_pci, &inv->pci);
		if (r < 0)
			return r;
		inv->n_pci = prev->n_pci;
	}
	*out = steal_ptr(inv);
	return 0;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	mdev_parents_free(inv->parents, inv->n_parents);
	mdev_instances_free(inv->mdevs, inv->n_mdevs);
	pcidev_functions_free(inv->pci, inv->n_pci);
	free(inv);
}

static int cmp_parent_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mdev_parent *)elem)->name);
}

static int cmp_type_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mdev_type *)elem)->id);
}

static int cmp_mdev_key(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct mdev_instance *)elem)->uuid);
}

static int cmp_pci_key(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct pci_function *)elem)->address);
}

const struct mdev_parent *inventory_get_parent(const struct inventory *inv, const char *name)
{
	if (!inv || !name || !inv->n_parents)
		return NULL;
	return bsearch(name, inv->parents, inv->n_parents, sizeof(*inv->parents), cmp_parent_key);
}

const struct mdev_type *inventory_get_type(const struct mdev_parent *parent, const char *type_id)
{
	if (!parent || !type_id || !parent->n_types)
		return NULL;
	return bsearch(type_id, parent->types, parent->n_types, sizeof(*parent->types),
		       cmp_type_key);
}

/* UUIDs are stored lower-cased and addresses in lower-case hex: a caller's case does not matter. */
const struct mdev_instance *inventory_get_mdev(const struct inventory *inv, const char *uuid)
{
	if (!inv || !uuid || !inv->n_mdevs)
		return NULL;
	return bsearch(uuid, inv->mdevs, inv->n_mdevs, sizeof(*inv->mdevs), cmp_mdev_key);
}

const struct pci_function *inventory_get_pci(const struct inventory *inv, const char *address)
{
	if (!inv || !address || !inv->n_pci)
		return NULL;
	return bsearch(address, inv->pci, inv->n_pci, sizeof(*inv->pci), cmp_pci_key);
}

const struct vgpu_vf *inventory_get_vgpu_vf(const struct inventory *inv, const char *address,
					    const struct mdev_parent **card)
{
	if (!inv || !address)
		return NULL;
	for (size_t i = 0; i < inv->n_parents; i++) {
		const struct mdev_parent *p = &inv->parents[i];

		for (size_t k = 0; k < p->n_vfs; k++) {
			if (strcasecmp(p->vfs[k].address, address) != 0)
				continue;
			if (card)
				*card = p;
			return &p->vfs[k];
		}
	}
	return NULL;
}
