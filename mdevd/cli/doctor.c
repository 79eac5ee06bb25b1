/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host preflight; doctor.h lists what is read and why. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/doctor.h"
#include "mdevd/macro.h"
#include "mdevd/vfio.h"
#include "node/nvidia_vgpu.h"
#include "node/sysfs.h"

#define GRUB_FIX_INTEL                                                                             \
	"add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, run "             \
	"update-grub (RHEL: grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
#define MC_KARGS_INTEL                                                                             \
	"apiVersion: machineconfiguration.openshift.io/v1\n"                                       \
	"kind: MachineConfig\n"                                                                    \
	"metadata:\n"                                                                              \
	"  name: 100-worker-iommu\n"                                                               \
	"  labels:\n"                                                                              \
	"    machineconfiguration.openshift.io/role: worker\n"                                     \
	"spec:\n"                                                                                  \
	"  kernelArguments:\n"                                                                     \
	"    - intel_iommu=on\n"                                                                   \
	"    - iommu=pt\n"
#define MC_KARGS_PT                                                                                \
	"apiVersion: machineconfiguration.openshift.io/v1\n"                                       \
	"kind: MachineConfig\n"                                                                    \
	"metadata:\n"                                                                              \
	"  name: 100-worker-iommu-pt\n"                                                            \
	"  labels:\n"                                                                              \
	"    machineconfiguration.openshift.io/role: worker\n"                                     \
	"spec:\n"                                                                                  \
	"  kernelArguments:\n"                                                                     \
	"    - iommu=pt\n"
#define MC_MODULES                                                                                 \
	"apiVersion: machineconfiguration.openshift.io/v1\n"                                       \
	"kind: MachineConfig\n"                                                                    \
	"metadata:\n"                                                                              \
	"  name: 100-worker-vfio-pci\n"                                                            \
	"  labels:\n"                                                                              \
	"    machineconfiguration.openshift.io/role: worker\n"                                     \
	"spec:\n"                                                                                  \
	"  config:\n"                                                                              \
	"    ignition:\n"                                                                          \
	"      version: 3.2.0\n"                                                                   \
	"    storage:\n"                                                                           \
	"      files:\n"                                                                           \
	"        - path: /etc/modules-load.d/vfio-pci.conf\n"                                      \
	"          mode: 0644\n"                                                                   \
	"          contents:\n"                                                                    \
	"            source: data:,vfio-pci%0Avfio_iommu_type1\n"

enum cpu_vendor {
	CPU_OTHER,
	CPU_INTEL,
	CPU_AMD
};

struct node_facts {
	enum cpu_vendor vendor;
	bool virt_flag;
	char *cmdline;
	char *interrupts;
	size_t n_iommus, n_groups;
	char iommu_name[64];
};

const char *doctor_status_str(enum doctor_status s)
{
	switch (s) {
	case DOCTOR_PASS:
		return "PASS";
	case DOCTOR_WARN:
		return "WARN";
	case DOCTOR_FAIL:
		return "FAIL";
	}
	return "?";
}

void doctor_report_release(struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->checks[i].what);
		free(r->checks[i].detail);
		free(r->checks[i].fix);
		free(r->checks[i].snippet);
	}
	free(r->checks);
	memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Append a check; detail is printf-formatted. Returns 0 or -ENOMEM. */
static int add(struct doctor_report *r, enum doctor_status st, const char *what, const char *fix,
	       const char *snippet, const char *fmt, ...) _printf_(6, 7);

