/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcidev (the libpci adapter) on the fixture trees: ids, names, driver, IOMMU group, NUMA
 * node, SR-IOV links, and libpci's error callback caught instead of exiting the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "mdevd/macro.h"
#include "node/pcidev.h"
#include "node/sysfs.h"

struct reports {
	size_t n;
	char path[8][256];
	int err[8];
};

static void collect(void *userdata, const char *path, int err, const char *what)
{
	struct reports *reps = userdata;

	assert_true(reps->n < ARRAY_SIZE(reps->path));
	snprintf(reps->path[reps->n], sizeof(reps->path[0]), "%s", path);
	reps->err[reps->n++] = err;
}

static int scan_names(const char *tree, bool names, struct reports *reps, struct pci_function **fns,
		      size_t *n)
{
	_cleanup_close_ int fd = -1;

	assert_int_equal(sysfs_open_root(tree, &fd), 0);
	return pcidev_scan(fd, tree, names, collect, reps, fns, n);
}

static int scan(const char *tree, struct reports *reps, struct pci_function **fns, size_t *n)
{
	return scan_names(tree, true, reps, fns, n);
}

static void test_samples(void **state)
{
	struct reports reps = {0};
	struct pci_function *fns = NULL;
	size_t n = 0;

	assert_int_equal(scan(FIXTURES "/samples", &reps, &fns, &n), 0);
	assert_int_equal(reps.n, 0);
	assert_int_equal(n, 3);
	assert_string_equal(fns[0].address, "0000:00:00.0"); /* sorted */
	assert_string_equal(fns[1].address, "0000:00:02.0");
	assert_string_equal(fns[2].address, "0000:00:03.0");

	/* The e1000e: ids, class with prog-if, names from pci.ids, driver, group, no node. */
	assert_int_equal(fns[1].vendor_id, 0x8086);
	assert_int_equal(fns[1].device_id, 0x10d3);
	assert_int_equal(fns[1].subsys_vendor_id, 0x8086);
	assert_int_equal(fns[1].subsys_device_id, 0x0000);
	assert_int_equal(fns[1].class_code, 0x020000);
	assert_string_equal(fns[1].vendor_name, "Intel Corporation");
	assert_string_equal(fns[1].device_name, "82574L Gigabit Network Connection");
	assert_string_equal(fns[1].class_name, "Ethernet controller");
	assert_string_equal(fns[1].driver, "e1000e");
	assert_int_equal(fns[1].iommu_group, 1);
	assert_int_equal(fns[1].numa_node, -1); /* numa_node reads -1 */
	assert_null(fns[1].physfn);
	assert_int_equal(fns[1].sriov_totalvfs, 0);

	/* QEMU's edu device: no names in pci.ids, bound to vfio-pci. */
	assert_int_equal(fns[2].vendor_id, 0x1234);
	assert_int_equal(fns[2].subsys_vendor_id, 0x1af4);
	assert_int_equal(fns[2].subsys_device_id, 0x1100);
	assert_int_equal(fns[2].class_code, 0x00ff00);
	assert_null(fns[2].vendor_name);
	assert_null(fns[2].device_name);
	assert_string_equal(fns[2].driver, "vfio-pci");
	assert_int_equal(fns[2].iommu_group, 2);

	/* Unbound, in no group. */
	assert_null(fns[0].driver);
	assert_int_equal(fns[0].iommu_group, -1);
	pcidev_functions_free(fns, n);
}

/* Without names (what the daemon asks for): the same functions and fields, names NULL. */
static void test_without_names(void **state)
{
	struct reports reps = {0};
	struct pci_function *fns = NULL;
	size_t n = 0;

	assert_int_equal(scan_names(FIXTURES "/samples", false, &reps, &fns, &n), 0);
	assert_int_equal(reps.n, 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_null(fns[i].vendor_name);
		assert_null(fns[i].device_name);
		assert_null(fns[i].class_name);
	}
	assert_string_equal(fns[1].address, "0000:00:02.0");
	assert_int_equal(fns[1].vendor_id, 0x8086);
	assert_string_equal(fns[1].driver, "e1000e");
	assert_int_equal(fns[1].iommu_group, 1);
	assert_string_equal(fns[2].driver, "vfio-pci");
	pcidev_functions_free(fns, n);
}

