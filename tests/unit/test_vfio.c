/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio (policy/vfio.c): mdevd.vfioPci as parsed, which functions it selects, and the pure
 * plan: host-owned refusals and their per-address override, group viability, ownership
 * and giving back.
 */
#include <errno.h>
#include <string.h>

#include "testutil.h"
#include "mdevd/policy.h"
#include "mdevd/vfio.h"

static struct policy *parse(const char *json)
{
	struct policy *pol = NULL;
	struct pol_error err;
	int r = pol_parse(json, strlen(json), &pol, &err);

	if (r)
		print_error("%s: %s\n", err.path, err.message);
	assert_int_equal(r, 0);
	return pol;
}

static void rejects(const char *json, const char *path, const char *needle)
{
	struct policy *pol = NULL;
	struct pol_error err;

	assert_int_equal(pol_parse(json, strlen(json), &pol, &err), -EINVAL);
	if (strcmp(err.path, path) || !strstr(err.message, needle))
		print_error("got %s: %s\n", err.path, err.message);
	assert_string_equal(err.path, path);
	assert_non_null(strstr(err.message, needle));
}

static void test_parse(void **state)
{
	struct policy *pol = parse(
		"{\"mdevd\": {\"vfioPci\": {\"devices\": [\"65:00.0\", \"10DE:1EB8\", "
		"{\"vendorDevice\": \"1234:11e8\", \"addresses\": [\"0000:00:04.0\"], "
		"\"numaNode\": 1}, {\"address\": \"0000:00:05.0\"}], "
		"\"bindPermittedHostDevices\": true, \"overrideHostOwned\": [\"0000:00:02.0\"]}}}");

	assert_int_equal(pol->vfio.n_devices, 4);
	assert_string_equal(pol->vfio.devices[0].address, "0000:65:00.0");
	assert_null(pol->vfio.devices[0].vendor_device);
	assert_string_equal(pol->vfio.devices[1].vendor_device, "10de:1eb8");
	assert_int_equal(pol->vfio.devices[1].numa_node, -1);
	assert_int_equal(pol->vfio.devices[2].n_addresses, 1);
	assert_int_equal(pol->vfio.devices[2].numa_node, 1);
	assert_string_equal(pol->vfio.devices[3].address, "0000:00:05.0");
	assert_true(pol->vfio.bind_permitted);
	assert_int_equal(pol->vfio.n_override_host_owned, 1);
	assert_true(pol_vfio_overrides_guard(pol, "0000:00:02.0"));
	assert_false(pol_vfio_overrides_guard(pol, "0000:00:03.0"));
	policy_free(pol);
}

static void test_parse_errors(void **state)
{
	rejects("{\"mdevd\": {\"vfioPci\": {\"overrideHostOwned\": [\"10de:1eb8\"]}}}",
		"$.mdevd.vfioPci.overrideHostOwned[0]",
		"overridden per address only, never by vendor:device");
	rejects("{\"mdevd\": {\"vfioPci\": {\"overrideHostOwned\": \"0000:00:02.0\"}}}",
		"$.mdevd.vfioPci.overrideHostOwned", "must be a list of PCI addresses");
	rejects("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"gpu\"]}}}",
		"$.mdevd.vfioPci.devices[0]", "is not a PCI address");
	rejects("{\"mdevd\": {\"vfioPci\": {\"devices\": [{\"numaNode\": 0}]}}}",
		"$.mdevd.vfioPci.devices[0]",
		"needs exactly one of \"address\" and \"vendorDevice\"");
	rejects("{\"mdevd\": {\"vfioPci\": {\"devices\": [{\"vendorDevice\": \"10de:1eb8\", "
		"\"numaNode\": -1}]}}}",
		"$.mdevd.vfioPci.devices[0].numaNode", "from 0 to 1023");
	rejects("{\"mdevd\": {\"vfioPci\": {\"devices\": [{\"address\": \"0000:00:03.0\", "
		"\"numaNode\": 0}]}}}",
		"$.mdevd.vfioPci.devices[0]", "narrow a \"vendorDevice\"");
	rejects("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"00:03.0\", \"0000:00:03.0\"]}}}",
		"$.mdevd.vfioPci.devices[1]", "the same functions as devices[0]");
	rejects("{\"mdevd\": {\"vfioPci\": {\"devices\": [{\"vendorDevice\": \"10de:1eb8\", "
		"\"addresses\": [\"0000:00:03.0\", \"00:03.0\"]}]}}}",
		"$.mdevd.vfioPci.devices[0].addresses[1]", "listed twice");
	rejects("{\"mdevd\": {\"vfioPci\": {\"bindPermitedHostDevices\": true}}}",
		"$.mdevd.vfioPci.bindPermitedHostDevices",
		"did you mean \"bindPermittedHostDevices\"?");
}