static int add(struct doctor_report *r, enum doctor_status st, const char *what, const char *fix,
	       const char *snippet, const char *fmt, ...)
{
	struct doctor_check *n = realloc(r->checks, (r->n + 1) * sizeof(*n));
	struct doctor_check *c;
	char detail[1024] = "";
	va_list ap;

	if (!n)
		return -ENOMEM;
	r->checks = n;
	c = &r->checks[r->n];
	memset(c, 0, sizeof(*c));
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	c->what = strdup(what);
	c->detail = detail[0] ? strdup(detail) : NULL;
	c->fix = dup_or_null(fix);
	c->snippet = dup_or_null(snippet);
	c->status = st;
	if (!c->what || (detail[0] && !c->detail) || (fix && !c->fix) || (snippet && !c->snippet)) {
		free(c->what);
		free(c->detail);
		free(c->fix);
		free(c->snippet);
		return -ENOMEM;
	}
	r->n++;
	if (st == DOCTOR_PASS)
		r->pass++;
	else if (st == DOCTOR_WARN)
		r->warn++;
	else
		r->fail++;
	return 0;
}

static char *read_text(int dirfd, const char *path)
{
	char *buf = NULL;

	return sysfs_read_file(dirfd, path, 8u << 20, &buf) >= 0 ? buf : NULL;
}

/* Is @word a whole white-space separated word of @text? */
static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = text; text && (p = strstr(p, word)); p += n) {
		bool start = p == text || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
		char e = p[n];

		if (start && (e == '\0' || e == ' ' || e == '\t' || e == '\n'))
			return true;
	}
	return false;
}

static bool exists(int dirfd, const char *path)
{
	return faccessat(dirfd, path, F_OK, 0) == 0;
}

static bool param_on(int sysfs_fd, const char *path)
{
	char buf[16];

	return sysfs_read_attr(sysfs_fd, path, buf, sizeof(buf)) > 0 &&
	       (streq(buf, "Y") || streq(buf, "1"));
}

static void read_facts(const struct doctor_env *e, struct node_facts *f)
{
	_cleanup_free_ char *cpuinfo = read_text(e->proc_fd, "cpuinfo");
	char **names = NULL;

	memset(f, 0, sizeof(*f));
	if (cpuinfo) {
		if (strstr(cpuinfo, "GenuineIntel"))
			f->vendor = CPU_INTEL;
		else if (strstr(cpuinfo, "AuthenticAMD"))
			f->vendor = CPU_AMD;
		f->virt_flag = has_word(cpuinfo, "vmx") || has_word(cpuinfo, "svm");
	}
	f->cmdline = read_text(e->proc_fd, "cmdline");
	if (f->cmdline)
		f->cmdline[strcspn(f->cmdline, "\n")] = '\0';
	f->interrupts = read_text(e->proc_fd, "interrupts");
	if (sysfs_list_dir(e->sysfs_fd, "class/iommu", &names, &f->n_iommus) == 0) {
		if (f->n_iommus)
			snprintf(f->iommu_name, sizeof(f->iommu_name), "%s", names[0]);
		sysfs_names_free(names, f->n_iommus);
	}
	(void)sysfs_count_dir(e->sysfs_fd, "kernel/iommu_groups", &f->n_groups);
}

static int check_cpu(const struct doctor_env *e, const struct node_facts *f,
		     struct doctor_report *r)
{
	const char *ext = f->vendor == CPU_AMD ? "AMD-V (SVM)" : "Intel VT-x (VMX)";
	int q;

	if (f->virt_flag)
		q = add(r, DOCTOR_PASS, "CPU hardware virtualization", NULL, NULL, "%s",
			f->vendor == CPU_AMD ? "svm" : "vmx");
	else
		q = add(r, DOCTOR_FAIL, "CPU hardware virtualization",
			f->vendor == CPU_OTHER ? "enable hardware virtualization (VT-x / AMD-V) in "
						 "the firmware setup"
			: f->vendor == CPU_AMD ? "enable SVM (AMD-V) in the firmware setup"
					       : "enable Intel VT-x (VMX) in the firmware setup",
			NULL, "no %s flag in /proc/cpuinfo", ext);
	if (q < 0)
		return q;
	if (exists(e->dev_fd, "kvm"))
		return add(r, DOCTOR_PASS, "/dev/kvm", NULL, NULL, NULL);
	return add(r, DOCTOR_FAIL, "/dev/kvm",
		   f->vendor == CPU_AMD
			   ? "modprobe kvm_amd (and enable SVM in the firmware setup)"
			   : "modprobe kvm_intel (and enable VT-x in the firmware setup)",
		   NULL, "absent");
}

