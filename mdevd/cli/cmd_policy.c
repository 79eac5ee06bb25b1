/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevd policy check FILE: parse a policy, then check it against this node's
 * parents and types. Says "valid" or names the JSON path and the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "util/log.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/policy.h"

static void policy_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd policy check FILE [--no-node] [-o json]\n"
		"\n"
		"Check a policy file: its JSON or YAML, its keys and values, and (unless\n"
		"--no-node) the parents, mdev types and selectors it names against this node.\n"
		"Findings are reported as FILE: $.json.path: reason (the same paths for YAML;\n"
		"syntax errors give the line and column). FILE '-' reads stdin.\n"
		"\n"
		"A policy is KubeVirt's configuration as you already write it, in one of three\n"
		"shapes: a bare config (below), a whole KubeVirt CR (kind: KubeVirt; the config\n"
		"under spec.configuration) or a whole HyperConverged CR (kind: HyperConverged;\n"
		"the config under spec, with pciDeviceSelector for pciVendorSelector). The\n"
		"\"mdevd\" section is mdevd's own and always sits at the top level:\n"
		"\n"
		"  {\n"
		"    \"permittedHostDevices\": {\n"
		"      \"pciHostDevices\": [\n"
		"        {\"pciVendorSelector\": \"10de:1eb8\", \"resourceName\": "
		"\"nvidia.com/TU104GL_Tesla_T4\"}\n"
		"      ],\n"
		"      \"mediatedDevices\": [\n"
		"        {\"mdevNameSelector\": \"GRID T4-1Q\", \"resourceName\": "
		"\"nvidia.com/GRID_T4-1Q\"}\n"
		"      ]\n"
		"    },\n"
		"    \"mediatedDevicesConfiguration\": {\"mediatedDeviceTypes\": "
		"[\"nvidia-230\"]},\n"
		"    \"mdevd\": {\n"
		"      \"layouts\": [\n"
		"        {\"parents\": [\"10de:1eb8\"], \"types\": {\"GRID T4-1Q\": 16}},\n"
		"        {\"parents\": [\"0000:b1:00.0\"], \"types\": {\"NVIDIA A10-4Q\": "
		"\"max\"}},\n"
		"        {\"parents\": [\"mtty\"], \"types\": {\"mtty-1\": 2, \"mtty-2\": 1}}\n"
		"      ],\n"
		"      \"removeUnowned\": false\n"
		"    }\n"
		"  }\n"
		"\n"
		"layouts[].parents is \"all\" or a list of PCI addresses, vendor:device ids and\n"
		"class/mdev_bus names; a parent several layouts select takes the most specific\n"
		"one (its address over its vendor:device id over \"all\"). types maps a type id\n"
		"or a type name to an exact count per parent (a whole number, or \"max\").\n"
		"When layouts are given they replace mediatedDeviceTypes for planning.\n"
		"\n"
		"Options:\n"
		"  --no-node           check the file alone, not against this node's devices\n"
		"  -o, --output FMT    human (default) or json\n"
		"  -h, --help          this text\n"
		"\n"
		"Every error and warning is reported, not only the first. A policy written for\n"
		"a fleet may name types, parents and selectors this node lacks: those are\n"
		"warnings (the daemon applies the rest here); contradictions are errors.\n"
		"\n"
		"Exit status: 0 valid, 2 valid with warnings, 1 invalid (or unreadable),\n"
		"64 usage error.\n"
		"\n"
		"Examples:\n"
		"  mdevd policy check /etc/mdevd/policy.json\n"
		"  kubectl get kubevirt -n kubevirt kubevirt -o yaml | mdevd policy check -\n"
		"  mdevd policy check --no-node -o json hco.json\n"
		"\n"
		"See mdevd-policy(5).\n");
}

/* A JSON string literal of @s. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* One finding as a JSON object. */
static void json_diag(const char *path, int line, int column, const char *message)
{
	fputs("{\"path\": ", stdout);
	json_str(stdout, path);
	if (line > 0)
		printf(", \"line\": %d", line);
	if (column > 0)
		printf(", \"column\": %d", column);
	fputs(", \"message\": ", stdout);
	json_str(stdout, message);
	fputc('}', stdout);
}

/* The JSON list of @rep's findings of @sev. */
static void json_diags(const struct pol_report *rep, enum pol_severity sev)
{
	bool first = true;

	fputc('[', stdout);
	for (size_t i = 0; rep && i < rep->n; i++) {
		if (rep->diags[i].severity != sev)
			continue;
		fputs(first ? "" : ", ", stdout);
		json_diag(rep->diags[i].path, rep->diags[i].line, rep->diags[i].column,
			  rep->diags[i].message);
		first = false;
	}
	fputc(']', stdout);
}

/*
 * The verdict. @pol is NULL when parsing failed; @rep holds every error (of the parse)
 * or, with @pol, what pol_check() found (errors and warnings).
 */
