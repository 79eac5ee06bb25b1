/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * output: the CLI's JSON and human output of inventory snapshots. JSON goes through
 * cJSON, built whole and printed with one buffered call (sized up front so that a node
 * with thousands of types costs no repeated reallocations); human text follows
 * `mdevctl types`, `mdevctl list` and `lspci -nn`.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "cli/output.h"
#include "cli/doctor.h"
#include "node/inuse.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

/*
 * Members are added with constant keys and, for strings the inventory owns, as string
 * references: the tree borrows them and is deleted before the snapshot. That keeps a
 * type's JSON to one allocation per member, which matters with thousands of types.
 */
static bool add_item(cJSON *obj, const char *key, cJSON *item)
{
	if (item && cJSON_AddItemToObjectCS(obj, key, item))
		return true;
	cJSON_Delete(item);
	return false;
}

/* Add a borrowed string member, or null when @s is NULL. Returns false on allocation failure. */
static bool add_str(cJSON *obj, const char *key, const char *s)
{
	return add_item(obj, key, s ? cJSON_CreateStringReference(s) : cJSON_CreateNull());
}

/*
 * Integers go in as raw text: cJSON prints every number with "%1.15g" and reads it back
 * to check the round trip, which on a node with thousands of types was a third of the
 * listing's user time.
 */
static cJSON *create_int(long long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", v);
	return cJSON_CreateRaw(buf);
}

static bool add_uint(cJSON *obj, const char *key, unsigned int v)
{
	return add_item(obj, key, create_int(v));
}

/* Add an integer member, or null when @v is -1 (unknown). */
static bool add_int_or_null(cJSON *obj, const char *key, int v)
{
	return add_item(obj, key, v < 0 ? cJSON_CreateNull() : create_int(v));
}

static bool add_hex(cJSON *obj, const char *key, unsigned int v, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", digits, v);
	return add_item(obj, key, cJSON_CreateString(buf));
}

