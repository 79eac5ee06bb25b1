/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which PCI functions the policy wants on vfio-pci (pure: no I/O); policy.h documents it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdevd/policy.h"
#include "mdevd/vfio.h"

static void vendor_device_str(const struct pci_function *f, char *buf, size_t size)
{
	snprintf(buf, size, "%04x:%04x", f->vendor_id, f->device_id);
}

bool pol_vfio_selector_matches(const struct pol_vfio_selector *s, const struct pci_function *f)
{
	char vd[16];
	bool in_list;

	if (s->address)
		return streq(s->address, f->address);
	vendor_device_str(f, vd, sizeof(vd));
	if (!s->vendor_device || !streq(s->vendor_device, vd))
		return false;
	if (s->numa_node >= 0 && f->numa_node != s->numa_node)
		return false;
	if (s->n_addresses == 0)
		return true;
	in_list = false;
	for (size_t i = 0; i < s->n_addresses && !in_list; i++)
		in_list = streq(s->addresses[i], f->address);
	return in_list;
}

bool pol_vfio_wants(const struct policy *pol, const struct pci_function *f, bool *by_address)
{
	bool wanted = false, addr = false;
	char vd[16];

	for (size_t i = 0; i < pol->vfio.n_devices; i++) {
		if (pol_vfio_selector_matches(&pol->vfio.devices[i], f)) {
			wanted = true;
			addr = addr || pol->vfio.devices[i].address;
		}
	}
	if (pol->vfio.bind_permitted) {
		vendor_device_str(f, vd, sizeof(vd));
		for (size_t i = 0; i < pol->n_pci_devices; i++)
			if (streq(pol->pci_devices[i].selector, vd))
				wanted = true;
	}
	if (by_address)
		*by_address = addr;
	return wanted;
}

bool pol_vfio_overrides_guard(const struct policy *pol, const char *address)
{
	for (size_t i = 0; i < pol->vfio.n_override_host_owned; i++)
		if (streq(pol->vfio.override_host_owned[i], address))
			return true;
	return false;
}

/* The plan (include/mdevd/vfio.h). */

bool vfio_driver_is_vfio(const char *driver)
{
	return driver && (streq(driver, "pci-stub") || strstr(driver, "vfio"));
}

bool vfio_is_bridge(const struct pci_function *f)
{
	return (f->class_code >> 16) == 0x06;
}

size_t vfio_group_blockers(const struct inventory *inv, int group, const bool *skip, char *buf,
			   size_t size)
{
	size_t n = 0, len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];

		if (group < 0 || f->iommu_group != group || (skip && skip[i]) ||
		    vfio_driver_is_vfio(f->driver) || vfio_is_bridge(f))
			continue;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s (%s)", n ? ", " : "",
						f->address, f->driver ? f->driver : "no driver");
		n++;
	}
	return n;
}

const char *vfio_action_str(enum vfio_action a)
{
	switch (a) {
	case VFIO_LEAVE:
		return "leave";
	case VFIO_BIND:
		return "bind";
	case VFIO_BOUND:
		return "bound";
	case VFIO_REFUSED:
		return "refused";
	case VFIO_GIVE_BACK:
		return "give back";
	case VFIO_KEEP:
		return "keep";
	}
	return "?";
}

int vfio_plan(const struct policy *pol, const struct inventory *inv, const struct vfio_facts *facts,
	      struct vfio_decision **out)
{
	size_t n = inv->n_pci ? inv->n_pci : 1;
	struct vfio_decision *d = calloc(n, sizeof(*d));
	bool *named = calloc(n, sizeof(*named));

