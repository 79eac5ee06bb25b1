/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the policy parser: any bytes into pol_parse(), and what it
 * accepts through pol_validate() against a small fixed node. Build by hand, e.g.:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ipolicy \
 *       tests/fuzz/fuzz_policy.c policy/parse.c policy/validate.c policy/policy.c \
 *       -lcjson -o fuzz_policy
 *   ./fuzz_policy -dict=... tests/fixtures/policies/
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdevd/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mdev_type t4[] = {
		{.id = (char *)"nvidia-222", .name = (char *)"GRID T4-1Q"},
		{.id = (char *)"nvidia-223", .name = (char *)"GRID T4-2Q"},
	};
	static struct mdev_type mtty[] = {
		{.id = (char *)"mtty-1", .name = (char *)"Single port serial"},
		{.id = (char *)"mtty-2", .name = (char *)"Dual port serial"},
	};
	static struct mdev_parent parents[] = {
		{.name = (char *)"0000:65:00.0",
		 .pci_address = (char *)"0000:65:00.0",
		 .vendor_id = 0x10de,
		 .device_id = 0x1eb8,
		 .types = t4,
		 .n_types = 2},
		{.name = (char *)"mtty", .types = mtty, .n_types = 2},
	};
	static const struct inventory inv = {.parents = parents, .n_parents = 2};
	struct policy *pol = NULL;
	struct pol_error err;
	int r;

	r = pol_parse((const char *)data, size, &pol, &err);
	if (r == 0) {
		if (!pol)
			abort();
		r = pol_validate(pol, &inv, &err);
		if (r != 0 && r != -EINVAL)
			abort();
		policy_free(pol);
	} else if (r == -EINVAL) {
		/* a rejection always says where and why */
		if (!err.path[0] || !err.message[0] || pol)
			abort();
	} else if (r != -ENOMEM) {
		abort();
	}
	return 0;
}
