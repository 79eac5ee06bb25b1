/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The commands that change or would change mdevs: plan, apply, create, remove.
 * plan and apply share the planner; create and remove are the single-mdev tools
 * an operator reaches for by hand, with the same safety checks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/cli_vfio.h"
#include "node/inuse.h"
#include "node/mdev_lifecycle.h"
#include "util/log.h"
#include "mdevd/hostdev.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "libvirt/mdevctl.h"
#include "cli/output.h"
#include "node/sysfs.h"
#include "libvirt/libvirt_client.h"

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

static void plan_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd plan [--policy FILE] [-o json] [--connect URI | --no-libvirt]\n"
		"                  [--node-labels K=V,...]\n"
		"\n"
		"Show what 'mdevd apply' would do to make this node match the policy: which\n"
		"mdevs it would create (with their deterministic UUIDs), which it would remove\n"
		"and which it keeps, each with its reason. Nothing is changed. An mdev that a\n"
		"libvirt domain names is never removed: a running domain holds it (in use), a\n"
		"defined one reserves it.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE   the policy (see mdevd-policy(5); default\n"
		"                      /etc/mdevd/policy.json)\n"
		"  -o, --output FMT    human (default) or json\n"
		"  -c, --connect URI   ask libvirt at URI what its domains use (default:\n"
		"                      qemu:///system when its socket exists, with /sys)\n"
		"      --no-libvirt    do not ask libvirt; only open VFIO groups count as in use\n"
		"      --node-labels K=V,...  this node's labels: they pick the policy's\n"
		"                      nodeMediatedDeviceTypes entries, as KubeVirt does (without\n"
		"                      them only entries with an empty nodeSelector apply)\n"
		"\n"
		"Exit status: 0 nothing to do, 2 changes pending, 1 error.\n"
		"\n"
		"Examples:\n"
		"  mdevd plan --policy /etc/mdevd/policy.json -o json\n"
		"  mdevd plan --policy fleet.yaml --node-labels nvidia.com/gpu.product=L40S\n");
}

