/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-pci bindings from the policy; vfio_apply.h has the rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/vfio_apply.h"
#include "apply/vfio_udev.h"
#include "mdevd/macro.h"
#include "node/mdev.h"
#include "node/pci_bind.h"
#include "util/log.h"

static const char *state_path(const struct vfio_apply_opts *o)
{
	return o->state_path ? o->state_path : VFIO_STATE_DEFAULT_PATH;
}

void vfio_view_release(struct vfio_view *v)
{
	host_owned_release(&v->guard);
	vfio_state_release(&v->state);
	inuse_release(&v->inuse);
	free(v->facts);
	free(v->cdev_why);
	for (size_t i = 0; i < v->n_ipv4; i++)
		free(v->ipv4[i]);
	free(v->ipv4);
	memset(v, 0, sizeof(*v));
}

/*
 * The iommufd cdev of @f: <sysfs>/bus/pci/devices/<BDF>/vfio-dev/vfioN. Only a function on a
 * vfio driver has one, so the others are not looked at. Returns true and sets *@cdev.
 */
static bool read_cdev(int sysfs_fd, const struct pci_function *f, unsigned int *cdev)
{
	_cleanup_close_ int fd = -1;
	char path[64];

	if (!f->driver || strncmp(f->driver, "vfio", 4) != 0)
		return false;
	snprintf(path, sizeof(path), "bus/pci/devices/%s", f->address);
	fd = openat(sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd >= 0 && mdev_read_vfio_cdev(fd, cdev);
}

int vfio_view_load(const struct vfio_apply_opts *o, const struct inventory *inv,
		   struct vfio_view *out)
{
	struct vfio_view v = {0};
	struct host_owned_env env = {
		.sysfs_fd = o->sysfs_fd,
		.proc_fd = o->proc_fd,
		.ipv4_ifaces = o->ipv4_ifaces,
		.n_ipv4_ifaces = o->n_ipv4_ifaces,
	};
	int r;

	r = vfio_state_load(state_path(o), &v.state, NULL);
	if (r < 0)
		return r;
	if (!o->ipv4_ifaces && o->ipv4_getifaddrs &&
	    host_owned_ipv4_ifaces(&v.ipv4, &v.n_ipv4) == 0) {
		env.ipv4_ifaces = v.ipv4;
		env.n_ipv4_ifaces = v.n_ipv4;
	}
	if (inuse_scan(o->proc_fd, &v.inuse) < 0)
		memset(&v.inuse, 0, sizeof(v.inuse));
	r = host_owned_scan(&env, inv, &v.guard);
	if (r < 0)
		goto fail;
	v.facts = calloc(inv->n_pci ? inv->n_pci : 1, sizeof(*v.facts));
	v.cdev_why = calloc(inv->n_pci ? inv->n_pci : 1, sizeof(*v.cdev_why));
	if (!v.facts || !v.cdev_why) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];
		const struct vfio_owned *e = vfio_state_find(&v.state, f->address);
		unsigned int cdev;

		v.facts[i].host_owned = v.guard.reasons[i];
		v.facts[i].no_override = v.guard.no_override[i];
		/* Ours only while the same device sits at that address. */
		v.facts[i].owned =
			e && e->vendor_id == f->vendor_id && e->device_id == f->device_id;
		if (f->iommu_group >= 0 &&
		    (inuse_has_group(&v.inuse, f->iommu_group) || v.inuse.unreadable))
			v.facts[i].in_use = "its IOMMU group is open";
		else if (read_cdev(o->sysfs_fd, f, &cdev) && inuse_has_cdev(&v.inuse, cdev)) {
			/* QEMU with iommufd opens only the cdev, never the group. */
			snprintf(v.cdev_why[i], sizeof(v.cdev_why[i]),
				 "its iommufd cdev /dev/vfio/devices/vfio%u is open", cdev);
			v.facts[i].in_use = v.cdev_why[i];
		} else if (o->in_use)
			v.facts[i].in_use = o->in_use(o->in_use_data, f->address);
	}
	*out = v;
	return 0;
fail:
	vfio_view_release(&v);
	return r;
}