static void print_result(const char *file, const struct policy *pol, const struct pol_report *rep,
			 bool node_checked, enum cli_output output)
{
	bool valid = pol && rep->n_errors == 0;

	if (output == OUTPUT_JSON) {
		fputs("{\"file\": ", stdout);
		json_str(stdout, file);
		printf(", \"valid\": %s", valid ? "true" : "false");
		if (pol) {
			fputs(", \"shape\": ", stdout);
			json_str(stdout, pol_shape_str(pol->shape));
			printf(", \"node_checked\": %s, \"layouts\": %zu, "
			       "\"mediated_device_types\": %zu, \"pci_host_devices\": %zu, "
			       "\"mediated_devices\": %zu",
			       node_checked ? "true" : "false", pol->n_layouts,
			       pol->n_mediated_device_types, pol->n_pci_devices,
			       pol->n_mdev_devices);
		}
		fputs(", \"errors\": ", stdout);
		json_diags(rep, POL_SEVERITY_ERROR);
		fputs(", \"warnings\": ", stdout);
		json_diags(rep, POL_SEVERITY_WARNING);
		fputs("}\n", stdout);
		return;
	}
	for (size_t i = 0; i < rep->n; i++) {
		const struct pol_diag *d = &rep->diags[i];
		char where[POL_PATH_MAX + 64];

		fprintf(stderr, "%s: %s: %s%s\n", file, pol_diag_where(d, where, sizeof(where)),
			d->severity == POL_SEVERITY_WARNING ? "warning: " : "", d->message);
	}
	if (!pol && rep->n == 1)
		return; /* one error: it says it all */
	if (!valid) {
		fprintf(stderr, "%s: policy is invalid (%zu %s, %zu %s)\n", file, rep->n_errors,
			plural(rep->n_errors, "error", "errors"), rep->n_warnings,
			plural(rep->n_warnings, "warning", "warnings"));
		return;
	}
	printf("%s: policy is valid", file);
	if (rep->n_warnings)
		printf(", with %zu %s", rep->n_warnings,
		       plural(rep->n_warnings, "warning", "warnings"));
	printf(" (%zu %s, %zu %s, %zu %s, %zu %s)%s\n", pol->n_layouts,
	       plural(pol->n_layouts, "layout", "layouts"), pol->n_mediated_device_types,
	       plural(pol->n_mediated_device_types, "mediated device type",
		      "mediated device types"),
	       pol->n_pci_devices, plural(pol->n_pci_devices, "pci selector", "pci selectors"),
	       pol->n_mdev_devices, plural(pol->n_mdev_devices, "mdev selector", "mdev selectors"),
	       node_checked ? "" : "; not checked against this node (--no-node)");
}

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_debug("%s: skipped: %s", path, what);
}

static int policy_check(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"no-node", no_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_close_ int sysfs_fd = -1;
	_cleanup_free_ char *data = NULL;
	enum cli_output output = OUTPUT_HUMAN;
	struct pol_report rep = {};
	struct pol_error err = {};
	bool node = true;
	const char *file;
	size_t len = 0;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = false;
			break;
		case 'o':
			if (cli_output_option("policy check", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			policy_usage(stdout);
			return EXIT_OK;
		default:
			policy_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		log_warnx("policy check: %s",
			  optind == argc ? "FILE is required" : "one FILE at a time");
		policy_usage(stderr);
		return EXIT_USAGE;
	}
	file = argv[optind];

	r = cli_read_policy_file(file, &data, &len);
	if (r == -EFBIG) {
		log_warnx("%s: larger than %u MiB: not a policy", file, POL_MAX_SIZE >> 20);
		return EXIT_ERROR;
	}
	if (r < 0) {
		log_warn(r, "%s: cannot read the policy", file);
		return EXIT_ERROR;
	}
	r = pol_parse_report(data, len, &pol, &err, &rep);
	if (r == -EINVAL) {
		if (rep.n == 0) { /* a syntax error: the one finding */
			rep.diags = calloc(1, sizeof(*rep.diags));
			if (rep.diags) {
				rep.diags[0] = (struct pol_diag){.severity = POL_SEVERITY_ERROR,
								 .line = err.line,
								 .column = err.column};
				snprintf(rep.diags[0].path, sizeof(rep.diags[0].path), "%s",
					 err.path);
				snprintf(rep.diags[0].message, sizeof(rep.diags[0].message), "%s",
					 err.message);
				rep.n = rep.n_errors = rep.cap = 1;
			}
		}
		print_result(file, NULL, &rep, node, output);
		pol_report_clear(&rep);
		return EXIT_ERROR;
	}
	if (r < 0) {
		log_warn(r, "%s: cannot parse the policy", file);
		return EXIT_ERROR;
	}
	log_debug("%s: a %s", file, pol_shape_str(pol->shape));
	if (node) {
		if (cli_open_sysfs(g, &sysfs_fd) < 0) {
			log_warnx("(use --no-node to check the policy file alone)");
			return EXIT_ERROR;
		}
		r = inventory_load(sysfs_fd, g->sysfs_root,
				   INVENTORY_TYPES | INVENTORY_MDEVS | INVENTORY_PCI,
				   report_skipped, NULL, &inv);
		if (r < 0) {
			log_warn(r,
				 "%s: cannot read the node's mdev parents and PCI functions (use "
				 "--no-node to check the policy file alone)",
				 g->sysfs_root);
			return EXIT_ERROR;
		}
	}
	r = pol_check(pol, inv, &rep);
	if (r == -ENOMEM) {
		log_warn(r, "%s: cannot check the policy", file);
		pol_report_clear(&rep);
		return EXIT_ERROR;
	}
	print_result(file, pol, &rep, node, output);
	r = rep.n_errors ? EXIT_ERROR : rep.n_warnings ? EXIT_WARNINGS : EXIT_OK;
	pol_report_clear(&rep);
	return r;
}

int cmd_policy(const struct cli_globals *g, int argc, char **argv)
{
	if (argc < 2) {
		policy_usage(stderr);
		return EXIT_USAGE;
	}
	if (streq(argv[1], "-h") || streq(argv[1], "--help") || streq(argv[1], "help")) {
		policy_usage(stdout);
		return EXIT_OK;
	}
	if (!streq(argv[1], "check")) {
		log_warnx("policy: unknown subcommand '%s' (try 'mdevd policy --help')", argv[1]);
		return EXIT_USAGE;
	}
	return policy_check(g, argc - 1, argv + 1);
}