static int check_iommu(const struct doctor_env *e, const struct node_facts *f,
		       struct doctor_report *r)
{
	const char *cmd = f->cmdline ? f->cmdline : "";
	/* The IOMMU's own kind when one is there (dmar: VT-d, ivhd: AMD-Vi), else the CPU's. */
	bool intel = f->n_iommus ? strncmp(f->iommu_name, "dmar", 4) == 0 : f->vendor == CPU_INTEL;
	bool amd = f->n_iommus ? strncmp(f->iommu_name, "ivhd", 4) == 0 : f->vendor == CPU_AMD;
	const char *amd_fix = "the AMD IOMMU is on by default: enable IOMMU / AMD-Vi in the "
			      "firmware setup and remove amd_iommu=off / iommu=off from the "
			      "kernel command line (amd_iommu=on is not a valid option)";
	const char *fix = intel ? GRUB_FIX_INTEL : amd_fix;
	const char *snippet = intel ? MC_KARGS_INTEL : NULL;
	int q;

	if (f->n_iommus)
		q = add(r, DOCTOR_PASS, "IOMMU present", NULL, NULL, "%zu unit%s, %s", f->n_iommus,
			f->n_iommus == 1 ? "" : "s", f->iommu_name);
	else
		q = add(r, DOCTOR_FAIL, "IOMMU present", fix, snippet, "/sys/class/iommu is empty");
	if (q < 0)
		return q;
	if (f->n_groups)
		q = add(r, DOCTOR_PASS, "IOMMU groups", NULL, NULL, "%zu groups", f->n_groups);
	else
		q = add(r, DOCTOR_FAIL, "IOMMU groups", fix, snippet,
			"/sys/kernel/iommu_groups is empty: the IOMMU is off");
	if (q < 0)
		return q;

	/* The kernel command line. */
	if (has_word(cmd, "intel_iommu=off") || has_word(cmd, "iommu=off") ||
	    has_word(cmd, "amd_iommu=off"))
		q = add(r, DOCTOR_FAIL, "kernel command line: IOMMU",
			intel ? "remove intel_iommu=off / iommu=off; " GRUB_FIX_INTEL
			      : "remove amd_iommu=off / iommu=off from GRUB_CMDLINE_LINUX in "
				"/etc/default/grub, run update-grub and reboot",
			snippet, "the IOMMU is turned off on the command line");
	else if (amd && has_word(cmd, "amd_iommu=on"))
		q = add(r, DOCTOR_WARN, "kernel command line: IOMMU",
			"remove amd_iommu=on: it is not a valid option (the AMD IOMMU is on by "
			"default; the kernel ignores it)",
			NULL, "amd_iommu=on given");
	else if (intel && !has_word(cmd, "intel_iommu=on") && !f->n_groups)
		q = add(r, DOCTOR_FAIL, "kernel command line: IOMMU", GRUB_FIX_INTEL,
			MC_KARGS_INTEL, "no intel_iommu=on");
	else
		q = add(r, DOCTOR_PASS, "kernel command line: IOMMU", NULL, NULL, "%s",
			has_word(cmd, "intel_iommu=on") ? "intel_iommu=on"
			: amd				? "AMD: on by default"
							: "on (groups present)");
	if (q < 0)
		return q;
	if (has_word(cmd, "iommu=pt"))
		q = add(r, DOCTOR_PASS, "kernel command line: iommu=pt", NULL, NULL, NULL);
	else
		q = add(r, DOCTOR_WARN, "kernel command line: iommu=pt",
			"add iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub "
			"and reboot: host devices then skip DMA translation (faster host I/O)",
			MC_KARGS_PT, "absent: every host device's DMA is translated");
	return q;
}

