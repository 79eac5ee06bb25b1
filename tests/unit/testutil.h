/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the unit tests: cmocka, and the path of the fixture trees. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Tests run from the repository root (the Makefile and tests/unit/run.sh see to it). */
#define FIXTURES "tests/fixtures"

#ifdef MDEVD_TEST_FIXTURE_INVENTORY
#include <stdio.h>

#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "node/sysfs.h"

/* The types and instances of the fixture tree tests/fixtures/@tree (free with inventory_free). */
static inline struct inventory *fixture_inventory(const char *tree)
{
	_cleanup_close_ int fd = -1;
	struct inventory *inv = NULL;
	char path[256];

	snprintf(path, sizeof(path), FIXTURES "/%s", tree);
	assert_int_equal(sysfs_open_root(path, &fd), 0);
	assert_int_equal(
		inventory_load(fd, path, INVENTORY_TYPES | INVENTORY_MDEVS, NULL, NULL, &inv), 0);
	return inv;
}
#endif
