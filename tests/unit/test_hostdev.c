/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hostdev: the XML builders against in-memory inventory structs, compared as exact
 * strings; the address and UUID checks at and beyond libvirt's limits. The CLI and the
 * RelaxNG validation of its output are in tests/hostdev/run.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "mdevd/hostdev.h"
#include "mdevd/macro.h"

#define UUID1 "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
#define UUID2 "83b8f4f2-509f-382f-3c1e-e6bfe0fa1002"

/* A value no call may write: out-params stay untouched on error. */
static char sentinel;
#define UNTOUCHED (&sentinel)

static struct pci_function pci_fn(const char *address)
{
	struct pci_function fn = {.iommu_group = -1, .numa_node = -1};

	snprintf(fn.address, sizeof(fn.address), "%s", address);
	return fn;
}

static struct mdev_instance mdev(const char *uuid)
{
	struct mdev_instance m = {.parent = "mtty", .type_id = "mtty-1", .iommu_group = 10};

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	return m;
}

static void test_pci_xml(void **state)
{
	struct pci_function fn = pci_fn("0000:06:00.0");
	_cleanup_free_ char *xml = NULL;

	assert_int_equal(hostdev_pci_xml(&fn, &xml), 0);
	assert_string_equal(xml, "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\">\n"
				 "  <source>\n"
				 "    <address domain=\"0x0000\" bus=\"0x06\" slot=\"0x00\" "
				 "function=\"0x0\"/>\n"
				 "  </source>\n"
				 "</hostdev>\n");
}

/* A function mdevd keeps on vfio-pci: managed="no", alone and in a <devices> block. */
static void test_pci_xml_unmanaged(void **state)
{
	struct pci_function fn = pci_fn("0000:06:00.0");
	struct hostdev_device devs[2] = {
		{.kind = HOSTDEV_PCI, .pci = &fn, .unmanaged = true},
		{.kind = HOSTDEV_PCI, .pci = &fn},
	};
	_cleanup_free_ char *xml = NULL, *block = NULL;

	assert_int_equal(hostdev_pci_xml_unmanaged(&fn, &xml), 0);
	assert_non_null(strstr(xml, "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\">"));
	assert_int_equal(hostdev_devices_xml(devs, 2, NULL, &block), 0);
	assert_non_null(strstr(block, "managed=\"no\""));
	assert_non_null(strstr(block, "managed=\"yes\""));
}

static void test_pci_xml_limits(void **state)
{
	struct pci_function fn = pci_fn("ffff:ff:1f.7");
	_cleanup_free_ char *xml = NULL;

	assert_int_equal(hostdev_pci_xml(&fn, &xml), 0);
	assert_non_null(strstr(xml, "<address domain=\"0xffff\" bus=\"0xff\" slot=\"0x1f\" "
				    "function=\"0x7\"/>"));
}

