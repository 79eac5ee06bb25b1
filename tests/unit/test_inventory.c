/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inventory (and mdev discovery) on the fixture trees: counts, fallbacks, sorting, and
 * entries that are malformed or vanished, each reported exactly once with its errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "node/mdev.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "node/sysfs.h"

struct reports {
	size_t n;
	struct {
		char path[256];
		int err;
		char what[256];
	} r[32];
};

static void collect(void *userdata, const char *path, int err, const char *what)
{
	struct reports *reps = userdata;

	assert_true(reps->n < ARRAY_SIZE(reps->r));
	snprintf(reps->r[reps->n].path, sizeof(reps->r[0].path), "%s", path);
	snprintf(reps->r[reps->n].what, sizeof(reps->r[0].what), "%s", what);
	reps->r[reps->n].err = err;
	reps->n++;
}

/* How often @path was reported; *err is set to the errno of the last report. */
static size_t reported(const struct reports *reps, const char *path, int *err)
{
	size_t count = 0;

	for (size_t i = 0; i < reps->n; i++) {
		if (streq(reps->r[i].path, path)) {
			count++;
			*err = reps->r[i].err;
		}
	}
	return count;
}

static struct inventory *load(const char *tree, unsigned int what, struct reports *reps)
{
	_cleanup_close_ int fd = -1;
	struct inventory *inv = NULL;

	assert_int_equal(sysfs_open_root(tree, &fd), 0);
	assert_int_equal(inventory_load(fd, tree, what, reps ? collect : NULL, reps, &inv), 0);
	assert_non_null(inv);
	return inv;
}