/* A new object appended to @array; NULL (and nothing appended) on allocation failure. */
static cJSON *add_object(cJSON *array)
{
	cJSON *o = cJSON_CreateObject();

	if (o && !cJSON_AddItemToArray(array, o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static int print_json(FILE *f, const cJSON *root, size_t estimate)
{
	_cleanup_free_ char *text = NULL;

	text = cJSON_PrintBuffered(root, estimate > INT32_MAX ? INT32_MAX : (int)estimate, 1);
	if (!text)
		return -ENOMEM;
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

/* A vendor-VFIO card's VFs: [{"address", "iommu_group", "vfio_cdev", "current_type" (null
 * when free), "creatable": [ids]}]. */
static int vfs_json(cJSON *po, const struct mdev_parent *p)
{
	cJSON *vfs = cJSON_CreateArray();

	if (!add_item(po, "vfs", vfs))
		return -ENOMEM;
	for (size_t i = 0; i < p->n_vfs; i++) {
		const struct vgpu_vf *vf = &p->vfs[i];
		cJSON *o = add_object(vfs), *ids;

		ids = cJSON_CreateArray();
		if (!o || !add_str(o, "address", vf->address) ||
		    !add_int_or_null(o, "iommu_group", vf->iommu_group) ||
		    !add_int_or_null(o, "vfio_cdev", vf->has_vfio_cdev ? (int)vf->vfio_cdev : -1) ||
		    !add_item(o, "current_type",
			      vf->current_type ? create_int(vf->current_type)
					       : cJSON_CreateNull()) ||
		    !add_item(o, "creatable", ids))
			return -ENOMEM;
		for (size_t k = 0; k < vf->n_creatable; k++)
			if (!cJSON_AddItemToArray(ids, create_int(vf->creatable[k])))
				return -ENOMEM;
	}
	return 0;
}

/* How many VFs of @p hold type @id ("1153"); with @f, also print them. */
static size_t vfs_holding(FILE *f, const struct mdev_parent *p, const char *id)
{
	char buf[16];
	size_t n = 0;

	for (size_t i = 0; i < p->n_vfs; i++) {
		snprintf(buf, sizeof(buf), "%u", p->vfs[i].current_type);
		if (!p->vfs[i].current_type || !streq(buf, id))
			continue;
		if (f)
			fprintf(f, "%s%s", n ? ", " : "    Held by VFs: ", p->vfs[i].address);
		n++;
	}
	if (f && n)
		fputc('\n', f);
	return n;
}

static int types_json(FILE *f, const struct inventory *inv)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateArray();
	size_t estimate = 64;

	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_parents; i++) {
		const struct mdev_parent *p = &inv->parents[i];
		cJSON *po = add_object(root);
		cJSON *types;

		if (!po)
			return -ENOMEM;
		types = cJSON_CreateArray();
		if (!add_str(po, "parent", p->name))
			return -ENOMEM;
		/* What the human listing says of a PCI parent: ids, PF, NUMA node. */
		if (!add_str(po, "pci_address", p->pci_address) ||
		    !(p->pci_address ? add_hex(po, "vendor", p->vendor_id, 4)
				     : add_item(po, "vendor", cJSON_CreateNull())) ||
		    !(p->pci_address ? add_hex(po, "device", p->device_id, 4)
				     : add_item(po, "device", cJSON_CreateNull())) ||
		    !add_str(po, "physfn", p->physfn) ||
		    !add_int_or_null(po, "numa_node", p->numa_node))
			return -ENOMEM;
		if (!add_str(po, "backend", parent_backend_str(p->backend)) ||
		    !add_item(po, "types", types))
			return -ENOMEM;
		if (p->backend == PARENT_BACKEND_NVIDIA_VGPU && vfs_json(po, p) < 0)
			return -ENOMEM;
		for (size_t j = 0; j < p->n_types; j++) {
			const struct mdev_type *t = &p->types[j];
			cJSON *to = add_object(types);

			if (!to || !add_str(to, "id", t->id) || !add_str(to, "name", t->name) ||
			    !add_str(to, "description", t->description) ||
			    !add_str(to, "device_api", t->device_api) ||
			    !add_uint(to, "available_instances", t->available_instances))
				return -ENOMEM;
			estimate += 160 + (t->description ? strlen(t->description) : 0);
		}
	}
	return print_json(f, root, estimate);
}

static void types_human(FILE *f, const struct inventory *inv)
{
	for (size_t i = 0; i < inv->n_parents; i++) {
		const struct mdev_parent *p = &inv->parents[i];

		fputs(p->name, f);
		if (p->pci_address) {
			fprintf(f, " (PCI %04x:%04x", p->vendor_id, p->device_id);
			if (p->physfn)
				fprintf(f, ", VF of %s", p->physfn);
			if (p->numa_node >= 0)
				fprintf(f, ", NUMA node %d", p->numa_node);
			fputc(')', f);
		}
		if (p->backend == PARENT_BACKEND_NVIDIA_VGPU) {
			size_t n_free = 0;

			for (size_t k = 0; k < p->n_vfs; k++)
				n_free += p->vfs[k].current_type == 0;
			fprintf(f, " nvidia-vgpu (vendor VFIO): %zu VFs, %zu free", p->n_vfs,
				n_free);
		}
		fputc('\n', f);
		for (size_t j = 0; j < p->n_types; j++) {
			const struct mdev_type *t = &p->types[j];

			fprintf(f,
				"  %s\n"
				"    Available instances: %u\n"
				"    Device API: %s\n"
				"    Name: %s\n",
				t->id, t->available_instances, t->device_api, t->name);
			if (t->description)
				fprintf(f, "    Description: %s\n", t->description);
			if (p->backend == PARENT_BACKEND_NVIDIA_VGPU)
				vfs_holding(f, p, t->id);
		}
	}
}

int output_types(FILE *f, enum cli_output fmt, const struct inventory *inv)
{
	switch (fmt) {
	case OUTPUT_JSON:
		return types_json(f, inv);
	case OUTPUT_HUMAN:
		types_human(f, inv);
		break;
	}
	return ferror(f) ? -EIO : 0;
}

/* The domain that names @uuid, a running one before a defined one; NULL when none. */
static const struct plan_domain_ref *find_ref(const struct plan_domain_ref *refs, size_t n,
					      const char *uuid)
{
	const struct plan_domain_ref *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!refs[i].id || !refs[i].domain || strcasecmp(refs[i].id, uuid) != 0)
			continue;
		if (!best || (refs[i].running && !best->running))
			best = &refs[i];
	}
	return best;
}

/* The process holding @m's group, or NULL. */
static const struct inuse_holder *holder_of(const struct inuse *in, const struct mdev_instance *m)
{
	return in && m->iommu_group >= 0 ? inuse_get_holder(in, m->iommu_group) : NULL;
}

static bool add_holder(cJSON *o, const struct inuse_holder *h)
{
	cJSON *ho;

	if (!h)
		return add_item(o, "held_by", cJSON_CreateNull());
	ho = cJSON_CreateObject();
	return add_item(o, "held_by", ho) && add_item(ho, "pid", create_int(h->pid)) &&
	       add_str(ho, "command", h->comm[0] ? h->comm : NULL) &&
	       add_str(ho, "guest", h->guest[0] ? h->guest : NULL);
}