static void test_pci_xml_rejects(void **state)
{
	static const struct {
		const char *address;
		int err;
	} cases[] = {
		{"0000:100:00.0", -ERANGE}, /* bus above 0xff */
		{"0000:00:20.0", -ERANGE},  /* slot above 0x1f */
		{"0000:00:00.8", -ERANGE},  /* function above 7 */
		{"10000:00:00.0", -ERANGE}, /* domain above 0xffff */
		{"", -EINVAL},
		{"0000:06:00", -EINVAL},
		{"0000:06:00.0 ", -EINVAL},
		{"0000:06:0g.0", -EINVAL},
		{"0000::00.0", -EINVAL},
		{"0:0:0:0.0", -EINVAL},
		{"000000000:00:00.0", -EINVAL}, /* 9 digits */
		{"+6:00.0", -EINVAL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct pci_function fn = pci_fn(cases[i].address);
		char *xml = UNTOUCHED;

		assert_int_equal(hostdev_pci_xml(&fn, &xml), cases[i].err);
		assert_ptr_equal(xml, UNTOUCHED);
	}
	{
		char *xml = UNTOUCHED;

		assert_int_equal(hostdev_pci_xml(NULL, &xml), -EINVAL);
		assert_ptr_equal(xml, UNTOUCHED);
	}
}

static void test_mdev_xml_default(void **state)
{
	struct mdev_instance m = mdev(UUID1);
	_cleanup_free_ char *xml = NULL;

	assert_int_equal(hostdev_mdev_xml(&m, "vfio-pci", NULL, &xml), 0);
	assert_string_equal(xml, "<hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
				 "display=\"off\">\n"
				 "  <source>\n"
				 "    <address uuid=\"" UUID1 "\"/>\n"
				 "  </source>\n"
				 "</hostdev>\n");
}

static void test_mdev_xml_display_ramfb(void **state)
{
	struct hostdev_options display = {.display = true};
	struct hostdev_options both = {.display = true, .ramfb = true};
	struct mdev_instance m = mdev(UUID1);
	_cleanup_free_ char *a = NULL, *b = NULL;

	assert_int_equal(hostdev_mdev_xml(&m, "vfio-pci", &display, &a), 0);
	assert_string_equal(a, "<hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
			       "display=\"on\">\n"
			       "  <source>\n"
			       "    <address uuid=\"" UUID1 "\"/>\n"
			       "  </source>\n"
			       "</hostdev>\n");
	assert_int_equal(hostdev_mdev_xml(&m, "vfio-pci", &both, &b), 0);
	assert_string_equal(b, "<hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
			       "display=\"on\" ramfb=\"on\">\n"
			       "  <source>\n"
			       "    <address uuid=\"" UUID1 "\"/>\n"
			       "  </source>\n"
			       "</hostdev>\n");
}

static void test_mdev_xml_models(void **state)
{
	struct mdev_instance m = mdev(UUID2);
	_cleanup_free_ char *ccw = NULL, *ap = NULL;

	assert_int_equal(hostdev_mdev_xml(&m, "vfio-ccw", NULL, &ccw), 0);
	assert_non_null(strstr(ccw, "type=\"mdev\" model=\"vfio-ccw\" display=\"off\">"));
	assert_int_equal(hostdev_mdev_xml(&m, "vfio-ap", NULL, &ap), 0);
	assert_non_null(strstr(ap, "type=\"mdev\" model=\"vfio-ap\" display=\"off\">"));
}

static void test_mdev_xml_rejects(void **state)
{
	struct hostdev_options display = {.display = true};
	struct hostdev_options ramfb_only = {.ramfb = true};
	struct hostdev_options both = {.display = true, .ramfb = true};
	static const char *const bad_uuids[] = {
		"83b8f4f2-509f-382f-3c1e-e6bfe0fa100",	/* 35 characters */
		"83b8f4f2-509f-382f-3c1e-e6bfe0fa100g", /* not hex */
		"83b8f4f2509f-382f-3c1e-e6bfe0fa10011", /* dash misplaced */
		"",
	};
	struct mdev_instance m = mdev(UUID1);
	char *xml = UNTOUCHED;

	/* A device API libvirt has no model for, and none at all. */
	assert_int_equal(hostdev_mdev_xml(&m, "vfio-platform", NULL, &xml), -EINVAL);
	assert_int_equal(hostdev_mdev_xml(&m, "VFIO-PCI", NULL, &xml), -EINVAL);
	assert_int_equal(hostdev_mdev_xml(&m, NULL, NULL, &xml), -EINVAL);
	/* display and ramfb are for vfio-pci only; ramfb needs display. */
	assert_int_equal(hostdev_mdev_xml(&m, "vfio-ccw", &display, &xml), -EINVAL);
	assert_int_equal(hostdev_mdev_xml(&m, "vfio-ap", &both, &xml), -EINVAL);
	assert_int_equal(hostdev_mdev_xml(&m, "vfio-pci", &ramfb_only, &xml), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_uuids); i++) {
		struct mdev_instance b = mdev(bad_uuids[i]);

		assert_int_equal(hostdev_mdev_xml(&b, "vfio-pci", NULL, &xml), -EINVAL);
	}
	assert_int_equal(hostdev_mdev_xml(NULL, "vfio-pci", NULL, &xml), -EINVAL);
	assert_ptr_equal(xml, UNTOUCHED);
}

static void test_mdev_xml_upper_case_uuid(void **state)
{
	struct mdev_instance m = mdev("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001");
	_cleanup_free_ char *xml = NULL;

	assert_int_equal(hostdev_mdev_xml(&m, "vfio-pci", NULL, &xml), 0);
	assert_non_null(strstr(xml, "<address uuid=\"" UUID1 "\"/>"));
}

