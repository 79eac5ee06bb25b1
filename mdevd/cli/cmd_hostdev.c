/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevd hostdev: libvirt <hostdev> XML for an mdev (by UUID), a PCI function (by
 * address) or free devices of a resource pool (by resource name, through the
 * policy's permittedHostDevices: the same pools the device plugins serve).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_vfio.h"
#include "cli/cli_common.h"
#include "libvirt/libvirt_client.h"
#include "mdevd/plan.h"
#include "util/dlopen.h"
#include "node/inuse.h"
#include "util/log.h"
#include "mdevd/hostdev.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "mdevd/resource.h"
#include "node/sysfs.h"

#define HOSTDEV_COUNT_MAX 4096u

static void hostdev_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd hostdev UUID [--display [--ramfb]]\n"
		"       mdevd hostdev PCI_ADDRESS [--force]\n"
		"       mdevd hostdev --policy FILE RESOURCE_NAME [--count N] [--display "
		"[--ramfb]]\n"
		"\n"
		"Print the libvirt <hostdev> XML that assigns a device of this node to a VM,\n"
		"for 'virsh attach-device DOMAIN FILE' or the <devices> of a domain's XML:\n"
		"\n"
		"  UUID           an mdev (see 'mdevd list'): <hostdev type='mdev'> with the "
		"model\n"
		"                 its type's device_api gives (vfio-pci, vfio-ccw, vfio-ap)\n"
		"  PCI_ADDRESS    a PCI function, 0000:06:00.0 or 06:00.0 (see 'mdevd pci'):\n"
		"                 <hostdev type='pci' managed='yes'>; libvirt binds it to\n"
		"                 vfio-pci when the VM starts and gives it back when it stops;\n"
		"                 for a vGPU VF of NVIDIA's vendor-specific VFIO (vGPU 17+)\n"
		"                 managed='no': it stays on nvidia, which provides its VFIO "
		"device\n"
		"  RESOURCE_NAME  a resource name of the policy's permittedHostDevices, e.g.\n"
		"                 nvidia.com/GRID_T4-1Q: a <devices> block with N free devices\n"
		"                 of that pool (mdevs by UUID order, PCI functions by address);\n"
		"                 free = its /dev/vfio/<group> is open in no process\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE  the policy whose permittedHostDevices name the resource\n"
		"      --count N      how many devices of the resource (default 1)\n"
		"      --display      display='on': the mdev's own display as the VM's console\n"
		"                     (vfio-pci mdevs only). libvirt then needs a graphics device\n"
		"                     (VNC, SPICE or egl-headless) in the domain\n"
		"      --ramfb        also ramfb='on', a boot framebuffer shown before the "
		"guest's\n"
		"                     driver runs (vfio-pci mdevs only; implies --display)\n"
		"  -c, --connect URI  libvirt to ask which devices its domains name: those are\n"
		"                     not free for a resource (default: qemu:///system when\n"
		"                     its socket exists, with /sys)\n"
		"      --no-libvirt   do not ask libvirt; only open VFIO groups count as in use\n"
		"      --force        print a PCI function's XML although it is not safe to\n"
		"                     pass through (no IOMMU group, a host driver in use,\n"
		"                     group siblings not on vfio-pci, live mdevs on it):\n"
		"                     each finding is then a warning instead of a refusal\n"
		"  -o, --output xml   the only format (the default)\n"
		"\n"
		"The global --sysfs-root and --proc-root apply. Nothing on the node is changed.\n"
		"\n"
		"Exit status: 0 XML printed, 1 error (no such device, not enough free devices),\n"
		"64 usage error.\n"
		"\n"
		"Examples:\n"
		"  mdevd hostdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 > mdev.xml\n"
		"  virsh attach-device vm1 mdev.xml --persistent\n"
		"  mdevd hostdev 06:00.0\n"
		"  mdevd hostdev --display --ramfb 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n"
		"  mdevd hostdev --policy /etc/mdevd/policy.json nvidia.com/GRID_T4-1Q --count "
		"2\n");
}

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

static int load_inventory(const struct cli_globals *g, unsigned int what, struct inventory **out)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (cli_open_sysfs(g, &fd) < 0)
		return -EIO;
	r = inventory_load(fd, g->sysfs_root, what, report_skipped, NULL, out);
	if (r < 0)
		log_warn(r, "cannot read the inventory under %s", g->sysfs_root);
	return r;
}