static int list_json(FILE *f, const struct inventory *inv, const struct plan_domain_ref *refs,
		     size_t n_refs, const struct inuse *in)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateArray();

	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_mdevs; i++) {
		const struct mdev_instance *m = &inv->mdevs[i];
		const struct plan_domain_ref *ref = find_ref(refs, n_refs, m->uuid);
		const struct inuse_holder *h = holder_of(in, m);
		const char *state = (ref && ref->running) || h ? "in_use" : ref ? "reserved" : NULL;
		cJSON *o = add_object(root);

		bool vf = m->backend == PARENT_BACKEND_NVIDIA_VGPU;

		if (!o || !add_str(o, "uuid", vf ? NULL : m->uuid) ||
		    !add_str(o, "address", vf ? m->uuid : NULL) ||
		    !add_str(o, "backend", parent_backend_str(m->backend)) ||
		    !add_str(o, "parent", m->parent) || !add_str(o, "type", m->type_id) ||
		    !add_int_or_null(o, "iommu_group", m->iommu_group) ||
		    !add_str(o, "domain", ref ? ref->domain : NULL) ||
		    !add_str(o, "state", state) || !add_holder(o, h))
			return -ENOMEM;
	}
	return print_json(f, root, 64 + 160 * inv->n_mdevs);
}

int output_list(FILE *f, enum cli_output fmt, const struct inventory *inv,
		const struct plan_domain_ref *refs, size_t n_refs, const struct inuse *in)
{
	switch (fmt) {
	case OUTPUT_JSON:
		return list_json(f, inv, refs, n_refs, in);
	case OUTPUT_HUMAN:
		for (size_t i = 0; i < inv->n_mdevs; i++) {
			const struct mdev_instance *m = &inv->mdevs[i];
			const struct plan_domain_ref *ref = find_ref(refs, n_refs, m->uuid);

			fprintf(f, "%s %s %s", m->uuid, m->parent, m->type_id);
			if (m->iommu_group >= 0)
				fprintf(f, " (group %d)", m->iommu_group);
			else
				fputs(" (no IOMMU group)", f);
			const struct inuse_holder *h = holder_of(in, m);
			char who[128];

			if (m->backend == PARENT_BACKEND_NVIDIA_VGPU)
				fputs(" vGPU VF (nvidia-vgpu)", f);
			if (ref)
				fprintf(f, " %s by %s", ref->running ? "in use" : "reserved",
					ref->domain);
			if (h)
				fprintf(f, " held by %s", inuse_holder_str(h, who, sizeof(who)));
			fputc('\n', f);
		}
		break;
	}
	return ferror(f) ? -EIO : 0;
}

/* How @address offers vGPUs per @inv: the backend (NULL: none), and for a vendor VF its
 * vgpu_vf (else NULL). */
static const char *pci_vgpu(const struct inventory *inv, const char *address,
			    const struct vgpu_vf **vf)
{
	const struct mdev_parent *card = NULL;

	*vf = inventory_get_vgpu_vf(inv, address, &card);
	if (*vf)
		return parent_backend_str(card->backend);
	for (size_t i = 0; inv && i < inv->n_parents; i++)
		if (inv->parents[i].pci_address && streq(inv->parents[i].pci_address, address))
			return parent_backend_str(inv->parents[i].backend);
	return NULL;
}

static int pci_json(FILE *f, const struct inventory *inv, const struct pci_function *const *fns,
		    size_t n, const char *const *host_owned, const bool *bound)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateArray();

	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct pci_function *p = fns[i];
		cJSON *o = add_object(root);
		const struct vgpu_vf *vf;
		const char *backend = pci_vgpu(inv, p->address, &vf);

		if (!o || !add_str(o, "address", p->address) ||
		    !add_hex(o, "vendor", p->vendor_id, 4) ||
		    !add_hex(o, "device", p->device_id, 4) ||
		    !add_hex(o, "subsystem_vendor", p->subsys_vendor_id, 4) ||
		    !add_hex(o, "subsystem_device", p->subsys_device_id, 4) ||
		    !add_hex(o, "class", p->class_code, 6) ||
		    !add_str(o, "class_name", p->class_name) ||
		    !add_str(o, "vendor_name", p->vendor_name) ||
		    !add_str(o, "device_name", p->device_name) ||
		    !add_str(o, "driver", p->driver) ||
		    !add_int_or_null(o, "iommu_group", p->iommu_group) ||
		    !add_int_or_null(o, "numa_node", p->numa_node) ||
		    !add_str(o, "physfn", p->physfn) ||
		    !add_uint(o, "sriov_totalvfs", p->sriov_totalvfs) ||
		    !add_uint(o, "sriov_numvfs", p->sriov_numvfs) ||
		    !add_str(o, "vgpu_backend", backend) ||
		    !add_item(o, "current_vgpu_type",
			      vf ? create_int(vf->current_type) : cJSON_CreateNull()))
			return -ENOMEM;
		if (host_owned && !add_str(o, "host_owned", host_owned[i]))
			return -ENOMEM;
		if (bound && !add_item(o, "bound_by_mdevd", cJSON_CreateBool(bound[i])))
			return -ENOMEM;
	}
	return print_json(f, root, 64 + 512 * n);
}