static void test_sriov(void **state)
{
	struct reports reps = {0};
	struct pci_function *fns = NULL;
	size_t n = 0;

	assert_int_equal(scan(FIXTURES "/nvidia", &reps, &fns, &n), 0);
	assert_int_equal(reps.n, 0);
	/* The NIC, the T4 (VFs not enabled), the A100 PF and its 4 VFs. */
	assert_int_equal(n, 7);
	assert_string_equal(fns[1].address, "0000:3b:00.0");
	assert_int_equal(fns[1].sriov_totalvfs, 16);
	assert_int_equal(fns[1].sriov_numvfs, 0);
	assert_null(fns[1].physfn);
	assert_int_equal(fns[1].numa_node, 0);
	assert_int_equal(fns[1].class_code, 0x030200);
	assert_string_equal(fns[1].device_name, "TU104GL [Tesla T4]");
	assert_string_equal(fns[2].address, "0000:86:00.0");
	assert_int_equal(fns[2].sriov_totalvfs, 16);
	assert_int_equal(fns[2].sriov_numvfs, 4);
	assert_null(fns[2].physfn);
	assert_int_equal(fns[2].numa_node, 1);
	for (size_t i = 3; i < n; i++) {
		assert_string_equal(fns[i].physfn, "0000:86:00.0");
		assert_int_equal(fns[i].iommu_group, 81 + (int)(i - 3));
		assert_int_equal(fns[i].sriov_totalvfs, 0);
		assert_string_equal(fns[i].driver, "nvidia");
	}
	pcidev_functions_free(fns, n);
}

/*
 * 0000:00:05.0 has no `vendor` file, as when a device is hot-removed during the scan:
 * libpci calls its error callback, which would exit(1). We survive, report the function
 * once with -EIO and list the rest. A second scan works too (the guard was popped).
 */
/* Rounds 0-1 with names (mdevd pci), 2-3 without (the daemon): the restart is the same. */
static void test_error_callback(void **state)
{
	for (int round = 0; round < 4; round++) {
		struct reports reps = {0};
		struct pci_function *fns = NULL;
		size_t n = 0;

		assert_int_equal(scan_names(FIXTURES "/broken", round < 2, &reps, &fns, &n), 0);
		assert_int_equal(reps.n, 1);
		assert_string_equal(reps.path[0], "bus/pci/devices/0000:00:05.0");
		assert_int_equal(reps.err[0], -EIO);
		assert_int_equal(n, 1);
		assert_string_equal(fns[0].address, "0000:00:03.0");
		assert_int_equal(fns[0].numa_node, -1); /* numa_node absent */
		assert_int_equal(fns[0].vendor_id, 0x8086);
		pcidev_functions_free(fns, n);
	}
}

/* bus/pci/devices that libpci cannot open at all: the whole bus fails with -EIO. */
static void test_bus_unreadable(void **state)
{
	char dir[] = "/tmp/mdevd-test-XXXXXX", path[512];
	struct reports reps = {0};
	struct pci_function *fns = (void *)1;
	size_t n = 77;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bus", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bus/pci", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bus/pci/devices", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644); /* a file, not a directory */
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(scan(dir, &reps, &fns, &n), -EIO);
	assert_ptr_equal(fns, (void *)1); /* untouched on error */
	assert_int_equal(n, 77);

	/* And no bus/pci at all: no functions, no error. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(scan(dir, &reps, &fns, &n), 0);
	assert_int_equal(n, 0);
	assert_null(fns);
	assert_int_equal(reps.n, 0);

	snprintf(path, sizeof(path), "%s/bus/pci", dir);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/bus", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),	       cmocka_unit_test(test_without_names),
		cmocka_unit_test(test_sriov),	       cmocka_unit_test(test_error_callback),
		cmocka_unit_test(test_bus_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
