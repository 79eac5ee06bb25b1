/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcidev: the libpci adapter (libpci 3.9, the PCI_ACCESS_SYS_BUS_PCI back end).
 *
 * Kernel ABI followed (Documentation/ABI/testing/sysfs-bus-pci):
 *   bus/pci/devices/<dddd:bb:ss.f> -> the function's dir, with vendor, device, class,
 *       subsystem_vendor, subsystem_device, revision, irq, resource and config, read by
 *       libpci (its "sysfs.path" parameter is set to <root>/bus/pci); and driver ->
 *       bus/pci/drivers/<name>, iommu_group -> kernel/iommu_groups/<N>, numa_node (-1 or
 *       absent: unknown), physfn -> the PF (an SR-IOV VF), sriov_totalvfs and
 *       sriov_numvfs (a PF), read here through sysfs.h relative to the root fd.
 * Names come from pci.ids (never udev's hwdb, never the network), NULL when unknown.
 *
 * libpci's error callback must not return (the default calls exit(1)), and it gets no
 * context. Each libpci call runs under a guard: a jmp_buf published in a thread-local
 * pointer for the duration of that one call, so the callback longjmps back into the
 * guard's frame. That pointer is the adapter's only state outside a struct; nothing
 * else can reach the callback. After a caught error the pci_access is dropped whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pci/pci.h>

#include "mdevd/macro.h"
#include "node/pcidev.h"
#include "node/sysfs.h"

/* Functions that may fail (hot removal) in one scan before the whole bus counts as failed. */
#define MAX_FAILED 16

struct pcidev_guard {
	jmp_buf env;
	struct pcidev_guard *prev;
	char msg[256];
};

/* See the top of the file: set only while a guarded libpci call runs on this thread. */
static _Thread_local struct pcidev_guard *active_guard;

static _Noreturn _printf_(1, 2) void pcidev_error(char *msg, ...)
{
	struct pcidev_guard *g = active_guard;
	va_list ap;

	if (!g)
		abort(); /* a libpci call outside a guard: a bug in this file */
	va_start(ap, msg);
	vsnprintf(g->msg, sizeof(g->msg), msg, ap);
	va_end(ap);
	longjmp(g->env, 1);
}

/* libpci warns about config space it cannot read; the fields we want come from sysfs. */
static _printf_(1, 2) void pcidev_quiet(char *msg, ...)
{
}

DEFINE_CLEANUP(struct pci_access, pci_cleanup)

/* Each guarded call below modifies no local between setjmp() and a possible longjmp(). */
static int guarded_open(struct pci_access *pacc, char *msg, size_t size)
{
	struct pcidev_guard g = {.prev = active_guard};

	if (setjmp(g.env)) {
		active_guard = g.prev;
		snprintf(msg, size, "%s", g.msg);
		return -EIO;
	}
	active_guard = &g;
	pci_init(pacc);
	pci_scan_bus(pacc);
	active_guard = g.prev;
	return 0;
}

static int guarded_fill(struct pci_dev *dev, int flags, char *msg, size_t size)
{
	struct pcidev_guard g = {.prev = active_guard};

	if (setjmp(g.env)) {
		active_guard = g.prev;
		snprintf(msg, size, "%s", g.msg);
		return -EIO;
	}
	active_guard = &g;
	pci_fill_info(dev, flags);
	active_guard = g.prev;
	return 0;
}

/* pci_lookup_name() for one or two id arguments; NULL when unknown or on an error. */
static char *guarded_name(struct pci_access *pacc, int flags, int a, int b)
{
	struct pcidev_guard g = {.prev = active_guard};
	char buf[256];
	char *name;

	if (setjmp(g.env)) {
		active_guard = g.prev;
		return NULL;
	}
	active_guard = &g;
	name = pci_lookup_name(pacc, buf, sizeof(buf),
			       flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, a, b);
	active_guard = g.prev;
	return name ? strdup(name) : NULL;
}

static void function_clear(struct pci_function *f)
{
	free(f->driver);
	free(f->physfn);
	free(f->vendor_name);
	free(f->device_name);
	free(f->class_name);
}

void pcidev_functions_free(struct pci_function *fns, size_t n)
{
	if (!fns)
		return;
	for (size_t i = 0; i < n; i++)
		function_clear(&fns[i]);
	free(fns);
}

struct scan {
	int sysfs_fd;
	bool names; /* look up names in pci.ids */
	inventory_report_fn report;
	void *userdata;
	char pci_path[PATH_MAX];
	char failed[MAX_FAILED][MDEVD_BDF_STR_LEN];
	size_t n_failed;
	struct pci_function *fns;
	size_t n, cap;
};

static bool has_failed(const struct scan *s, const char *address)
{
	for (size_t i = 0; i < s->n_failed; i++)
		if (streq(s->failed[i], address))
			return true;
	return false;
}

/* The attributes read through sysfs.h. Reports and returns -ENOENT when the function vanished. */
static int read_sysfs_attrs(struct scan *s, struct pci_function *f)
{
	_cleanup_close_ int fd = -1;
	char path[64], buf[256];
	unsigned int u;
	int v;

	snprintf(path, sizeof(path), "bus/pci/devices/%s", f->address);
	fd = openat(s->sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;

		if (s->report)
			s->report(s->userdata, path, r,
				  r == -ENOENT ? "vanished during the scan" : strerror(-r));
		return r;
	}
	if (sysfs_read_link_name(fd, "driver", buf, sizeof(buf)) > 0 && !(f->driver = strdup(buf)))
		return -ENOMEM;
	if (sysfs_read_link_name(fd, "physfn", buf, sizeof(buf)) > 0 && !(f->physfn = strdup(buf)))
		return -ENOMEM;
	if (sysfs_read_link_name(fd, "iommu_group", buf, sizeof(buf)) > 0) {
		char *end;
		long g;

		errno = 0;
		g = strtol(buf, &end, 10);
		if (!errno && !*end && g >= 0 && g <= INT_MAX)
			f->iommu_group = (int)g;
	}
	if (sysfs_read_int(fd, "numa_node", &v) == 0 && v >= 0)
		f->numa_node = v;
	if (sysfs_read_uint(fd, "sriov_totalvfs", &u) == 0)
		f->sriov_totalvfs = u;
	if (sysfs_read_uint(fd, "sriov_numvfs", &u) == 0)
		f->sriov_numvfs = u;
	return 0;
}

static int add_function(struct scan *s, struct pci_access *pacc, struct pci_dev *dev,
			const char *address)
{
	struct pci_function *f;
	int r;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct pci_function *grown = realloc(s->fns, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		s->fns = grown;
		s->cap = cap;
	}
	f = &s->fns[s->n];
	*f = (struct pci_function){
		.vendor_id = dev->vendor_id,
		.device_id = dev->device_id,
		.subsys_vendor_id = dev->subsys_vendor_id,
		.subsys_device_id = dev->subsys_id,
		.class_code = (uint32_t)dev->device_class << 8 | dev->prog_if,
		.iommu_group = -1,
		.numa_node = -1,
	};
	memcpy(f->address, address, strlen(address) + 1); /* checked to fit by the caller */
	r = read_sysfs_attrs(s, f);
	if (r < 0) {
		function_clear(f);
		if (r == -ENOMEM)
			return r;
		/* Reported and left out; remembered so that a later pass does not report it again.
		 */
		if (s->n_failed < MAX_FAILED)
			memcpy(s->failed[s->n_failed++], address, strlen(address) + 1);
		return 0;
	}
	s->n++;
	if (!s->names)
		return 0;
	f->vendor_name = guarded_name(pacc, PCI_LOOKUP_VENDOR, dev->vendor_id, 0);
	f->device_name = guarded_name(pacc, PCI_LOOKUP_DEVICE, dev->vendor_id, dev->device_id);
	f->class_name = guarded_name(pacc, PCI_LOOKUP_CLASS, dev->device_class, 0);
	if (f->class_name) {
		/* An unknown subclass gets the base class's name with the number: drop that. */
		char suffix[16];
		size_t len = strlen(f->class_name), slen;

		slen = (size_t)snprintf(suffix, sizeof(suffix), " [%04x]", dev->device_class);
		if (len > slen && streq(f->class_name + len - slen, suffix))
			f->class_name[len - slen] = '\0';
	}
	return 0;
}

/*
 * One pass over the bus with a fresh pci_access. Returns 0, -ENOMEM, -EIO when the bus
 * cannot be read, or -EAGAIN when one function failed (it is reported and remembered,
 * and the caller starts another pass without it).
 */
static int scan_once(struct scan *s)
{
	_cleanup_(pci_cleanupp) struct pci_access *pacc = NULL;
	char msg[256];
	int r;

	pacc = pci_alloc();
	if (!pacc)
		return -ENOMEM;
	pacc->error = pcidev_error;
	pacc->warning = pcidev_quiet;
	pacc->debug = pcidev_quiet;
	pacc->method = PCI_ACCESS_SYS_BUS_PCI;
	if (pci_set_param(pacc, "sysfs.path", s->pci_path) < 0)
		return -EIO;
	r = guarded_open(pacc, msg, sizeof(msg));
	if (r < 0)
		return r; /* the whole bus: no entry to report, the caller says what failed */
	for (struct pci_dev *dev = pacc->devices; dev; dev = dev->next) {
		char address[32];

		/* The kernel prints at least 4 domain digits; VMD domains (0x10000+) take more. */
		snprintf(address, sizeof(address), "%04x:%02x:%02x.%d", (unsigned int)dev->domain,
			 dev->bus, dev->dev, dev->func & 7);
		if (strlen(address) >= MDEVD_BDF_STR_LEN)
			continue; /* cannot happen below domain 0x10000000 */
		if (has_failed(s, address))
			continue;
		r = guarded_fill(
			dev, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS,
			msg, sizeof(msg));
		if (r < 0) {
			char path[64];

			snprintf(path, sizeof(path), "bus/pci/devices/%s", address);
			if (s->report)
				s->report(s->userdata, path, r, msg);
			if (s->n_failed == MAX_FAILED)
				return -EIO;
			memcpy(s->failed[s->n_failed++], address, strlen(address) + 1);
			return -EAGAIN;
		}
		r = add_function(s, pacc, dev, address);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_functions(const void *a, const void *b)
{
	return strcmp(((const struct pci_function *)a)->address,
		      ((const struct pci_function *)b)->address);
}

int pcidev_scan(int sysfs_fd, const char *sysfs_path, bool names, inventory_report_fn report,
		void *userdata, struct pci_function **out, size_t *n)
{
	_cleanup_free_ struct scan *s = NULL;
	int r;

	if (faccessat(sysfs_fd, "bus/pci/devices", F_OK, 0) < 0) {
		if (errno != ENOENT)
			return -EIO;
		*out = NULL; /* no PCI bus at all */
		*n = 0;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sysfs_fd = sysfs_fd;
	s->names = names;
	s->report = report;
	s->userdata = userdata;
	if ((size_t)snprintf(s->pci_path, sizeof(s->pci_path), "%s/bus/pci", sysfs_path) >=
	    sizeof(s->pci_path))
		return -ENAMETOOLONG;

	do {
		pcidev_functions_free(s->fns, s->n);
		s->fns = NULL;
		s->n = s->cap = 0;
		r = scan_once(s);
	} while (r == -EAGAIN);
	if (r < 0) {
		pcidev_functions_free(s->fns, s->n);
		return r;
	}
	if (s->n > 1)
		qsort(s->fns, s->n, sizeof(*s->fns), cmp_functions);
	*out = s->fns;
	*n = s->n;
	return 0;
}