static int print_xml(const char *xml)
{
	if (fputs(xml, stdout) == EOF || fflush(stdout) == EOF) {
		log_warn(-EIO, "hostdev: cannot write the XML");
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/*
 * "KIND NAME: cannot build WHAT", with the reason; when libxml2 cannot be loaded (hostdev.h:
 * -EOPNOTSUPP / -ENXIO) the reason names the library, its package and the loader's words.
 */
static void build_failed(int r, const char *kind, const char *name, const char *what)
{
	if (r == -EOPNOTSUPP || r == -ENXIO)
		log_warnx("%s %s: cannot build %s: cannot load libxml2 (" SONAME_LIBXML2
			  ", package libxml2): %s",
			  kind, name, what, dlopen_error());
	else
		log_warn(r, "%s %s: cannot build %s", kind, name, what);
}

static void display_note(const struct hostdev_options *opts)
{
	if (opts->display)
		log_info("note: display='on' needs a graphics device in the domain "
			 "(<graphics type='vnc'/>, 'spice' or 'egl-headless'), else libvirt "
			 "refuses to start it");
}

/* The model of @m, or a logged error. @m's type must be known to the inventory. */
static int mdev_model(const struct inventory *inv, const struct mdev_instance *m,
		      const char **device_api, enum hostdev_model *model)
{
	const struct mdev_parent *parent = inventory_get_parent(inv, m->parent);
	const struct mdev_type *type = parent ? inventory_get_type(parent, m->type_id) : NULL;

	if (!type) {
		log_warnx("mdev %s: its type %s on parent %s is not on this node (any more?)",
			  m->uuid, m->type_id, m->parent);
		return -ENOENT;
	}
	if (hostdev_model_from_device_api(type->device_api, model) < 0) {
		log_warnx("mdev %s: type %s of %s has device_api \"%s\", for which libvirt has no "
			  "hostdev model (it has vfio-pci, vfio-ccw and vfio-ap)",
			  m->uuid, type->id, parent->name,
			  type->device_api ? type->device_api : "");
		return -EINVAL;
	}
	*device_api = type->device_api;
	return 0;
}

static int check_display(const struct mdev_instance *m, enum hostdev_model model,
			 const struct hostdev_options *opts)
{
	if (opts->display && model != HOSTDEV_MODEL_VFIO_PCI) {
		log_warnx("hostdev: mdev %s is a %s device: --display and --ramfb are for "
			  "vfio-pci mdevs only (libvirt has no display for %s)",
			  m->uuid, hostdev_model_str(model), hostdev_model_str(model));
		return -EINVAL;
	}
	return 0;
}

static int hostdev_mdev(const struct cli_globals *g, const char *uuid,
			const struct hostdev_options *opts)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_free_ char *xml = NULL;
	const struct mdev_instance *m;
	enum hostdev_model model;
	const char *device_api;
	int r;

	if (load_inventory(g, INVENTORY_TYPES | INVENTORY_MDEVS, &inv) < 0)
		return EXIT_ERROR;
	m = inventory_get_mdev(inv, uuid);
	if (!m) {
		log_warnx("no mdev %s on this node (see 'mdevd list')", uuid);
		return EXIT_ERROR;
	}
	if (mdev_model(inv, m, &device_api, &model) < 0)
		return EXIT_ERROR;
	if (check_display(m, model, opts) < 0)
		return EXIT_USAGE;
	r = hostdev_mdev_xml(m, device_api, opts, &xml);
	if (r < 0) {
		build_failed(r, "mdev", uuid, "its <hostdev>");
		return EXIT_ERROR;
	}
	display_note(opts);
	return print_xml(xml);
}

/* Is @drv one VFIO assignment accepts in a group (vfio-pci, pci-stub, or unbound)? */
static bool vfio_ready_driver(const char *drv)
{
	return !drv || streq(drv, "vfio-pci") || streq(drv, "pci-stub");
}

/* A PCI bridge (class 0x0604): allowed in a viable group on any driver. */
static bool is_bridge(const struct pci_function *fn)
{
	return (fn->class_code >> 8) == 0x0604;
}

/*
 * What makes passing @fn through unsafe or impossible, each logged: no IOMMU group (VFIO
 * cannot assign it), a host driver in use (managed='yes' takes it from the host when the
 * VM starts), group siblings not on vfio (the group is not viable: the VM would not
 * start, or libvirt would unbind them too), live mdevs on it (a VF or PF hosting vGPUs).
 * An NVIDIA vGPU VF (@vgpu_vf) stays on its host driver by design (nvidia_vgpu_vfio provides
 * its VFIO device, managed='no'): its driver is no finding.
 * Returns the number of findings; with @force they are warnings.
 */
static unsigned int pci_findings(const struct inventory *inv, const struct pci_function *fn,
				 bool vgpu_vf, bool force)
{
	const char *what = force ? "warning" : "refusing";
	unsigned int n = 0, mdevs = 0;

	if (fn->iommu_group < 0) {
		log_warnx("hostdev: %s: %s: it is in no IOMMU group, so VFIO cannot assign it "
			  "(is the IOMMU on? 'mdevd doctor' says what to fix)",
			  fn->address, what);
		n++;
	}
	if (!vgpu_vf && !vfio_ready_driver(fn->driver)) {
		log_warnx("hostdev: %s: %s: the host driver %s uses it; with managed='yes' "
			  "libvirt unbinds it from the host when the VM starts",
			  fn->address, what, fn->driver);
		n++;
	}
	for (size_t i = 0; fn->iommu_group >= 0 && i < inv->n_pci; i++) {
		const struct pci_function *o = &inv->pci[i];

		if (o == fn || o->iommu_group != fn->iommu_group || is_bridge(o) ||
		    vfio_ready_driver(o->driver))
			continue;
		log_warnx("hostdev: %s: %s: %s in its IOMMU group %d is on %s, not vfio-pci: "
			  "the group is assigned whole",
			  fn->address, what, o->address, fn->iommu_group, o->driver);
		n++;
	}
	for (size_t i = 0; i < inv->n_mdevs; i++)
		mdevs += streq(inv->mdevs[i].parent, fn->address);
	if (mdevs) {
		log_warnx("hostdev: %s: %s: it hosts %u live mdev%s (see 'mdevd list'): passing "
			  "it through would take them from their VMs",
			  fn->address, what, mdevs, mdevs == 1 ? "" : "s");
		n++;
	}
	if (n && !force)
		log_warnx("hostdev: %s: pass --force to print the XML anyway", fn->address);
	return n;
}

static int hostdev_pci(const struct cli_globals *g, const char *address, bool force)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_free_ char *xml = NULL;
	const struct pci_function *fn;
	int r;

	const struct vgpu_vf *vf;
	const struct mdev_parent *card = NULL;

	if (load_inventory(g, INVENTORY_PCI | INVENTORY_TYPES | INVENTORY_MDEVS, &inv) < 0)
		return EXIT_ERROR;
	fn = inventory_get_pci(inv, address);
	if (!fn) {
		log_warnx("no PCI function %s on this node (see 'mdevd pci')", address);
		return EXIT_ERROR;
	}
	vf = inventory_get_vgpu_vf(inv, address, &card);
	if (vf && !vf->current_type) {
		log_warnx("%s is a free VF of the NVIDIA vGPU card %s: it holds no vGPU type yet "
			  "(give it one with a policy and 'mdevd apply'; see 'mdevd types')",
			  address, card->name);
		return EXIT_ERROR;
	}
	if (pci_findings(inv, fn, vf != NULL, force) && !force)
		return EXIT_ERROR;
	/* Kept on vfio-pci by mdevd, or an NVIDIA vGPU VF: libvirt must not rebind it. */
	r = vf || cli_vfio_bound_by_mdevd(g, fn) ? hostdev_pci_xml_unmanaged(fn, &xml)
						 : hostdev_pci_xml(fn, &xml);
	if (r < 0) {
		build_failed(r, "PCI function", address, "its <hostdev>");
		return EXIT_ERROR;
	}
	return print_xml(xml);
}