static void test_devices_xml(void **state)
{
	struct mdev_instance m1 = mdev(UUID1), m2 = mdev(UUID2);
	struct pci_function fn = pci_fn("0000:00:03.0");
	const struct hostdev_device devs[] = {
		{.kind = HOSTDEV_MDEV, .mdev = &m1, .device_api = "vfio-pci"},
		{.kind = HOSTDEV_MDEV, .mdev = &m2, .device_api = "vfio-pci"},
		{.kind = HOSTDEV_PCI, .pci = &fn},
	};
	_cleanup_free_ char *xml = NULL;

	assert_int_equal(hostdev_devices_xml(devs, ARRAY_SIZE(devs), NULL, &xml), 0);
	assert_string_equal(xml, "<devices>\n"
				 "  <hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
				 "display=\"off\">\n"
				 "    <source>\n"
				 "      <address uuid=\"" UUID1 "\"/>\n"
				 "    </source>\n"
				 "  </hostdev>\n"
				 "  <hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
				 "display=\"off\">\n"
				 "    <source>\n"
				 "      <address uuid=\"" UUID2 "\"/>\n"
				 "    </source>\n"
				 "  </hostdev>\n"
				 "  <hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\">\n"
				 "    <source>\n"
				 "      <address domain=\"0x0000\" bus=\"0x00\" slot=\"0x03\" "
				 "function=\"0x0\"/>\n"
				 "    </source>\n"
				 "  </hostdev>\n"
				 "</devices>\n");
}

static void test_devices_xml_display(void **state)
{
	struct hostdev_options display = {.display = true};
	struct mdev_instance m1 = mdev(UUID1), m2 = mdev(UUID2);
	const struct hostdev_device devs[] = {
		{.kind = HOSTDEV_MDEV, .mdev = &m1, .device_api = "vfio-pci"},
		{.kind = HOSTDEV_MDEV, .mdev = &m2, .device_api = "vfio-pci"},
	};
	_cleanup_free_ char *xml = NULL;
	const char *p;

	assert_int_equal(hostdev_devices_xml(devs, ARRAY_SIZE(devs), &display, &xml), 0);
	p = strstr(xml, "display=\"on\"");
	assert_non_null(p);
	assert_non_null(strstr(p + 1, "display=\"on\""));
	assert_null(strstr(xml, "display=\"off\""));
}

static void test_devices_xml_rejects(void **state)
{
	struct hostdev_options display = {.display = true};
	struct mdev_instance m1 = mdev(UUID1), bad = mdev("nope");
	struct pci_function fn = pci_fn("0000:00:03.0"), far = pci_fn("0000:100:00.0");
	const struct hostdev_device with_bad_uuid[] = {
		{.kind = HOSTDEV_MDEV, .mdev = &m1, .device_api = "vfio-pci"},
		{.kind = HOSTDEV_MDEV, .mdev = &bad, .device_api = "vfio-pci"},
	};
	const struct hostdev_device with_bad_bus[] = {
		{.kind = HOSTDEV_PCI, .pci = &fn},
		{.kind = HOSTDEV_PCI, .pci = &far},
	};
	const struct hostdev_device mixed[] = {
		{.kind = HOSTDEV_MDEV, .mdev = &m1, .device_api = "vfio-pci"},
		{.kind = HOSTDEV_PCI, .pci = &fn},
	};
	const struct hostdev_device confused[] = {
		{.kind = HOSTDEV_PCI, .mdev = &m1},
	};
	const struct hostdev_device both[] = {
		{.kind = HOSTDEV_MDEV, .mdev = &m1, .pci = &fn, .device_api = "vfio-pci"},
	};
	char *xml = UNTOUCHED;

	assert_int_equal(hostdev_devices_xml(with_bad_uuid, 2, NULL, &xml), -EINVAL);
	assert_int_equal(hostdev_devices_xml(with_bad_bus, 2, NULL, &xml), -ERANGE);
	/* display is an mdev attribute: not with a PCI function in the block. */
	assert_int_equal(hostdev_devices_xml(mixed, 2, &display, &xml), -EINVAL);
	assert_int_equal(hostdev_devices_xml(confused, 1, NULL, &xml), -EINVAL);
	assert_int_equal(hostdev_devices_xml(both, 1, NULL, &xml), -EINVAL);
	assert_int_equal(hostdev_devices_xml(mixed, 0, NULL, &xml), -EINVAL);
	assert_int_equal(hostdev_devices_xml(NULL, 1, NULL, &xml), -EINVAL);
	assert_ptr_equal(xml, UNTOUCHED);
}