	if (!d || !named) {
		free(d);
		free(named);
		return -ENOMEM;
	}
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];

		if (!pol_vfio_wants(pol, f, NULL))
			continue;
		if (facts[i].host_owned &&
		    (facts[i].no_override || !pol_vfio_overrides_guard(pol, f->address))) {
			d[i].action = VFIO_REFUSED;
			snprintf(d[i].reason, sizeof(d[i].reason), "host-owned: %s",
				 facts[i].host_owned);
			continue;
		}
		named[i] = true;
	}
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];
		char blockers[VFIO_REASON_MAX - 128];

		if (!named[i])
			continue;
		if (vfio_group_blockers(inv, f->iommu_group, named, blockers, sizeof(blockers))) {
			d[i].action = VFIO_REFUSED;
			snprintf(d[i].reason, sizeof(d[i].reason),
				 "IOMMU group %d would not be viable: %s stay on the host; name "
				 "them in mdevd.vfioPci.devices to pass the whole group through",
				 f->iommu_group, blockers);
		} else if (f->iommu_group < 0) {
			d[i].action = VFIO_REFUSED;
			snprintf(d[i].reason, sizeof(d[i].reason),
				 "in no IOMMU group: the IOMMU is off or absent (see 'mdevd "
				 "doctor')");
		} else {
			d[i].action =
				f->driver && streq(f->driver, "vfio-pci") ? VFIO_BOUND : VFIO_BIND;
		}
	}
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];

		if (named[i] || d[i].action == VFIO_REFUSED || !facts[i].owned)
			continue;
		if (!f->driver || !streq(f->driver, "vfio-pci")) {
			d[i].action = VFIO_GIVE_BACK; /* only its driver_override is left */
		} else if (facts[i].in_use) {
			d[i].action = VFIO_KEEP;
			snprintf(
				d[i].reason, sizeof(d[i].reason),
				"no longer in the policy but in use (%s): given back once released",
				facts[i].in_use);
		} else {
			d[i].action = VFIO_GIVE_BACK;
		}
	}
	free(named);
	*out = d;
	return 0;
}

bool pol_vfio_active(const struct policy *pol)
{
	return pol->vfio.n_devices > 0 || (pol->vfio.bind_permitted && pol->n_pci_devices > 0);
}

static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int pol_vfio_copy(const struct policy *pol, struct policy **out)
{
	struct policy *c = calloc(1, sizeof(*c));
	const struct pol_vfio *v = &pol->vfio;
	bool fail = false;

	if (!c)
		return -ENOMEM;
	c->shape = pol->shape;
	c->pci_devices =
		calloc(pol->n_pci_devices ? pol->n_pci_devices : 1, sizeof(*c->pci_devices));
	c->vfio.devices = calloc(v->n_devices ? v->n_devices : 1, sizeof(*c->vfio.devices));
	c->vfio.override_host_owned =
		calloc(v->n_override_host_owned ? v->n_override_host_owned : 1, sizeof(char *));
	if (!c->pci_devices || !c->vfio.devices || !c->vfio.override_host_owned) {
		policy_free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pol->n_pci_devices && !fail; i++) {
		c->pci_devices[i].selector = dup_opt(pol->pci_devices[i].selector, &fail);
		c->pci_devices[i].resource_name = dup_opt(pol->pci_devices[i].resource_name, &fail);
		c->pci_devices[i].external_resource_provider =
			pol->pci_devices[i].external_resource_provider;
		c->n_pci_devices = i + 1;
	}
	for (size_t i = 0; i < v->n_devices && !fail; i++) {
		const struct pol_vfio_selector *s = &v->devices[i];
		struct pol_vfio_selector *d = &c->vfio.devices[i];

		c->vfio.n_devices = i + 1;
		d->address = dup_opt(s->address, &fail);
		d->vendor_device = dup_opt(s->vendor_device, &fail);
		d->numa_node = s->numa_node;
		if (s->n_addresses) {
			d->addresses = calloc(s->n_addresses, sizeof(char *));
			if (!d->addresses) {
				fail = true;
				break;
			}
			for (size_t j = 0; j < s->n_addresses && !fail; j++) {
				d->addresses[j] = dup_opt(s->addresses[j], &fail);
				d->n_addresses = j + 1;
			}
		}
	}
	for (size_t i = 0; i < v->n_override_host_owned && !fail; i++) {
		c->vfio.override_host_owned[i] = dup_opt(v->override_host_owned[i], &fail);
		c->vfio.n_override_host_owned = i + 1;
	}
	c->vfio.bind_permitted = v->bind_permitted;
	if (fail) {
		policy_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}
