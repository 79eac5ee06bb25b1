/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli: the commands of the mdevd binary. main.c parses the global options into
 * struct cli_globals and hands the rest of argv (argv[0] = the command name) to
 * one cmd_*() call. Each returns the process exit status (enum cli_exit).
 */
#pragma once

#include <stdbool.h>

#ifndef MDEVD_VERSION
#define MDEVD_VERSION "0.1.0"
#endif

/* Exit statuses; docs/mdevd.8 lists them. */
enum cli_exit {
	EXIT_OK = 0,	   /* done; for plan: nothing to do */
	EXIT_ERROR = 1,	   /* an error, reported on stderr */
	EXIT_PENDING = 2,  /* plan: changes are pending */
	EXIT_WARNINGS = 2, /* policy check: valid, with warnings for this node */
	EXIT_DEGRADED = 2, /* status: warnings, unhealthy or unserved devices, changes pending */
	EXIT_PARTIAL = 3,  /* apply: converged as far as capacity allows; some slots not created */
	EXIT_USAGE = 64,   /* bad command line (sysexits.h EX_USAGE) */
};

enum cli_output {
	OUTPUT_HUMAN,
	OUTPUT_JSON,
};

struct cli_globals {
	const char *sysfs_root; /* --sysfs-root, default "/sys" */
	const char *proc_root;	/* --proc-root, default "/proc" (in-use detection) */
	const char *machine_id; /* --machine-id, default: contents of /etc/machine-id */
	const char *dev_root;	/* --dev-root, default "/dev" (/dev/vfio, /dev/kvm, /dev/iommu) */
	bool verbose;
};

int cmd_types(const struct cli_globals *g, int argc, char **argv);
int cmd_list(const struct cli_globals *g, int argc, char **argv);
int cmd_pci(const struct cli_globals *g, int argc, char **argv);
int cmd_policy(const struct cli_globals *g, int argc, char **argv);
int cmd_plan(const struct cli_globals *g, int argc, char **argv);
int cmd_apply(const struct cli_globals *g, int argc, char **argv);
int cmd_create(const struct cli_globals *g, int argc, char **argv);
int cmd_remove(const struct cli_globals *g, int argc, char **argv);
int cmd_dp_serve(const struct cli_globals *g, int argc, char **argv);
int cmd_run(const struct cli_globals *g, int argc, char **argv);
int cmd_status(const struct cli_globals *g, int argc, char **argv);
int cmd_hostdev(const struct cli_globals *g, int argc, char **argv);
int cmd_doctor(const struct cli_globals *g, int argc, char **argv);

/* Parse "-o json|human" / "--output=..." values. Returns 0 or -EINVAL. */
int cli_parse_output(const char *value, enum cli_output *out);