static void test_parse_pci_address(void **state)
{
	struct hostdev_pci_address a = {1, 2, 3, 4};
	char buf[MDEVD_BDF_STR_LEN];

	assert_int_equal(hostdev_parse_pci_address("06:00.0", &a), 0);
	assert_int_equal(a.domain, 0);
	assert_int_equal(a.bus, 6);
	assert_int_equal(a.slot, 0);
	assert_int_equal(a.function, 0);
	assert_int_equal(hostdev_parse_pci_address("0000:3B:1F.7", &a), 0);
	assert_int_equal(a.bus, 0x3b);
	assert_int_equal(a.slot, 0x1f);
	assert_int_equal(a.function, 7);
	assert_int_equal(hostdev_format_pci_address(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0000:3b:1f.7");
	assert_int_equal(hostdev_parse_pci_address("abcd:65:00.1", &a), 0);
	assert_int_equal(hostdev_format_pci_address(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abcd:65:00.1");

	/* Errors leave the result alone. */
	a = (struct hostdev_pci_address){1, 2, 3, 4};
	assert_int_equal(hostdev_parse_pci_address("00:00:100.0", &a), -ERANGE);
	assert_int_equal(hostdev_parse_pci_address("06.00.0", &a), -EINVAL);
	assert_int_equal(hostdev_parse_pci_address("nvidia.com/GRID_T4-1Q", &a), -EINVAL);
	assert_int_equal(hostdev_parse_pci_address(UUID1, &a), -EINVAL);
	assert_int_equal(hostdev_parse_pci_address(NULL, &a), -EINVAL);
	assert_int_equal(a.domain, 1);
	assert_int_equal(a.function, 4);

	/* Formatting checks the range and the room. */
	assert_int_equal(hostdev_format_pci_address(&a, buf, 12), -ENOSPC);
	a.bus = 0x100;
	assert_int_equal(hostdev_format_pci_address(&a, buf, sizeof(buf)), -ERANGE);
}

static void test_parse_uuid(void **state)
{
	char out[MDEVD_UUID_STR_LEN] = "untouched";

	assert_int_equal(hostdev_parse_uuid("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", out), 0);
	assert_string_equal(out, UUID1);
	strcpy(out, "untouched");
	assert_int_equal(hostdev_parse_uuid("83b8f4f2509f382f3c1ee6bfe0fa1001", out), -EINVAL);
	assert_int_equal(hostdev_parse_uuid("{83b8f4f2-509f-382f-3c1e-e6bfe0fa1001}", out),
			 -EINVAL);
	assert_int_equal(hostdev_parse_uuid("0000:06:00.0", out), -EINVAL);
	assert_int_equal(hostdev_parse_uuid(NULL, out), -EINVAL);
	assert_string_equal(out, "untouched");
}

static void test_models(void **state)
{
	enum hostdev_model m = HOSTDEV_MODEL_VFIO_AP;

	assert_int_equal(hostdev_model_from_device_api("vfio-pci", &m), 0);
	assert_int_equal(m, HOSTDEV_MODEL_VFIO_PCI);
	assert_string_equal(hostdev_model_str(m), "vfio-pci");
	assert_int_equal(hostdev_model_from_device_api("vfio-ccw", &m), 0);
	assert_string_equal(hostdev_model_str(m), "vfio-ccw");
	assert_int_equal(hostdev_model_from_device_api("vfio-ap", &m), 0);
	assert_string_equal(hostdev_model_str(m), "vfio-ap");
	assert_int_equal(hostdev_model_from_device_api("vfio-platform", &m), -EINVAL);
	assert_int_equal(hostdev_model_from_device_api("", &m), -EINVAL);
	assert_int_equal(m, HOSTDEV_MODEL_VFIO_AP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pci_xml),
		cmocka_unit_test(test_pci_xml_limits),
		cmocka_unit_test(test_pci_xml_unmanaged),
		cmocka_unit_test(test_pci_xml_rejects),
		cmocka_unit_test(test_mdev_xml_default),
		cmocka_unit_test(test_mdev_xml_display_ramfb),
		cmocka_unit_test(test_mdev_xml_models),
		cmocka_unit_test(test_mdev_xml_rejects),
		cmocka_unit_test(test_mdev_xml_upper_case_uuid),
		cmocka_unit_test(test_devices_xml),
		cmocka_unit_test(test_devices_xml_display),
		cmocka_unit_test(test_devices_xml_rejects),
		cmocka_unit_test(test_parse_pci_address),
		cmocka_unit_test(test_parse_uuid),
		cmocka_unit_test(test_models),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