int cmd_plan(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"output", required_argument, NULL, 'o'},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'N'},
		{"node-labels", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_(virt_closep) struct virt *virt = NULL;
	struct virt_refs refs = {};
	const char *uri = NULL;
	bool no_libvirt = false;
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	enum cli_output output = OUTPUT_HUMAN;
	const char *policy_path = NULL, *node_labels = NULL;
	char machine_id[MACHINE_ID_LEN];
	struct plan_context ctx;
	struct inuse in = {};
	int c, r;

	while ((c = getopt_long(argc, argv, "p:o:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'c':
			uri = optarg;
			break;
		case 'L':
			node_labels = optarg;
			break;
		case 'N':
			no_libvirt = true;
			break;
		case 'o':
			if (cli_output_option("plan", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			plan_usage(stdout);
			return EXIT_OK;
		default:
			plan_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli_check_policy_args("plan", &policy_path, optind, argc, plan_usage) != EXIT_OK)
		return EXIT_USAGE;
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0 ||
	    cli_machine_id(g, machine_id) < 0 ||
	    cli_load_node_policy("plan", policy_path, node_labels, &pol) < 0)
		return EXIT_ERROR;
	r = inventory_load(sysfs_fd, g->sysfs_root, INVENTORY_TYPES | INVENTORY_MDEVS,
			   report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "%s: cannot read the node's mdevs", g->sysfs_root);
		return EXIT_ERROR;
	}
	if (cli_check_policy(policy_path, pol, inv, 0) < 0)
		return EXIT_ERROR;
	r = inuse_scan(proc_fd, &in);
	if (r < 0) {
		log_warn(r, "%s: cannot scan processes for open VFIO groups", g->proc_root);
		return EXIT_ERROR;
	}
	if (in.unreadable)
		log_warnx("%u processes could not be inspected (not root?): mdevs they might hold "
			  "are not marked in use here; apply removes nothing in that case",
			  in.unreadable);
	if (cli_connect_libvirt(g, uri, no_libvirt, false, true, &virt) < 0)
		return EXIT_ERROR;
	if (virt) {
		r = virt_domain_refs(virt, &refs);
		if (r < 0)
			log_warnx("libvirt at %s: cannot read its domains: %s; only open VFIO "
				  "groups count as in use",
				  virt_uri(virt), virt_last_error(virt));
	}
	ctx = (struct plan_context){
		.machine_id = machine_id,
		.in_use_groups = in.groups,
		.n_in_use_groups = in.n_groups,
		.domain_refs = refs.refs,
		.n_domain_refs = refs.n,
	};
	r = plan_build(inv, pol, &ctx, &plan);
	inuse_release(&in);
	if (r < 0) {
		log_warn(r, "cannot build a plan");
		return EXIT_ERROR;
	}
	r = output_plan(stdout, output, plan);
	virt_refs_release(&refs); /* after printing: the plan borrows domain names */
	if (r < 0) {
		log_warn(r, "cannot print the plan");
		return EXIT_ERROR;
	}
	return plan->n_create || plan->n_remove ? EXIT_PENDING : EXIT_OK;
}

static void apply_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd apply [--policy FILE] [--dry-run] [--backend sysfs|libvirt]\n"
		"                   [--persist [--mdevctl-dir DIR]] [--connect URI | "
		"--no-libvirt]\n"
		"                   [--node-labels K=V,...]\n"
		"\n"
		"Create and remove mdevs until this node matches the policy. Removals come\n"
		"first (they free capacity), then creates, each followed by a fresh read of the\n"
		"parent; rounds repeat until nothing is left to do. An mdev whose VFIO group is\n"
		"open is never removed. Safe to interrupt and run again: UUIDs are derived from\n"
		"the machine id, parent, type and slot, so a re-run picks up where it stopped.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE   the policy (see mdevd-policy(5); default\n"
		"                      /etc/mdevd/policy.json)\n"
		"  -n, --dry-run       say what would be done; change nothing\n"
		"  -q, --quiet         print only warnings and the summary\n"
		"  -o, --output FMT    the summary as human (default) or json: {\"dry_run\",\n"
		"                      \"created\", \"removed\", \"would_create\", "
		"\"would_remove\",\n"
		"                      \"failed\", \"did_not_fit\", \"kept_in_use\", "
		"\"kept_reserved\",\n"
		"                      \"rounds\"}\n"
		"  -b, --backend NAME  sysfs (default): write create/remove in sysfs;\n"
		"                      libvirt: create/remove through libvirt's node-device API\n"
		"  -P, --persist       keep the mdevs across reboots: with sysfs, write mdevctl\n"
		"                      definitions (start: auto); with libvirt, define them and\n"
		"                      mark them autostart (libvirt keeps them through mdevctl)\n"
		"      --mdevctl-dir DIR  where --persist writes definitions (/etc/mdevctl.d)\n"
		"  -c, --connect URI   libvirt to ask what domains use and, with --backend\n"
		"                      libvirt, to act through (default: qemu:///system; asked\n"
		"                      for in-use only when its socket exists, with /sys)\n"
		"      --no-libvirt    do not ask libvirt (not with --backend libvirt)\n"
		"      --node-labels K=V,...  this node's labels: they pick the policy's\n"
		"                      nodeMediatedDeviceTypes entries (see 'mdevd plan --help')\n"
		"\n"
		"PCI functions the policy's mdevd.vfioPci names are bound to vfio-pci first\n"
		"(driver_override, unbind, drivers_probe, verified), except host-owned ones\n"
		"(see 'mdevd pci'); functions mdevd bound that the policy no longer names are\n"
		"given back to their host driver unless in use. With --persist, a udev rule\n"
		"sets driver_override at boot before any host driver probes them.\n"
		"      --vfio-state FILE  what mdevd bound (/var/lib/mdevd/vfio-bound)\n"
		"      --udev-rules FILE  the rule --persist writes\n"
		"                         (/etc/udev/rules.d/70-mdevd-vfio-pci.rules)\n"
		"      --bind-timeout SEC  wait at most SEC for an unbind or probe (10)\n"
		"\n"
		"Exit status: 0 the node matches the policy, 1 error, 3 matches as far as it\n"
		"can: some requested mdevs did not fit, removals wait for devices in use\n"
		"or reserved by libvirt domains, or a named PCI function was refused.\n"
		"With --dry-run, plan's: 0 nothing to do, 2 changes pending, 1 error.\n"
		"\n"
		"Example:\n"
		"  mdevd apply --policy /etc/mdevd/policy.json\n");
}