/* Log a refusal unless it was logged before with the same reason; tell on_refusal too. */
static void report_refusal(const struct vfio_apply_opts *o, const char *address, bool host_owned,
			   const char *reason)
{
	char key[VFIO_REASON_MAX + MDEVD_BDF_STR_LEN + 2];
	char **n;

	snprintf(key, sizeof(key), "%s\t%s", address, reason);
	if (o->refusals_seen) {
		for (size_t i = 0; i < *o->n_refusals_seen; i++)
			if (streq((*o->refusals_seen)[i], key))
				return;
		n = realloc(*o->refusals_seen, (*o->n_refusals_seen + 1) * sizeof(*n));
		if (n) {
			*o->refusals_seen = n;
			n[*o->n_refusals_seen] = strdup(key);
			if (n[*o->n_refusals_seen])
				(*o->n_refusals_seen)++;
		}
	}
	log_warnx("%s: not bound to vfio-pci: %s", address, reason);
	if (o->on_refusal)
		o->on_refusal(o->on_refusal_data, address, host_owned, reason);
}

static int do_bind(const struct vfio_apply_opts *o, const struct pci_bind_opts *b,
		   struct vfio_state *state, const struct pci_function *f,
		   struct vfio_apply_result *res)
{
	struct vfio_owned e = {.vendor_id = f->vendor_id, .device_id = f->device_id};
	char why[512];
	int r;

	if (!vfio_state_find(state, f->address) ||
	    vfio_state_find(state, f->address)->vendor_id != f->vendor_id ||
	    vfio_state_find(state, f->address)->device_id != f->device_id) {
		snprintf(e.address, sizeof(e.address), "%s", f->address);
		snprintf(e.driver, sizeof(e.driver), "%s", f->driver ? f->driver : "");
		/* Recorded before the first write: a run killed mid-way still owns it. */
		r = vfio_state_put(state, &e);
		if (r == 0)
			r = vfio_state_save(state_path(o), state);
		if (r < 0) {
			log_warn(r, "%s: not bound: cannot record ownership in %s", f->address,
				 state_path(o));
			res->failed++;
			return r;
		}
	}
	r = pci_bind_vfio(b, f->address, f->iommu_group, why, sizeof(why));
	if (r < 0) {
		log_warnx("%s", why);
		res->failed++;
		return r;
	}
	log_info("%s: bound to vfio-pci (was %s), /dev/vfio/%d", f->address,
		 f->driver ? f->driver : "unbound", f->iommu_group);
	res->bound++;
	return 0;
}

static void do_give_back(const struct vfio_apply_opts *o, const struct pci_bind_opts *b,
			 struct vfio_state *state, const struct pci_function *f,
			 struct vfio_apply_result *res)
{
	char why[512], driver[64];
	unsigned int cdev = 0;
	bool has_cdev = read_cdev(o->sysfs_fd, f, &cdev);
	int r;

	/*
	 * The view was read at the start of the pass and binds before this one may have taken
	 * seconds: look at /proc again just before the unbind, for the group and the cdev.
	 */
	r = inuse_device_is_open(o->proc_fd, f->iommu_group, has_cdev, cdev);
	if (r != 0) {
		if (r < 0)
			log_warn(r, "%s: not given back: cannot tell whether it is in use",
				 f->address);
		else
			log_info("%s: kept on vfio-pci: in use (IOMMU group %d%s open): given back "
				 "once released",
				 f->address, f->iommu_group,
				 has_cdev ? " or its iommufd cdev" : "");
		res->kept++;
		return;
	}
	r = pci_give_back(b, f->address, driver, sizeof(driver), why, sizeof(why));
	if (r < 0) {
		log_warnx("%s", why);
		res->failed++;
		return;
	}
	log_info("%s: given back to the host: now on %s", f->address,
		 driver[0] ? driver : "no driver (none matches it)");
	vfio_state_drop(state, f->address);
	r = vfio_state_save(state_path(o), state);
	if (r < 0)
		log_warn(r, "%s: given back, but cannot update %s", f->address, state_path(o));
	res->given_back++;
}

