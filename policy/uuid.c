/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libuuid adapter: the only file that includes <uuid/uuid.h>. */
#include <errno.h>
#include <string.h>
#include <uuid/uuid.h>

#include "mdevd_uuid.h"

int mdevd_uuid_v5(const char *ns, const char *name, char out[MDEVD_UUID_STR_LEN])
{
	uuid_t ns_bin, u;

	if (!ns || !name || uuid_parse(ns, ns_bin) < 0)
		return -EINVAL;
	uuid_generate_sha1(u, ns_bin, name, strlen(name));
	uuid_unparse_lower(u, out);
	return 0;
}

int mdevd_uuid_canonical(const char *in, char out[MDEVD_UUID_STR_LEN])
{
	uuid_t u;

	/* uuid_parse() accepts exactly 36 characters in 8-4-4-4-12 form, hex in any case. */
	if (!in || strlen(in) != MDEVD_UUID_STR_LEN - 1 || uuid_parse(in, u) < 0)
		return -EINVAL;
	if (out)
		uuid_unparse_lower(u, out);
	return 0;
}
