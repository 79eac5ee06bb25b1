/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libuuid adapter: policy/uuid.c is the only file that includes <uuid/uuid.h>.
 * Private to the policy engine; the planner derives its UUIDs through here.
 */
#pragma once

#include <stdbool.h>

#include "mdevd/inventory.h"

/*
 * mdevd_uuid_v5 - a name-based, SHA-1 (RFC 9562 version 5) UUID.
 * @ns:   the namespace UUID as a string (any case); borrowed.
 * @name: the name, hashed without its NUL; borrowed.
 * @out:  the UUID in lower-case canonical 8-4-4-4-12 form; written only on success.
 * Returns 0, or -EINVAL when @ns is not a UUID.
 */
int mdevd_uuid_v5(const char *ns, const char *name, char out[MDEVD_UUID_STR_LEN]);

/*
 * mdevd_uuid_canonical - check and canonicalise a UUID string.
 * @in:  a UUID in 8-4-4-4-12 form, any case, nothing around it; borrowed.
 * @out: the lower-case canonical form; written only on success. May be NULL to only check.
 * Returns 0, or -EINVAL when @in is not a UUID.
 */
int mdevd_uuid_canonical(const char *in, char out[MDEVD_UUID_STR_LEN]);
