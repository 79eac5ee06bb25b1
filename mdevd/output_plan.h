/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "mdevd/plan.h"

/* output_plan_json - print @plan as JSON (format atop output_plan.c) to @f. Returns 0 or -ENOMEM. */
int output_plan_json(const struct plan *plan, FILE *f);