/* The resource name of entry @i of permittedHostDevices: mediatedDevices, then PCI. */
static const char *resource_name_at(const struct policy *pol, size_t i)
{
	return i < pol->n_mdev_devices ? pol->mdev_devices[i].resource_name
				       : pol->pci_devices[i - pol->n_mdev_devices].resource_name;
}

/* List the resource names of @pol, for the message when @name is not among them. */
static void log_unknown_resource(const char *policy_path, const struct policy *pol,
				 const char *name)
{
	size_t n_entries = pol->n_mdev_devices + pol->n_pci_devices;
	char list[1024] = "";
	size_t len = 0;

	if (n_entries == 0) {
		log_warnx("%s: has no permittedHostDevices, so no resource \"%s\"", policy_path,
			  name);
		return;
	}
	for (size_t i = 0; i < n_entries && len < sizeof(list); i++) {
		const char *rn = resource_name_at(pol, i);
		bool seen = false;
		int n;

		for (size_t j = 0; j < i && !seen; j++)
			seen = streq(resource_name_at(pol, j), rn);
		if (seen)
			continue;
		n = snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", rn);
		len += n > 0 ? (size_t)n : 0;
	}
	log_warnx("%s: permittedHostDevices names no resource \"%s\" (it names: %s)", policy_path,
		  name, list);
}