static int check_interrupts(const struct doctor_env *e, const struct node_facts *f,
			    struct doctor_report *r)
{
	bool ir = f->interrupts && strstr(f->interrupts, "IR-");
	bool unsafe = param_on(e->sysfs_fd, "module/vfio_iommu_type1/parameters/"
					    "allow_unsafe_interrupts") ||
		      param_on(e->sysfs_fd, "module/iommufd/parameters/allow_unsafe_interrupts");
	int q;

	if (ir)
		q = add(r, DOCTOR_PASS, "interrupt remapping", NULL, NULL,
			"IR interrupt chips in /proc/interrupts");
	else if (unsafe)
		q = add(r, DOCTOR_WARN, "interrupt remapping",
			"enable interrupt remapping in the firmware (x2APIC / IR) and remove "
			"allow_unsafe_interrupts=1 from /etc/modprobe.d/",
			NULL, "off, and allow_unsafe_interrupts is set: a guest can forge MSIs");
	else
		q = add(r, DOCTOR_FAIL, "interrupt remapping",
			"enable interrupt remapping in the firmware (x2APIC / IR; Intel: remove "
			"intremap=off); only if the hardware has none, and accepting that a guest "
			"can forge MSIs: 'options vfio_iommu_type1 allow_unsafe_interrupts=1' in "
			"/etc/modprobe.d/vfio.conf",
			NULL, "no IR interrupt chips in /proc/interrupts: VFIO refuses to assign");
	if (q < 0)
		return q;
	if (param_on(e->sysfs_fd, "module/vfio/parameters/enable_unsafe_noiommu_mode"))
		return add(r, DOCTOR_WARN, "VFIO no-IOMMU mode",
			   "remove enable_unsafe_noiommu_mode=1 from /etc/modprobe.d/ and reboot: "
			   "no-IOMMU groups give no DMA isolation",
			   NULL, "on");
	return add(r, DOCTOR_PASS, "VFIO no-IOMMU mode", NULL, NULL, "off");
}

static int check_modules(const struct doctor_env *e, const struct policy *pol,
			 struct doctor_report *r)
{
	bool wants_mdev =
		pol && (pol->n_layouts || pol->n_mediated_device_types || pol->n_mdev_devices);
	static const struct {
		const char *name, *modprobe;
		enum doctor_status missing;
		const char *why;
	} mods[] = {
		{"vfio", "vfio", DOCTOR_FAIL, NULL},
		{"vfio_pci", "vfio-pci", DOCTOR_FAIL, NULL},
		{"vfio_iommu_type1", "vfio_iommu_type1", DOCTOR_FAIL, NULL},
		{"mdev", "mdev", DOCTOR_WARN, "needed for mdev / vGPU; a vendor driver loads it"},
		{"iommufd", "iommufd", DOCTOR_PASS, "optional: VFIO uses its legacy container"},
	};
	bool iommufd = exists(e->sysfs_fd, "module/iommufd");
	char path[64], fix[512], what[64];
	int q = 0;

	for (size_t i = 0; i < ARRAY_SIZE(mods) && q == 0; i++) {
		enum doctor_status st = mods[i].missing;

		snprintf(path, sizeof(path), "module/%s", mods[i].name);
		snprintf(what, sizeof(what), "module %s", mods[i].name);
		if (exists(e->sysfs_fd, path)) {
			q = add(r, DOCTOR_PASS, what, NULL, NULL, "loaded or built in");
			continue;
		}
		if (streq(mods[i].name, "vfio_iommu_type1") && iommufd)
			st = DOCTOR_WARN; /* iommufd's compat container can stand in */
		if (streq(mods[i].name, "mdev") && !wants_mdev) {
			q = add(r, DOCTOR_PASS, what, NULL, NULL,
				"not loaded (needed only for mdev / vGPU%s)",
				pol ? ", which the policy does not ask for" : "");
			continue;
		}
		snprintf(fix, sizeof(fix),
			 "modprobe %s; load it at boot: echo %s > /etc/modules-load.d/%s.conf",
			 mods[i].modprobe, mods[i].modprobe, mods[i].modprobe);
		q = add(r, st, what, st == DOCTOR_PASS ? NULL : fix,
			st == DOCTOR_FAIL ? MC_MODULES : NULL, "not loaded%s%s",
			mods[i].why ? ": " : "", mods[i].why ? mods[i].why : "");
	}
	return q;
}

