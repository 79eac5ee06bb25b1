/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * doctor: the host preflight for passthrough behind `mdevd doctor` (and the summary line
 * `mdevd run` logs at start). In the spirit of libvirt's virt-host-validate: one check
 * per line, PASS, WARN or FAIL, every FAIL with the exact fix. Everything is read relative
 * to the sysfs, proc and dev roots, so fixture trees test it:
 *
 *   proc/cpuinfo (vmx / svm, vendor_id), dev/kvm;
 *   class/iommu, kernel/iommu_groups (an IOMMU present and on);
 *   proc/cmdline (Intel: intel_iommu=on, unless groups show it on already; AMD: on by
 *     default, and amd_iommu=on is not a valid option; iommu=pt; *_iommu=off);
 *   proc/interrupts ("IR-" interrupt chips: interrupt remapping on),
 *   module/vfio_iommu_type1/parameters/allow_unsafe_interrupts,
 *   module/vfio/parameters/enable_unsafe_noiommu_mode;
 *   module/{vfio,vfio_pci,vfio_iommu_type1,mdev,iommufd} (loaded or built in);
 *   dev/vfio/vfio, dev/iommu, dev/vfio/devices/;
 *   with a policy: each function mdevd.vfioPci names (driver, group viability, host-owned)
 *   and each mdev parent its layouts name (the vendor driver present).
 */
#pragma once

#include <stdio.h>

#include "apply/vfio_apply.h"
#include "mdevd/policy.h"

enum doctor_status {
	DOCTOR_PASS,
	DOCTOR_WARN,
	DOCTOR_FAIL,
};

struct doctor_check {
	char *what; /* "IOMMU groups", "module vfio_pci", ... */
	enum doctor_status status;
	char *detail;  /* what was found; may be NULL */
	char *fix;     /* WARN / FAIL: the exact fix, one line; else NULL */
	char *snippet; /* FAIL: a multi-line file (an OpenShift MachineConfig); may be NULL */
};

struct doctor_report {
	struct doctor_check *checks; /* in the order run */
	size_t n;
	unsigned int pass, warn, fail;
};

struct doctor_env {
	int sysfs_fd, proc_fd, dev_fd; /* roots (borrowed) */
	const char *sysfs_path;	       /* for libpci (borrowed) */
	/* For the policy's functions: the guard and the ownership file (borrowed). */
	const struct vfio_apply_opts *vfio;
};

/*
 * doctor_run - run every check; @pol (borrowed) may be NULL (no per-function checks).
 * Fills @out (release with doctor_report_release()). Returns 0 or -ENOMEM.
 */
int doctor_run(const struct doctor_env *env, const struct policy *pol, struct doctor_report *out);
void doctor_report_release(struct doctor_report *r);

/* doctor_exit_status - 0 all PASS, 2 only warnings, 1 any FAIL. */
int doctor_exit_status(const struct doctor_report *r);

/* doctor_print - "Checking <what>: PASS | WARN (<fix>) | FAIL (<fix>)" lines, snippets
 * indented below their check. Returns 0 or -EIO. */
int doctor_print(FILE *f, const struct doctor_report *r);

/* doctor_summary - one line: "doctor: 14 passed, 1 warning, 1 failed (FAIL: module
 * vfio_pci; WARN: iommu=pt)". */
void doctor_summary(const struct doctor_report *r, char *buf, size_t size);

/* doctor_status_str - "PASS", "WARN", "FAIL". */
const char *doctor_status_str(enum doctor_status s);