/* Reconcile the udev rule file: every function mdevd owns that the policy still names. */
static void persist(const struct vfio_apply_opts *o, const struct policy *pol,
		    const struct inventory *inv, const struct vfio_state *state,
		    struct vfio_apply_result *res)
{
	const char *path = o->udev_path ? o->udev_path : VFIO_UDEV_DEFAULT_PATH;
	_cleanup_free_ char **keep = calloc(state->n ? state->n : 1, sizeof(*keep));
	char why[512];
	size_t n = 0;
	int r;

	if (!o->persist && access(path, F_OK) < 0)
		return;
	if (!keep) {
		res->failed++;
		return;
	}
	for (size_t i = 0; i < state->n; i++) {
		const struct pci_function *f = inventory_get_pci(inv, state->entries[i].address);

		if (f && pol_vfio_wants(pol, f, NULL))
			keep[n++] = (char *)state->entries[i].address;
	}
	r = vfio_udev_write(path, inv, keep, n, why, sizeof(why));
	if (r < 0) {
		if (why[0])
			log_warnx("%s", why);
		else
			log_warn(r, "cannot write %s", path);
		res->failed++;
		return;
	}
	res->persisted = (unsigned int)n;
	if (o->persist)
		log_info("%s: %zu function%s kept on vfio-pci from early boot", path, n,
			 n == 1 ? "" : "s");
}

int vfio_apply(const struct vfio_apply_opts *o, const struct policy *pol,
	       struct vfio_apply_result *res)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_free_ struct vfio_decision *d = NULL;
	struct pci_bind_opts b = {
		.sysfs_fd = o->sysfs_fd,
		.dev_fd = o->dev_fd,
		.timeout_ms = o->timeout_ms,
		.inflight = o->inflight,
	};
	struct vfio_view v;
	int r;

	memset(res, 0, sizeof(*res));
	r = inventory_load(o->sysfs_fd, o->sysfs_path, INVENTORY_PCI, NULL, NULL, &inv);
	if (r < 0)
		return r;
	r = vfio_view_load(o, inv, &v);
	if (r < 0)
		return r;
	/* Entries for devices that are no longer at their address are stale: dropped. */
	for (size_t i = 0; i < v.state.n;) {
		const struct vfio_owned *e = &v.state.entries[i];
		const struct pci_function *f = inventory_get_pci(inv, e->address);

		if (f && (f->vendor_id != e->vendor_id || f->device_id != e->device_id)) {
			log_warnx("%s: mdevd bound %04x:%04x here, now it holds %04x:%04x: not "
				  "mdevd's, left alone",
				  e->address, e->vendor_id, e->device_id, f->vendor_id,
				  f->device_id);
			vfio_state_drop(&v.state, e->address);
			if (!o->dry_run)
				(void)vfio_state_save(state_path(o), &v.state);
			continue;
		}
		i++;
	}
	r = vfio_plan(pol, inv, v.facts, &d);
	if (r < 0) {
		vfio_view_release(&v);
		return r;
	}
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];

		switch (d[i].action) {
		case VFIO_LEAVE:
			break;
		case VFIO_BOUND:
			res->already++;
			break;
		case VFIO_REFUSED:
			res->refused++;
			report_refusal(o, f->address, v.facts[i].host_owned != NULL, d[i].reason);
			break;
		case VFIO_KEEP:
			res->kept++;
			log_info("%s: kept on vfio-pci: %s", f->address, d[i].reason);
			break;
		case VFIO_BIND:
			if (o->dry_run) {
				log_info("%s: would bind to vfio-pci (now %s)", f->address,
					 f->driver ? f->driver : "unbound");
				break;
			}
			(void)do_bind(o, &b, &v.state, f, res);
			break;
		case VFIO_GIVE_BACK:
			if (o->dry_run) {
				log_info("%s: would give back to the host", f->address);
				break;
			}
			do_give_back(o, &b, &v.state, f, res);
			break;
		}
	}
	if (!o->dry_run)
		persist(o, pol, inv, &v.state, res);
	vfio_view_release(&v);
	return 0;
}