/* apply -o json: the summary the human line gives, as one object. */
static void print_apply_json(const struct apply_options *o, const struct apply_result *res)
{
	printf("{\"dry_run\": %s, \"created\": %u, \"removed\": %u, \"would_create\": %u, "
	       "\"would_remove\": %u, \"failed\": %u, \"did_not_fit\": %u, "
	       "\"kept_in_use\": %u, \"kept_reserved\": %u, \"rounds\": %u}\n",
	       o->dry_run ? "true" : "false", res->created, res->removed, res->would_create,
	       res->would_remove, res->failed, res->no_capacity + res->shortfall, res->kept_in_use,
	       res->kept_reserved, res->rounds);
}

int cmd_apply(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"dry-run", no_argument, NULL, 'n'},
		{"quiet", no_argument, NULL, 'q'},
		{"output", required_argument, NULL, 'o'},
		{"backend", required_argument, NULL, 'b'},
		{"persist", no_argument, NULL, 'P'},
		{"mdevctl-dir", required_argument, NULL, 'M'},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'N'},
		{"node-labels", required_argument, NULL, 'L'},
		{"vfio-state", required_argument, NULL, 'S'},
		{"udev-rules", required_argument, NULL, 'U'},
		{"bind-timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct cli_vfio vfio = {};
	struct vfio_apply_result vres = {};
	_cleanup_(virt_closep) struct virt *virt = NULL;
	const char *uri = NULL;
	bool no_libvirt = false, libvirt_backend;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	enum cli_output output = OUTPUT_HUMAN;
	struct apply_options o = {};
	struct apply_result res;
	const char *policy_path = NULL, *node_labels = NULL;
	char machine_id[MACHINE_ID_LEN];
	int c, r;

	while ((c = getopt_long(argc, argv, "p:nqo:b:Pc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'o':
			if (cli_output_option("apply", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'b':
			if (streq(optarg, "sysfs")) {
				o.backend_kind = APPLY_BACKEND_SYSFS;
			} else if (streq(optarg, "libvirt")) {
				o.backend_kind = APPLY_BACKEND_LIBVIRT;
			} else {
				log_warnx("apply: --backend %s: expected 'sysfs' or 'libvirt'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			o.persist = true;
			break;
		case 'M':
			o.mdevctl_dir = optarg;
			break;
		case 'c':
			uri = optarg;
			break;
		case 'L':
			node_labels = optarg;
			break;
		case 'N':
			no_libvirt = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'q':
			log_set_quiet(true);
			break;
		case 'S':
			vfio.state_path = optarg;
			break;
		case 'U':
			vfio.udev_path = optarg;
			break;
		case 'T':
			if (cli_parse_bind_timeout(optarg, &vfio.timeout_ms) < 0) {
				log_warnx("apply: --bind-timeout %s: expected seconds from 1 to "
					  "3600",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			apply_usage(stdout);
			return EXIT_OK;
		default:
			apply_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli_check_policy_args("apply", &policy_path, optind, argc, apply_usage) != EXIT_OK)
		return EXIT_USAGE;
	libvirt_backend = o.backend_kind == APPLY_BACKEND_LIBVIRT;
	if (libvirt_backend && no_libvirt) {
		log_warnx("apply: --backend libvirt and --no-libvirt exclude each other");
		return EXIT_USAGE;
	}
	if (o.mdevctl_dir && (!o.persist || libvirt_backend)) {
		log_warnx("apply: --mdevctl-dir goes with --persist and the sysfs backend (libvirt "
			  "writes its own definitions through mdevctl)");
		return EXIT_USAGE;
	}
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0 ||
	    cli_machine_id(g, machine_id) < 0 ||
	    cli_load_node_policy("apply", policy_path, node_labels, &pol) < 0)
		return EXIT_ERROR;
	/* The libvirt backend needs libvirt; otherwise libvirt only says what is in use. */
	if (cli_connect_libvirt(g, libvirt_backend && !uri ? VIRT_DEFAULT_URI : uri, no_libvirt,
				libvirt_backend, !libvirt_backend, &virt) < 0)
		return EXIT_ERROR;
	o.virt = virt;
	o.sysfs_fd = sysfs_fd;
	o.sysfs_path = g->sysfs_root;
	o.proc_fd = proc_fd;
	o.machine_id = machine_id;
	/* vfio-pci bindings first: whole functions, independent of the mdev layouts. */
	r = cli_vfio_apply(g, &vfio, sysfs_fd, proc_fd, virt, pol, o.dry_run, o.persist, &vres);
	if (r != EXIT_OK)
		return r;
	o.log_policy_warnings = true;
	r = apply_policy(&o, pol, &res);
	if (r == -EINVAL)
		return EXIT_ERROR; /* the policy does not fit this node: already reported */
	if (output == OUTPUT_JSON)
		print_apply_json(&o, &res);
	else if (o.dry_run) {
		/* What one round would do, with plan's exit statuses; nothing was written. */
		printf("Dry run: would create %u, remove %u; %u would not fit, %u kept in use",
		       res.would_create, res.would_remove, res.no_capacity + res.shortfall,
		       res.kept_in_use);
		if (res.kept_reserved)
			printf(", %u kept reserved", res.kept_reserved);
		printf(". Nothing was changed.\n");
	} else {
		printf("%u created, %u removed, %u failed, %u did not fit, %u kept in use",
		       res.created, res.removed, res.failed, res.no_capacity + res.shortfall,
		       res.kept_in_use);
		if (res.kept_reserved)
			printf(", %u kept reserved", res.kept_reserved);
		printf(" (%u round%s).\n", res.rounds, res.rounds == 1 ? "" : "s");
	}
	if (o.dry_run)
		return r < 0				      ? EXIT_ERROR
		       : res.would_create || res.would_remove ? EXIT_PENDING
							      : EXIT_OK;
	if (r < 0 || res.failed || vres.failed)
		return EXIT_ERROR;
	if (res.shortfall || res.no_capacity || res.kept_in_use || res.kept_reserved ||
	    vres.refused || vres.kept)
		return EXIT_PARTIAL;
	return EXIT_OK;
}

static void create_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd create --parent PARENT --type TYPE [--uuid UUID]\n"
		"\n"
		"Create one mdev by hand, outside any policy (it is then not owned by mdevd,\n"
		"and 'apply' leaves it alone unless the policy sets removeUnowned). Without\n"
		"--uuid a random UUID is used. Every argument is checked against this node\n"
		"before anything is written: PARENT is a parent's PCI address (0000:65:00.0,\n"
		"or 65:00.0) or name (mtty); TYPE a type id (mtty-2) or name (\"GRID T4-1Q\")\n"
		"the parent offers; UUID (any case) must not name an existing mdev. What the\n"
		"kernel answers is then printed as it is: ENOSPC/EUSERS (no capacity), ENODEV\n"
		"(parent going away).\n"
		"\n"
		"Options:\n"
		"      --parent PARENT  the parent device\n"
		"  -t, --type TYPE      the mdev type, by id or name\n"
		"  -u, --uuid UUID      the new mdev's UUID (default: a random one)\n"
		"  -o, --output FMT     human (default: the UUID) or json: {\"uuid\", \"parent\",\n"
		"                       \"type\"}\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: 0 created (its UUID is printed), 1 refused or failed, 64 usage\n"
		"error.\n"
		"\n"
		"Examples:\n"
		"  mdevd create --parent mtty --type mtty-2\n"
		"  mdevd create --parent 3b:00.0 --type \"GRID T4-1Q\"\n");
}

/*
 * The parent @arg names, checked and found in @inv: a PCI address in any accepted form
 * (normalised as hostdev does), or a name under class/mdev_bus. Logs why not.
 */
static const struct mdev_parent *create_parent(const struct inventory *inv, const char *arg)
{
	struct hostdev_pci_address addr;
	char bdf[MDEVD_BDF_STR_LEN], list[512];
	const char *name = arg;
	size_t len = 0;

	if (!*arg || strchr(arg, '/') || streq(arg, ".") || streq(arg, "..")) {
		log_warnx("create: --parent '%s': not a parent: give a PCI address (0000:65:00.0 "
			  "or 65:00.0) or a name listed in /sys/class/mdev_bus (see 'mdevd types')",
			  arg);
		return NULL;
	}
	if (hostdev_parse_pci_address(arg, &addr) == 0 &&
	    hostdev_format_pci_address(&addr, bdf, sizeof(bdf)) == 0)
		name = bdf;
	for (size_t i = 0; i < inv->n_parents; i++)
		if (streq(inv->parents[i].name, name))
			return &inv->parents[i];
	list[0] = '\0';
	for (size_t i = 0; i < inv->n_parents && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
					inv->parents[i].name);
	log_warnx("create: --parent %s: no such mdev parent on this node (parents: %s)", arg,
		  inv->n_parents ? list : "none; is an mdev driver loaded?");
	return NULL;
}

/* The type of @p that @arg names (id or name); logs what @p offers when none. */
static const struct mdev_type *create_type(const struct mdev_parent *p, const char *arg)
{
	const struct mdev_type *t = pol_find_type(p, arg);
	char list[1024];
	size_t len = 0;

	if (t)
		return t;
	list[0] = '\0';
	for (size_t i = 0; i < p->n_types && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s \"%s\"",
					i ? ", " : "", p->types[i].id,
					p->types[i].name ? p->types[i].name : p->types[i].id);
	log_warnx("create: --type %s: parent %s offers no such type (offered: %s)", arg, p->name,
		  p->n_types ? list : "none");
	return NULL;
}

static int random_uuid(char out[MDEVD_UUID_STR_LEN])
{
	char buf[64];
	int r;

	/* The kernel hands out a fresh random (version 4) UUID on every read. */
	r = sysfs_read_attr(AT_FDCWD, "/proc/sys/kernel/random/uuid", buf, sizeof(buf));
	if (r < 0)
		return r;
	if (r != MDEVD_UUID_STR_LEN - 1)
		return -EIO;
	memcpy(out, buf, MDEVD_UUID_STR_LEN);
	return 0;
}

int cmd_create(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"parent", required_argument, NULL, 'p'}, {"type", required_argument, NULL, 't'},
		{"uuid", required_argument, NULL, 'u'},	  {"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},	  {},
	};
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	const char *parent_arg = NULL, *type_arg = NULL, *uuid_arg = NULL;
	enum cli_output output = OUTPUT_HUMAN;
	const struct mdev_instance *taken;
	const struct mdev_parent *parent;
	const struct mdev_type *type;
	_cleanup_close_ int sysfs_fd = -1;
	char uuid[MDEVD_UUID_STR_LEN];
	int c, r;

	/* --parent is long only: -p is --policy everywhere else. */
	while ((c = getopt_long(argc, argv, "t:u:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (cli_output_option("create", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'p':
			parent_arg = optarg;
			break;
		case 't':
			type_arg = optarg;
			break;
		case 'u':
			uuid_arg = optarg;
			break;
		case 'h':
			create_usage(stdout);
			return EXIT_OK;
		default:
			create_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!parent_arg || !type_arg || optind < argc) {
		log_warnx("create: %s", optind < argc ? "unexpected argument"
						      : "--parent and --type are required");
		create_usage(stderr);
		return EXIT_USAGE;
	}
	/* Every argument is checked before anything is written. */
	if (uuid_arg && hostdev_parse_uuid(uuid_arg, uuid) < 0) {
		log_warnx("create: --uuid %s: not a UUID (8-4-4-4-12 hexadecimal digits, e.g. "
			  "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001)",
			  uuid_arg);
		return EXIT_USAGE;
	}
	if (cli_open_sysfs(g, &sysfs_fd) < 0)
		return EXIT_ERROR;
	r = inventory_load(sysfs_fd, g->sysfs_root, INVENTORY_TYPES | INVENTORY_MDEVS,
			   report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "%s: cannot read the node's mdevs", g->sysfs_root);
		return EXIT_ERROR;
	}
	parent = create_parent(inv, parent_arg);
	if (!parent)
		return EXIT_ERROR;
	type = create_type(parent, type_arg);
	if (!type)
		return EXIT_ERROR;
	if (!uuid_arg) {
		r = random_uuid(uuid);
		if (r < 0) {
			log_warn(r, "cannot get a random UUID from the kernel (pass --uuid)");
			return EXIT_ERROR;
		}
	}
	taken = inventory_get_mdev(inv, uuid);
	if (taken) {
		log_warnx("create: --uuid %s: an mdev with this UUID exists already (parent %s, "
			  "type %s); the kernel would refuse it (EEXIST)",
			  uuid, taken->parent, taken->type_id);
		return EXIT_ERROR;
	}
	/* Capacity is the kernel's to judge (types can share it): its answer is named below. */
	r = lifecycle_create(sysfs_fd, parent->name, type->id, uuid);
	if (r < 0) {
		const char *why = lifecycle_create_error_str(r);

		log_warnx("%s: %s: create %s failed: %s (%s)", parent->name, type->id, uuid,
			  why ? why : strerror(-r), lifecycle_errno_name(r));
		return EXIT_ERROR;
	}
	if (output == OUTPUT_JSON)
		printf("{\"uuid\": \"%s\", \"parent\": \"%s\", \"type\": \"%s\"}\n", uuid,
		       parent->name, type->id);
	else
		printf("%s\n", uuid);
	return EXIT_OK;
}

static int parse_group(const char *s, int *group)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 0 || v > 1000000)
		return -EINVAL;
	*group = (int)v;
	return 0;
}

static void remove_usage(FILE *f)
{
	fprintf(f, "Usage: mdevd remove UUID [--connect URI | --no-libvirt]\n"
		   "\n"
		   "Remove one mdev by hand (UUID in any case). Refused when the mdev is in use\n"
		   "(its /dev/vfio/N is open): the kernel would block the write until the VM lets\n"
		   "go and may unplug the device from the running guest. Stop the VM first.\n"
		   "Refused too when a libvirt domain names it (running, it holds the mdev;\n"
		   "defined, it needs it when it starts), and when not every process's open\n"
		   "files can be read (run as root: /proc/PID/fd needs it).\n"
		   "\n"
		   "Options:\n"
		   "  -c, --connect URI   libvirt to ask which domains name the mdev (default:\n"
		   "                      qemu:///system when its socket exists, with /sys)\n"
		   "      --no-libvirt    do not ask libvirt\n"
		   "  -o, --output FMT    human (default) or json: {\"removed\": UUID}\n"
		   "  -h, --help          this text\n"
		   "\n"
		   "Exit status: 0 removed, 1 refused or failed, 64 usage error.\n");
}

/* Does a libvirt domain name @uuid? 1 (logged), 0, or -errno (logged). */
static int remove_named_by_domain(const struct cli_globals *g, const char *uri, bool no_libvirt,
				  const char *uuid)
{
	_cleanup_(virt_closep) struct virt *virt = NULL;
	const struct plan_domain_ref *ref;
	struct virt_refs refs = {};
	int r;

	if (cli_connect_libvirt(g, uri, no_libvirt, uri != NULL, true, &virt) < 0)
		return -EIO;
	if (!virt)
		return 0;
	r = virt_domain_refs(virt, &refs);
	if (r < 0) {
		log_warnx("remove: %s: cannot ask libvirt (%s) whether a domain uses it: %s", uuid,
			  virt_uri(virt), virt_last_error(virt));
		return r;
	}
	ref = virt_refs_find(&refs, uuid);
	if (ref)
		log_warnx("remove: %s: %s by libvirt domain %s: refusing; %s", uuid,
			  ref->running ? "in use" : "reserved", ref->domain,
			  ref->running ? "stop the domain first"
				       : "remove it from the domain's <hostdev>s first");
	r = ref ? 1 : 0;
	virt_refs_release(&refs);
	return r;
}

/* Is @group held open? 1 (logged, refusing), 0, or -errno (logged). */
static int remove_group_held(int proc_fd, const char *proc_root, const char *uuid, int group)
{
	struct inuse in = {};
	bool held;
	int r;

	r = inuse_scan(proc_fd, &in);
	if (r < 0) {
		log_warn(r, "remove: %s: cannot scan %s for open VFIO groups", uuid, proc_root);
		return r;
	}
	held = inuse_has_group(&in, group);
	if (held) {
		const struct inuse_holder *h = inuse_get_holder(&in, group);
		char who[128] = "a process";

		if (h)
			inuse_holder_str(h, who, sizeof(who));
		log_warnx("remove: %s: in use (/dev/vfio/%d is open by %s): refusing; stop the "
			  "VM that holds it first",
			  uuid, group, who);
	} else if (in.unreadable)
		log_warnx("remove: %s: cannot tell whether it is in use: the open files of %u "
			  "processes could not be read (%s/PID/fd needs root or CAP_SYS_PTRACE); "
			  "refusing: run mdevd remove as root",
			  uuid, in.unreadable, proc_root);
	r = held || in.unreadable ? 1 : 0;
	inuse_release(&in);
	return r;
}

int cmd_remove(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'N'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	char path[128], gbuf[16], uuid[MDEVD_UUID_STR_LEN];
	enum cli_output output = OUTPUT_HUMAN;
	const char *uri = NULL;
	bool no_libvirt = false;
	int group = -1, c, r;

	while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (cli_output_option("remove", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'c':
			uri = optarg;
			break;
		case 'N':
			no_libvirt = true;
			break;
		case 'h':
			remove_usage(stdout);
			return EXIT_OK;
		default:
			remove_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		log_warnx("remove: %s", optind == argc ? "UUID is required" : "one UUID at a time");
		remove_usage(stderr);
		return EXIT_USAGE;
	}
	if (uri && no_libvirt) {
		log_warnx("remove: --connect and --no-libvirt exclude each other");
		return EXIT_USAGE;
	}
	if (hostdev_parse_uuid(argv[optind], uuid) < 0) {
		log_warnx("remove: %s: not a UUID (8-4-4-4-12 hexadecimal digits)", argv[optind]);
		return EXIT_USAGE;
	}
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0)
		return EXIT_ERROR;
	snprintf(path, sizeof(path), "bus/mdev/devices/%s", uuid);
	if (faccessat(sysfs_fd, path, F_OK, 0) < 0) {
		log_warnx("remove: %s: no such mdev", uuid);
		return EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "bus/mdev/devices/%s/iommu_group", uuid);
	r = sysfs_read_link_name(sysfs_fd, path, gbuf, sizeof(gbuf));
	if (r >= 0 && parse_group(gbuf, &group) == 0 &&
	    remove_group_held(proc_fd, g->proc_root, uuid, group) != 0)
		return EXIT_ERROR;
	if (remove_named_by_domain(g, uri, no_libvirt, uuid) != 0)
		return EXIT_ERROR;
	r = lifecycle_remove(sysfs_fd, uuid);
	if (r < 0) {
		const char *why = lifecycle_remove_error_str(r);

		log_warnx("remove: %s: %s (%s)", uuid, why ? why : strerror(-r),
			  lifecycle_errno_name(r));
		return EXIT_ERROR;
	}
	if (output == OUTPUT_JSON)
		printf("{\"removed\": \"%s\"}\n", uuid);
	else
		printf("removed %s\n", uuid);
	return EXIT_OK;
}