/* Which parts of the inventory the policy's entries for @name need. 0: none names it. */
static unsigned int resource_needs(const struct policy *pol, const char *name)
{
	unsigned int what = 0;

	for (size_t i = 0; i < pol->n_mdev_devices; i++)
		if (streq(pol->mdev_devices[i].resource_name, name))
			/* PCI too: NVIDIA vendor-VFIO vGPUs are served as their VFs. */
			what |= INVENTORY_TYPES | INVENTORY_MDEVS | INVENTORY_PCI;
	for (size_t i = 0; i < pol->n_pci_devices; i++)
		if (streq(pol->pci_devices[i].resource_name, name))
			what |= INVENTORY_PCI;
	return what;
}

/* Say why a pool has fewer free devices than asked: the busy and the unserved ones. */
static void log_shortfall(const struct resource_pool *pool, const struct inuse *in,
			  unsigned int count, size_t n_free)
{
	if (pool->n_devices == 0)
		log_warnx("%s: no device of this node is in this pool%s", pool->name,
			  pool->n_unserved ? "; these match its selector but are not served:"
					   : " (none matches its selector)");
	else
		log_warnx("%s: %zu of %zu matching device%s free, %u asked", pool->name, n_free,
			  pool->n_devices, pool->n_devices == 1 ? " is" : "s are", count);
	for (size_t i = 0; i < pool->n_devices; i++) {
		const struct resource_device *d = &pool->devices[i];

		if (!d->healthy)
			log_warnx("  %s: in no IOMMU group: cannot be assigned", d->id);
		else if (inuse_has_group(in, d->iommu_group))
			log_warnx("  %s: in use (/dev/vfio/%d is open)", d->id, d->iommu_group);
		else if (inuse_has_device(in, -1, d->has_vfio_cdev, d->vfio_cdev))
			log_warnx("  %s: in use (/dev/vfio/devices/vfio%u is open)", d->id,
				  d->vfio_cdev);
	}
	for (size_t i = 0; i < pool->n_unserved; i++)
		log_warnx("  %s: not served: %s", pool->unserved[i].id, pool->unserved[i].reason);
}

/* libvirt for --connect / --no-libvirt: which devices domains name (not free). */
struct hostdev_libvirt {
	const char *uri;
	bool disabled;
};

