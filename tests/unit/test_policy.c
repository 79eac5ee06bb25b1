/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy engine: pol_parse() in all three shapes and every rejection, with the
 * exact JSON path; pol_validate() against in-memory inventories; the lookups the
 * planner uses; and the example policies under tests/fixtures/policies.
 *
 * JSON in this file is written with single quotes (sq()) to stay readable; no test
 * document needs a single quote of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "mdevd/resource.h"

#define POLICIES FIXTURES "/policies"

/* Helpers. */

static char *sq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static int parse_sq(const char *s, struct policy **pol, struct pol_error *err)
{
	char *json = sq(s);
	int r = pol_parse(json, strlen(json), pol, err);

	free(json);
	return r;
}

static struct policy *parse_ok(const char *s)
{
	struct policy *pol = NULL;
	struct pol_error err;
	int r = parse_sq(s, &pol, &err);

	if (r != 0)
		print_error("unexpected rejection: %s: %s (line %d)\n", err.path, err.message,
			    err.line);
	assert_int_equal(r, 0);
	assert_non_null(pol);
	return pol;
}

/* pol_parse must reject @s at @path with a message containing @needle. */
static void parse_fails(const char *s, const char *path, const char *needle)
{
	struct policy *pol = NULL;
	struct pol_error err;
	int r = parse_sq(s, &pol, &err);

	if (r != -EINVAL || strcmp(err.path, path) != 0 || !strstr(err.message, needle))
		print_error("for %s\n  got      %d %s: %s\n  expected %s: ...%s...\n", s, r,
			    r ? err.path : "-", r ? err.message : "-", path, needle);
	assert_int_equal(r, -EINVAL);
	assert_null(pol);
	assert_string_equal(err.path, path);
	assert_non_null(strstr(err.message, needle));
}

/* The test node; see tests/fixtures/policies/README. */
static struct mdev_type t4_types[] = {
	{.id = (char *)"nvidia-222", .name = (char *)"GRID T4-1Q", .available_instances = 16},
	{.id = (char *)"nvidia-223", .name = (char *)"GRID T4-2Q", .available_instances = 8},
	{.id = (char *)"nvidia-224", .name = (char *)"GRID T4-4Q", .available_instances = 4},
};
static struct mdev_type t4b_types[] = {
	{.id = (char *)"nvidia-222", .name = (char *)"GRID T4-1Q", .available_instances = 16},
	{.id = (char *)"nvidia-223", .name = (char *)"GRID T4-2Q", .available_instances = 8},
	{.id = (char *)"nvidia-224", .name = (char *)"GRID T4-4Q", .available_instances = 4},
};
static struct mdev_type a10_types[] = {
	{.id = (char *)"nvidia-593", .name = (char *)"NVIDIA A10-4Q", .available_instances = 6},
};
static struct mdev_type mtty_types[] = {
	{.id = (char *)"mtty-1", .name = (char *)"Single port serial", .available_instances = 24},
	{.id = (char *)"mtty-2", .name = (char *)"Dual port serial", .available_instances = 12},
};
static struct mdev_parent node_parents[] = {
	{.name = (char *)"0000:65:00.0",
	 .pci_address = (char *)"0000:65:00.0",
	 .vendor_id = 0x10de,
	 .device_id = 0x1eb8,
	 .types = t4_types,
	 .n_types = 3},
	{.name = (char *)"0000:66:00.0",
	 .pci_address = (char *)"0000:66:00.0",
	 .vendor_id = 0x10de,
	 .device_id = 0x1eb8,
	 .types = t4b_types,
	 .n_types = 3},
	{.name = (char *)"0000:b1:00.0",
	 .pci_address = (char *)"0000:b1:00.0",
	 .vendor_id = 0x10de,
	 .device_id = 0x2236,
	 .types = a10_types,
	 .n_types = 1},
	{.name = (char *)"mtty", .numa_node = -1, .types = mtty_types, .n_types = 2},
};
static const struct inventory node = {.parents = node_parents, .n_parents = 4};
static const struct inventory empty_node = {.n_parents = 0};

static void validate_ok(const char *s)
{
	struct policy *pol = parse_ok(s);
	struct pol_error err;
	int r = pol_validate(pol, &node, &err);

	if (r != 0)
		print_error("unexpected rejection: %s: %s\n", err.path, err.message);
	assert_int_equal(r, 0);
	policy_free(pol);
}

/* pol_validate against @inv must reject @s at @path with a message containing @needle. */
static void validate_fails_on(const struct inventory *inv, const char *s, const char *path,
			      const char *needle)
{
	struct policy *pol = parse_ok(s);
	struct pol_error err;
	int r = pol_validate(pol, inv, &err);

	if (r != -EINVAL || strcmp(err.path, path) != 0 || !strstr(err.message, needle))
		print_error("for %s\n  got      %d %s: %s\n  expected %s: ...%s...\n", s, r,
			    r ? err.path : "-", r ? err.message : "-", path, needle);
	policy_free(pol);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err.path, path);
	assert_non_null(strstr(err.message, needle));
}

static void validate_fails(const char *s, const char *path, const char *needle)
{
	validate_fails_on(&node, s, path, needle);
}

/*
 * pol_check against @inv must accept @s with a warning at @path containing @needle (and
 * pol_validate must accept it).
 */
static void validate_warns_on(const struct inventory *inv, const char *s, const char *path,
			      const char *needle)
{
	struct policy *pol = parse_ok(s);
	struct pol_report rep = {};
	bool found = false;
	int r = pol_check(pol, inv, &rep);

	for (size_t i = 0; i < rep.n; i++)
		if (rep.diags[i].severity == POL_SEVERITY_WARNING &&
		    strcmp(rep.diags[i].path, path) == 0 && strstr(rep.diags[i].message, needle))
			found = true;
	if (r != 0 || !found) {
		print_error("for %s\n  got %d with:\n", s, r);
		for (size_t i = 0; i < rep.n; i++)
			print_error("    %s %s: %s\n",
				    rep.diags[i].severity == POL_SEVERITY_ERROR ? "error"
										: "warning",
				    rep.diags[i].path, rep.diags[i].message);
		print_error("  expected warning %s: ...%s...\n", path, needle);
	}
	assert_int_equal(r, 0);
	assert_true(found);
	assert_int_equal(pol_validate(pol, inv, NULL), 0);
	pol_report_clear(&rep);
	policy_free(pol);
}

static void validate_warns(const char *s, const char *path, const char *needle)
{
	validate_warns_on(&node, s, path, needle);
}

/* Shapes. */

static void test_bare_config(void **state)
{
	struct policy *pol = parse_ok("{'permittedHostDevices': {"
				      "  'pciHostDevices': [{'pciVendorSelector': '10DE:1EB8',"
				      "    'resourceName': 'nvidia.com/TU104GL_Tesla_T4', "
				      "'externalResourceProvider': true}],"
				      "  'mediatedDevices': [{'mdevNameSelector': 'GRID T4-1Q',"
				      "    'resourceName': 'nvidia.com/GRID_T4-1Q'}]},"
				      " 'mediatedDevicesConfiguration': {'mediatedDeviceTypes': "
				      "['nvidia-222', 'mtty-2']}}");

	assert_int_equal(pol->shape, POL_SHAPE_BARE);
	assert_int_equal(pol->n_pci_devices, 1);
	assert_string_equal(pol->pci_devices[0].selector, "10de:1eb8");
	assert_string_equal(pol->pci_devices[0].resource_name, "nvidia.com/TU104GL_Tesla_T4");
	assert_true(pol->pci_devices[0].external_resource_provider);
	assert_int_equal(pol->n_mdev_devices, 1);
	assert_string_equal(pol->mdev_devices[0].name_selector, "GRID T4-1Q");
	assert_false(pol->mdev_devices[0].external_resource_provider);
	assert_int_equal(pol->n_mediated_device_types, 2);
	assert_string_equal(pol->mediated_device_types[0], "nvidia-222");
	assert_string_equal(pol->mediated_device_types[1], "mtty-2");
	assert_string_equal(pol->mediated_device_types_path,
			    "$.mediatedDevicesConfiguration.mediatedDeviceTypes");
	assert_int_equal(pol->n_layouts, 0);
	assert_false(pol->remove_unowned);
	assert_false(pol->mediated_devices_disabled);
	assert_int_equal(pol_validate(pol, &node, NULL), 0);
	policy_free(pol);
}

