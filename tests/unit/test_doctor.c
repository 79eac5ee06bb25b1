/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * doctor: the checks on fixture hosts (sysfs, proc and dev trees in temp dirs): a healthy
 * Intel host passes everything; a host booted without the IOMMU and without vfio-pci
 * fails with the GRUB line, the modules-load.d file and the MachineConfig; an AMD host
 * with amd_iommu=on is told it is not a valid option; unsafe modes warn; the policy's
 * functions are checked for driver, viability and the host-owned guard.
 */
#include <errno.h>
#include <string.h>

#include "fstree.h"
#include "cli/doctor.h"
#include "mdevd/policy.h"

struct host {
	struct fstree sys, proc, dev;
	char state[256];
};

static int setup(void **state)
{
	struct host *h = calloc(1, sizeof(*h));
	char cmd[512];

	fstree_init(&h->sys, "sys");
	fstree_init(&h->proc, "proc");
	fstree_init(&h->dev, "dev");
	snprintf(cmd, sizeof(cmd), "cp -a " FIXTURES "/samples/. %s/", h->sys.dir);
	assert_int_equal(system(cmd), 0);
	fstree_dir(&h->sys, "class/iommu/dmar0");
	fstree_dir(&h->sys, "kernel/iommu_groups/1");
	fstree_dir(&h->sys, "kernel/iommu_groups/2");
	fstree_dir(&h->sys, "module/vfio/parameters");
	fstree_file(&h->sys, "module/vfio/parameters/enable_unsafe_noiommu_mode", "N\n");
	fstree_dir(&h->sys, "module/vfio_pci");
	fstree_file(&h->sys, "module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N\n");
	fstree_dir(&h->sys, "module/mdev");
	fstree_file(&h->proc, "cpuinfo",
		    "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme vmx sse2\n");
	fstree_file(&h->proc, "cmdline",
		    "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on "
		    "iommu=pt quiet\n");
	fstree_file(&h->proc, "interrupts",
		    "           CPU0\n 24:  1  IR-PCI-MSI 512000-edge  ahci[0000:00:1f.2]\n");
	fstree_file(&h->dev, "kvm", "");
	fstree_file(&h->dev, "vfio/vfio", "");
	snprintf(h->state, sizeof(h->state), "%s/vfio-bound", h->proc.dir);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct host *h = *state;

	fstree_free(&h->sys);
	fstree_free(&h->proc);
	fstree_free(&h->dev);
	free(h);
	return 0;
}

static struct doctor_report run(struct host *h, const char *policy)
{
	struct vfio_apply_opts vo = {
		.sysfs_fd = h->sys.fd,
		.sysfs_path = h->sys.dir,
		.proc_fd = h->proc.fd,
		.dev_fd = h->dev.fd,
		.state_path = h->state,
	};
	struct doctor_env env = {
		.sysfs_fd = h->sys.fd,
		.proc_fd = h->proc.fd,
		.dev_fd = h->dev.fd,
		.sysfs_path = h->sys.dir,
		.vfio = &vo,
	};
	struct policy *pol = NULL;
	struct doctor_report r;

	if (policy)
		assert_int_equal(pol_parse(policy, strlen(policy), &pol, NULL), 0);
	assert_int_equal(doctor_run(&env, pol, &r), 0);
	policy_free(pol);
	return r;
}

static const struct doctor_check *find(const struct doctor_report *r, const char *what)
{
	for (size_t i = 0; i < r->n; i++)
		if (streq(r->checks[i].what, what))
			return &r->checks[i];
	print_error("no check \"%s\"\n", what);
	fail();
	return NULL;
}

static void expect(const struct doctor_report *r, const char *what, enum doctor_status st,
		   const char *fix_needle)
{
	const struct doctor_check *c = find(r, what);

	if (c->status != st || (fix_needle && (!c->fix || !strstr(c->fix, fix_needle))))
		print_error("%s: %s (%s), expected %s (...%s...)\n", what,
			    doctor_status_str(c->status), c->fix ? c->fix : "no fix",
			    doctor_status_str(st), fix_needle ? fix_needle : "");
	assert_int_equal(c->status, st);
	if (fix_needle) {
		assert_non_null(c->fix);
		assert_non_null(strstr(c->fix, fix_needle));
	}
}

static void test_healthy_host(void **state)
{
	struct host *h = *state;
	struct doctor_report r = run(h, NULL);
	char line[512];

	for (size_t i = 0; i < r.n; i++)
		if (r.checks[i].status != DOCTOR_PASS)
			print_error("%s: %s\n", r.checks[i].what, r.checks[i].fix);
	assert_int_equal(r.fail, 0);
	assert_int_equal(r.warn, 0);
	assert_int_equal(doctor_exit_status(&r), 0);
	expect(&r, "IOMMU groups", DOCTOR_PASS, NULL);
	expect(&r, "interrupt remapping", DOCTOR_PASS, NULL);
	doctor_summary(&r, line, sizeof(line));
	assert_non_null(strstr(line, "doctor: "));
	assert_non_null(strstr(line, " passed, 0 warnings, 0 failed"));
	doctor_report_release(&r);
}

