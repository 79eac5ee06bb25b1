/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_vfio: what libvirt's domains name counts as in use for vfio-pci (so a function a
 * domain names is never given back), from the domain XML libvirt returns.
 */
#include <string.h>

#include "testutil.h"
#include "cli/cli_vfio.h"
#include "libvirt/libvirt_client.h"

static const char *const vm1 =
	"<domain type='kvm'><name>vm1</name><devices>"
	"<hostdev mode='subsystem' type='pci' managed='no'><source>"
	"<address domain='0x0000' bus='0x00' slot='0x10' function='0x0'/></source></hostdev>"
	"</devices></domain>";

static void test_domain_in_use(void **state)
{
	struct virt_refs *refs = calloc(1, sizeof(*refs));
	struct cli_vfio_domains d = {.refs = refs};
	const char *why;

	assert_int_equal(virt_domain_refs_parse(vm1, "vm1", true, refs), 0);
	why = cli_vfio_domain_in_use(&d, "0000:00:10.0");
	assert_non_null(why);
	assert_string_equal(why, "named by libvirt domain vm1 (running)");
	assert_null(cli_vfio_domain_in_use(&d, "0000:00:11.0"));
	cli_vfio_domains_release(&d);
	/* Without libvirt: nothing is named. */
	cli_vfio_domains_load(NULL, &d);
	assert_null(cli_vfio_domain_in_use(&d, "0000:00:10.0"));
	cli_vfio_domains_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_in_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