static void test_empty_policies(void **state)
{
	struct policy *pol = parse_ok("{}");

	assert_int_equal(pol->shape, POL_SHAPE_BARE);
	assert_int_equal(pol->n_layouts + pol->n_mediated_device_types + pol->n_pci_devices +
				 pol->n_mdev_devices,
			 0);
	assert_null(pol->mediated_device_types_path);
	assert_int_equal(pol_validate(pol, &empty_node, NULL), 0);
	policy_free(pol);

	/* null sections are absent sections, as Go's encoding/json reads them */
	policy_free(parse_ok("{'permittedHostDevices': null, 'mdevd': null}"));
	/* a CR without spec or configuration: nothing asked */
	pol = parse_ok("{'kind': 'KubeVirt', 'metadata': {'name': 'kubevirt'}}");
	assert_int_equal(pol->shape, POL_SHAPE_KUBEVIRT);
	policy_free(pol);
	policy_free(parse_ok("{'kind': 'KubeVirt', 'spec': {'imagePullPolicy': 'Always'}}"));
	policy_free(parse_ok("{'kind': 'HyperConverged', 'spec': {}}"));
	policy_free(parse_ok("{'mdevd': {'layouts': []}}"));
}

static void test_kubevirt_cr(void **state)
{
	struct policy *pol = parse_ok(
		"{'apiVersion': 'kubevirt.io/v1', 'kind': 'KubeVirt',"
		" 'metadata': {'name': 'kubevirt', 'annotations': {'x': 'y'}},"
		" 'status': {'phase': 'Deployed', 'whatever': [1, 2]},"
		" 'spec': {'imagePullPolicy': 'IfNotPresent', 'configuration': {"
		"   'developerConfiguration': {'featureGates': ['GPU']},"
		"   'permittedHostDevices': {'pciHostDevices': [{'pciVendorSelector': '10de:2236',"
		"      'resourceName': 'nvidia.com/GA102GL_A10'}],"
		"     'usb': [{'resourceName': 'kubevirt.io/storage'}]},"
		"   'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['nvidia-222'],"
		"     'enabled': false}}},"
		" 'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {'mtty-2': 3}}],"
		"   'removeUnowned': true}}");

	assert_int_equal(pol->shape, POL_SHAPE_KUBEVIRT);
	assert_int_equal(pol->n_pci_devices, 1);
	assert_string_equal(pol->pci_devices[0].selector, "10de:2236");
	assert_string_equal(
		pol->mediated_device_types_path,
		"$.spec.configuration.mediatedDevicesConfiguration.mediatedDeviceTypes");
	assert_true(pol->mediated_devices_disabled);
	assert_int_equal(pol->n_layouts, 1);
	assert_true(pol->remove_unowned);
	assert_string_equal(pol_shape_str(pol->shape), "KubeVirt CR");
	policy_free(pol);
}

static void test_hyperconverged_cr(void **state)
{
	struct policy *pol = parse_ok(
		"{'apiVersion': 'hco.kubevirt.io/v1beta1', 'kind': 'HyperConverged',"
		" 'metadata': {'name': 'kubevirt-hyperconverged'},"
		" 'spec': {'featureGates': {}, 'permittedHostDevices': {"
		"   'pciHostDevices': ["
		"     {'pciDeviceSelector': '10de:1eb8', 'resourceName': 'nvidia.com/T4',"
		"      'disabled': true},"
		"     {'pciDeviceSelector': '10DE:2236', 'resourceName': 'nvidia.com/A10',"
		"      'disabled': false}],"
		"   'mediatedDevices': [{'mdevNameSelector': 'GRID T4-1Q',"
		"      'resourceName': 'nvidia.com/GRID_T4-1Q', 'disabled': true}],"
		"   'usbHostDevices': []},"
		"  'mediatedDevicesConfiguration': {'mediatedDevicesTypes': ['nvidia-223']}}}");

	assert_int_equal(pol->shape, POL_SHAPE_HYPERCONVERGED);
	/* disabled entries are left out */
	assert_int_equal(pol->n_pci_devices, 1);
	assert_string_equal(pol->pci_devices[0].selector, "10de:2236");
	assert_int_equal(pol->n_mdev_devices, 0);
	/* the deprecated spelling is read, and messages name it */
	assert_int_equal(pol->n_mediated_device_types, 1);
	assert_string_equal(pol->mediated_device_types_path,
			    "$.spec.mediatedDevicesConfiguration.mediatedDevicesTypes");
	policy_free(pol);

	/* a disabled entry still has to be well formed */
	parse_fails("{'kind': 'HyperConverged', 'spec': {'permittedHostDevices': {"
		    "'pciHostDevices': [{'pciDeviceSelector': 'nope', 'resourceName': 'a.b/c',"
		    " 'disabled': true}]}}}",
		    "$.spec.permittedHostDevices.pciHostDevices[0].pciDeviceSelector",
		    "not vendor:device");
}

static void test_shape_errors(void **state)
{
	parse_fails("[]", "$", "must be a JSON object (a YAML mapping), not an array");
	parse_fails("'KubeVirt'", "$", "not a string");
	parse_fails("{'kind': 'VirtualMachine', 'spec': {}}", "$.kind",
		    "unsupported kind \"VirtualMachine\"");
	parse_fails("{'kind': 'Kubevirt'}", "$.kind", "did you mean \"KubeVirt\"?");
	parse_fails("{'kind': 3}", "$.kind", "must be a string, not a number");
	parse_fails("{'spec': {'configuration': {}}}", "$.spec",
		    "a whole CR needs \"kind\": \"KubeVirt\" or \"HyperConverged\"");
	parse_fails("{'kind': 'KubeVirt', 'spec': []}", "$.spec", "must be an object");
	parse_fails("{'kind': 'KubeVirt', 'spec': {'configuration': 'x'}}", "$.spec.configuration",
		    "must be an object, not a string");
	/* the mdevd section lives at the top level in a CR */
	parse_fails("{'kind': 'KubeVirt', 'spec': {'configuration': {'mdevd': {}}}}",
		    "$.spec.configuration.mdevd", "belongs at the top level");
	parse_fails("{'kind': 'HyperConverged', 'spec': {'mdevd': {}}}", "$.spec.mdevd",
		    "belongs at the top level");
	/* in a KubeVirt CR's spec too (issue 14: it passed, and its layouts were dropped) */
	parse_fails("{'kind': 'KubeVirt', 'spec': {'configuration': {}, 'mdevd': {'layouts': "
		    "[{'parents': 'all', 'types': {'mtty-2': 1}}]}}}",
		    "$.spec.mdevd", "belongs at the top level of the document, beside \"kind\"");
}

/* Keys. */

static void test_unknown_keys(void **state)
{
	parse_fails("{'mdevd': {'layout': []}}", "$.mdevd.layout",
		    "unknown key (did you mean \"layouts\"?)");
	parse_fails("{'mdevd': {'removeunowned': true}}", "$.mdevd.removeunowned",
		    "did you mean \"removeUnowned\"?");
	parse_fails("{'mdevd': {'colour': 1}}", "$.mdevd.colour",
		    "unknown key (expected one of: layouts, removeUnowned, vfioPci)");
	parse_fails("{'permitedHostDevices': {}}", "$.permitedHostDevices",
		    "did you mean \"permittedHostDevices\"?");
	parse_fails("{'permittedHostDevices': {'pciHostDevice': []}}",
		    "$.permittedHostDevices.pciHostDevice", "did you mean \"pciHostDevices\"?");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all', 'type': {}}]}}",
		    "$.mdevd.layouts[0].type", "did you mean \"types\"?");
	parse_fails("{'mediatedDevicesConfiguration': {'MediatedDeviceTypes': []}}",
		    "$.mediatedDevicesConfiguration.MediatedDeviceTypes",
		    "did you mean \"mediatedDeviceTypes\"?");
	/* keys with odd characters are quoted in the path */
	parse_fails("{'mdevd': {'lay outs': []}}", "$.mdevd[\"lay outs\"]", "did you mean");
	parse_fails("{'mdevd': {'a\\'b': 1}}", "$.mdevd[\"a\\\"b\"]", "unknown key");
	/* inside a CR, unknown keys in the sections mdevd reads are still errors */
	parse_fails("{'kind': 'KubeVirt', 'spec': {'configuration': {'permittedHostDevices': "
		    "{'bogus': 1}}}}",
		    "$.spec.configuration.permittedHostDevices.bogus", "unknown key");
	/* one shape's keys in another */
	parse_fails("{'permittedHostDevices': {'pciHostDevices': [{'pciDeviceSelector': "
		    "'10de:1eb8', 'resourceName': 'nvidia.com/T4'}]}}",
		    "$.permittedHostDevices.pciHostDevices[0].pciDeviceSelector",
		    "the HyperConverged CR's spelling; a bare config says \"pciVendorSelector\"");
	parse_fails("{'kind': 'KubeVirt', 'spec': {'configuration': {'permittedHostDevices': "
		    "{'mediatedDevices': [{'mdevNameSelector': 'x', 'resourceName': 'a.b/c', "
		    "'disabled': true}]}}}}",
		    "$.spec.configuration.permittedHostDevices.mediatedDevices[0].disabled",
		    "only a HyperConverged CR has it");
	parse_fails("{'kind': 'HyperConverged', 'spec': {'permittedHostDevices': {'usb': []}}}",
		    "$.spec.permittedHostDevices.usb",
		    "a HyperConverged CR spells it \"usbHostDevices\"");
	parse_fails("{'kind': 'HyperConverged', 'spec': {'mediatedDevicesConfiguration': "
		    "{'enabled': true}}}",
		    "$.spec.mediatedDevicesConfiguration.enabled", "only a KubeVirt config has it");
}