static int hostdev_resource(const struct cli_globals *g, const char *policy_path, const char *name,
			    unsigned int count, const struct hostdev_options *opts,
			    const struct hostdev_libvirt *lv)
{
	_cleanup_(virt_closep) struct virt *virt = NULL;
	_cleanup_(virt_refs_release) struct virt_refs refs = {};
	/* Cleanups run in reverse order: the set, which borrows from inv, goes first. */
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_(resource_set_freep) struct resource_set *set = NULL;
	_cleanup_free_ struct hostdev_device *devs = NULL;
	_cleanup_(inuse_release) struct inuse in = {};
	_cleanup_free_ char *xml = NULL;
	_cleanup_close_ int proc_fd = -1;
	const struct resource_pool *pool;
	unsigned int what;
	size_t n = 0;
	int r;

	if (cli_load_policy(policy_path, &pol) < 0)
		return EXIT_ERROR;
	what = resource_needs(pol, name);
	if (!what) {
		log_unknown_resource(policy_path, pol, name);
		return EXIT_ERROR;
	}
	if (opts->display && !(what & INVENTORY_MDEVS)) {
		log_warnx("hostdev: %s is a pool of PCI functions: --display and --ramfb are for "
			  "vfio-pci mdevs only",
			  name);
		return EXIT_USAGE;
	}
	if (cli_open_proc(g, &proc_fd) < 0 || load_inventory(g, what, &inv) < 0)
		return EXIT_ERROR;
	r = resource_build(inv, pol, &set);
	if (r < 0) {
		log_warn(r, "cannot group the node's devices into resource pools");
		return EXIT_ERROR;
	}
	pool = resource_get_pool(set, name);
	if (!pool) { /* resource_build makes a pool for every name of the policy */
		log_warnx("%s: no pool \"%s\" on this node", policy_path, name);
		return EXIT_ERROR;
	}
	if (opts->display && pool->kind == RESOURCE_PCI) {
		log_warnx("hostdev: %s is a pool of PCI functions: --display and --ramfb are for "
			  "vfio-pci mdevs only",
			  name);
		return EXIT_USAGE;
	}
	r = inuse_scan(proc_fd, &in);
	if (r < 0) {
		log_warn(r, "%s: cannot scan processes for open VFIO groups", g->proc_root);
		return EXIT_ERROR;
	}
	if (in.unreadable)
		log_warnx("%u processes could not be inspected (not root?): devices they hold may "
			  "be picked as free",
			  in.unreadable);
	if (cli_connect_libvirt(g, lv->uri, lv->disabled, false, true, &virt) < 0)
		return EXIT_ERROR;
	if (virt && virt_domain_refs(virt, &refs) < 0)
		log_warnx("libvirt at %s: cannot read its domains: %s; only open VFIO groups "
			  "count as in use",
			  virt_uri(virt), virt_last_error(virt));
	devs = calloc(count, sizeof(*devs));
	if (!devs) {
		log_warn(-ENOMEM, "hostdev");
		return EXIT_ERROR;
	}
	/* pool->devices is sorted by id: UUIDs for mdevs, addresses for PCI functions. */
	for (size_t i = 0; i < pool->n_devices && n < count; i++) {
		const struct resource_device *d = &pool->devices[i];

		/* Free: healthy, no process holds it (group or cdev), no libvirt domain names it.
		 */
		if (!d->healthy ||
		    inuse_has_device(&in, d->iommu_group, d->has_vfio_cdev, d->vfio_cdev) ||
		    virt_refs_find(&refs, d->id))
			continue;
		if (pool->kind == RESOURCE_MDEV) {
			const struct mdev_instance *m = inventory_get_mdev(inv, d->id);
			enum hostdev_model model;

			if (!m) {
				log_warnx("%s: mdev %s vanished", name, d->id);
				return EXIT_ERROR;
			}
			if (mdev_model(inv, m, &devs[n].device_api, &model) < 0)
				return EXIT_ERROR;
			if (check_display(m, model, opts) < 0)
				return EXIT_USAGE;
			devs[n].kind = HOSTDEV_MDEV;
			devs[n].mdev = m;
		} else {
			devs[n].kind = HOSTDEV_PCI;
			devs[n].pci = inventory_get_pci(inv, d->id);
			if (!devs[n].pci) {
				log_warnx("%s: PCI function %s vanished", name, d->id);
				return EXIT_ERROR;
			}
			/* An NVIDIA vGPU VF, or a function mdevd keeps on vfio-pci. */
			devs[n].unmanaged = inventory_get_vgpu_vf(inv, d->id, NULL) ||
					    cli_vfio_bound_by_mdevd(g, devs[n].pci);
		}
		n++;
	}
	if (n < count) {
		/* The loop saw every device: n is the number of free ones. */
		log_shortfall(pool, &in, count, n);
		for (size_t i = 0; i < pool->n_devices; i++) {
			const struct plan_domain_ref *ref =
				virt_refs_find(&refs, pool->devices[i].id);

			if (ref)
				log_warnx("  %s: %s by libvirt domain %s", pool->devices[i].id,
					  ref->running ? "in use" : "reserved", ref->domain);
		}
		return EXIT_ERROR;
	}
	r = hostdev_devices_xml(devs, n, opts, &xml);
	if (r < 0) {
		build_failed(r, "resource", name, "the <hostdev> elements");
		return EXIT_ERROR;
	}
	display_note(opts);
	return print_xml(xml);
}