static int check_nodes(const struct doctor_env *e, struct doctor_report *r)
{
	size_t n = 0;
	int q;

	if (exists(e->dev_fd, "vfio/vfio"))
		q = add(r, DOCTOR_PASS, "/dev/vfio/vfio", NULL, NULL, NULL);
	else
		q = add(r, DOCTOR_FAIL, "/dev/vfio/vfio",
			"modprobe vfio vfio_iommu_type1; load them at boot: printf "
			"'vfio\\nvfio_iommu_type1\\n' > /etc/modules-load.d/vfio.conf",
			MC_MODULES, "absent");
	if (q < 0)
		return q;
	(void)sysfs_count_dir(e->dev_fd, "vfio/devices", &n);
	if (exists(e->dev_fd, "iommu"))
		return add(r, DOCTOR_PASS, "/dev/iommu", NULL, NULL,
			   "iommufd, %zu VFIO device cdev%s", n, n == 1 ? "" : "s");
	return add(r, DOCTOR_PASS, "/dev/iommu", NULL, NULL,
		   "absent (optional: iommufd not loaded; groups are used)");
}

static int check_functions(const struct doctor_env *e, const struct policy *pol,
			   const struct inventory *inv, struct doctor_report *r)
{
	struct vfio_view v;
	int q;

	if (!e->vfio)
		return 0;
	q = vfio_view_load(e->vfio, inv, &v);
	if (q < 0)
		return add(r, DOCTOR_FAIL, "vfio-pci ownership file",
			   "check the file named by --vfio-state", NULL, "cannot be read: %s",
			   strerror(-q));
	for (size_t i = 0; i < inv->n_pci && q == 0; i++) {
		const struct pci_function *f = &inv->pci[i];
		char what[128], blockers[512], fix[768];

		if (!pol_vfio_wants(pol, f, NULL))
			continue;
		snprintf(what, sizeof(what), "%s [%04x:%04x] for vfio-pci", f->address,
			 f->vendor_id, f->device_id);
		if (v.facts[i].host_owned &&
		    (v.facts[i].no_override || !pol_vfio_overrides_guard(pol, f->address))) {
			q = add(r, DOCTOR_FAIL, what,
				v.facts[i].no_override
					? "take it out of mdevd.vfioPci: its vGPUs are assigned "
					  "through the vendor driver, never through vfio-pci"
					: "take it out of mdevd.vfioPci, or free it from the host "
					  "first",
				NULL, "host-owned: %s", v.facts[i].host_owned);
			continue;
		}
		if (vfio_group_blockers(inv, f->iommu_group, NULL, blockers, sizeof(blockers))) {
			bool only_named = true;

			for (size_t j = 0; j < inv->n_pci; j++)
				if (j != i && inv->pci[j].iommu_group == f->iommu_group &&
				    !vfio_driver_is_vfio(inv->pci[j].driver) &&
				    !vfio_is_bridge(&inv->pci[j]) &&
				    !pol_vfio_wants(pol, &inv->pci[j], NULL))
					only_named = false;
			if (!only_named) {
				snprintf(fix, sizeof(fix),
					 "name the rest of group %d in mdevd.vfioPci.devices (an "
					 "explicit choice) or move the card to a slot with its own "
					 "group",
					 f->iommu_group);
				q = add(r, DOCTOR_FAIL, what, fix, NULL,
					"IOMMU group %d is not viable: %s", f->iommu_group,
					blockers);
				continue;
			}
		}
		if (f->driver && streq(f->driver, "vfio-pci"))
			q = add(r, DOCTOR_PASS, what, NULL, NULL, "on vfio-pci, group %d viable",
				f->iommu_group);
		else
			q = add(r, DOCTOR_WARN, what, "run 'mdevd apply --policy FILE' to bind it",
				NULL, "on %s", f->driver ? f->driver : "no driver");
	}
	vfio_view_release(&v);
	return q;
}