/* A node: 00.0 bridge; 02.0 + 03.0 e1000e (groups 2, 3); 04.0 + 05.0 edu (4, 5; 05.0 on
 * NUMA 1); 1f.0/1f.2/1f.3 ICH9 sharing group 10; 06.0 GPU + 06.1 its audio (group 6). */
static struct pci_function fns[] = {
	{.address = "0000:00:00.0",
	 .vendor_id = 0x8086,
	 .device_id = 0x29c0,
	 .class_code = 0x060000,
	 .iommu_group = 0,
	 .numa_node = -1},
	{.address = "0000:00:02.0",
	 .vendor_id = 0x8086,
	 .device_id = 0x10d3,
	 .class_code = 0x020000,
	 .driver = (char *)"e1000e",
	 .iommu_group = 2,
	 .numa_node = 0},
	{.address = "0000:00:03.0",
	 .vendor_id = 0x8086,
	 .device_id = 0x10d3,
	 .class_code = 0x020000,
	 .driver = (char *)"e1000e",
	 .iommu_group = 3,
	 .numa_node = 0},
	{.address = "0000:00:04.0",
	 .vendor_id = 0x1234,
	 .device_id = 0x11e8,
	 .class_code = 0x00ff00,
	 .iommu_group = 4,
	 .numa_node = 0},
	{.address = "0000:00:05.0",
	 .vendor_id = 0x1234,
	 .device_id = 0x11e8,
	 .class_code = 0x00ff00,
	 .driver = (char *)"vfio-pci",
	 .iommu_group = 5,
	 .numa_node = 1},
	{.address = "0000:00:06.0",
	 .vendor_id = 0x10de,
	 .device_id = 0x1eb8,
	 .class_code = 0x030000,
	 .driver = (char *)"nouveau",
	 .iommu_group = 6,
	 .numa_node = 0},
	{.address = "0000:00:06.1",
	 .vendor_id = 0x10de,
	 .device_id = 0x10f8,
	 .class_code = 0x040300,
	 .driver = (char *)"snd_hda_intel",
	 .iommu_group = 6,
	 .numa_node = 0},
	{.address = "0000:00:1f.0",
	 .vendor_id = 0x8086,
	 .device_id = 0x2918,
	 .class_code = 0x060100,
	 .driver = (char *)"lpc_ich",
	 .iommu_group = 10,
	 .numa_node = 0},
	{.address = "0000:00:1f.2",
	 .vendor_id = 0x8086,
	 .device_id = 0x2922,
	 .class_code = 0x010601,
	 .driver = (char *)"ahci",
	 .iommu_group = 10,
	 .numa_node = 0},
	{.address = "0000:00:1f.3",
	 .vendor_id = 0x8086,
	 .device_id = 0x2930,
	 .class_code = 0x0c0500,
	 .driver = (char *)"i801_smbus",
	 .iommu_group = 10,
	 .numa_node = 0},
};
static const struct inventory inv = {.pci = fns, .n_pci = ARRAY_SIZE(fns)};

static struct vfio_decision *plan(const char *json, const struct vfio_facts *facts)
{
	struct policy *pol = parse(json);
	struct vfio_facts none[ARRAY_SIZE(fns)] = {{0}};
	struct vfio_decision *d = NULL;

	assert_int_equal(vfio_plan(pol, &inv, facts ? facts : none, &d), 0);
	policy_free(pol);
	return d;
}

static size_t idx(const char *addr)
{
	for (size_t i = 0; i < ARRAY_SIZE(fns); i++)
		if (streq(fns[i].address, addr))
			return i;
	fail();
	return 0;
}

static void test_selectors(void **state)
{
	struct vfio_decision *d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": ["
				       "{\"vendorDevice\": \"1234:11e8\", \"numaNode\": 0}]}}}",
				       NULL);

	assert_int_equal(d[idx("0000:00:04.0")].action, VFIO_BIND);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_LEAVE); /* NUMA 1 */
	assert_int_equal(d[idx("0000:00:02.0")].action, VFIO_LEAVE);
	free(d);
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [{\"vendorDevice\": \"1234:11e8\", "
		 "\"addresses\": [\"0000:00:05.0\"]}]}}}",
		 NULL);
	assert_int_equal(d[idx("0000:00:04.0")].action, VFIO_LEAVE);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_BOUND);
	free(d);
	/* bindPermittedHostDevices: the pciHostDevices[] selector binds; without it, not. */
	d = plan("{\"permittedHostDevices\": {\"pciHostDevices\": [{\"pciVendorSelector\": "
		 "\"1234:11E8\", \"resourceName\": \"example.com/EDU\"}]}, \"mdevd\": "
		 "{\"vfioPci\": {\"bindPermittedHostDevices\": true}}}",
		 NULL);
	assert_int_equal(d[idx("0000:00:04.0")].action, VFIO_BIND);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_BOUND);
	free(d);
	d = plan("{\"permittedHostDevices\": {\"pciHostDevices\": [{\"pciVendorSelector\": "
		 "\"1234:11E8\", \"resourceName\": \"example.com/EDU\"}]}}",
		 NULL);
	assert_int_equal(d[idx("0000:00:04.0")].action, VFIO_LEAVE);
	free(d);
}