static void test_samples(void **state)
{
	struct reports reps = {0};
	struct inventory *inv = load(FIXTURES "/samples", INVENTORY_TYPES | INVENTORY_MDEVS, &reps);
	const struct mdev_parent *p;
	const struct mdev_type *t;
	const struct mdev_instance *m;

	assert_int_equal(reps.n, 0);
	assert_int_equal(inv->n_parents, 3);
	assert_string_equal(inv->parents[0].name, "mbochs");
	assert_string_equal(inv->parents[1].name, "mdpy");
	assert_string_equal(inv->parents[2].name, "mtty");
	assert_int_equal(inv->n_pci, 0); /* not asked for */

	p = inventory_get_parent(inv, "mtty");
	assert_ptr_equal(p, &inv->parents[2]);
	assert_null(p->pci_address);
	assert_null(p->physfn);
	assert_int_equal(p->numa_node, -1);
	assert_int_equal(p->vendor_id, 0);
	assert_int_equal(p->backend, PARENT_BACKEND_MDEV);
	assert_int_equal(p->n_types, 2);
	t = inventory_get_type(p, "mtty-2");
	assert_non_null(t);
	assert_string_equal(t->name, "Dual port serial");
	assert_null(t->description);
	assert_string_equal(t->device_api, "vfio-pci");
	assert_int_equal(t->available_instances, 10);
	assert_int_equal(t->n_instances, 1);
	assert_int_equal(inventory_get_type(p, "mtty-1")->available_instances, 21);

	p = inventory_get_parent(inv, "mdpy");
	assert_int_equal(p->n_types, 3);
	assert_string_equal(p->types[0].id, "mdpy-hd"); /* sorted by id */
	assert_string_equal(p->types[1].id, "mdpy-vga");
	assert_string_equal(p->types[2].id, "mdpy-xga");
	assert_string_equal(p->types[0].description, "virtual display, 1920x1080 framebuffer");
	assert_int_equal(p->types[0].n_instances, 0);

	p = inventory_get_parent(inv, "mbochs");
	assert_int_equal(inventory_get_type(p, "mbochs-small")->available_instances, 64);
	assert_int_equal(inventory_get_type(p, "mbochs-medium")->available_instances, 16);
	assert_int_equal(inventory_get_type(p, "mbochs-large")->available_instances, 4);
	assert_null(inventory_get_type(p, "mbochs-huge"));
	assert_null(inventory_get_parent(inv, "nothing"));

	assert_int_equal(inv->n_mdevs, 2);
	assert_string_equal(inv->mdevs[0].uuid, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
	m = inventory_get_mdev(inv, "83B8F4F2-509F-382F-3C1E-E6BFE0FA1002");
	assert_ptr_equal(m, &inv->mdevs[1]);
	assert_string_equal(m->parent, "mtty");
	assert_string_equal(m->type_id, "mtty-2");
	assert_int_equal(m->iommu_group, 11);
	assert_null(inventory_get_mdev(inv, "00000000-0000-0000-0000-000000000000"));
	inventory_free(inv);
}

/* `mdevd types` loads only types: no instance counts, no instances, no PCI. */
static void test_types_only(void **state)
{
	struct inventory *inv = load(FIXTURES "/samples", INVENTORY_TYPES, NULL);
	const struct mdev_parent *p = inventory_get_parent(inv, "mtty");

	assert_int_equal(inv->n_parents, 3);
	assert_int_equal(inventory_get_type(p, "mtty-1")->n_instances, 0);
	assert_int_equal(inv->n_mdevs, 0);
	assert_int_equal(inv->n_pci, 0);
	inventory_free(inv);
}

static void test_all(void **state)
{
	struct reports reps = {0};
	struct inventory *inv = load(FIXTURES "/samples", INVENTORY_ALL, &reps);
	const struct pci_function *f;

	assert_int_equal(reps.n, 0);
	assert_int_equal(inv->n_parents, 3);
	assert_int_equal(inv->n_mdevs, 2);
	assert_int_equal(inv->n_pci, 3);
	f = inventory_get_pci(inv, "0000:00:03.0");
	assert_non_null(f);
	assert_int_equal(f->vendor_id, 0x1234);
	assert_int_equal(f->device_id, 0x11e8);
	assert_string_equal(f->driver, "vfio-pci");
	assert_int_equal(f->iommu_group, 2);
	assert_null(inventory_get_pci(inv, "0000:00:09.0"));
	inventory_free(inv);
}

/* A refresh after an mdev change: types and mdevs read again, PCI functions deep-copied. */
static void test_reusing_pci(void **state)
{
	struct inventory *prev = load(FIXTURES "/samples", INVENTORY_ALL, NULL);
	_cleanup_close_ int fd = -1;
	struct inventory *inv = NULL;
	const struct pci_function *f;

	assert_int_equal(sysfs_open_root(FIXTURES "/nvidia", &fd), 0);
	/* Another tree on purpose: the mdev side comes from the tree, the PCI side from @prev. */
	assert_int_equal(inventory_load_reusing_pci(fd, prev, NULL, NULL, &inv), 0);
	assert_int_equal(inv->n_pci, prev->n_pci);
	assert_true(inv->n_parents > 0);
	assert_null(inventory_get_parent(inv, "mtty"));
	/* Deep copies: the new snapshot outlives the old one (ASan catches a shared string). */
	inventory_free(prev);
	f = inventory_get_pci(inv, "0000:00:03.0");
	assert_non_null(f);
	assert_string_equal(f->driver, "vfio-pci");
	assert_int_equal(f->iommu_group, 2);
	inventory_free(inv);

	/* No previous snapshot: no PCI functions. */
	assert_int_equal(inventory_load_reusing_pci(fd, NULL, NULL, NULL, &inv), 0);
	assert_int_equal(inv->n_pci, 0);
	inventory_free(inv);
}

static void test_nvidia(void **state)
{
	struct reports reps = {0};
	struct inventory *inv = load(FIXTURES "/nvidia", INVENTORY_TYPES | INVENTORY_MDEVS, &reps);
	const struct mdev_parent *p;

	assert_int_equal(reps.n, 0);
	/* The T4's PF, then the A100's 4 VFs (sorted by name). */
	assert_int_equal(inv->n_parents, 5);
	for (size_t i = 0; i < inv->n_parents; i++) {
		p = &inv->parents[i];
		assert_non_null(p->pci_address);
		assert_string_equal(p->pci_address, p->name);
		assert_int_equal(p->vendor_id, 0x10de);
	}
	/* Turing: the types on the PF, which is no VF. */
	p = &inv->parents[0];
	assert_string_equal(p->name, "0000:3b:00.0");
	assert_null(p->physfn);
	assert_int_equal(p->device_id, 0x1eb8);
	assert_int_equal(p->numa_node, 0);
	assert_int_equal(p->n_types, 13);
	assert_string_equal(p->types[0].id, "nvidia-222");
	assert_string_equal(p->types[0].name, "GRID T4-1B");
	assert_string_equal(p->types[8].id, "nvidia-230");
	assert_string_equal(p->types[8].name, "GRID T4-1Q");
	/* Time-sliced: with one T4-1Q, 15 more T4-1Q fit and every other type reads 0. */
	assert_int_equal(inventory_get_type(p, "nvidia-230")->available_instances, 15);
	assert_int_equal(inventory_get_type(p, "nvidia-230")->n_instances, 1);
	for (size_t k = 0; k < p->n_types; k++)
		if (!streq(p->types[k].id, "nvidia-230"))
			assert_int_equal(p->types[k].available_instances, 0);
	/* Ampere: each enabled VF is a parent with one vGPU slot, grouped by its PF. */
	for (size_t i = 1; i < inv->n_parents; i++) {
		p = &inv->parents[i];
		assert_string_equal(p->physfn, "0000:86:00.0");
		assert_int_equal(p->device_id, 0x20f1);
		assert_int_equal(p->numa_node, 1);
		assert_int_equal(p->n_types, 6);
		assert_string_equal(p->types[0].name, "GRID A100-4C");
		for (size_t k = 0; k < p->n_types; k++)
			assert_int_equal(p->types[k].available_instances, 1);
	}
	assert_string_equal(inv->parents[1].name, "0000:86:00.4");

	assert_int_equal(inv->n_mdevs, 1);
	assert_string_equal(inv->mdevs[0].parent, "0000:3b:00.0");
	assert_string_equal(inv->mdevs[0].type_id, "nvidia-230");
	assert_int_equal(inv->mdevs[0].iommu_group, 41);
	inventory_free(inv);
}

static void test_broken(void **state)
{
	struct reports reps = {0};
	struct inventory *inv = load(FIXTURES "/broken", INVENTORY_ALL, &reps);
	const struct mdev_parent *p;
	const struct mdev_type *t;
	int err = 0;

	/* Every bad entry once, with its errno; the good ones are all there. */
	assert_int_equal(reps.n, 7);
	assert_int_equal(reported(&reps, "class/mdev_bus/gone", &err), 1);
	assert_int_equal(err, -ENOENT);
	assert_int_equal(reported(&reps, "class/mdev_bus/mtty/mdev_supported_types/mtty-9", &err),
			 1);
	assert_int_equal(err, -EINVAL);
	assert_int_equal(reported(&reps, "class/mdev_bus/mtty/mdev_supported_types/mtty-2", &err),
			 1);
	assert_int_equal(err, -EINVAL);
	assert_int_equal(reported(&reps, "class/mdev_bus/mtty/mdev_supported_types/mtty-3", &err),
			 1);
	assert_int_equal(err, -ENOENT);
	assert_int_equal(
		reported(&reps, "bus/mdev/devices/11111111-2222-4333-8444-555555555555", &err), 1);
	assert_int_equal(err, -ENOENT);
	assert_int_equal(reported(&reps, "bus/mdev/devices/not-a-uuid", &err), 1);
	assert_int_equal(err, -EINVAL);
	assert_int_equal(reported(&reps, "bus/pci/devices/0000:00:05.0", &err), 1);
	assert_int_equal(err, -EIO);

	for (size_t i = 0; i < reps.n; i++) {
		if (strstr(reps.r[i].path, "mtty-9"))
			assert_string_equal(reps.r[i].what,
					    "available_instances is not a number (\"abc\")");
	}

	assert_int_equal(inv->n_parents, 1);
	p = inventory_get_parent(inv, "mtty");
	assert_int_equal(p->n_types, 2);
	assert_string_equal(p->types[0].id, "mtty-1");
	t = inventory_get_type(p, "mtty-4");
	assert_non_null(t);
	assert_string_equal(t->name, "mtty-4"); /* no `name`: the id */
	assert_int_equal(t->n_instances, 1);

	assert_int_equal(inv->n_mdevs, 2);
	assert_string_equal(inv->mdevs[0].uuid, "0f0e0d0c-0b0a-4908-8706-050403020100");
	assert_int_equal(inv->mdevs[0].iommu_group, -1);
	assert_string_equal(inv->mdevs[1].uuid, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	assert_int_equal(inv->mdevs[1].iommu_group, 12);
	assert_string_equal(inv->mdevs[1].type_id, "mtty-4");

	assert_int_equal(inv->n_pci, 1);
	assert_string_equal(inv->pci[0].address, "0000:00:03.0");
	inventory_free(inv);
}

/* A root with nothing in it (no mdev driver, no PCI): an empty snapshot, not an error. */
static void test_empty_root(void **state)
{
	char dir[] = "/tmp/mdevd-test-XXXXXX";
	struct reports reps = {0};
	struct inventory *inv;

	assert_non_null(mkdtemp(dir));
	inv = load(dir, INVENTORY_ALL, &reps);
	assert_int_equal(reps.n, 0);
	assert_int_equal(inv->n_parents, 0);
	assert_int_equal(inv->n_mdevs, 0);
	assert_int_equal(inv->n_pci, 0);
	assert_null(inventory_get_parent(inv, "mtty"));
	assert_null(inventory_get_mdev(inv, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"));
	assert_null(inventory_get_pci(inv, "0000:00:00.0"));
	inventory_free(inv);
	inventory_free(NULL);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * A type dir that vanishes between listing and reading, simulated by a type entry that is
 * a dangling symlink (the listing sees it, the openat gets ENOENT).
 */
static void test_vanished_type(void **state)
{
	char dir[] = "/tmp/mdevd-test-XXXXXX", path[512];
	struct reports reps = {0};
	struct inventory *inv;
	int err = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/class", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus/p", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus/p/mdev_supported_types", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus/p/mdev_supported_types/t-1", dir);
	assert_int_equal(symlink("gone", path), 0);

	inv = load(dir, INVENTORY_TYPES, &reps);
	assert_int_equal(reps.n, 1);
	assert_int_equal(reported(&reps, "class/mdev_bus/p/mdev_supported_types/t-1", &err), 1);
	assert_int_equal(err, -ENOENT);
	assert_int_equal(inv->n_parents, 1);
	assert_int_equal(inv->parents[0].n_types, 0);
	inventory_free(inv);

	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus/p/mdev_supported_types", dir);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus/p", dir);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/class/mdev_bus", dir);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/class", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_uuid_and_bdf(void **state)
{
	char out[MDEVD_UUID_STR_LEN] = "untouched";

	assert_int_equal(mdev_uuid_normalize("AAAAAAAA-bbbb-4CCC-8ddd-EEEEEEEEEEEE", out), 0);
	assert_string_equal(out, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	strcpy(out, "untouched");
	assert_int_equal(mdev_uuid_normalize("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeee", out), -EINVAL);
	assert_int_equal(mdev_uuid_normalize("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeeee", out),
			 -EINVAL);
	assert_int_equal(mdev_uuid_normalize("aaaaaaaaabbbb-4ccc-8ddd-eeeeeeeeeeee", out), -EINVAL);
	assert_int_equal(mdev_uuid_normalize("gaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", out), -EINVAL);
	assert_int_equal(mdev_uuid_normalize("", out), -EINVAL);
	assert_string_equal(out, "untouched");

	assert_true(mdev_is_bdf("0000:3b:00.4"));
	assert_true(mdev_is_bdf("10000:00:01.0"));
	assert_false(mdev_is_bdf("mtty"));
	assert_false(mdev_is_bdf("0000:3b:00.8"));
	assert_false(mdev_is_bdf("0000:3b:00.4x"));
	assert_false(mdev_is_bdf("00:3b:00.4"));
}

/* available_instances as the kernel prints it ("%u"); also fuzzed (tests/fuzz/fuzz_sysfs.c). */
static void test_parse_count(void **state)
{
	static const char *const bad[] = {
		"",    "-1",   "+1",  " 1",	    "1 ",
		"1\n", "0x10", "1e3", "4294967296", "18446744073709551617",
	};
	unsigned int n = 77;

	assert_int_equal(mdev_parse_count("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mdev_parse_count("024", &n), 0);
	assert_int_equal(n, 24);
	assert_int_equal(mdev_parse_count("4294967295", &n), 0);
	assert_int_equal(n, 4294967295u);
	n = 77;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(mdev_parse_count(bad[i], &n), -EINVAL);
	assert_int_equal(n, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),	      cmocka_unit_test(test_types_only),
		cmocka_unit_test(test_all),	      cmocka_unit_test(test_nvidia),
		cmocka_unit_test(test_broken),	      cmocka_unit_test(test_empty_root),
		cmocka_unit_test(test_vanished_type), cmocka_unit_test(test_uuid_and_bdf),
		cmocka_unit_test(test_reusing_pci),   cmocka_unit_test(test_parse_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
