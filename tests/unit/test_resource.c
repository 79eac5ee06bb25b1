/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resource: pools from an inventory and a policy's permittedHostDevices. The inventories
 * here are built by hand (the module is pure); one test reads the nvidia fixture tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "mdevd/inventory.h"
#include "mdevd/policy.h"
#include "mdevd/resource.h"

/* ---- a hand-built node ---------------------------------------------------------------- */

/*
 * As the hardware has them: a Tesla T4 offers its types on the PF (time-sliced, so each card
 * holds one type at a time), an A100 on each SR-IOV VF (one vGPU per VF, grouped by the PF).
 */
static struct mdev_type t4_types[] = {
	{.id = "nvidia-230", .name = "GRID T4-1Q", .device_api = "vfio-pci"},
	{.id = "nvidia-231", .name = "GRID T4-2Q", .device_api = "vfio-pci"},
};
static struct mdev_type a100_types[] = {
	{.id = "nvidia-468", .name = "GRID A100-4C", .device_api = "vfio-pci"},
};
static struct mdev_type mtty_types[] = {
	{.id = "mtty-1", .name = "Single port serial", .device_api = "vfio-pci"},
	{.id = "mtty-4", .name = "mtty-4", .device_api = "vfio-pci"}, /* no name file */
};

/* Sorted by name, as the inventory keeps them. */
static struct mdev_parent parents[] = {
	{.name = "0000:3b:00.0",
	 .pci_address = "0000:3b:00.0",
	 .numa_node = 0,
	 .types = t4_types,
	 .n_types = 2},
	{.name = "0000:af:00.0",
	 .pci_address = "0000:af:00.0",
	 .numa_node = 1,
	 .types = t4_types,
	 .n_types = 2},
	{.name = "0000:ca:00.4",
	 .pci_address = "0000:ca:00.4",
	 .physfn = "0000:ca:00.0",
	 .numa_node = 1,
	 .types = a100_types,
	 .n_types = 1},
	{.name = "0000:ca:00.5",
	 .pci_address = "0000:ca:00.5",
	 .physfn = "0000:ca:00.0",
	 .numa_node = 1,
	 .types = a100_types,
	 .n_types = 1},
	{.name = "mtty", .numa_node = -1, .types = mtty_types, .n_types = 2},
};

static struct mdev_instance mdevs[] = {
	{.uuid = "11111111-0000-4000-8000-000000000001",
	 .parent = "0000:3b:00.0",
	 .type_id = "nvidia-230",
	 .iommu_group = 42},
	{.uuid = "22222222-0000-4000-8000-000000000002",
	 .parent = "0000:3b:00.0",
	 .type_id = "nvidia-230",
	 .iommu_group = 41},
	{.uuid = "33333333-0000-4000-8000-000000000003",
	 .parent = "0000:af:00.0",
	 .type_id = "nvidia-231",
	 .iommu_group = 51},
	{.uuid = "44444444-0000-4000-8000-000000000004",
	 .parent = "mtty",
	 .type_id = "mtty-1",
	 .iommu_group = -1},
	{.uuid = "55555555-0000-4000-8000-000000000005",
	 .parent = "mtty",
	 .type_id = "mtty-4",
	 .iommu_group = 12},
	{.uuid = "66666666-0000-4000-8000-000000000006",
	 .parent = "gone",
	 .type_id = "mtty-1",
	 .iommu_group = 13},
	{.uuid = "77777777-0000-4000-8000-000000000007",
	 .parent = "0000:ca:00.5",
	 .type_id = "nvidia-468",
	 .iommu_group = 202},
	{.uuid = "88888888-0000-4000-8000-000000000008",
	 .parent = "0000:ca:00.4",
	 .type_id = "nvidia-468",
	 .iommu_group = 201},
};

/*
 * PCI functions: edu devices; the T4 above (an mdev parent, so on nvidia); a second T4 passed
 * through whole (vfio-pci); an Intel X710's VF on vfio-pci, for a VF's card (its PF).
 */
