/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mdevd doctor: the host preflight (cli/doctor.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/cli_vfio.h"
#include "cli/doctor.h"
#include "cli/output.h"
#include "mdevd/macro.h"
#include "node/sysfs.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd [--sysfs-root DIR] [--proc-root DIR] [--dev-root DIR] doctor\n"
		"             [--policy FILE] [--vfio-state FILE] [-o human|json]\n"
		"\n"
		"Check that this host can pass PCI functions and mdevs through to VMs, one line\n"
		"per check: 'Checking <what>: PASS | WARN (<fix>) | FAIL (<fix>)'. Every FAIL\n"
		"names the exact fix (the GRUB line, the modules-load.d / modprobe.d file, and\n"
		"for OpenShift the MachineConfig to apply).\n"
		"\n"
		"Checks: CPU virtualization and /dev/kvm; an IOMMU present and on (class/iommu,\n"
		"kernel/iommu_groups); the kernel command line (Intel needs intel_iommu=on; on\n"
		"AMD the IOMMU is on by default and amd_iommu=on is not a valid option;\n"
		"iommu=pt); interrupt remapping, allow_unsafe_interrupts and no-IOMMU mode; the\n"
		"modules vfio, vfio_pci, vfio_iommu_type1, mdev, iommufd; /dev/vfio/vfio and\n"
		"/dev/iommu. With --policy also each function mdevd.vfioPci names (driver,\n"
		"IOMMU group viability, host-owned) and each mdev parent (its vendor driver).\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE      also check what this policy names\n"
		"      --vfio-state FILE  what mdevd bound (/var/lib/mdevd/vfio-bound)\n"
		"  -o, --output FORMAT    human (default) or json: {\"checks\": [{\"check\",\n"
		"                         \"status\", \"detail\", \"fix\", \"machineconfig\"}],\n"
		"                         \"summary\": {\"pass\", \"warn\", \"fail\"}}\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 every check passed, 2 only warnings, 1 a check failed (or an\n"
		"error), 64 usage error.\n"
		"\n"
		"Example:\n"
		"  mdevd doctor --policy /etc/mdevd/policy.json\n");
}

int cmd_doctor(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"vfio-state", required_argument, NULL, 'S'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1, dev_fd = -1;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	enum cli_output output = OUTPUT_HUMAN;
	const char *policy_path = NULL;
	struct cli_vfio vfio = {};
	struct vfio_apply_opts vo;
	struct doctor_report rep;
	struct doctor_env env;
	int c, r;

	while ((c = getopt_long(argc, argv, "+p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'S':
			vfio.state_path = optarg;
			break;
		case 'o':
			if (cli_output_option("doctor", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("doctor: unexpected argument '%s' (try 'mdevd doctor --help')",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0 ||
	    cli_open_dev(g, &dev_fd) < 0)
		return EXIT_ERROR;
	if (policy_path && cli_load_policy(policy_path, &pol) < 0)
		return EXIT_ERROR;
	cli_vfio_opts(g, &vfio, sysfs_fd, proc_fd, dev_fd, &vo);
	env = (struct doctor_env){
		.sysfs_fd = sysfs_fd,
		.proc_fd = proc_fd,
		.dev_fd = dev_fd,
		.sysfs_path = g->sysfs_root,
		.vfio = &vo,
	};
	r = doctor_run(&env, pol, &rep);
	cli_vfio_opts_release(&vo);
	if (r < 0) {
		log_warn(r, "doctor");
		return EXIT_ERROR;
	}
	r = output == OUTPUT_JSON ? output_doctor(stdout, &rep) : doctor_print(stdout, &rep);
	if (r == 0 && fflush(stdout) == EOF)
		r = -EIO;
	if (r < 0) {
		log_warn(r, "doctor: cannot write the output");
		doctor_report_release(&rep);
		return EXIT_ERROR;
	}
	if (output == OUTPUT_HUMAN) {
		char line[1024];

		doctor_summary(&rep, line, sizeof(line));
		printf("%s\n", line);
	}
	r = doctor_exit_status(&rep);
	doctor_report_release(&rep);
	return r;
}