/* Does a layout of @pol name PCI function @f: by its address, its vendor:device, or "all"? */
static bool layout_names_pci(const struct policy *pol, const struct pci_function *f)
{
	char vd[16];

	snprintf(vd, sizeof(vd), "%04x:%04x", f->vendor_id, f->device_id);
	for (size_t l = 0; l < pol->n_layouts; l++) {
		if (pol->layouts[l].all_parents)
			return true;
		for (size_t k = 0; k < pol->layouts[l].n_parents; k++) {
			const struct pol_parent_match *m = &pol->layouts[l].parents[k];

			if ((m->kind == POL_PARENT_ADDRESS && streq(m->value, f->address)) ||
			    (m->kind == POL_PARENT_VENDOR_DEVICE && streq(m->value, vd)))
				return true;
		}
	}
	return false;
}

static int check_parents(const struct doctor_env *e, const struct policy *pol,
			 const struct inventory *inv, struct doctor_report *r)
{
	int q = 0;

	for (size_t i = 0; i < inv->n_parents && q == 0; i++) {
		const struct mdev_parent *p = &inv->parents[i];
		char what[128], path[128], drv[64] = "";

		if (!pol_get_layout(pol, p) && pol->n_layouts)
			continue;
		snprintf(what, sizeof(what), "mdev parent %s vendor driver", p->name);
		if (p->pci_address) {
			snprintf(path, sizeof(path), "bus/pci/devices/%s/driver", p->pci_address);
			(void)sysfs_read_link_name(e->sysfs_fd, path, drv, sizeof(drv));
		}
		q = add(r, DOCTOR_PASS, what, NULL, NULL, "%s, %zu type%s",
			drv[0] ? drv : "virtual", p->n_types, p->n_types == 1 ? "" : "s");
	}
	/*
	 * An NVIDIA GPU whose VFs are not enabled offers no vGPU (vendor VFIO and Ampere's mdev
	 * both live on the VFs): NVIDIA's sriov-manage enables them; mdevd never writes
	 * sriov_numvfs. A failure when a layout names the card, else a warning.
	 */
	for (size_t i = 0; i < inv->n_pci && q == 0; i++) {
		const struct pci_function *f = &inv->pci[i];
		char what[128], fix[160];
		bool named = layout_names_pci(pol, f);

		if (!nvidia_vgpu_vfs_disabled(inv, f))
			continue;
		snprintf(what, sizeof(what), "NVIDIA GPU %s SR-IOV VFs", f->address);
		snprintf(fix, sizeof(fix),
			 "run /usr/lib/nvidia/sriov-manage -e %s (as root; VFs are not kept across "
			 "a reboot)",
			 f->address);
		q = add(r, named ? DOCTOR_FAIL : DOCTOR_WARN, what, fix, NULL,
			"0 of %u enabled: no vGPU can exist on it%s", f->sriov_totalvfs,
			named ? " and a layout names it" : "");
	}
	/* A layout address that offers no types: its vendor driver is not there. */
	for (size_t l = 0; l < pol->n_layouts && q == 0; l++) {
		for (size_t k = 0; k < pol->layouts[l].n_parents && q == 0; k++) {
			const struct pol_parent_match *m = &pol->layouts[l].parents[k];
			const struct pci_function *f;
			char what[128];

			if (m->kind != POL_PARENT_ADDRESS || inventory_get_parent(inv, m->value))
				continue;
			f = inventory_get_pci(inv, m->value);
			if (f && nvidia_vgpu_vfs_disabled(inv, f))
				continue; /* said above, with sriov-manage */
			snprintf(what, sizeof(what), "mdev parent %s vendor driver", m->value);
			q = add(r, DOCTOR_FAIL, what,
				"install and load the vendor's mdev driver (NVIDIA: the vGPU host "
				"driver, nvidia-vgpu-mgr), or fix the address in the layout",
				NULL, "%s",
				!f	    ? "no PCI function at this address"
				: f->driver ? "offers no mdev types (bound to another driver)"
					    : "offers no mdev types (no driver bound)");
		}
	}
	return q;
}

