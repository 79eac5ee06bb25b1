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
#include "node/inuse.h"
#include "node/mdev_lifecycle.h"
#include "util/log.h"
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

/*
 * The libvirt connection for what domains name: --connect URI, or qemu:///system when
 * its socket exists and the sysfs root is the real /sys (a test tree is not the node
 * libvirt describes). One that cannot be reached is reported once; then only open VFIO
 * groups count as in use. Returns 0 (*out may stay NULL) or -errno when @required.
 */
static int connect_libvirt(const struct cli_globals *g, const char *uri, bool disabled,
			   bool required, bool read_only, struct virt **out)
{
	char err[512] = "";
	int r;

	*out = NULL;
	if (disabled)
		return 0;
	r = virt_open_optional(uri, streq(g->sysfs_root, "/sys"), read_only, out, err, sizeof(err));
	if (r >= 0) {
		if (r > 0)
			log_debug("libvirt: connected to %s", virt_uri(*out));
		return 0;
	}
	if (required) {
		log_warnx("libvirt at %s cannot be reached: %s", uri ? uri : VIRT_DEFAULT_URI, err);
		return r;
	}
	log_warnx("libvirt at %s cannot be reached: %s; only open VFIO groups count as in use "
		  "(pass --no-libvirt to skip libvirt)",
		  uri ? uri : VIRT_DEFAULT_URI, err);
	return 0;
}

static void plan_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd plan --policy FILE [-o json] [--connect URI | --no-libvirt]\n"
		"\n"
		"Show what 'mdevd apply' would do to make this node match the policy: which\n"
		"mdevs it would create (with their deterministic UUIDs), which it would remove\n"
		"and which it keeps, each with its reason. Nothing is changed. An mdev that a\n"
		"libvirt domain names is never removed: a running domain holds it (in use), a\n"
		"defined one reserves it.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE   the policy (see mdevd-policy(5))\n"
		"  -o, --output FMT    human (default) or json\n"
		"  -c, --connect URI   ask libvirt at URI what its domains use (default:\n"
		"                      qemu:///system when its socket exists, with /sys)\n"
		"      --no-libvirt    do not ask libvirt; only open VFIO groups count as in use\n"
		"\n"
		"Exit status: 0 nothing to do, 2 changes pending, 1 error.\n"
		"\n"
		"Example:\n"
		"  mdevd plan --policy /etc/mdevd/policy.json -o json\n");
}

int cmd_plan(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},  {"output", required_argument, NULL, 'o'},
		{"connect", required_argument, NULL, 'c'}, {"no-libvirt", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},	   {},
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
	const char *policy_path = NULL;
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
		case 'N':
			no_libvirt = true;
			break;
		case 'o':
			if (cli_parse_output(optarg, &output) < 0) {
				log_warnx("plan: -o %s: expected 'human' or 'json'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			plan_usage(stdout);
			return EXIT_OK;
		default:
			plan_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli_check_policy_args("plan", policy_path, optind, argc, plan_usage) != EXIT_OK)
		return EXIT_USAGE;
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0 ||
	    cli_machine_id(g, machine_id) < 0 || cli_load_policy(policy_path, &pol) < 0)
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
	if (connect_libvirt(g, uri, no_libvirt, false, true, &virt) < 0)
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
		"Usage: mdevd apply --policy FILE [--dry-run] [--backend sysfs|libvirt]\n"
		"                   [--persist [--mdevctl-dir DIR]] [--connect URI | "
		"--no-libvirt]\n"
		"\n"
		"Create and remove mdevs until this node matches the policy. Removals come\n"
		"first (they free capacity), then creates, each followed by a fresh read of the\n"
		"parent; rounds repeat until nothing is left to do. An mdev whose VFIO group is\n"
		"open is never removed. Safe to interrupt and run again: UUIDs are derived from\n"
		"the machine id, parent, type and slot, so a re-run picks up where it stopped.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE   the policy (see mdevd-policy(5))\n"
		"  -n, --dry-run       say what would be done; change nothing\n"
		"  -q, --quiet         print only warnings and the summary\n"
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
		"\n"
		"Exit status: 0 the node matches the policy, 1 error, 3 matches as far as it\n"
		"can: some requested mdevs did not fit, or removals wait for devices in use\n"
		"or reserved by libvirt domains.\n"
		"\n"
		"Example:\n"
		"  mdevd apply --policy /etc/mdevd/policy.json\n");
}

int cmd_apply(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"dry-run", no_argument, NULL, 'n'},
		{"quiet", no_argument, NULL, 'q'},
		{"backend", required_argument, NULL, 'b'},
		{"persist", no_argument, NULL, 'P'},
		{"mdevctl-dir", required_argument, NULL, 'M'},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_(virt_closep) struct virt *virt = NULL;
	const char *uri = NULL;
	bool no_libvirt = false, libvirt_backend;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	struct apply_options o = {};
	struct apply_result res;
	const char *policy_path = NULL;
	char machine_id[MACHINE_ID_LEN];
	int c, r;

	while ((c = getopt_long(argc, argv, "p:nqb:Pc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
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
		case 'N':
			no_libvirt = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'q':
			log_set_quiet(true);
			break;
		case 'h':
			apply_usage(stdout);
			return EXIT_OK;
		default:
			apply_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli_check_policy_args("apply", policy_path, optind, argc, apply_usage) != EXIT_OK)
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
	    cli_machine_id(g, machine_id) < 0 || cli_load_policy(policy_path, &pol) < 0)
		return EXIT_ERROR;
	/* The libvirt backend needs libvirt; otherwise libvirt only says what is in use. */
	if (connect_libvirt(g, libvirt_backend && !uri ? VIRT_DEFAULT_URI : uri, no_libvirt,
			    libvirt_backend, !libvirt_backend, &virt) < 0)
		return EXIT_ERROR;
	o.virt = virt;
	o.sysfs_fd = sysfs_fd;
	o.sysfs_path = g->sysfs_root;
	o.proc_fd = proc_fd;
	o.machine_id = machine_id;
	r = apply_policy(&o, pol, &res);
	if (r == -EINVAL)
		return EXIT_ERROR; /* the policy does not fit this node: already reported */
	printf("%s%u created, %u removed, %u failed, %u did not fit, %u kept in use",
	       o.dry_run ? "Dry run: " : "", res.created, res.removed, res.failed,
	       res.no_capacity + res.shortfall, res.kept_in_use);
	if (res.kept_reserved)
		printf(", %u kept reserved", res.kept_reserved);
	printf(" (%u round%s).\n", res.rounds, res.rounds == 1 ? "" : "s");
	if (r < 0 || res.failed)
		return EXIT_ERROR;
	if (res.shortfall || res.no_capacity || res.kept_in_use || res.kept_reserved)
		return EXIT_PARTIAL;
	return EXIT_OK;
}

