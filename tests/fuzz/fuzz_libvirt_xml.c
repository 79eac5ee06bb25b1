/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the libvirt XML readers: any bytes, as the XML libvirt returns for a
 * domain (virDomainGetXMLDesc) or a node device (virNodeDeviceGetXMLDesc), through
 *   virt_domain_refs_parse()   the mdev UUIDs and PCI addresses a domain names (twice: live
 *                              and persistent config, as domain_refs() does), virt_refs_find()
 *   virt_nodedev_sysfs_name()  a node device's sysfs name (parent lookup, inventory)
 *   virt_nodedev_types_parse() a parent's mdev types (`types --source libvirt`)
 *   virt_nodedev_has_uuid()    whether it is a given mdev (remove)
 * and so through xml_each() (xml_reader_libxml2.c). libxml2 itself is the system's shared
 * library, loaded with dlopen() and not instrumented: coverage guides only mdevd's side, so
 * the seeds (real domain and node-device XML) and the dictionary tests/fuzz/xml.dict carry
 * the structure. Built and run by `make fuzz` (docs/fuzzing.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt/libvirt_client.h"
#include "node/mdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the readers may answer for any input: 0, not XML, out of memory. */
static void check_rc(int r)
{
	if (r != 0 && r != -EINVAL && r != -ENOMEM)
		abort();
}

static void domain_refs(const char *xml)
{
	struct virt_refs refs = {};
	int r;

	r = virt_domain_refs_parse(xml, "vm-fuzz", true, &refs);
	check_rc(r);
	if (r == 0) {
		size_t n_live = refs.n;

		/* The persistent config naming the same devices adds nothing new. */
		r = virt_domain_refs_parse(xml, "vm-fuzz", false, &refs);
		check_rc(r);
		if (r == 0 && refs.n != n_live)
			abort();
	}
	for (size_t i = 0; i < refs.n; i++) {
		const struct plan_domain_ref *ref = &refs.refs[i];
		size_t len = strlen(ref->id);

		/* An mdev UUID's length, or "dddd:bb:ss.f" as add_pci_ref() prints it. */
		if (len != MDEVD_UUID_STR_LEN - 1 && !mdev_is_bdf(ref->id))
			abort();
		for (const char *c = ref->id; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
		if (strcmp(ref->domain, "vm-fuzz") != 0 || !ref->running)
			abort();
		if (virt_refs_find(&refs, ref->id) != ref)
			abort();
	}
	virt_refs_release(&refs);
}

static void nodedev(const char *xml)
{
	struct mdev_parent *p;
	char *name = NULL;
	bool match = false;
	int r;

	r = virt_nodedev_sysfs_name(xml, &name);
	check_rc(r);
	if (r == 0 && name && strchr(name, '/'))
		abort();
	free(name);

	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	r = virt_nodedev_types_parse(xml, p);
	check_rc(r);
	for (size_t i = 0; r == 0 && i < p->n_types; i++) {
		const struct mdev_type *t = &p->types[i];

		if (!t->id || !t->id[0] || !t->name || !t->device_api ||
		    t->available_instances > 1000000)
			abort();
		if (i && strcmp(p->types[i - 1].id, t->id) > 0)
			abort();
	}
	mdev_parents_free(p, 1);

	r = virt_nodedev_has_uuid(xml, "6c1a7b2e-4a1e-4b8f-9d2c-1f0e3d2c1b0a", &match);
	check_rc(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml;

	/* The readers take a C string, as libvirt hands it out. */
	xml = malloc(size + 1);
	if (!xml)
		return 0;
	memcpy(xml, data, size);
	xml[size] = '\0';
	domain_refs(xml);
	nodedev(xml);
	free(xml);
	return 0;
}
