/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The node service and its view: `mdevd run` (daemon.h) and `mdevd status`, which
 * reads the node directly (no IPC with a running daemon) and shows what the daemon
 * serves from it: each resource's devices, their health and NUMA node, why a matching
 * device is not served, the live mdevs and what a reconcile would still change.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "daemon/daemon.h"
#include "kubernetes/deviceplugin.h"
#include "node/inuse.h"
#include "node/nvidia_vgpu.h"
#include "util/log.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "mdevd/resource.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

#define PLUGIN_DIR_DEFAULT DP_DEFAULT_DIR

static void run_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd run --policy FILE [--device-plugin-dir DIR] [--no-device-plugins]\n"
		"                 [--resync SECONDS] [--no-apply] [--connect URI | --no-libvirt]\n"
		"\n"
		"Run the node service: apply the policy, serve each resource pool to kubelet as a\n"
		"device plugin, and follow the node: kernel uevents (mdevs, parents, PCI drivers)\n"
		"and policy file changes reconcile within %d ms; SIGHUP reloads the policy; a\n"
		"policy that does not parse or fit is reported and the last good one keeps\n"
		"running; SIGTERM stops. Under systemd (Type=notify) it reports readiness,\n"
		"reloads, status and the watchdog.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE           the policy (see mdevd-policy(5))\n"
		"  -d, --device-plugin-dir DIR kubelet's device-plugin directory\n"
		"                              (default " PLUGIN_DIR_DEFAULT ")\n"
		"  -N, --no-device-plugins     serve nothing to kubelet (libvirt hosts, tests)\n"
		"  -r, --resync SECONDS        full reconcile every SECONDS as a safety net\n"
		"                              (default %d; 0: never)\n"
		"  -n, --no-apply              create and remove no mdevs; only observe and serve\n"
		"  -c, --connect URI           libvirt to ask which mdevs its domains name (never\n"
		"                              removed); default qemu:///system when it runs\n"
		"  -L, --no-libvirt            do not ask libvirt; only open VFIO groups count\n"
		"\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 when the service cannot start.\n"
		"\n"
		"Example:\n"
		"  mdevd run --policy /etc/mdevd/policy.json\n",
		DAEMON_DEBOUNCE_MSEC, DAEMON_RESYNC_SEC_DEFAULT);
}

static int parse_seconds(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end || errno || v > 7 * 24 * 3600 || s[0] == '-')
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int cmd_run(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"device-plugin-dir", required_argument, NULL, 'd'},
		{"no-device-plugins", no_argument, NULL, 'N'},
		{"resync", required_argument, NULL, 'r'},
		{"no-apply", no_argument, NULL, 'n'},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct daemon_options o = {
		.sysfs_root = g->sysfs_root,
		.proc_root = g->proc_root,
		.plugin_dir = PLUGIN_DIR_DEFAULT,
		.resync_sec = DAEMON_RESYNC_SEC_DEFAULT,
	};
	char machine_id[MACHINE_ID_LEN];
	bool no_dp = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "p:d:Nr:nc:Lh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.policy_path = optarg;
			break;
		case 'd':
			o.plugin_dir = optarg;
			break;
		case 'N':
			no_dp = true;
			break;
		case 'r':
			if (parse_seconds(optarg, &o.resync_sec) < 0) {
				log_warnx("run: --resync %s: expected whole seconds, 0 to 604800",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			o.no_apply = true;
			break;
		case 'c':
			o.libvirt_uri = optarg;
			break;
		case 'L':
			o.no_libvirt = true;
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		default:
			run_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli_check_policy_args("run", o.policy_path, optind, argc, run_usage) != EXIT_OK)
		return EXIT_USAGE;
	if (no_dp)
		o.plugin_dir = NULL;
	if (o.plugin_dir && strlen(o.plugin_dir) > 80) {
		/* Socket paths are limited to 108 bytes; leave room for our socket names. */
		log_warnx("run: --device-plugin-dir %s: longer than 80 bytes", o.plugin_dir);
		return EXIT_USAGE;
	}
	if (!o.no_apply) {
		if (cli_machine_id(g, machine_id) < 0)
			return EXIT_ERROR;
		o.machine_id = machine_id;
	}
	r = daemon_run(&o);
	return r < 0 ? EXIT_ERROR : EXIT_OK;
}

static void status_usage(FILE *f)
{
	fprintf(f, "Usage: mdevd status --policy FILE [-o json]\n"
		   "\n"
		   "Show what mdevd serves on this node under the policy: each resource with its\n"
		   "devices (health, NUMA node, IOMMU group), every device a selector matches but\n"
		   "that is not served and why, the live mdevs (owned by mdevd or not, in use or\n"
		   "not) and the changes a reconcile would still make. Reads the node directly;\n"
		   "works whether or not 'mdevd run' is running.\n"
		   "\n"
		   "Options:\n"
		   "  -p, --policy FILE   the policy (see mdevd-policy(5))\n"
		   "  -o, --output FMT    human (default) or json\n"
		   "\n"
		   "Exit status: 0 shown, 1 error.\n");
}

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