static void create_usage(FILE *f)
{
	fprintf(f, "Usage: mdevd create --parent PARENT --type TYPE_ID [--uuid UUID]\n"
		   "\n"
		   "Create one mdev by hand, outside any policy (it is then not owned by mdevd,\n"
		   "and 'apply' leaves it alone unless the policy sets removeUnowned). Without\n"
		   "--uuid a random UUID is used. The kernel's answer is printed as it is:\n"
		   "EEXIST (UUID taken on some parent), ENOSPC/EUSERS (no capacity), ENODEV\n"
		   "(parent going away).\n"
		   "\n"
		   "Example:\n"
		   "  mdevd create --parent mtty --type mtty-2\n");
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
		{"parent", required_argument, NULL, 'p'},
		{"type", required_argument, NULL, 't'},
		{"uuid", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *parent = NULL, *type = NULL, *uuid = NULL;
	_cleanup_close_ int sysfs_fd = -1;
	char buf[MDEVD_UUID_STR_LEN];
	int c, r;

	while ((c = getopt_long(argc, argv, "p:t:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parent = optarg;
			break;
		case 't':
			type = optarg;
			break;
		case 'u':
			uuid = optarg;
			break;
		case 'h':
			create_usage(stdout);
			return EXIT_OK;
		default:
			create_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!parent || !type || optind < argc) {
		log_warnx("create: --parent and --type are required");
		create_usage(stderr);
		return EXIT_USAGE;
	}
	if (!uuid) {
		r = random_uuid(buf);
		if (r < 0) {
			log_warn(r, "cannot get a random UUID from the kernel (pass --uuid)");
			return EXIT_ERROR;
		}
		uuid = buf;
	}
	if (cli_open_sysfs(g, &sysfs_fd) < 0)
		return EXIT_ERROR;
	r = lifecycle_create(sysfs_fd, parent, type, uuid);
	if (r < 0) {
		const char *why = lifecycle_create_error_str(r);

		log_warnx("%s: %s: create %s failed: %s (%s)", parent, type, uuid,
			  why ? why : strerror(-r), lifecycle_errno_name(r));
		return EXIT_ERROR;
	}
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
	fprintf(f, "Usage: mdevd remove UUID\n"
		   "\n"
		   "Remove one mdev by hand. Refused when the mdev is in use (its /dev/vfio/N is\n"
		   "open): the kernel would block the write until the VM lets go and may unplug\n"
		   "the device from the running guest. Stop the VM first. Refused too when a\n"
		   "libvirt domain names it (asked at qemu:///system when its socket exists):\n"
		   "running, it holds the mdev; defined, it needs it when it starts.\n");
}

/* Does a libvirt domain name @uuid? 1 (logged), 0, or -errno (logged). */
static int remove_named_by_domain(const struct cli_globals *g, const char *uuid)
{
	_cleanup_(virt_closep) struct virt *virt = NULL;
	const struct plan_domain_ref *ref;
	struct virt_refs refs = {};
	int r;

	if (connect_libvirt(g, NULL, false, false, true, &virt) < 0 || !virt)
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

int cmd_remove(const struct cli_globals *g, int argc, char **argv)
{
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	char path[128], gbuf[16];
	const char *uuid;
	int group = -1, r;

	if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
		remove_usage(stdout);
		return EXIT_OK;
	}
	if (argc != 2) {
		remove_usage(stderr);
		return EXIT_USAGE;
	}
	uuid = argv[1];
	if (strlen(uuid) != MDEVD_UUID_STR_LEN - 1 || strchr(uuid, '/')) {
		log_warnx("remove: %s: not a UUID", uuid);
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
	if (r >= 0 && parse_group(gbuf, &group) == 0) {
		r = inuse_group_is_open(proc_fd, group);
		if (r != 0) {
			if (r < 0)
				log_warn(r, "remove: %s: cannot tell whether it is in use", uuid);
			else
				log_warnx(
					"remove: %s: in use (/dev/vfio/%d is open): refusing; stop "
					"the VM that holds it first",
					uuid, group);
			return EXIT_ERROR;
		}
	}
	if (remove_named_by_domain(g, uuid) != 0)
		return EXIT_ERROR;
	r = lifecycle_remove(sysfs_fd, uuid);
	if (r < 0) {
		const char *why = lifecycle_remove_error_str(r);

		log_warnx("remove: %s: %s (%s)", uuid, why ? why : strerror(-r),
			  lifecycle_errno_name(r));
		return EXIT_ERROR;
	}
	printf("removed %s\n", uuid);
	return EXIT_OK;
}