static void test_no_iommu_no_vfio_pci(void **state)
{
	struct host *h = *state;
	struct doctor_report r;
	char cmd[512], line[1024];
	const struct doctor_check *c;

	/* Booted without intel_iommu=on, vfio-pci not loaded. */
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s/class/iommu/dmar0 %s/kernel/iommu_groups/* %s/module/vfio_pci",
		 h->sys.dir, h->sys.dir, h->sys.dir);
	assert_int_equal(system(cmd), 0);
	fstree_file(&h->proc, "cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n");
	r = run(h, NULL);
	expect(&r, "IOMMU present", DOCTOR_FAIL,
	       "add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, run "
	       "update-grub");
	expect(&r, "IOMMU groups", DOCTOR_FAIL, "intel_iommu=on");
	expect(&r, "kernel command line: IOMMU", DOCTOR_FAIL, "intel_iommu=on");
	c = find(&r, "kernel command line: IOMMU");
	assert_non_null(c->snippet);
	assert_non_null(strstr(c->snippet, "kind: MachineConfig"));
	assert_non_null(strstr(c->snippet, "kernelArguments:\n    - intel_iommu=on"));
	expect(&r, "module vfio_pci", DOCTOR_FAIL,
	       "modprobe vfio-pci; load it at boot: echo vfio-pci > "
	       "/etc/modules-load.d/vfio-pci.conf");
	c = find(&r, "module vfio_pci");
	assert_non_null(strstr(c->snippet, "path: /etc/modules-load.d/vfio-pci.conf"));
	expect(&r, "module vfio", DOCTOR_PASS, NULL);
	assert_int_equal(doctor_exit_status(&r), 1);
	doctor_summary(&r, line, sizeof(line));
	assert_non_null(strstr(line,
			       "(FAIL: IOMMU present, IOMMU groups, kernel command line: "
			       "IOMMU, module vfio_pci; WARN: kernel command line: iommu=pt)"));
	doctor_report_release(&r);
}

static void test_amd(void **state)
{
	struct host *h = *state;
	struct doctor_report r;
	char cmd[256];

	fstree_file(&h->proc, "cpuinfo", "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm\n");
	assert_int_equal(rename(fstree_path(&h->sys, "class/iommu/dmar0"),
				fstree_path(&h->sys, "class/iommu/ivhd0")),
			 0);
	fstree_file(&h->proc, "cmdline", "root=/dev/sda1 amd_iommu=on iommu=pt\n");
	r = run(h, NULL);
	expect(&r, "CPU hardware virtualization", DOCTOR_PASS, NULL);
	expect(&r, "kernel command line: IOMMU", DOCTOR_WARN,
	       "remove amd_iommu=on: it is not a valid option");
	assert_int_equal(doctor_exit_status(&r), 2);
	doctor_report_release(&r);
	/* No IOMMU on AMD: never the wrong advice to add amd_iommu=on. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/class/iommu/ivhd0 %s/kernel/iommu_groups/*",
		 h->sys.dir, h->sys.dir);
	assert_int_equal(system(cmd), 0);
	fstree_file(&h->proc, "cmdline", "root=/dev/sda1 iommu=pt\n");
	r = run(h, NULL);
	expect(&r, "IOMMU present", DOCTOR_FAIL, "the AMD IOMMU is on by default");
	expect(&r, "kernel command line: IOMMU", DOCTOR_PASS, NULL);
	for (size_t i = 0; i < r.n; i++)
		assert_null(r.checks[i].fix && strstr(r.checks[i].fix, "add amd_iommu=on") ? "bad"
											   : NULL);
	doctor_report_release(&r);
}

static void test_unsafe_and_missing(void **state)
{
	struct host *h = *state;
	struct doctor_report r;

	fstree_file(&h->proc, "interrupts", "           CPU0\n 24:  1  PCI-MSI 512000-edge\n");
	r = run(h, NULL);
	expect(&r, "interrupt remapping", DOCTOR_FAIL, "allow_unsafe_interrupts=1");
	doctor_report_release(&r);
	fstree_file(&h->sys, "module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y\n");
	fstree_file(&h->sys, "module/vfio/parameters/enable_unsafe_noiommu_mode", "Y\n");
	fstree_file(&h->proc, "cmdline", "intel_iommu=on\n");
	unlink(fstree_path(&h->dev, "kvm"));
	unlink(fstree_path(&h->dev, "vfio/vfio"));
	fstree_file(&h->proc, "cpuinfo", "vendor_id\t: GenuineIntel\nflags\t\t: fpu\n");
	r = run(h, NULL);
	expect(&r, "interrupt remapping", DOCTOR_WARN, "remove allow_unsafe_interrupts=1");
	expect(&r, "VFIO no-IOMMU mode", DOCTOR_WARN, "enable_unsafe_noiommu_mode");
	expect(&r, "kernel command line: iommu=pt", DOCTOR_WARN, "add iommu=pt");
	expect(&r, "CPU hardware virtualization", DOCTOR_FAIL, "VT-x");
	expect(&r, "/dev/kvm", DOCTOR_FAIL, "modprobe kvm_intel");
	expect(&r, "/dev/vfio/vfio", DOCTOR_FAIL, "modprobe vfio vfio_iommu_type1");
	doctor_report_release(&r);
}

static void test_policy_functions(void **state)
{
	struct host *h = *state;
	struct doctor_report r;

	/* samples: 00.0 host bridge, 02.0 e1000e (group 1), 03.0 edu on vfio-pci (group 2);
	 * mtty, mdpy, mbochs parents. */
	r = run(h, "{\"mdevd\": {\"vfioPci\": {\"devices\": [\"0000:00:00.0\", \"0000:00:02.0\", "
		   "\"0000:00:03.0\"]}, \"layouts\": [{\"parents\": [\"mtty\", \"0000:00:05.0\"], "
		   "\"types\": {}}]}}");
	expect(&r, "0000:00:03.0 [1234:11e8] for vfio-pci", DOCTOR_PASS, NULL);
	expect(&r, "0000:00:02.0 [8086:10d3] for vfio-pci", DOCTOR_WARN, "mdevd apply");
	expect(&r, "0000:00:00.0 [8086:29c0] for vfio-pci", DOCTOR_FAIL, "take it out of");
	assert_non_null(strstr(find(&r, "0000:00:00.0 [8086:29c0] for vfio-pci")->detail,
			       "host-owned: a bridge"));
	expect(&r, "mdev parent mtty vendor driver", DOCTOR_PASS, NULL);
	expect(&r, "mdev parent 0000:00:05.0 vendor driver", DOCTOR_FAIL, "vendor's mdev driver");
	doctor_report_release(&r);
}