static struct pci_function pci[] = {
	{.address = "0000:00:03.0",
	 .vendor_id = 0x1234,
	 .device_id = 0x11e8,
	 .driver = "vfio-pci",
	 .iommu_group = 2,
	 .numa_node = -1},
	{.address = "0000:00:04.0",
	 .vendor_id = 0x1234,
	 .device_id = 0x11e8,
	 .driver = "edu",
	 .iommu_group = 3,
	 .numa_node = -1},
	{.address = "0000:00:05.0",
	 .vendor_id = 0x1234,
	 .device_id = 0x11e8,
	 .iommu_group = 4,
	 .numa_node = -1},
	{.address = "0000:3b:00.0",
	 .vendor_id = 0x10de,
	 .device_id = 0x1eb8,
	 .driver = "nvidia",
	 .iommu_group = 40,
	 .numa_node = 0},
	{.address = "0000:5e:00.0",
	 .vendor_id = 0x8086,
	 .device_id = 0x1572,
	 .driver = "i40e",
	 .iommu_group = 70,
	 .numa_node = 0,
	 .sriov_totalvfs = 64,
	 .sriov_numvfs = 1},
	{.address = "0000:5e:02.0",
	 .vendor_id = 0x8086,
	 .device_id = 0x154c,
	 .driver = "vfio-pci",
	 .iommu_group = 71,
	 .numa_node = 0,
	 .physfn = "0000:5e:00.0"},
	{.address = "0000:d8:00.0",
	 .vendor_id = 0x10de,
	 .device_id = 0x1eb8,
	 .driver = "vfio-pci",
	 .iommu_group = 60,
	 .numa_node = 1},
};

static const struct inventory inv = {
	.parents = parents,
	.n_parents = ARRAY_SIZE(parents),
	.mdevs = mdevs,
	.n_mdevs = ARRAY_SIZE(mdevs),
	.pci = pci,
	.n_pci = ARRAY_SIZE(pci),
};

static struct resource_set *build(struct pol_mdev_device *md, size_t n_md,
				  struct pol_pci_device *pd, size_t n_pd)
{
	struct policy pol = {
		.mdev_devices = md,
		.n_mdev_devices = n_md,
		.pci_devices = pd,
		.n_pci_devices = n_pd,
	};
	struct resource_set *set = NULL;

	assert_int_equal(resource_build(&inv, &pol, &set), 0);
	assert_non_null(set);
	return set;
}