static void test_duplicate_keys(void **state)
{
	parse_fails("{'mdevd': {}, 'mdevd': {}}", "$.mdevd", "duplicate key");
	parse_fails("{'kind': 'KubeVirt', 'spec': {}, 'spec': {}}", "$.spec", "duplicate key");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all', 'types': {'mtty-2': 1, "
		    "'mtty-2': 2}}]}}",
		    "$.mdevd.layouts[0].types[\"mtty-2\"]", "duplicate key");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all', 'types': {'GRID T4-1Q': 1, "
		    "' GRID_T4-1Q': 2}}]}}",
		    "$.mdevd.layouts[0].types[\" GRID_T4-1Q\"]",
		    "names the same type as types[\"GRID T4-1Q\"]");
	parse_fails("{'permittedHostDevices': {'mediatedDevices': [{'mdevNameSelector': 'a', "
		    "'mdevNameSelector': 'b', 'resourceName': 'x.y/z'}]}}",
		    "$.permittedHostDevices.mediatedDevices[0].mdevNameSelector", "duplicate key");
}

/* Counts. */

static void test_counts(void **state)
{
	struct policy *pol = parse_ok(
		"{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {'mtty-2': 3, 'mtty-1': 0}},"
		" {'parents': ['10de:1eb8'], 'types': {'GRID T4-1Q': 'max'}},"
		" {'parents': ['10de:2236'], 'types': {'nvidia-593': 1e1}}]}}");

	assert_int_equal(pol->n_layouts, 3);
	assert_int_equal(pol->layouts[0].n_types, 2);
	/* order as written */
	assert_string_equal(pol->layouts[0].types[0].type, "mtty-2");
	assert_int_equal(pol->layouts[0].types[0].count, 3);
	assert_string_equal(pol->layouts[0].types[1].type, "mtty-1");
	assert_int_equal(pol->layouts[0].types[1].count, 0);
	assert_int_equal(pol->layouts[1].types[0].count, POL_COUNT_MAX);
	assert_int_equal(pol->layouts[2].types[0].count, 10);
	policy_free(pol);

#define COUNT(v) "{'mdevd': {'layouts': [{'parents': 'all', 'types': {'mtty-2': " v "}}]}}"
#define AT	 "$.mdevd.layouts[0].types[\"mtty-2\"]"
	parse_fails(COUNT("-1"), AT, "must be a count >= 0 or \"max\", not -1");
	parse_fails(COUNT("2.5"), AT, "must be a whole number, not 2.5");
	parse_fails(COUNT("'3'"), AT, "not the string \"3\": write it without quotes");
	parse_fails(COUNT("'lots'"), AT, "not the string \"lots\"");
	parse_fails(COUNT("'MAX'"), AT, "did you mean \"max\"?");
	parse_fails(COUNT("true"), AT, "not a boolean");
	parse_fails(COUNT("null"), AT, "not null");
	parse_fails(COUNT("[1]"), AT, "not an array");
	parse_fails(COUNT("1e10"), AT, "is too large");
#undef COUNT
#undef AT
}

/* Parents. */

static void test_parents(void **state)
{
	struct policy *pol = parse_ok(
		"{'mdevd': {'layouts': [{'parents': ['0000:65:00.0', '66:00.0', '10DE:2236', "
		"'mtty', '0000:3B:00.4'], 'types': {}}]}}");
	const struct pol_layout *l = &pol->layouts[0];

	assert_false(l->all_parents);
	assert_int_equal(l->n_parents, 5);
	assert_int_equal(l->parents[0].kind, POL_PARENT_ADDRESS);
	assert_string_equal(l->parents[0].value, "0000:65:00.0");
	assert_int_equal(l->parents[1].kind, POL_PARENT_ADDRESS);
	assert_string_equal(l->parents[1].value, "0000:66:00.0");
	assert_int_equal(l->parents[2].kind, POL_PARENT_VENDOR_DEVICE);
	assert_string_equal(l->parents[2].value, "10de:2236");
	assert_int_equal(l->parents[3].kind, POL_PARENT_NAME);
	assert_string_equal(l->parents[3].value, "mtty");
	assert_string_equal(l->parents[4].value, "0000:3b:00.4");
	assert_int_equal(l->n_types, 0);
	policy_free(pol);

	pol = parse_ok("{'mdevd': {'layouts': [{'parents': 'all', 'types': {'mtty-2': 1}}]}}");
	assert_true(pol->layouts[0].all_parents);
	assert_int_equal(pol->layouts[0].n_parents, 0);
	policy_free(pol);

#define LAYOUT(p) "{'mdevd': {'layouts': [{'parents': " p ", 'types': {}}]}}"
	parse_fails(LAYOUT("'ALL'"), "$.mdevd.layouts[0].parents", "did you mean \"all\"?");
	parse_fails(LAYOUT("'mtty'"), "$.mdevd.layouts[0].parents",
		    "write one parent as [\"mtty\"]");
	parse_fails(LAYOUT("[]"), "$.mdevd.layouts[0].parents", "is empty");
	parse_fails(LAYOUT("{}"), "$.mdevd.layouts[0].parents", "not an object");
	parse_fails(LAYOUT("['all']"), "$.mdevd.layouts[0].parents[0]",
		    "write \"parents\": \"all\"");
	parse_fails(LAYOUT("['mtty', '']"), "$.mdevd.layouts[0].parents[1]", "must not be empty");
	parse_fails(LAYOUT("['mtty', 7]"), "$.mdevd.layouts[0].parents[1]",
		    "must be a string, not a number");
	parse_fails(LAYOUT("['../mtty']"), "$.mdevd.layouts[0].parents[0]", "no '/'");
	parse_fails(LAYOUT("['65:00.0', '0000:65:00.0']"), "$.mdevd.layouts[0].parents[1]",
		    "\"0000:65:00.0\" is listed twice (also at [0])");
#undef LAYOUT
	parse_fails("{'mdevd': {'layouts': [{'types': {}}]}}", "$.mdevd.layouts[0]",
		    "missing \"parents\"");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all'}]}}", "$.mdevd.layouts[0]",
		    "missing \"types\"");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all', 'types': ['mtty-2']}]}}",
		    "$.mdevd.layouts[0].types", "must be an object of type to count");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all', 'types': {'  ': 1}}]}}",
		    "$.mdevd.layouts[0].types[\"  \"]", "must not be empty");
	parse_fails("{'mdevd': {'layouts': {}}}", "$.mdevd.layouts", "must be a list");
	parse_fails("{'mdevd': {'layouts': [3]}}", "$.mdevd.layouts[0]", "must be an object");
	parse_fails("{'mdevd': {'removeUnowned': 'yes'}}", "$.mdevd.removeUnowned",
		    "must be true or false, not a string");
}

static void test_parents_in_two_layouts(void **state)
{
	parse_fails("{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {}},"
		    " {'parents': ['10de:1eb8', 'mtty'], 'types': {}}]}}",
		    "$.mdevd.layouts[1].parents[1]",
		    "parent name \"mtty\" is also in $.mdevd.layouts[0].parents[0]");
	parse_fails("{'mdevd': {'layouts': [{'parents': 'all', 'types': {}},"
		    " {'parents': ['mtty'], 'types': {}}, {'parents': 'all', 'types': {}}]}}",
		    "$.mdevd.layouts[2].parents", "\"all\" is also $.mdevd.layouts[0].parents");
	/* "all" takes what no other layout selects, in any order */
	validate_ok("{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {'mtty-2': 1}},"
		    " {'parents': 'all', 'types': {}}]}}");
	validate_ok("{'mdevd': {'layouts': [{'parents': 'all', 'types': {}},"
		    " {'parents': ['mtty'], 'types': {'mtty-2': 1}}]}}");
	/* an address beats vendor:device (mdevd-policy(5)'s T4 example) */
	validate_ok("{'mdevd': {'layouts': [{'parents': ['0000:65:00.0'], 'types': {'GRID T4-2Q': "
		    "2}}, {'parents': ['10de:1eb8'], 'types': {'GRID T4-1Q': 8}}]}}");
	validate_ok("{'mdevd': {'layouts': [{'parents': ['10de:1eb8'], 'types': {}},"
		    " {'parents': ['mtty', '0000:65:00.0'], 'types': {}}]}}");
	/* a layout left with nothing: every parent it names has a more specific layout */
	validate_warns("{'mdevd': {'layouts': [{'parents': ['10de:2236'], 'types': {}},"
		       " {'parents': ['0000:b1:00.0'], 'types': {}}]}}",
		       "$.mdevd.layouts[0].parents", "taken by a more specific layout");
	validate_ok("{'mdevd': {'layouts': [{'parents': ['10de:1eb8'], 'types': {}},"
		    " {'parents': ['mtty', '10de:2236'], 'types': {}}]}}");
}