/* Everything status shows, read once. */
struct status {
	struct inventory *inv;
	struct resource_set *set;
	struct plan *plan; /* NULL when the policy does not fit the node */
	struct inuse in;
	struct pol_error misfit; /* path and message when plan is NULL */
	const char *machine_id;
};

static const char *kind_str(enum resource_kind k)
{
	switch (k) {
	case RESOURCE_MDEV:
		return "mdev";
	case RESOURCE_PCI:
		return "pci";
	}
	return "?";
}

/*
 * Where a pool's device sits, into @buf: "  parent P" for an mdev, with " (PF F)" when P is
 * an SR-IOV VF; "  PF F" for a PCI function that is a VF; "" for any other PCI function.
 */
static void device_place(const struct resource_device *dev, char *buf, size_t size)
{
	const char *pf = resource_device_physfn(dev);

	if (dev->parent && pf)
		snprintf(buf, size, "  parent %s (PF %s)", dev->parent, pf);
	else if (dev->parent)
		snprintf(buf, size, "  parent %s", dev->parent);
	else if (pf)
		snprintf(buf, size, "  PF %s", pf);
	else
		buf[0] = '\0';
}

static void print_status_human(const struct status *st)
{
	const struct resource_set *set = st->set;
	const struct inventory *inv = st->inv;

	if (set->n_pools == 0)
		printf("No resources: the policy's permittedHostDevices selects nothing.\n");
	for (size_t i = 0; i < set->n_pools; i++) {
		const struct resource_pool *p = &set->pools[i];
		size_t healthy = 0;

		for (size_t j = 0; j < p->n_devices; j++)
			healthy += p->devices[j].healthy;
		printf("%s (%s%s): %zu devices, %zu healthy\n", p->name, kind_str(p->kind),
		       p->external_resource_provider ? ", external provider" : "", p->n_devices,
		       healthy);
		for (size_t j = 0; j < p->n_devices; j++) {
			const struct resource_device *dev = &p->devices[j];
			char numa[16] = "-", group[16] = "-", place[2 * NAME_MAX + 32];
			bool in_use = inuse_has_device(&st->in, dev->iommu_group,
						       dev->has_vfio_cdev, dev->vfio_cdev);

			if (dev->numa_node >= 0)
				snprintf(numa, sizeof(numa), "%d", dev->numa_node);
			if (dev->iommu_group >= 0)
				snprintf(group, sizeof(group), "%d", dev->iommu_group);
			device_place(dev, place, sizeof(place));
			/* The group column is padded only when something follows it. */
			printf("  %-36s  %-9s  numa %-3s  group %-*s%s%s\n", dev->id,
			       dev->healthy ? "healthy" : "unhealthy", numa,
			       place[0] || in_use ? 4 : 0, group, place,
			       in_use ? "  (in use)" : "");
		}
		for (size_t j = 0; j < p->n_unserved; j++)
			printf("  %-36s  not served: %s\n", p->unserved[j].id,
			       p->unserved[j].reason);
	}
	printf("\nmdevs: %zu\n", inv->n_mdevs);
	for (size_t i = 0; i < inv->n_mdevs; i++) {
		const struct mdev_instance *m = &inv->mdevs[i];
		bool owned = plan_is_owned(inv, m, st->machine_id, NULL);
		char group[16] = "-";

		if (m->iommu_group >= 0)
			snprintf(group, sizeof(group), "%d", m->iommu_group);
		printf("  %s  %-14s %-16s group %-4s %s%s%s\n", m->uuid, m->parent, m->type_id,
		       group, owned ? "owned" : "foreign",
		       inuse_has_device(&st->in, m->iommu_group, m->has_vfio_cdev, m->vfio_cdev)
			       ? ", in use"
			       : "",
		       m->backend == PARENT_BACKEND_NVIDIA_VGPU ? ", vGPU VF (nvidia-vgpu)" : "");
	}
	for (size_t i = 0; i < inv->n_pci; i++)
		if (nvidia_vgpu_vfs_disabled(inv, &inv->pci[i]))
			printf("\n%s: NVIDIA GPU with its SR-IOV VFs not enabled (0 of %u): no "
			       "vGPU "
			       "can exist on it; run /usr/lib/nvidia/sriov-manage -e %s\n",
			       inv->pci[i].address, inv->pci[i].sriov_totalvfs,
			       inv->pci[i].address);
	if (!st->plan) {
		printf("\nPending: unknown: the policy does not fit this node: %s: %s\n",
		       st->misfit.path, st->misfit.message);
		return;
	}
	printf("\nPending: %zu to create, %zu to remove\n", st->plan->n_create, st->plan->n_remove);
	for (size_t i = 0; i < st->plan->n_actions; i++) {
		const struct plan_action *a = &st->plan->actions[i];
		char why[128];

		if (a->kind == PLAN_KEEP)
			continue;
		printf("  %-6s  %s  %-14s %-16s %s\n", plan_action_kind_str(a->kind), a->uuid,
		       a->parent, a->type_id, plan_action_reason(a, why, sizeof(why)));
	}
	for (size_t i = 0; i < st->plan->n_shortfalls; i++) {
		const struct plan_shortfall *s = &st->plan->shortfalls[i];

		printf("  short   %s: %s: the policy asks for %u, only %u fit\n", s->parent,
		       s->type_id, s->wanted, s->planned);
	}
}