static int parse_count(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > HOSTDEV_COUNT_MAX)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

enum target {
	TARGET_MDEV,
	TARGET_PCI,
	TARGET_RESOURCE,
};

int cmd_hostdev(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},  {"count", required_argument, NULL, 'K'},
		{"display", no_argument, NULL, 'd'},	   {"ramfb", no_argument, NULL, 'r'},
		{"output", required_argument, NULL, 'o'},  {"force", no_argument, NULL, 'f'},
		{"connect", required_argument, NULL, 'c'}, {"no-libvirt", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},	   {},
	};
	struct hostdev_options o = {};
	struct hostdev_libvirt lv = {};
	bool force = false;
	const char *policy_path = NULL, *arg;
	char uuid[MDEVD_UUID_STR_LEN], bdf[MDEVD_BDF_STR_LEN];
	struct hostdev_pci_address addr;
	unsigned int count = 1;
	bool count_given = false;
	enum target target;
	int c, r;

	/* --count, --display and --ramfb are long only: -c, -d and -r mean --connect,
	 * --device-plugin-dir and --resync elsewhere. */
	while ((c = getopt_long(argc, argv, "p:o:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'K':
			if (parse_count(optarg, &count) < 0) {
				log_warnx(
					"hostdev: --count %s: expected a whole number from 1 to %u",
					optarg, HOSTDEV_COUNT_MAX);
				return EXIT_USAGE;
			}
			count_given = true;
			break;
		case 'd':
			o.display = true;
			break;
		case 'r':
			o.ramfb = true;
			break;
		case 'f':
			force = true;
			break;
		case 'c':
			lv.uri = optarg;
			break;
		case 'N':
			lv.disabled = true;
			break;
		case 'o':
			if (!streq(optarg, "xml")) {
				log_warnx("hostdev: -o %s: the only output is 'xml'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			hostdev_usage(stdout);
			return EXIT_OK;
		default:
			hostdev_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_warnx("hostdev: %s", argc - optind ? "one device at a time: unexpected argument"
						       : "which device? give a UUID, a PCI address "
							 "or a resource name");
		hostdev_usage(stderr);
		return EXIT_USAGE;
	}
	arg = argv[optind];
	/* QEMU refuses ramfb=on without display=on: --ramfb implies --display. */
	if (o.ramfb)
		o.display = true;

	if (strchr(arg, '/')) {
		target = TARGET_RESOURCE;
	} else if (hostdev_parse_uuid(arg, uuid) == 0) {
		target = TARGET_MDEV;
	} else {
		r = hostdev_parse_pci_address(arg, &addr);
		if (r == -ERANGE) {
			log_warnx(
				"hostdev: %s: outside what libvirt accepts (domain <= 0xffff, bus "
				"<= 0xff, slot <= 0x1f, function <= 7)",
				arg);
			return EXIT_USAGE;
		}
		if (r < 0 || hostdev_format_pci_address(&addr, bdf, sizeof(bdf)) < 0) {
			log_warnx("hostdev: %s: not an mdev UUID, a PCI address (0000:06:00.0 or "
				  "06:00.0) or a resource name (vendor.com/NAME)",
				  arg);
			return EXIT_USAGE;
		}
		target = TARGET_PCI;
	}

	if (target != TARGET_RESOURCE && (policy_path || count_given)) {
		log_warnx("hostdev: %s is only for a resource name; %s names one device",
			  policy_path ? "--policy" : "--count", arg);
		return EXIT_USAGE;
	}
	switch (target) {
	case TARGET_MDEV:
		return hostdev_mdev(g, uuid, &o);
	case TARGET_PCI:
		if (o.display) {
			log_warnx("hostdev: --display and --ramfb are for vfio-pci mdevs; a PCI "
				  "function is passed through whole, with its own display if any");
			return EXIT_USAGE;
		}
		return hostdev_pci(g, bdf, force);
	case TARGET_RESOURCE:
		if (!policy_path) {
			log_warnx("hostdev: %s: --policy FILE is needed to map a resource name to "
				  "devices (its permittedHostDevices)",
				  arg);
			return EXIT_USAGE;
		}
		return hostdev_resource(g, policy_path, arg, count, &o, &lv);
	}
	return EXIT_USAGE;
}