/* permittedHostDevices. */

static void test_selectors(void **state)
{
#define PCI(sel, res)                                                                              \
	"{'permittedHostDevices': {'pciHostDevices': [{'pciVendorSelector': " sel                  \
	", 'resourceName': " res "}]}}"
#define PCI_AT "$.permittedHostDevices.pciHostDevices[0]"
	parse_fails(PCI("'10de1eb8'", "'nvidia.com/T4'"), PCI_AT ".pciVendorSelector",
		    "\"10de1eb8\" is not vendor:device in hexadecimal, like \"10de:1eb8\"");
	parse_fails(PCI("'10de:1eb'", "'nvidia.com/T4'"), PCI_AT ".pciVendorSelector",
		    "not vendor:device");
	parse_fails(PCI("'10dg:1eb8'", "'nvidia.com/T4'"), PCI_AT ".pciVendorSelector",
		    "not vendor:device");
	parse_fails(PCI("4318", "'nvidia.com/T4'"), PCI_AT ".pciVendorSelector",
		    "must be a string, not a number");
	parse_fails(PCI("'10de:1eb8'", "'T4'"), PCI_AT ".resourceName", "needs a domain prefix");
	parse_fails(PCI("'10de:1eb8'", "42"), PCI_AT ".resourceName", "must be a string");
	parse_fails("{'permittedHostDevices': {'pciHostDevices': [{'resourceName': 'a.b/c'}]}}",
		    PCI_AT, "missing \"pciVendorSelector\"");
	parse_fails("{'permittedHostDevices': {'pciHostDevices': [{'pciVendorSelector': "
		    "'10de:1eb8'}]}}",
		    PCI_AT, "missing \"resourceName\"");
	parse_fails("{'permittedHostDevices': {'pciHostDevices': [{'pciVendorSelector': "
		    "'10de:1eb8', 'resourceName': 'a.b/c', 'externalResourceProvider': 'yes'}]}}",
		    PCI_AT ".externalResourceProvider", "must be true or false");
	parse_fails("{'permittedHostDevices': {'pciHostDevices': ["
		    "{'pciVendorSelector': '10de:1eb8', 'resourceName': 'a.b/c'},"
		    "{'pciVendorSelector': '10DE:1EB8', 'resourceName': 'a.b/d'}]}}",
		    "$.permittedHostDevices.pciHostDevices[1].pciVendorSelector",
		    "\"10de:1eb8\" is already selected by pciHostDevices[0]");
	parse_fails("{'permittedHostDevices': {'pciHostDevices': {}}}",
		    "$.permittedHostDevices.pciHostDevices", "must be a list, not an object");
#undef PCI
#undef PCI_AT

#define MDEV_AT "$.permittedHostDevices.mediatedDevices"
	parse_fails("{'permittedHostDevices': {'mediatedDevices': [{'mdevNameSelector': '',"
		    " 'resourceName': 'a.b/c'}]}}",
		    MDEV_AT "[0].mdevNameSelector", "must not be empty");
	parse_fails("{'permittedHostDevices': {'mediatedDevices': [{'mdevNameSelector': '  ',"
		    " 'resourceName': 'a.b/c'}]}}",
		    MDEV_AT "[0].mdevNameSelector", "must not be empty");
	parse_fails("{'permittedHostDevices': {'mediatedDevices': [{'resourceName': 'a.b/c'}]}}",
		    MDEV_AT "[0]", "missing \"mdevNameSelector\"");
	parse_fails("{'permittedHostDevices': {'mediatedDevices': ["
		    "{'mdevNameSelector': 'GRID T4-1Q', 'resourceName': 'a.b/c'},"
		    "{'mdevNameSelector': 'GRID_T4-1Q ', 'resourceName': 'a.b/d'}]}}",
		    MDEV_AT "[1].mdevNameSelector",
		    "\"GRID_T4-1Q \" is already selected by mediatedDevices[0]");
	/* one resource holds PCI functions or mdevs, not both */
	parse_fails(
		"{'permittedHostDevices': {"
		"'mediatedDevices': [{'mdevNameSelector': 'x', 'resourceName': 'a.b/c'}],"
		"'pciHostDevices': [{'pciVendorSelector': '10de:1eb8', 'resourceName': 'a.b/c'}]}}",
		MDEV_AT "[0].resourceName", "already the resource of pciHostDevices[0]");
#undef MDEV_AT
	/* an mdevNameSelector that matches nothing here is fine: devices may come later */
	validate_ok("{'permittedHostDevices': {'mediatedDevices': [{'mdevNameSelector': "
		    "'GRID A100-40C', 'resourceName': 'nvidia.com/GRID_A100-40C'}]}}");
}

static void test_resource_names(void **state)
{
	static const char *const good[] = {
		"nvidia.com/GRID_T4-1Q",   "example.com/MTTY_DUAL",	"a/b",
		"a-b.c-d.example/x.y_z-1", "intel.com/sriov_netdevice", "devices.kubevirt.io/kvm",
	};
	static const struct {
		const char *name, *why;
	} bad[] = {
		{"", "empty"},
		{"GRID_T4-1Q", "needs a domain prefix"},
		{"kubernetes.io/gpu", "kubernetes.io domain"},
		{"foo.kubernetes.io/gpu", "kubernetes.io domain"},
		{"requests.nvidia.com/gpu", "requests."},
		{"Nvidia.com/gpu", "not a DNS subdomain"},
		{"nvidia_corp.com/gpu", "not a DNS subdomain"},
		{"-nvidia.com/gpu", "not a DNS subdomain"},
		{"nvidia-.com/gpu", "not a DNS subdomain"},
		{"nvidia..com/gpu", "not a DNS subdomain"},
		{"nvidia.com./gpu", "not a DNS subdomain"},
		{"/gpu", "empty domain"},
		{"nvidia.com/", "empty name"},
		{"nvidia.com/-gpu", "start and end with a letter or digit"},
		{"nvidia.com/gpu_", "start and end with a letter or digit"},
		{"nvidia.com/GRID T4-1Q", "write spaces as '_'"},
		{"nvidia.com/a/b", "exactly one '/'"},
	};
	char name[400];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		const char *why = pol_resource_name_error(good[i]);

		if (why)
			print_error("%s: %s\n", good[i], why);
		assert_null(why);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *why = pol_resource_name_error(bad[i].name);

		if (!why || !strstr(why, bad[i].why))
			print_error("%s: got %s, expected ...%s...\n", bad[i].name, why,
				    bad[i].why);
		assert_non_null(why);
		assert_non_null(strstr(why, bad[i].why));
	}
	/* the name part: 63 characters at most */
	snprintf(name, sizeof(name), "nvidia.com/%063d", 0);
	assert_null(pol_resource_name_error(name));
	snprintf(name, sizeof(name), "nvidia.com/%064d", 0);
	assert_non_null(strstr(pol_resource_name_error(name), "longer than 63"));
	/* the domain: 253 - strlen("requests.") = 244 characters at most */
	memset(name, 'a', 244);
	strcpy(name + 244, "/x");
	assert_null(pol_resource_name_error(name));
	memset(name, 'a', 245);
	strcpy(name + 245, "/x");
	assert_non_null(strstr(pol_resource_name_error(name), "longer than 244"));
	parse_fails(
		"{'permittedHostDevices': {'mediatedDevices': [{'mdevNameSelector': 'x', "
		"'resourceName': 'kubernetes.io/x'}]}}",
		"$.permittedHostDevices.mediatedDevices[0].resourceName",
		"\"kubernetes.io/x\" is not a Kubernetes extended resource name: it must not be "
		"in the kubernetes.io domain");
}

/* mediatedDevicesConfiguration. */

static void test_mediated_devices_configuration(void **state)
{
	struct policy *pol;

#define MDC_AT "$.mediatedDevicesConfiguration"
	/* the deprecated spelling alone, or both when they agree */
	pol = parse_ok(
		"{'mediatedDevicesConfiguration': {'mediatedDevicesTypes': ['nvidia-222']}}");
	assert_int_equal(pol->n_mediated_device_types, 1);
	assert_string_equal(pol->mediated_device_types_path, MDC_AT ".mediatedDevicesTypes");
	policy_free(pol);
	pol = parse_ok("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['a', 'b'],"
		       " 'mediatedDevicesTypes': ['a', 'b'], 'nodeMediatedDeviceTypes': []}}");
	assert_int_equal(pol->n_mediated_device_types, 2);
	assert_string_equal(pol->mediated_device_types_path, MDC_AT ".mediatedDeviceTypes");
	policy_free(pol);
	pol = parse_ok("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': [],"
		       " 'mediatedDevicesTypes': ['b']}}");
	assert_int_equal(pol->n_mediated_device_types, 1);
	assert_string_equal(pol->mediated_device_types[0], "b");
	policy_free(pol);

	parse_fails("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['a'],"
		    " 'mediatedDevicesTypes': ['b']}}",
		    MDC_AT ".mediatedDevicesTypes", "differs from mediatedDeviceTypes");
	parse_fails("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['a', 'b', 'a']}}",
		    MDC_AT ".mediatedDeviceTypes[2]", "\"a\" is listed twice (also at [0])");
	parse_fails("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['a', '']}}",
		    MDC_AT ".mediatedDeviceTypes[1]", "must not be empty");
	parse_fails("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': 'nvidia-222'}}",
		    MDC_AT ".mediatedDeviceTypes", "must be a list, not a string");
	parse_fails("{'mediatedDevicesConfiguration': {'nodeMediatedDeviceTypes': {}}}",
		    MDC_AT ".nodeMediatedDeviceTypes", "must be a list");
	parse_fails("{'mediatedDevicesConfiguration': {'enabled': 'no'}}", MDC_AT ".enabled",
		    "must be true or false");
	parse_fails("{'mediatedDevicesConfiguration': []}", MDC_AT, "must be an object");
#undef MDC_AT
}