static void test_host_owned_refused(void **state)
{
	struct vfio_facts facts[ARRAY_SIZE(fns)] = {{0}};
	struct vfio_decision *d;

	facts[idx("0000:00:02.0")].host_owned = "network: enp0s2 carries the default route";
	/* vendor:device selects both NICs: the host's is refused with its reason. */
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"8086:10d3\"]}}}", facts);
	assert_int_equal(d[idx("0000:00:02.0")].action, VFIO_REFUSED);
	assert_string_equal(d[idx("0000:00:02.0")].reason,
			    "host-owned: network: enp0s2 carries the default route");
	assert_int_equal(d[idx("0000:00:03.0")].action, VFIO_BIND);
	free(d);
	/* The override is per address. */
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"8086:10d3\"], "
		 "\"overrideHostOwned\": [\"0000:00:02.0\"]}}}",
		 facts);
	assert_int_equal(d[idx("0000:00:02.0")].action, VFIO_BIND);
	free(d);
	/* A vGPU function (a vendor-VFIO VF, an mdev parent with live mdevs) is not let
	 * through: rebinding it takes the vGPUs from their VMs. */
	facts[idx("0000:00:02.0")].host_owned = "an NVIDIA vGPU VF of 0000:00:01.0 "
						"(vendor-specific VFIO, vGPU type 1153): it "
						"stays on nvidia";
	facts[idx("0000:00:02.0")].no_override = true;
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"8086:10d3\"], "
		 "\"overrideHostOwned\": [\"0000:00:02.0\"]}}}",
		 facts);
	assert_int_equal(d[idx("0000:00:02.0")].action, VFIO_REFUSED);
	assert_string_equal(d[idx("0000:00:02.0")].reason,
			    "host-owned: an NVIDIA vGPU VF of 0000:00:01.0 (vendor-specific VFIO, "
			    "vGPU type 1153): it stays on nvidia");
	assert_int_equal(d[idx("0000:00:03.0")].action, VFIO_BIND);
	free(d);
}

static void test_group_viability(void **state)
{
	struct vfio_decision *d;
	char buf[256];

	/* ICH9: the group holds the ISA bridge (fine) and two endpoints on host drivers. */
	assert_int_equal(vfio_group_blockers(&inv, 10, NULL, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0000:00:1f.2 (ahci), 0000:00:1f.3 (i801_smbus)");
	assert_int_equal(vfio_group_blockers(&inv, 5, NULL, buf, sizeof(buf)), 0);
	assert_int_equal(vfio_group_blockers(&inv, 0, NULL, buf, sizeof(buf)), 0); /* bridge */

	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"0000:00:1f.3\"]}}}", NULL);
	assert_int_equal(d[idx("0000:00:1f.3")].action, VFIO_REFUSED);
	assert_non_null(strstr(d[idx("0000:00:1f.3")].reason,
			       "IOMMU group 10 would not be viable: 0000:00:1f.2 (ahci) stay"));
	free(d);
	/* The GPU alone is refused; naming its audio function too binds both (explicit). */
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"10de:1eb8\"]}}}", NULL);
	assert_int_equal(d[idx("0000:00:06.0")].action, VFIO_REFUSED);
	assert_int_equal(d[idx("0000:00:06.1")].action, VFIO_LEAVE);
	free(d);
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"10de:1eb8\", \"0000:00:06.1\"]}}}",
		 NULL);
	assert_int_equal(d[idx("0000:00:06.0")].action, VFIO_BIND);
	assert_int_equal(d[idx("0000:00:06.1")].action, VFIO_BIND);
	free(d);
}

static void test_give_back(void **state)
{
	struct vfio_facts facts[ARRAY_SIZE(fns)] = {{0}};
	struct vfio_decision *d;

	/* 05.0 is on vfio-pci. Not ours: left alone when the policy drops it. */
	d = plan("{}", facts);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_LEAVE);
	free(d);
	/* Ours: given back; ours and in use: kept, saying why. */
	facts[idx("0000:00:05.0")].owned = true;
	d = plan("{}", facts);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_GIVE_BACK);
	free(d);
	facts[idx("0000:00:05.0")].in_use = "its IOMMU group is open";
	d = plan("{}", facts);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_KEEP);
	assert_non_null(strstr(d[idx("0000:00:05.0")].reason, "its IOMMU group is open"));
	free(d);
	/* Still named: stays bound whatever uses it. */
	d = plan("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"0000:00:05.0\"]}}}", facts);
	assert_int_equal(d[idx("0000:00:05.0")].action, VFIO_BOUND);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_selectors),	cmocka_unit_test(test_host_owned_refused),
		cmocka_unit_test(test_group_viability), cmocka_unit_test(test_give_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
