/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevd: one binary, daemon and CLI. This file parses the global options and
 * dispatches to a command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"
#include "mdevd/macro.h"

#ifndef MDEVD_VERSION
#define MDEVD_VERSION "0.1.0"
#endif

static const struct command {
	const char *name;
	int (*run)(const struct cli_globals *g, int argc, char **argv);
	const char *summary;
} commands[] = {
	{"types", cmd_types, "list every parent's mdev types and free capacity"},
	{"list", cmd_list, "list live mdev instances"},
	{"pci", cmd_pci, "list PCI functions (driver, IOMMU group, NUMA node, SR-IOV)"},
	{"policy", cmd_policy, "check a policy file: 'policy check FILE'"},
	{"plan", cmd_plan, "show what 'apply' would change to match a policy"},
	{"apply", cmd_apply, "create and remove mdevs so the node matches a policy"},
	{"create", cmd_create, "create one mdev by hand (not owned by mdevd)"},
	{"remove", cmd_remove, "remove one mdev by hand, refused while it is in use"},
	{"dp-serve", cmd_dp_serve, "serve the policy's pools to kubelet (test driver)"},
	{"run", cmd_run, "the node service: apply, serve device plugins, follow uevents"},
	{"status", cmd_status, "what is served, what is not and why, what is pending"},
	{"hostdev", cmd_hostdev, "libvirt <hostdev> XML for an mdev, a PCI function or a pool"},
	{"doctor", cmd_doctor, "check the host for passthrough: IOMMU, kernel command line, VFIO"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd [GLOBAL OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"mdevd manages mediated devices (mdev / vGPU) and PCI passthrough on a node:\n"
		"it discovers what the hardware offers, plans against a declared policy and\n"
		"creates or removes mdevs by deterministic UUID, never touching a device in use.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"Global options (before or after the command):\n"
		"  --sysfs-root DIR   read and write sysfs under DIR instead of /sys\n"
		"  --proc-root DIR    scan DIR instead of /proc for open VFIO groups\n"
		"  --dev-root DIR     look for /dev/vfio, /dev/kvm, /dev/iommu under DIR\n"
		"  --machine-id ID    use ID instead of /etc/machine-id to derive UUIDs\n"
		"  -v, --verbose      say more about what is done\n"
		"  -h, --help         this text;  --version  the version\n"
		"\n"
		"Each command takes --help. Examples:\n"
		"  mdevd types                          what each parent offers\n"
		"  mdevd --sysfs-root /tmp/tree types -o json\n"
		"  mdevd policy check /etc/mdevd/policy.json\n"
		"  mdevd plan --policy /etc/mdevd/policy.json\n"
		"  mdevd apply --policy /etc/mdevd/policy.json\n"
		"\n"
		"Exit status: 0 success (plan: nothing to do), 1 error, 2 plan: changes pending,\n"
		"3 apply: some requested mdevs did not fit, 64 usage error. See mdevd(8).\n");
}

int cli_parse_output(const char *value, enum cli_output *out)
{
	if (streq(value, "json")) {
		*out = OUTPUT_JSON;
		return 0;
	}
	if (streq(value, "human") || streq(value, "text")) {
		*out = OUTPUT_HUMAN;
		return 0;
	}
	return -EINVAL;
}

/* Does @arg name global option @name, as "--name" (value next) or "--name=value"? */
static bool is_global(const char *arg, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0)
		return false;
	if (arg[2 + n] == '\0') {
		*value = NULL;
		return true;
	}
	if (arg[2 + n] == '=') {
		*value = arg + 3 + n;
		return true;
	}
	return false;
}

/*
 * Global options written after the command (mdevd types --sysfs-root DIR): taken out of
 * the command's arguments (up to a "--") into @g, so that they work in either place.
 * Returns the new argument count, or -1 (logged) when one lacks its value.
 */
static int take_globals(struct cli_globals *g, int argc, char **argv)
{
	static const char *const with_value[] = {"sysfs-root", "proc-root", "machine-id"};
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL, *a = argv[i];
		bool taken = false;

		if (streq(a, "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (streq(a, "--verbose") || streq(a, "-v")) {
			g->verbose = true;
			continue;
		}
		for (size_t k = 0; k < ARRAY_SIZE(with_value) && !taken; k++) {
			if (!is_global(a, with_value[k], &v))
				continue;
			if (!v && i + 1 >= argc) {
				log_warnx("%s: %s needs a value", argv[0], a);
				return -1;
			}
			if (!v)
				v = argv[++i];
			if (k == 0)
				g->sysfs_root = v;
			else if (k == 1)
				g->proc_root = v;
			else
				g->machine_id = v;
			taken = true;
		}
		if (!taken)
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"sysfs-root", required_argument, NULL, 's'},
		{"proc-root", required_argument, NULL, 'p'},
		{"machine-id", required_argument, NULL, 'm'},
		{"dev-root", required_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	struct cli_globals g = {
		.sysfs_root = "/sys",
		.proc_root = "/proc",
		.machine_id = NULL,
		.dev_root = "/dev",
	};
	int c;

	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			g.sysfs_root = optarg;
			break;
		case 'p':
			g.proc_root = optarg;
			break;
		case 'm':
			g.machine_id = optarg;
			break;
		case 'd':
			g.dev_root = optarg;
			break;
		case 'v':
			g.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("mdevd %s\n", MDEVD_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (streq(argv[optind], commands[i].name)) {
			char **sub = argv + optind;
			int subc = take_globals(&g, argc - optind, sub);

			log_set_verbose(g.verbose);
			if (subc < 0)
				return EXIT_USAGE;
			optind = 0; /* reset getopt for the command's own options */
			return commands[i].run(&g, subc, sub);
		}
	}
	log_set_verbose(g.verbose);
	log_warnx("unknown command '%s' (try 'mdevd --help')", argv[optind]);
	return EXIT_USAGE;
}