static cJSON *int_or_null(int v)
{
	return v >= 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Add @item to @obj under @key; false (and @item freed) when either is NULL. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *pool_json(const struct status *st, const struct resource_pool *p)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	cJSON *devs, *unserved;

	if (!o || !add(o, "name", cJSON_CreateString(p->name)) ||
	    !add(o, "kind", cJSON_CreateString(kind_str(p->kind))) ||
	    !add(o, "external_resource_provider", cJSON_CreateBool(p->external_resource_provider)))
		return NULL;
	devs = cJSON_AddArrayToObject(o, "devices");
	unserved = cJSON_AddArrayToObject(o, "unserved");
	if (!devs || !unserved)
		return NULL;
	for (size_t j = 0; j < p->n_devices; j++) {
		const struct resource_device *dev = &p->devices[j];
		cJSON *d = cJSON_CreateObject();

		if (!d || !cJSON_AddItemToArray(devs, d))
			return cJSON_Delete(d), NULL;
		if (!add(d, "id", cJSON_CreateString(dev->id)) ||
		    !add(d, "health", cJSON_CreateString(dev->healthy ? "Healthy" : "Unhealthy")) ||
		    !add(d, "numa_node", int_or_null(dev->numa_node)) ||
		    !add(d, "iommu_group", int_or_null(dev->iommu_group)) ||
		    !add(d, "parent", str_or_null(dev->parent)) ||
		    !add(d, "physfn", str_or_null(resource_device_physfn(dev))) ||
		    !add(d, "in_use",
			 cJSON_CreateBool(inuse_has_device(&st->in, dev->iommu_group,
							   dev->has_vfio_cdev, dev->vfio_cdev))))
			return NULL;
	}
	for (size_t j = 0; j < p->n_unserved; j++) {
		cJSON *u = cJSON_CreateObject();

		if (!u || !cJSON_AddItemToArray(unserved, u))
			return cJSON_Delete(u), NULL;
		if (!add(u, "id", cJSON_CreateString(p->unserved[j].id)) ||
		    !add(u, "reason", cJSON_CreateString(p->unserved[j].reason)))
			return NULL;
	}
	return steal_ptr(o);
}

/* "sriov_disabled": [{"pf", "fix"}]: NVIDIA GPUs whose VFs are not enabled. */
static int vfs_disabled_json(cJSON *root, const struct inventory *inv)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "sriov_disabled");
	char fix[96];

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_pci; i++) {
		cJSON *o;

		if (!nvidia_vgpu_vfs_disabled(inv, &inv->pci[i]))
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o))
			return cJSON_Delete(o), -ENOMEM;
		snprintf(fix, sizeof(fix), "/usr/lib/nvidia/sriov-manage -e %s",
			 inv->pci[i].address);
		if (!add(o, "pf", cJSON_CreateString(inv->pci[i].address)) ||
		    !add(o, "fix", cJSON_CreateString(fix)))
			return -ENOMEM;
	}
	return 0;
}