/* JSON syntax, sizes, byte order marks. */

static void test_syntax_errors(void **state)
{
	struct policy *pol = NULL;
	struct pol_error err;
	const char *doc;

	doc = "{\n  \"mdevd\": {\n    \"layouts\": [,]\n  }\n}\n";
	assert_int_equal(pol_parse(doc, strlen(doc), &pol, &err), -EINVAL);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.path, "$");
	assert_string_equal(err.message, "invalid JSON at column 17, near '\"layouts\": [,]'");

	doc = "{\"mdevd\": {\"layouts\": []}\n";
	assert_int_equal(pol_parse(doc, strlen(doc), &pol, &err), -EINVAL);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.message, "the document ends early"));

	doc = "{\"mdevd\": {}}\n\n{}";
	assert_int_equal(pol_parse(doc, strlen(doc), &pol, &err), -EINVAL);
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.message, "unexpected text after the JSON document"));

	doc = " \n\t ";
	assert_int_equal(pol_parse(doc, strlen(doc), &pol, &err), -EINVAL);
	assert_non_null(strstr(err.message, "the document is empty"));
	assert_int_equal(pol_parse("", 0, &pol, &err), -EINVAL);
	assert_int_equal(pol_parse("", 0, &pol, NULL), -EINVAL);

	/* a NUL inside the given length is not the end of the document */
	assert_int_equal(pol_parse("{}\0{}", 5, &pol, &err), -EINVAL);
	assert_int_equal(err.line, 1);
	assert_null(pol);
}

static void test_buffers(void **state)
{
	struct policy *pol = NULL;
	struct pol_error err;
	const char bom[] = "\xef\xbb\xbf{\"mdevd\": {}}";
	/* not NUL-terminated: only @len bytes are read */
	const char prefix[] = "{}trailing garbage that is not part of the document";

	assert_int_equal(pol_parse(bom, strlen(bom), &pol, &err), 0);
	policy_free(pol);
	pol = NULL;
	assert_int_equal(pol_parse(prefix, 2, &pol, &err), 0);
	policy_free(pol);
}

static void test_huge_input(void **state)
{
	struct policy *pol = NULL;
	struct pol_error err;
	size_t n = POL_MAX_SIZE + 1, len;
	char *buf = malloc(n);

	assert_non_null(buf);
	memset(buf, ' ', n);
	buf[0] = '{';
	buf[n - 1] = '}';
	assert_int_equal(pol_parse(buf, n, &pol, &err), -EINVAL);
	assert_non_null(strstr(err.message, "larger than 16 MiB"));

	/* deep nesting: cJSON's nesting limit, no stack overflow */
	memset(buf, '[', 100000);
	assert_int_equal(pol_parse(buf, 100000, &pol, &err), -EINVAL);
	assert_true(err.line >= 1);

	/* a list over the limit */
	len = (size_t)sprintf(buf,
			      "{\"mediatedDevicesConfiguration\": {\"mediatedDeviceTypes\": [");
	for (int i = 0; i <= POL_MAX_ENTRIES; i++)
		len += (size_t)sprintf(buf + len, "%s\"t-%d\"", i ? "," : "", i);
	len += (size_t)sprintf(buf + len, "]}}");
	assert_int_equal(pol_parse(buf, len, &pol, &err), -EINVAL);
	assert_string_equal(err.path, "$.mediatedDevicesConfiguration.mediatedDeviceTypes");
	assert_non_null(strstr(err.message, "more than 1024 entries"));

	/* a large policy at the limit parses */
	len = (size_t)sprintf(buf,
			      "{\"mdevd\": {\"layouts\": [{\"parents\": \"all\", \"types\": {");
	for (int i = 0; i < POL_MAX_ENTRIES; i++)
		len += (size_t)sprintf(buf + len, "%s\"type-%d\": %d", i ? "," : "", i, i);
	len += (size_t)sprintf(buf + len, "}}]}}");
	assert_int_equal(pol_parse(buf, len, &pol, &err), 0);
	assert_int_equal(pol->layouts[0].n_types, POL_MAX_ENTRIES);
	assert_int_equal(pol->layouts[0].types[1023].count, 1023);
	policy_free(pol);
	pol = NULL;

	/* a type key too long for a name; its path is cut short, not overrun */
	len = (size_t)sprintf(buf,
			      "{\"mdevd\": {\"layouts\": [{\"parents\": \"all\", \"types\": {\"");
	memset(buf + len, 'x', 5000);
	len += 5000;
	len += (size_t)sprintf(buf + len, "\": 1}}]}}");
	assert_int_equal(pol_parse(buf, len, &pol, &err), -EINVAL);
	assert_int_equal(strlen(err.path), POL_PATH_MAX - 1);
	assert_non_null(strstr(err.message, "at most 255 bytes"));
	free(buf);
}

/* Names and lookups. */