int doctor_run(const struct doctor_env *e, const struct policy *pol, struct doctor_report *out)
{
	struct doctor_report r = {0};
	struct node_facts f;
	int q;

	read_facts(e, &f);
	q = check_cpu(e, &f, &r);
	if (q == 0)
		q = check_iommu(e, &f, &r);
	if (q == 0)
		q = check_interrupts(e, &f, &r);
	if (q == 0)
		q = check_modules(e, pol, &r);
	if (q == 0)
		q = check_nodes(e, &r);
	if (q == 0 && pol) {
		_cleanup_(inventory_freep) struct inventory *inv = NULL;

		if (inventory_load(e->sysfs_fd, e->sysfs_path, INVENTORY_TYPES | INVENTORY_PCI,
				   NULL, NULL, &inv) < 0)
			q = add(&r, DOCTOR_FAIL, "inventory", "check --sysfs-root", NULL,
				"cannot read the node's devices");
		else {
			q = check_functions(e, pol, inv, &r);
			if (q == 0)
				q = check_parents(e, pol, inv, &r);
		}
	}
	free(f.cmdline);
	free(f.interrupts);
	if (q < 0) {
		doctor_report_release(&r);
		return q;
	}
	*out = r;
	return 0;
}

int doctor_exit_status(const struct doctor_report *r)
{
	return r->fail ? 1 : r->warn ? 2 : 0;
}

int doctor_print(FILE *f, const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_check *c = &r->checks[i];

		fprintf(f, "Checking %s: %s", c->what, doctor_status_str(c->status));
		if (c->fix)
			fprintf(f, " (%s)", c->fix);
		if (c->detail)
			fprintf(f, "%s%s", c->fix ? "; found: " : " (", c->detail);
		if (c->detail && !c->fix)
			fputc(')', f);
		fputc('\n', f);
		if (c->snippet && c->status == DOCTOR_FAIL) {
			const char *p = c->snippet;
			bool shown = false;

			for (size_t j = 0; j < i && !shown; j++)
				shown = r->checks[j].snippet &&
					r->checks[j].status == DOCTOR_FAIL &&
					streq(r->checks[j].snippet, c->snippet);
			if (shown) {
				fputs("    OpenShift: the MachineConfig above\n", f);
				continue;
			}

			fputs("    OpenShift: apply this MachineConfig (oc apply -f -):\n", f);
			while (*p) {
				size_t n = strcspn(p, "\n");

				fprintf(f, "      %.*s\n", (int)n, p);
				p += n;
				if (*p)
					p++;
			}
		}
	}
	return ferror(f) ? -EIO : 0;
}

void doctor_summary(const struct doctor_report *r, char *buf, size_t size)
{
	size_t len;

	len = (size_t)snprintf(buf, size, "doctor: %u passed, %u warning%s, %u failed", r->pass,
			       r->warn, r->warn == 1 ? "" : "s", r->fail);
	for (int pass = 0; pass < 2; pass++) {
		enum doctor_status want = pass == 0 ? DOCTOR_FAIL : DOCTOR_WARN;
		bool first = true;

		for (size_t i = 0; i < r->n && len < size; i++) {
			if (r->checks[i].status != want)
				continue;
			len += (size_t)snprintf(
				buf + len, size - len, "%s%s",
				first ? (pass == 0 ? " (FAIL: "
						   : (r->fail ? "; WARN: " : " (WARN: "))
				      : ", ",
				r->checks[i].what);
			first = false;
		}
	}
	if ((r->fail || r->warn) && len < size)
		snprintf(buf + len, size - len, "); run 'mdevd doctor' for the fixes");
}