static int print_status_json(const struct status *st)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *pools, *mdevs, *pending;

	if (!root)
		return -ENOMEM;
	pools = cJSON_AddArrayToObject(root, "resources");
	mdevs = cJSON_AddArrayToObject(root, "mdevs");
	pending = cJSON_AddObjectToObject(root, "pending");
	if (!pools || !mdevs || !pending)
		return -ENOMEM;
	for (size_t i = 0; i < st->set->n_pools; i++) {
		cJSON *p = pool_json(st, &st->set->pools[i]);

		if (!p || !cJSON_AddItemToArray(pools, p))
			return cJSON_Delete(p), -ENOMEM;
	}
	for (size_t i = 0; i < st->inv->n_mdevs; i++) {
		const struct mdev_instance *m = &st->inv->mdevs[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(mdevs, o))
			return cJSON_Delete(o), -ENOMEM;
		if (!add(o, "uuid", cJSON_CreateString(m->uuid)) ||
		    !add(o, "parent", cJSON_CreateString(m->parent)) ||
		    !add(o, "type", cJSON_CreateString(m->type_id)) ||
		    !add(o, "iommu_group", int_or_null(m->iommu_group)) ||
		    !add(o, "owned",
			 cJSON_CreateBool(plan_is_owned(st->inv, m, st->machine_id, NULL))) ||
		    !add(o, "in_use",
			 cJSON_CreateBool(inuse_has_device(&st->in, m->iommu_group,
							   m->has_vfio_cdev, m->vfio_cdev))) ||
		    !add(o, "backend", cJSON_CreateString(parent_backend_str(m->backend))))
			return -ENOMEM;
	}
	if (vfs_disabled_json(root, st->inv) < 0)
		return -ENOMEM;
	if (!st->plan) {
		char where[POL_PATH_MAX + POL_ERROR_MAX + 4];

		snprintf(where, sizeof(where), "%s: %s", st->misfit.path, st->misfit.message);
		if (!add(pending, "error", cJSON_CreateString(where)))
			return -ENOMEM;
	} else {
		cJSON *actions = cJSON_AddArrayToObject(pending, "actions");

		if (!actions ||
		    !add(pending, "create", cJSON_CreateNumber((double)st->plan->n_create)) ||
		    !add(pending, "remove", cJSON_CreateNumber((double)st->plan->n_remove)))
			return -ENOMEM;
		for (size_t i = 0; i < st->plan->n_actions; i++) {
			const struct plan_action *a = &st->plan->actions[i];
			char why[128];
			cJSON *o;

			if (a->kind == PLAN_KEEP)
				continue;
			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(actions, o))
				return cJSON_Delete(o), -ENOMEM;
			if (!add(o, "action", cJSON_CreateString(plan_action_kind_str(a->kind))) ||
			    !add(o, "uuid", cJSON_CreateString(a->uuid)) ||
			    !add(o, "parent", cJSON_CreateString(a->parent)) ||
			    !add(o, "type", cJSON_CreateString(a->type_id)) ||
			    !add(o, "reason",
				 cJSON_CreateString(plan_action_reason(a, why, sizeof(why)))))
				return -ENOMEM;
		}
	}
	text = cJSON_Print(root);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	return 0;
}

int cmd_status(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(resource_set_freep) struct resource_set *set = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	enum cli_output output = OUTPUT_HUMAN;
	const char *policy_path = NULL;
	char machine_id[MACHINE_ID_LEN];
	struct status st = {};
	struct plan_context ctx;
	int c, r;

	while ((c = getopt_long(argc, argv, "p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'o':
			if (cli_parse_output(optarg, &output) < 0) {
				log_warnx("status: -o %s: expected 'human' or 'json'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default:
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli_check_policy_args("status", policy_path, optind, argc, status_usage) != EXIT_OK)
		return EXIT_USAGE;
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0 ||
	    cli_machine_id(g, machine_id) < 0 || cli_load_policy(policy_path, &pol) < 0)
		return EXIT_ERROR;
	r = inventory_load(sysfs_fd, g->sysfs_root, INVENTORY_ALL, report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "%s: cannot read the node", g->sysfs_root);
		return EXIT_ERROR;
	}
	r = resource_build(inv, pol, &set);
	if (r < 0) {
		log_warn(r, "cannot build the resource pools");
		return EXIT_ERROR;
	}
	r = inuse_scan(proc_fd, &st.in);
	if (r < 0) {
		log_warn(r, "%s: cannot scan processes for open VFIO groups", g->proc_root);
		return EXIT_ERROR;
	}
	st.inv = inv;
	st.set = set;
	st.machine_id = machine_id;
	if (pol_validate(pol, inv, &st.misfit) == 0) {
		ctx = (struct plan_context){
			.machine_id = machine_id,
			.in_use_groups = st.in.groups,
			.n_in_use_groups = st.in.n_groups,
			.in_use_cdevs = st.in.cdevs,
			.n_in_use_cdevs = st.in.n_cdevs,
		};
		r = plan_build(inv, pol, &ctx, &plan);
		if (r < 0) {
			inuse_release(&st.in);
			log_warn(r, "cannot build a plan");
			return EXIT_ERROR;
		}
		st.plan = plan;
	}
	if (output == OUTPUT_JSON) {
		r = print_status_json(&st);
	} else {
		print_status_human(&st);
		r = 0;
	}
	inuse_release(&st.in);
	if (r < 0) {
		log_warn(r, "cannot print the status");
		return EXIT_ERROR;
	}
	return EXIT_OK;
}
