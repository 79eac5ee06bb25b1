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