static void pci_human(FILE *f, const struct inventory *inv, const struct pci_function *const *fns,
		      size_t n, const char *const *host_owned, const bool *bound)
{
	for (size_t i = 0; i < n; i++) {
		const struct pci_function *p = fns[i];
		const struct vgpu_vf *vf;
		const char *backend = pci_vgpu(inv, p->address, &vf);

		fprintf(f, "%s ", p->address);
		if (p->class_name)
			fprintf(f, "%s ", p->class_name);
		else
			fputs("Class ", f);
		fprintf(f, "[%04x]: ", p->class_code >> 8);
		if (p->vendor_name)
			fprintf(f, "%s ", p->vendor_name);
		if (p->device_name)
			fprintf(f, "%s ", p->device_name);
		else
			fputs("Device ", f);
		fprintf(f, "[%04x:%04x]", p->vendor_id, p->device_id);
		if (p->driver)
			fprintf(f, " driver=%s", p->driver);
		if (p->iommu_group >= 0)
			fprintf(f, " group=%d", p->iommu_group);
		if (p->numa_node >= 0)
			fprintf(f, " numa=%d", p->numa_node);
		if (p->sriov_totalvfs)
			fprintf(f, " vfs=%u/%u", p->sriov_numvfs, p->sriov_totalvfs);
		if (p->physfn)
			fprintf(f, " physfn=%s", p->physfn);
		if (bound && bound[i])
			fputs(" bound-by-mdevd", f);
		if (host_owned && host_owned[i])
			fprintf(f, " host-owned: %s", host_owned[i]);
		if (vf && vf->current_type)
			fprintf(f, " vgpu=%s:%u", backend, vf->current_type);
		else if (vf)
			fprintf(f, " vgpu=%s:free", backend);
		else if (backend)
			fprintf(f, " vgpu=%s", backend);
		fputc('\n', f);
	}
}

int output_pci_vfio(FILE *f, enum cli_output fmt, const struct inventory *inv,
		    const struct pci_function *const *fns, size_t n, const char *const *host_owned,
		    const bool *bound_by_mdevd)
{
	switch (fmt) {
	case OUTPUT_JSON:
		return pci_json(f, inv, fns, n, host_owned, bound_by_mdevd);
	case OUTPUT_HUMAN:
		pci_human(f, inv, fns, n, host_owned, bound_by_mdevd);
		break;
	}
	return ferror(f) ? -EIO : 0;
}

int output_pci(FILE *f, enum cli_output fmt, const struct inventory *inv,
	       const struct pci_function *const *fns, size_t n)
{
	return output_pci_vfio(f, fmt, inv, fns, n, NULL, NULL);
}

static const char *reason_code(enum plan_reason r)
{
	switch (r) {
	case PLAN_REASON_WANTED:
		return "wanted";
	case PLAN_REASON_NOT_WANTED:
		return "not_wanted";
	case PLAN_REASON_FOREIGN:
		return "foreign";
	case PLAN_REASON_FOREIGN_REMOVE:
		return "foreign_remove";
	case PLAN_REASON_IN_USE:
		return "in_use";
	case PLAN_REASON_UNMANAGED:
		return "unmanaged";
	case PLAN_REASON_RESERVED:
		return "reserved";
	case PLAN_REASON_CARD_UNSELECTED:
		return "card_unselected";
	}
	return "unknown";
}