static void test_normalize_name(void **state)
{
	char buf[32];

	assert_int_equal(pol_normalize_name("  GRID T4-1Q \n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "GRID_T4-1Q");
	assert_int_equal(pol_normalize_name("Dual port serial", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Dual_port_serial");
	assert_int_equal(pol_normalize_name("", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(pol_normalize_name("   ", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(pol_normalize_name("abcdef", buf, 6), -ENAMETOOLONG);
	assert_int_equal(pol_normalize_name(" abcde ", buf, 6), 0);
	assert_string_equal(buf, "abcde");
	assert_int_equal(pol_normalize_name("x", buf, 0), -ENAMETOOLONG);
}

static void test_lookups(void **state)
{
	struct policy *pol = parse_ok(
		"{'mdevd': {'layouts': [{'parents': ['10de:1eb8'], 'types': {'GRID T4-1Q': 1}},"
		" {'parents': ['mtty', 'b1:00.0'], 'types': {}}]}}");

	assert_ptr_equal(pol_get_layout(pol, &node_parents[0]), &pol->layouts[0]);
	assert_ptr_equal(pol_get_layout(pol, &node_parents[1]), &pol->layouts[0]);
	assert_ptr_equal(pol_get_layout(pol, &node_parents[2]), &pol->layouts[1]);
	assert_ptr_equal(pol_get_layout(pol, &node_parents[3]), &pol->layouts[1]);
	assert_false(pol_parent_matches(&pol->layouts[0].parents[0], &node_parents[3]));
	assert_true(pol_parent_matches(&pol->layouts[1].parents[1], &node_parents[2]));
	policy_free(pol);

	/* by id, by name, by normalised name */
	assert_ptr_equal(pol_find_type(&node_parents[0], "nvidia-223"), &t4_types[1]);
	assert_ptr_equal(pol_find_type(&node_parents[0], "GRID T4-1Q"), &t4_types[0]);
	assert_ptr_equal(pol_find_type(&node_parents[0], " GRID_T4-1Q "), &t4_types[0]);
	assert_ptr_equal(pol_find_type(&node_parents[3], "Dual_port_serial"), &mtty_types[1]);
	assert_null(pol_find_type(&node_parents[0], "grid t4-1q"));
	assert_null(pol_find_type(&node_parents[3], "nvidia-222"));
	assert_null(pol_find_type(&node_parents[3], ""));
}

/* pol_validate. */

static void test_validate_types(void **state)
{
	validate_ok("{'mdevd': {'layouts': [{'parents': ['10de:1eb8'], 'types': {'GRID T4-1Q': 4}},"
		    " {'parents': ['mtty'], 'types': {'Dual_port_serial': 1, 'mtty-1': 'max'}}]}}");
	validate_ok("{'mdevd': {'layouts': [{'parents': 'all', 'types': {'nvidia-593': 1}}]}}");

	/* a type this node lacks: a warning, the rest applies */
	validate_warns("{'mdevd': {'layouts': [{'parents': 'all', 'types': {'nvidia-9999': 1}}]}}",
		       "$.mdevd.layouts[0].types[\"nvidia-9999\"]",
		       "no parent of this layout on this node offers this type (offered: mtty-1, "
		       "mtty-2, nvidia-222, nvidia-223, nvidia-224, nvidia-593)");
	/* a name was written: the offer is listed as id "name" */
	validate_warns(
		"{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {'GRID T4-1Q': 1}}]}}",
		"$.mdevd.layouts[0].types[\"GRID T4-1Q\"]",
		"none of this layout's parents offers this type (they offer: mtty-1 \"Single "
		"port serial\", mtty-2 \"Dual port serial\"); it is offered by 0000:65:00.0, "
		"0000:66:00.0, which this layout does not take");
	/* names compare exactly after normalisation: case matters */
	validate_warns("{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {'dual port serial': "
		       "1}}]}}",
		       "$.mdevd.layouts[0].types[\"dual port serial\"]",
		       "(offered: mtty-1 \"Single port serial\", mtty-2 \"Dual port serial\")");
	/* above capacity */
	validate_warns("{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {'mtty-2': 20}}]}}",
		       "$.mdevd.layouts[0].types[\"mtty-2\"]",
		       "asks for 20 on parent mtty, which can hold 12 of mtty-2 now (12 free, 0 "
		       "existing): 8 will not fit");
	/* mixed profiles on a time-sliced NVIDIA card */
	validate_warns("{'mdevd': {'layouts': [{'parents': ['0000:65:00.0'], 'types': "
		       "{'GRID T4-1Q': 4, 'GRID T4-2Q': 2}}]}}",
		       "$.mdevd.layouts[0].types[\"GRID T4-2Q\"]",
		       "parent 0000:65:00.0 is a time-sliced NVIDIA GPU, which runs one profile at "
		       "a time: once types[\"GRID T4-1Q\"] (nvidia-222) exists it offers no "
		       "nvidia-223");
	/* an id and a name of the same type in one layout */
	validate_fails("{'mdevd': {'layouts': [{'parents': ['0000:65:00.0'], 'types': "
		       "{'nvidia-222': 1, 'GRID T4-1Q': 2}}]}}",
		       "$.mdevd.layouts[0].types[\"GRID T4-1Q\"]",
		       "names the same type of parent 0000:65:00.0 (nvidia-222) as "
		       "types[\"nvidia-222\"]");
	validate_warns_on(&empty_node,
			  "{'mdevd': {'layouts': [{'parents': 'all', 'types': {'mtty-2': 1}}]}}",
			  "$.mdevd.layouts[0].types[\"mtty-2\"]", "it has no mdev parents");
}

static void test_validate_parents(void **state)
{
	validate_ok("{'mdevd': {'layouts': [{'parents': ['0000:65:00.0', '66:00.0', 'mtty', "
		    "'10de:2236'], 'types': {}}]}}");
	validate_warns(
		"{'mdevd': {'layouts': [{'parents': ['mtty', '0000:99:00.0'], 'types': {}}]}}",
		"$.mdevd.layouts[0].parents[1]",
		"no parent \"0000:99:00.0\" on this node (parents: 0000:65:00.0, "
		"0000:66:00.0, 0000:b1:00.0, mtty)");
	validate_warns("{'mdevd': {'layouts': [{'parents': ['mdpy'], 'types': {}}]}}",
		       "$.mdevd.layouts[0].parents[0]", "no parent \"mdpy\" on this node");
	validate_warns("{'mdevd': {'layouts': [{'parents': ['10de:20b0'], 'types': {}}]}}",
		       "$.mdevd.layouts[0].parents[0]",
		       "no PCI parent on this node is a 10de:20b0 device (PCI parents here: "
		       "10de:1eb8, 10de:2236)");
	validate_warns_on(&empty_node,
			  "{'mdevd': {'layouts': [{'parents': ['mtty'], 'types': {}}]}}",
			  "$.mdevd.layouts[0].parents[0]", "this node has no mdev parents");
}

static void test_validate_mediated_device_types(void **state)
{
	validate_ok("{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['nvidia-593', "
		    "'mtty-1']}}");
	validate_warns("{'kind': 'KubeVirt', 'spec': {'configuration': {"
		       "'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['nvidia-222', "
		       "'mtty-2', 'nvidia-9999']}}}}",
		       "$.spec.configuration.mediatedDevicesConfiguration.mediatedDeviceTypes[2]",
		       "type \"nvidia-9999\" is not offered by any parent on this node (offered: "
		       "mtty-1, mtty-2, nvidia-222, nvidia-223, nvidia-224, nvidia-593)");
	validate_fails("{'kind': 'HyperConverged', 'spec': {'mediatedDevicesConfiguration': "
		       "{'mediatedDevicesTypes': ['GRID T4-2Q']}}}",
		       "$.spec.mediatedDevicesConfiguration.mediatedDevicesTypes[0]",
		       "\"GRID T4-2Q\" is a type name; mediatedDeviceTypes takes type ids: "
		       "nvidia-223");
	validate_warns_on(&empty_node,
			  "{'mediatedDevicesConfiguration': {'mediatedDeviceTypes': ['mtty-2']}}",
			  "$.mediatedDevicesConfiguration.mediatedDeviceTypes[0]",
			  "it has no mdev parents");
}

static void test_validate_long_offered_list(void **state)
{
	struct mdev_type types[15];
	char ids[15][16];
	struct mdev_parent parent = {.name = (char *)"big", .types = types, .n_types = 15};
	struct mdev_parent parents[2] = {parent, parent};
	struct inventory inv = {.parents = parents, .n_parents = 2};

	/* two parents offering the same types: listed once, sorted, cut after 10 */
	for (int i = 0; i < 15; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t-%02d", 14 - i);
		types[i] = (struct mdev_type){.id = ids[i], .name = ids[i]};
	}
	parents[1].name = (char *)"big2";
	validate_warns_on(&inv, "{'mdevd': {'layouts': [{'parents': 'all', 'types': {'x': 1}}]}}",
			  "$.mdevd.layouts[0].types[\"x\"]",
			  "(offered: t-00, t-01, t-02, t-03, t-04, t-05, t-06, t-07, t-08, t-09, "
			  "… 5 more)");
}

/* A JSON policy's findings have no line and column, whatever the memory held before. */
static void test_check_no_stale_line_column(void **state)
{
	struct policy *pol = parse_ok("{'mdevd': {'layouts': [{'parents': ['mdpy', 'mbochs', "
				      "'10de:20b0', '10de:2235', '0000:99:00.0'], 'types': {}}]}}");
	struct pol_report rep = {.cap = 16};

	/* A report's array as realloc() may hand it over: stale bytes, not zeros. */
	rep.diags = malloc(rep.cap * sizeof(*rep.diags));
	assert_non_null(rep.diags);
	memset(rep.diags, 0x5a, rep.cap * sizeof(*rep.diags));
	assert_int_equal(pol_check(pol, &node, &rep), 0);
	assert_int_equal(rep.n, 5);
	for (size_t i = 0; i < rep.n; i++) {
		char where[POL_PATH_MAX + 32];

		assert_int_equal(rep.diags[i].line, 0);
		assert_int_equal(rep.diags[i].column, 0);
		assert_string_equal(pol_diag_where(&rep.diags[i], where, sizeof(where)),
				    rep.diags[i].path);
	}
	pol_report_clear(&rep);
	policy_free(pol);
}

/* The example policies under tests/fixtures/policies. */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* pol_parse_report: every error of one run. */
static void test_parse_report(void **state)
{
	static const char json[] =
		"{\"permittedHostDevices\": {\"pciHostDevices\": ["
		"{\"pciVendorSelector\": \"10de\", \"resourceName\": \"a.com/X\"},"
		"{\"pciVendorSelector\": \"10de:1eb8\", \"resourceName\": \"Y\"},"
		"{\"pciVendorSelector\": \"10de:2236\", \"resourceName\": \"a.com/Z\"}]},"
		"\"mediatedDevicesConfiguration\": {\"mediatedDeviceTypes\": \"x\"},"
		"\"mdevd\": {\"layouts\": [{\"parents\": [], \"types\": {}},"
		"{\"parents\": \"all\", \"types\": {\"a\": 1.5}}], \"removeUnowned\": 1}}";
	struct pol_report rep = {};
	struct policy *pol = NULL;
	struct pol_error err;

	assert_int_equal(pol_parse_report(json, strlen(json), &pol, &err, &rep), -EINVAL);
	assert_null(pol);
	assert_int_equal(rep.n, 6);
	assert_int_equal(rep.n_errors, 6);
	assert_string_equal(rep.diags[0].path,
			    "$.permittedHostDevices.pciHostDevices[0].pciVendorSelector");
	assert_string_equal(rep.diags[1].path,
			    "$.permittedHostDevices.pciHostDevices[1].resourceName");
	assert_string_equal(rep.diags[2].path,
			    "$.mediatedDevicesConfiguration.mediatedDeviceTypes");
	assert_string_equal(rep.diags[3].path, "$.mdevd.layouts[0].parents");
	assert_string_equal(rep.diags[4].path, "$.mdevd.layouts[1].types[\"a\"]");
	assert_string_equal(rep.diags[5].path, "$.mdevd.removeUnowned");
	/* @err is the first, as pol_parse() gives it alone */
	assert_string_equal(err.path, rep.diags[0].path);
	pol_report_clear(&rep);
	assert_int_equal(pol_parse(json, strlen(json), &pol, &err), -EINVAL);
	assert_string_equal(err.path, "$.permittedHostDevices.pciHostDevices[0].pciVendorSelector");

	/* a valid policy: nothing recorded */
	assert_int_equal(pol_parse_report("{}", 2, &pol, &err, &rep), 0);
	assert_int_equal(rep.n, 0);
	policy_free(pol);
}

/* YAML: the same tree as JSON, through libyaml. */

static struct policy *yaml_ok(const char *y)
{
	struct policy *pol = NULL;
	struct pol_error err;
	int r = pol_parse(y, strlen(y), &pol, &err);

	if (r != 0)
		print_error("unexpected rejection: %s: %s (line %d)\n", err.path, err.message,
			    err.line);
	assert_int_equal(r, 0);
	return pol;
}

static void yaml_fails(const char *y, int line, const char *path, const char *needle)
{
	struct policy *pol = NULL;
	struct pol_error err;
	int r = pol_parse(y, strlen(y), &pol, &err);

	if (r != -EINVAL || err.line != line || strcmp(err.path, path) != 0 ||
	    !strstr(err.message, needle))
		print_error("for %s\n  got      %d line %d %s: %s\n  expected line %d %s: "
			    "...%s...\n",
			    y, r, err.line, err.path, err.message, line, path, needle);
	assert_int_equal(r, -EINVAL);
	assert_null(pol);
	assert_int_equal(err.line, line);
	assert_string_equal(err.path, path);
	assert_non_null(strstr(err.message, needle));
}

static void test_yaml(void **state)
{
	struct policy *pol;

	/* block style, KubeVirt's shape; plain scalars resolved as Kubernetes does */
	pol = yaml_ok("# comment first\n"
		      "permittedHostDevices:\n"
		      "  mediatedDevices:\n"
		      "  - mdevNameSelector: GRID T4-1Q\n"
		      "    resourceName: nvidia.com/GRID_T4-1Q\n"
		      "    externalResourceProvider: yes\n"
		      "mdevd:\n"
		      "  layouts:\n"
		      "  - parents: [\"0000:65:00.0\", mtty]\n"
		      "    types: {GRID T4-1Q: 4, mtty-2: max}\n"
		      "  removeUnowned: False\n");
	assert_int_equal(pol->shape, POL_SHAPE_BARE);
	assert_int_equal(pol->n_mdev_devices, 1);
	assert_string_equal(pol->mdev_devices[0].name_selector, "GRID T4-1Q");
	assert_true(pol->mdev_devices[0].external_resource_provider);
	assert_int_equal(pol->n_layouts, 1);
	assert_int_equal(pol->layouts[0].n_parents, 2);
	assert_int_equal(pol->layouts[0].types[0].count, 4);
	assert_int_equal(pol->layouts[0].types[1].count, POL_COUNT_MAX);
	assert_false(pol->remove_unowned);
	policy_free(pol);

	/* anchors and aliases are expanded; a null value is absent, as in JSON */
	pol = yaml_ok("mdevd:\n"
		      "  layouts:\n"
		      "  - {parents: [mtty], types: &t {mtty-2: 1}}\n"
		      "  - {parents: [mdpy], types: *t}\n"
		      "mediatedDevicesConfiguration: ~\n");
	assert_int_equal(pol->n_layouts, 2);
	assert_string_equal(pol->layouts[1].types[0].type, "mtty-2");
	policy_free(pol);

	/* a quoted number is a string, so the count check says so */
	/* ... at the line and column of the value the path names */
	yaml_fails("mdevd:\n  layouts:\n  - parents: all\n    types: {mtty-2: '3'}\n", 4,
		   "$.mdevd.layouts[0].types[\"mtty-2\"]", "must be a number, not the string");
	{
		struct policy *none = NULL;
		struct pol_error err;
		char where[POL_PATH_MAX + 64];
		const char *y = "mdevd:\n  layouts:\n  - parents: [mtty]\n    typo: 1\n";

		assert_int_equal(pol_parse(y, strlen(y), &none, &err), -EINVAL);
		assert_null(none);
		assert_int_equal(err.line, 4);
		assert_int_equal(err.column, 11);
		assert_string_equal(pol_error_where(&err, where, sizeof(where)),
				    "line 4, column 11: $.mdevd.layouts[0].typo");
	}
	/* syntax errors carry line and column */
	yaml_fails("mdevd:\n  layouts:\n  - parents: [mtty\n", 4, "$",
		   "invalid YAML at column 1: did not find expected ',' or ']'");
	yaml_fails("kind: KubeVirt\nspec: {a: 1}\n---\nkind: KubeVirt\n", 3, "$",
		   "a second document (after '---'): a policy is one document");
	yaml_fails("? [a, b]\n: 1\n", 1, "$", "a mapping key must be a plain string");
	yaml_fails("mdevd: *nothing\n", 1, "$", "alias *nothing names no anchor before it");
	/* a billion laughs stops at the node budget */
	yaml_fails("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
		   6, "$", "aliases expand to more than");
	/* the shape checks are the JSON ones: a KubeVirt CR's mdevd inside spec */
	yaml_fails("kind: KubeVirt\nspec:\n  mdevd: {}\n", 3, "$.spec.mdevd",
		   "belongs at the top level");
	yaml_fails("- a\n- b\n", 1, "$", "a policy must be a JSON object (a YAML mapping)");
	yaml_fails("# nothing\n", 0, "$", "the document is empty");
}

/* "path: message" lines of @rep's findings of @sev, each ending in a newline. */
static void format_findings(const struct pol_report *rep, enum pol_severity sev, char *buf,
			    size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rep->n && len < size; i++)
		if (rep->diags[i].severity == sev)
			len += (size_t)snprintf(buf + len, size - len, "%s: %s\n",
						rep->diags[i].path, rep->diags[i].message);
}

static void test_fixture_policies(void **state)
{
	DIR *d = opendir(POLICIES);
	size_t n_valid = 0, n_invalid = 0, n_warn = 0;
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[512], expected_path[512], actual[4096];
		size_t len, n = strlen(e->d_name);
		struct policy *pol = NULL;
		struct pol_report rep = {};
		struct pol_error err;
		char *json, *expected;
		int r;

		size_t ext;

		if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
			ext = 5;
		else if (n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0)
			ext = 5;
		else
			continue;
		snprintf(path, sizeof(path), "%s/%s", POLICIES, e->d_name);
		json = read_file(path, &len);
		r = pol_parse(json, len, &pol, &err);
		free(json);
		if (r == 0) {
			r = pol_check(pol, &node, &rep);
			if (r == -EINVAL)
				assert_int_equal(pol_validate(pol, &node, &err), -EINVAL);
			policy_free(pol);
		}
		if (strncmp(e->d_name, "valid-", 6) == 0) {
			/* valid: no errors, no warnings */
			format_findings(&rep, POL_SEVERITY_WARNING, actual, sizeof(actual));
			if (r != 0 || rep.n)
				print_error("%s: %d: %s %s\n", path, r, r ? err.message : "",
					    actual);
			assert_int_equal(r, 0);
			assert_int_equal(rep.n, 0);
			pol_report_clear(&rep);
			n_valid++;
			continue;
		}
		if (strncmp(e->d_name, "warn-", 5) == 0) {
			/* valid with warnings: X.warn holds every one, "path: message" a line */
			assert_int_equal(r, 0);
			format_findings(&rep, POL_SEVERITY_WARNING, actual, sizeof(actual));
			pol_report_clear(&rep);
			snprintf(expected_path, sizeof(expected_path), "%s/%.*s.warn", POLICIES,
				 (int)(n - ext), e->d_name);
			if (getenv("UPDATE")) { /* UPDATE=1: rewrite X.warn (review the diff) */
				FILE *f = fopen(expected_path, "w");

				assert_non_null(f);
				fputs(actual, f);
				fclose(f);
			}
			expected = read_file(expected_path, &len);
			if (strcmp(actual, expected) != 0)
				print_error("%s: warnings differ from %s\n", path, expected_path);
			assert_string_equal(actual, expected);
			free(expected);
			n_warn++;
			continue;
		}
		pol_report_clear(&rep);
		assert_int_equal(strncmp(e->d_name, "invalid-", 8), 0);
		assert_int_equal(r, -EINVAL);
		{
			char where[POL_PATH_MAX + 64];

			snprintf(actual, sizeof(actual), "%s: %s",
				 pol_error_where(&err, where, sizeof(where)), err.message);
		}
		snprintf(expected_path, sizeof(expected_path), "%s/%.*s.err", POLICIES,
			 (int)(n - ext), e->d_name);
		expected = read_file(expected_path, &len);
		expected[strcspn(expected, "\n")] = '\0';
		if (strcmp(actual, expected) != 0)
			print_error("%s:\n  got      %s\n  expected %s\n", path, actual, expected);
		assert_string_equal(actual, expected);
		free(expected);
		n_invalid++;
	}
	closedir(d);
	assert_true(n_valid >= 7);
	assert_true(n_warn >= 3);
	assert_true(n_invalid >= 7);
}

/* KubeVirt's GetDesiredMDEVTypes: the union of every selected entry replaces the cluster list. */
static void test_node_mediated_device_types(void **state)
{
	static const char doc[] =
		"{'kind': 'KubeVirt', 'spec': {'configuration': {'mediatedDevicesConfiguration': {"
		"'mediatedDeviceTypes': ['nvidia-222'],"
		"'nodeMediatedDeviceTypes': ["
		"{'nodeSelector': {'gpu': 't4', 'zone': 'a'}, 'mediatedDeviceTypes': "
		"['nvidia-223']},"
		"{'nodeSelector': {'gpu': 't4'}, 'mediatedDevicesTypes': ['nvidia-224', "
		"'nvidia-223']},"
		"{'nodeSelector': {'pool': 'none'}, 'mediatedDeviceTypes': []},"
		"{'nodeSelector': {'gpu': 'a10'}, 'mediatedDeviceTypes': ['nvidia-593']}]}}}}";
	struct pol_label t4a[] = {{"gpu", "t4"}, {"zone", "a"}, {"kubernetes.io/hostname", "n1"}};
	struct pol_label t4b[] = {{"gpu", "t4"}, {"zone", "b"}};
	struct pol_label none[] = {{"pool", "none"}};
	struct policy *pol;

	(void)state;
	/* Two entries select the node: their union, each type once, in the order written. */
	pol = parse_ok(doc);
	assert_int_equal(pol->n_node_types, 4);
	assert_int_equal(pol_select_node_types(pol, t4a, ARRAY_SIZE(t4a)), 0);
	assert_int_equal(pol->n_mediated_device_types, 2);
	assert_string_equal(pol->mediated_device_types[0], "nvidia-223");
	assert_string_equal(pol->mediated_device_types[1], "nvidia-224");
	assert_string_equal(pol->mediated_device_type_paths[1],
			    "$.spec.configuration.mediatedDevicesConfiguration."
			    "nodeMediatedDeviceTypes[1].mediatedDevicesTypes[0]");
	assert_int_equal(pol->n_node_types_selected, 2);
	assert_int_equal(pol->node_types_selected[0], 0);
	assert_int_equal(pol->node_types_selected[1], 1);
	policy_free(pol);

	/* Every selector term must match: zone b leaves entry 0 out. */
	pol = parse_ok(doc);
	assert_int_equal(pol_select_node_types(pol, t4b, ARRAY_SIZE(t4b)), 0);
	assert_int_equal(pol->n_mediated_device_types, 2);
	assert_string_equal(pol->mediated_device_types[0], "nvidia-224");
	assert_int_equal(pol->n_node_types_selected, 1);
	policy_free(pol);

	/* A selected entry without types, or none selected: the cluster-wide list. */
	pol = parse_ok(doc);
	assert_int_equal(pol_select_node_types(pol, none, ARRAY_SIZE(none)), 0);
	assert_int_equal(pol->n_mediated_device_types, 1);
	assert_string_equal(pol->mediated_device_types[0], "nvidia-222");
	assert_null(pol->mediated_device_type_paths);
	assert_int_equal(pol->n_node_types_selected, 1);
	policy_free(pol);
	pol = parse_ok(doc);
	assert_int_equal(pol_select_node_types(pol, NULL, 0), 0);
	assert_int_equal(pol->n_mediated_device_types, 1);
	assert_int_equal(pol->n_node_types_selected, 0);
	assert_true(pol->node_types_applied);
	policy_free(pol);

	/* An empty nodeSelector selects every node. */
	pol = parse_ok("{'mediatedDevicesConfiguration': {'nodeMediatedDeviceTypes': ["
		       "{'nodeSelector': {}, 'mediatedDeviceTypes': ['mtty-2']}]}}");
	assert_int_equal(pol_select_node_types(pol, NULL, 0), 0);
	assert_int_equal(pol->n_mediated_device_types, 1);
	assert_string_equal(pol->mediated_device_types[0], "mtty-2");
	policy_free(pol);

	parse_fails("{'mediatedDevicesConfiguration': {'nodeMediatedDeviceTypes': ["
		    "{'mediatedDeviceTypes': ['mtty-2']}]}}",
		    "$.mediatedDevicesConfiguration.nodeMediatedDeviceTypes[0].nodeSelector",
		    "is required");
	parse_fails(
		"{'mediatedDevicesConfiguration': {'nodeMediatedDeviceTypes': ["
		"{'nodeSelector': {}, 'mediatedDeviceTypes': ['a'], 'mediatedDevicesTypes': "
		"['b']}]}}",
		"$.mediatedDevicesConfiguration.nodeMediatedDeviceTypes[0].mediatedDevicesTypes",
		"differs");
	parse_fails("{'mediatedDevicesConfiguration': {'nodeMediatedDeviceTypes': ["
		    "{'nodeSelector': {}, 'types': ['a']}]}}",
		    "$.mediatedDevicesConfiguration.nodeMediatedDeviceTypes[0].types", "unknown");
}

static void test_node_labels(void **state)
{
	struct pol_label *l = NULL;
	size_t n = 0;
	char why[128];

	(void)state;
	assert_int_equal(pol_parse_labels(" gpu = t4 ,zone=a,,empty=", &l, &n, why, sizeof(why)),
			 0);
	assert_int_equal(n, 3);
	assert_string_equal(l[0].key, "gpu");
	assert_string_equal(l[0].value, "t4");
	assert_string_equal(l[2].key, "empty");
	assert_string_equal(l[2].value, "");
	pol_labels_free(l, n);
	assert_int_equal(pol_parse_labels("", &l, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	pol_labels_free(l, n);
	assert_int_equal(pol_parse_labels("gpu", &l, &n, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not key=value"));
	assert_int_equal(pol_parse_labels("=x", &l, &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(pol_parse_labels("a=1,a=2", &l, &n, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "twice"));
}

/* The CR's sections, a file's mdevd section; only external entries when from the cluster. */
static void test_take_mdevd_external_only(void **state)
{
	struct policy *cr = parse_ok(
		"{'kind': 'HyperConverged', 'spec': {'permittedHostDevices': {"
		"'mediatedDevices': [{'mdevNameSelector': 'GRID T4-1Q', 'resourceName': "
		"'nvidia.com/GRID_T4-1Q', 'externalResourceProvider': true}, "
		"{'mdevNameSelector': 'GRID T4-2Q', 'resourceName': 'nvidia.com/GRID_T4-2Q'}]}}}");
	struct policy *file = parse_ok("{'mdevd': {'removeUnowned': true, 'layouts': ["
				       "{'parents': ['mtty'], 'types': {'mtty-2': 1}}]}}");
	struct resource_set *set = NULL;

	(void)state;
	assert_false(pol_has_mdevd(cr));
	pol_take_mdevd(cr, file);
	assert_true(pol_has_mdevd(cr));
	assert_false(pol_has_mdevd(file));
	assert_int_equal(cr->n_layouts, 1);
	assert_true(cr->remove_unowned);
	policy_free(file);
	cr->external_only = true;
	assert_int_equal(resource_build(&node, cr, &set), 0);
	assert_int_equal(set->n_pools, 1);
	assert_string_equal(set->pools[0].name, "nvidia.com/GRID_T4-1Q");
	resource_set_free(set);
	cr->external_only = false;
	assert_int_equal(resource_build(&node, cr, &set), 0);
	assert_int_equal(set->n_pools, 2);
	resource_set_free(set);
	policy_free(cr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_config),
		cmocka_unit_test(test_empty_policies),
		cmocka_unit_test(test_kubevirt_cr),
		cmocka_unit_test(test_hyperconverged_cr),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_parents),
		cmocka_unit_test(test_parents_in_two_layouts),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_resource_names),
		cmocka_unit_test(test_mediated_devices_configuration),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_buffers),
		cmocka_unit_test(test_huge_input),
		cmocka_unit_test(test_normalize_name),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_validate_types),
		cmocka_unit_test(test_validate_parents),
		cmocka_unit_test(test_validate_mediated_device_types),
		cmocka_unit_test(test_validate_long_offered_list),
		cmocka_unit_test(test_check_no_stale_line_column),
		cmocka_unit_test(test_parse_report),
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_fixture_policies),
		cmocka_unit_test(test_node_mediated_device_types),
		cmocka_unit_test(test_node_labels),
		cmocka_unit_test(test_take_mdevd_external_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