static void test_env_names(void **state)
{
	char buf[128];

	assert_int_equal(
		resource_env_name(RESOURCE_MDEV, "nvidia.com/GRID_T4-1Q", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q");
	assert_int_equal(
		resource_env_name(RESOURCE_PCI, "nvidia.com/TU104GL_Tesla_T4", buf, sizeof(buf)),
		0);
	assert_string_equal(buf, "PCI_RESOURCE_NVIDIA_COM_TU104GL_TESLA_T4");
	assert_int_equal(resource_env_name(RESOURCE_PCI, "a.b.example.com/x.y", buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "PCI_RESOURCE_A_B_EXAMPLE_COM_X_Y");
	/* Exactly fitting, and one byte short. */
	assert_int_equal(
		resource_env_name(RESOURCE_PCI, "a/b", buf, strlen("PCI_RESOURCE_A_B") + 1), 0);
	assert_int_equal(resource_env_name(RESOURCE_PCI, "a/b", buf, strlen("PCI_RESOURCE_A_B")),
			 -ENAMETOOLONG);
}

static void test_mdev_name_selector(void **state)
{
	struct pol_mdev_device md[] = {
		/* Written with spaces and padding: normalised like the type's name. */
		{.name_selector = "  GRID T4-1Q ", .resource_name = "nvidia.com/GRID_T4-1Q"},
		/* Already normalised by the user. */
		{.name_selector = "GRID_T4-2Q", .resource_name = "nvidia.com/GRID_T4-2Q"},
		/* A type without a name file is matched by its id. */
		{.name_selector = "mtty-4", .resource_name = "example.com/mtty4"},
		{.name_selector = "Single port serial", .resource_name = "example.com/mtty"},
		/* Not a prefix match. */
		{.name_selector = "GRID T4", .resource_name = "nvidia.com/none"},
		{.name_selector = "GRID A100-4C", .resource_name = "nvidia.com/GRID_A100-4C"},
	};
	struct resource_set *set = build(md, ARRAY_SIZE(md), NULL, 0);
	const struct resource_pool *p;

	/* Sorted by name; a pool that matches nothing still exists. */
	assert_int_equal(set->n_pools, 6);
	assert_string_equal(set->pools[0].name, "example.com/mtty");
	assert_string_equal(set->pools[1].name, "example.com/mtty4");
	assert_string_equal(set->pools[2].name, "nvidia.com/GRID_A100-4C");
	assert_string_equal(set->pools[3].name, "nvidia.com/GRID_T4-1Q");
	assert_string_equal(set->pools[4].name, "nvidia.com/GRID_T4-2Q");
	assert_string_equal(set->pools[5].name, "nvidia.com/none");

	p = resource_get_pool(set, "nvidia.com/GRID_T4-1Q");
	assert_non_null(p);
	assert_int_equal(p->kind, RESOURCE_MDEV);
	assert_int_equal(p->n_devices, 2);
	/* Sorted by id; a T4's parent is its PF, which is the card; NUMA from the parent. */
	assert_string_equal(p->devices[0].id, "11111111-0000-4000-8000-000000000001");
	assert_string_equal(p->devices[0].parent, "0000:3b:00.0");
	assert_string_equal(p->devices[0].card, "0000:3b:00.0");
	assert_null(resource_device_physfn(&p->devices[0])); /* the PF is no VF */
	assert_int_equal(p->devices[0].iommu_group, 42);
	assert_int_equal(p->devices[0].numa_node, 0);
	assert_true(p->devices[0].healthy);
	assert_string_equal(p->devices[1].id, "22222222-0000-4000-8000-000000000002");
	assert_string_equal(p->devices[1].parent, "0000:3b:00.0");
	assert_string_equal(p->devices[1].card, "0000:3b:00.0"); /* the same card */

	p = resource_get_pool(set, "nvidia.com/GRID_T4-2Q");
	assert_int_equal(p->n_devices, 1);
	assert_int_equal(p->devices[0].numa_node, 1);
	assert_string_equal(p->devices[0].parent, "0000:af:00.0");
	assert_string_equal(p->devices[0].card, "0000:af:00.0");

	/* An A100: the parent is the VF, the card its PF, one card for both. */
	p = resource_get_pool(set, "nvidia.com/GRID_A100-4C");
	assert_int_equal(p->n_devices, 2);
	assert_string_equal(p->devices[0].id, "77777777-0000-4000-8000-000000000007");
	assert_string_equal(p->devices[0].parent, "0000:ca:00.5");
	assert_string_equal(p->devices[0].card, "0000:ca:00.0");
	assert_string_equal(resource_device_physfn(&p->devices[0]), "0000:ca:00.0");
	assert_int_equal(p->devices[0].iommu_group, 202);
	assert_int_equal(p->devices[0].numa_node, 1);
	assert_string_equal(p->devices[1].parent, "0000:ca:00.4");
	assert_string_equal(p->devices[1].card, "0000:ca:00.0");

	p = resource_get_pool(set, "example.com/mtty4");
	assert_int_equal(p->n_devices, 1);
	assert_string_equal(p->devices[0].id, "55555555-0000-4000-8000-000000000005");
	assert_string_equal(p->devices[0].parent, "mtty");
	assert_string_equal(p->devices[0].card, "mtty"); /* not a VF: the parent itself */
	assert_null(resource_device_physfn(&p->devices[0]));
	assert_int_equal(p->devices[0].numa_node, -1);

	/* No IOMMU group: listed, but unhealthy. The mdev of a vanished parent is skipped. */
	p = resource_get_pool(set, "example.com/mtty");
	assert_int_equal(p->n_devices, 1);
	assert_false(p->devices[0].healthy);

	assert_int_equal(resource_get_pool(set, "nvidia.com/none")->n_devices, 0);
	assert_null(resource_get_pool(set, "nvidia.com/nothing"));
	resource_set_free(set);
}

static void test_pci_selector(void **state)
{
	struct pol_pci_device pd[] = {
		{.selector = "1234:11E8",
		 .resource_name = "example.com/edu",
		 .external_resource_provider = true},
		{.selector = "10de:1eb8", .resource_name = "nvidia.com/TU104GL_Tesla_T4"},
		{.selector = "8086:154c", .resource_name = "intel.com/X710_VF"},
	};
	struct resource_set *set = build(NULL, 0, pd, ARRAY_SIZE(pd));
	const struct resource_pool *p = resource_get_pool(set, "example.com/edu");

	assert_non_null(p);
	assert_int_equal(p->kind, RESOURCE_PCI);
	assert_true(p->external_resource_provider);
	assert_int_equal(p->n_devices, 1);
	assert_string_equal(p->devices[0].id, "0000:00:03.0");
	assert_null(p->devices[0].parent); /* PCI functions have no parent */
	assert_string_equal(p->devices[0].card, "0000:00:03.0");
	assert_null(resource_device_physfn(&p->devices[0]));
	assert_int_equal(p->devices[0].iommu_group, 2);
	assert_int_equal(p->n_unserved, 2);
	assert_string_equal(p->unserved[0].id, "0000:00:04.0");
	assert_string_equal(p->unserved[0].reason, "bound to edu, not vfio-pci");
	assert_string_equal(p->unserved[1].id, "0000:00:05.0");
	assert_string_equal(p->unserved[1].reason, "bound to no driver, not vfio-pci");

	/* The T4 passed through whole is served; the one offering vGPU stays on nvidia. */
	p = resource_get_pool(set, "nvidia.com/TU104GL_Tesla_T4");
	assert_false(p->external_resource_provider);
	assert_int_equal(p->n_devices, 1);
	assert_string_equal(p->devices[0].id, "0000:d8:00.0");
	assert_string_equal(p->devices[0].card, "0000:d8:00.0");
	assert_null(resource_device_physfn(&p->devices[0]));
	assert_int_equal(p->devices[0].numa_node, 1);
	assert_int_equal(p->n_unserved, 1);
	assert_string_equal(p->unserved[0].id, "0000:3b:00.0");
	assert_string_equal(p->unserved[0].reason, "bound to nvidia, not vfio-pci");

	/* A VF on vfio-pci: its card is its PF. */
	p = resource_get_pool(set, "intel.com/X710_VF");
	assert_int_equal(p->n_devices, 1);
	assert_string_equal(p->devices[0].id, "0000:5e:02.0");
	assert_null(p->devices[0].parent);
	assert_string_equal(p->devices[0].card, "0000:5e:00.0"); /* a VF: its PF */
	assert_string_equal(resource_device_physfn(&p->devices[0]), "0000:5e:00.0");
	assert_int_equal(p->devices[0].numa_node, 0);
	resource_set_free(set);
}

static void test_shared_and_conflicting_names(void **state)
{
	struct pol_mdev_device md[] = {
		{.name_selector = "GRID T4-1Q", .resource_name = "nvidia.com/vgpu"},
		{.name_selector = "GRID T4-2Q", .resource_name = "nvidia.com/vgpu"},
		/* The same devices again under another name: not listed twice. */
		{.name_selector = "GRID T4-1Q", .resource_name = "nvidia.com/again"},
		/* Repeated selector of the same pool: no duplicates. */
		{.name_selector = "GRID T4-2Q", .resource_name = "nvidia.com/vgpu"},
	};
	struct pol_pci_device pd[] = {
		/* A PCI selector on an mdev pool's name. */
		{.selector = "1234:11e8", .resource_name = "nvidia.com/vgpu"},
	};
	struct resource_set *set = build(md, ARRAY_SIZE(md), pd, ARRAY_SIZE(pd));
	const struct resource_pool *p = resource_get_pool(set, "nvidia.com/vgpu");

	assert_int_equal(set->n_pools, 2);
	assert_int_equal(p->n_devices, 3);
	assert_int_equal(p->n_unserved, 3); /* 00:04.0 and 00:05.0: not on vfio-pci */
	assert_string_equal(p->unserved[0].id, "0000:00:03.0");
	assert_non_null(strstr(p->unserved[0].reason, "already names mediated devices"));

	p = resource_get_pool(set, "nvidia.com/again");
	assert_int_equal(p->n_devices, 0);
	assert_int_equal(p->n_unserved, 2);
	assert_string_equal(p->unserved[0].reason, "already served as \"nvidia.com/vgpu\"");
	resource_set_free(set);
	resource_set_free(NULL);
}

/* The committed nvidia fixture through the real inventory and policy parser. */
static void test_nvidia_fixture(void **state)
{
	static const char json[] = "{\"permittedHostDevices\": {"
				   " \"mediatedDevices\": [{\"mdevNameSelector\": \"GRID T4-1Q\","
				   "   \"resourceName\": \"nvidia.com/GRID_T4-1Q\"}],"
				   " \"pciHostDevices\": [{\"pciVendorSelector\": \"10DE:1EB8\","
				   "   \"resourceName\": \"nvidia.com/TU104GL_Tesla_T4\"}]}}";
	struct inventory *finv = NULL;
	struct policy *pol = NULL;
	struct resource_set *set = NULL;
	const struct resource_pool *p;
	struct pol_error err;
	int fd;

	fd = open(FIXTURES "/nvidia", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(inventory_load(fd, FIXTURES "/nvidia", INVENTORY_ALL, NULL, NULL, &finv),
			 0);
	close(fd);
	assert_int_equal(pol_parse(json, strlen(json), &pol, &err), 0);
	assert_int_equal(resource_build(finv, pol, &set), 0);

	p = resource_get_pool(set, "nvidia.com/GRID_T4-1Q");
	assert_non_null(p);
	assert_int_equal(p->n_devices, 1);
	assert_string_equal(p->devices[0].id, "6c1a7b2e-4a1e-4b8f-9d2c-1f0e3d2c1b0a");
	assert_string_equal(p->devices[0].parent, "0000:3b:00.0"); /* a T4: the PF */
	assert_string_equal(p->devices[0].card, "0000:3b:00.0");
	assert_int_equal(p->devices[0].iommu_group, 41);
	assert_int_equal(p->devices[0].numa_node, 0);

	/* The T4's functions are on the nvidia driver: matched, not served. */
	p = resource_get_pool(set, "nvidia.com/TU104GL_Tesla_T4");
	assert_non_null(p);
	assert_int_equal(p->n_devices, 0);
	assert_int_equal(p->n_unserved, 1); /* its VFs are not enabled */
	for (size_t i = 0; i < p->n_unserved; i++)
		assert_string_equal(p->unserved[i].reason, "bound to nvidia, not vfio-pci");

	resource_set_free(set);
	policy_free(pol);
	inventory_free(finv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_names),
		cmocka_unit_test(test_mdev_name_selector),
		cmocka_unit_test(test_pci_selector),
		cmocka_unit_test(test_shared_and_conflicting_names),
		cmocka_unit_test(test_nvidia_fixture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