static int plan_json(FILE *f, const struct plan *plan)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	size_t n_keep = plan->n_actions - plan->n_create - plan->n_remove;
	cJSON *actions, *shortfalls, *summary;
	char reason[128];

	if (!root)
		return -ENOMEM;
	actions = cJSON_AddArrayToObject(root, "actions");
	shortfalls = cJSON_AddArrayToObject(root, "shortfalls");
	summary = cJSON_AddObjectToObject(root, "summary");
	if (!actions || !shortfalls || !summary)
		return -ENOMEM;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];
		cJSON *o = add_object(actions);

		plan_action_reason(a, reason, sizeof(reason));
		if (!o || !add_str(o, "action", plan_action_kind_str(a->kind)) ||
		    !add_str(o, "parent", a->parent) || !add_str(o, "type", a->type_id) ||
		    !add_str(o, "uuid", a->uuid) ||
		    !add_item(o, "owned", cJSON_CreateBool(a->owned)) ||
		    !add_int_or_null(o, "slot", a->owned ? (int)a->slot : -1) ||
		    !add_int_or_null(o, "iommu_group", a->iommu_group) ||
		    !add_item(o, "reason", cJSON_CreateString(reason)) ||
		    !add_str(o, "reason_code", reason_code(a->reason)) ||
		    !add_str(o, "domain", a->domain))
			return -ENOMEM;
	}
	for (size_t i = 0; i < plan->n_shortfalls; i++) {
		const struct plan_shortfall *sf = &plan->shortfalls[i];
		cJSON *o = add_object(shortfalls);

		if (!o || !add_str(o, "parent", sf->parent) || !add_str(o, "type", sf->type_id) ||
		    !add_uint(o, "wanted", sf->wanted) || !add_uint(o, "planned", sf->planned) ||
		    !add_uint(o, "blocked", sf->blocked))
			return -ENOMEM;
	}
	if (!add_uint(summary, "create", (unsigned int)plan->n_create) ||
	    !add_uint(summary, "remove", (unsigned int)plan->n_remove) ||
	    !add_uint(summary, "keep", (unsigned int)n_keep))
		return -ENOMEM;
	return print_json(f, root, 256 + plan->n_actions * 256);
}

static void plan_human(FILE *f, const struct plan *plan)
{
	size_t n_keep = plan->n_actions - plan->n_create - plan->n_remove;
	char reason[128];

	if (plan->n_actions == 0 && plan->n_shortfalls == 0) {
		fprintf(f, "Nothing to do: the policy selects no mdev types on this node.\n");
		return;
	}
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];
		char slot[16] = "-";

		if (a->owned)
			snprintf(slot, sizeof(slot), "%u", a->slot);
		plan_action_reason(a, reason, sizeof(reason));
		fprintf(f, "%-6s  %s  %-14s %-16s slot %-3s  %s\n", plan_action_kind_str(a->kind),
			a->uuid, a->parent, a->type_id, slot, reason);
	}
	for (size_t i = 0; i < plan->n_shortfalls; i++) {
		const struct plan_shortfall *sf = &plan->shortfalls[i];

		fprintf(f, "short   %s: %s: the policy asks for %u, only %u fit", sf->parent,
			sf->type_id, sf->wanted, sf->planned);
		if (sf->blocked)
			fprintf(f, " (%u held back: UUID used by another mdev)", sf->blocked);
		fputc('\n', f);
	}
	fprintf(f, "Plan: %zu to create, %zu to remove, %zu kept.\n", plan->n_create,
		plan->n_remove, n_keep);
}

int output_plan(FILE *f, enum cli_output fmt, const struct plan *plan)
{
	if (fmt == OUTPUT_JSON)
		return plan_json(f, plan);
	plan_human(f, plan);
	return ferror(f) ? -EIO : 0;
}

int output_doctor(FILE *f, const struct doctor_report *r)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	cJSON *checks, *summary;

	if (!root)
		return -ENOMEM;
	checks = cJSON_AddArrayToObject(root, "checks");
	summary = cJSON_AddObjectToObject(root, "summary");
	if (!checks || !summary)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];
		static const char *const st[] = {"pass", "warn", "fail"};
		cJSON *o = add_object(checks);

		if (!o || !add_str(o, "check", c->what) || !add_str(o, "status", st[c->status]) ||
		    !add_str(o, "detail", c->detail) || !add_str(o, "fix", c->fix) ||
		    !add_str(o, "machineconfig", c->status == DOCTOR_FAIL ? c->snippet : NULL))
			return -ENOMEM;
	}
	if (!add_uint(summary, "pass", r->pass) || !add_uint(summary, "warn", r->warn) ||
	    !add_uint(summary, "fail", r->fail))
		return -ENOMEM;
	return print_json(f, root, 256 + 1024 * r->n);
}