/*
 * An NVIDIA GPU whose VFs are not enabled (h200's 0000:ba:00.0): doctor names NVIDIA's
 * sriov-manage, as status does, not a missing mdev driver; a failure when a layout names
 * the card, a warning otherwise.
 */
static void test_sriov_disabled(void **state)
{
	struct host *h = *state;
	struct doctor_report r;
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp -a " FIXTURES "/h200/. %s/", h->sys.dir);
	assert_int_equal(system(cmd), 0);
	r = run(h, "{\"mdevd\": {\"layouts\": [{\"parents\": [\"0000:ba:00.0\"], "
		   "\"types\": {\"NVIDIA H200X-1-18C\": 7}}]}}");
	expect(&r, "NVIDIA GPU 0000:ba:00.0 SR-IOV VFs", DOCTOR_FAIL,
	       "run /usr/lib/nvidia/sriov-manage -e 0000:ba:00.0");
	assert_string_equal(find(&r, "NVIDIA GPU 0000:ba:00.0 SR-IOV VFs")->detail,
			    "0 of 16 enabled: no vGPU can exist on it and a layout names it");
	for (size_t i = 0; i < r.n; i++)
		assert_null(strstr(r.checks[i].what, "mdev parent 0000:ba:00.0"));
	doctor_report_release(&r);
	/* By vendor:device too; the cards with VFs enabled are not named. */
	r = run(h, "{\"mdevd\": {\"layouts\": [{\"parents\": [\"10de:2335\"], "
		   "\"types\": {}}]}}");
	expect(&r, "NVIDIA GPU 0000:ba:00.0 SR-IOV VFs", DOCTOR_FAIL, "sriov-manage -e");
	for (size_t i = 0; i < r.n; i++) {
		assert_null(strstr(r.checks[i].what, "NVIDIA GPU 0000:18:00.0"));
		assert_null(strstr(r.checks[i].what, "NVIDIA GPU 0000:9a:00.0"));
	}
	doctor_report_release(&r);
	/* No layout names it: a warning. */
	r = run(h, "{}");
	expect(&r, "NVIDIA GPU 0000:ba:00.0 SR-IOV VFs", DOCTOR_WARN, "sriov-manage -e");
	doctor_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthy_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_iommu_no_vfio_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_amd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_functions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sriov_disabled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
