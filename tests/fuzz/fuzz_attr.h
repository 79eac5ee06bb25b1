/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the fuzz targets of sysfs attributes share: the bytes of one read(2) of an attribute
 * as sysfs_read_attr() hands them to a parser.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/sysfs.h"

/* type_load()'s and the NVIDIA reader's buffer: an attribute is at most a page. */
#define ATTR_MAX 4096

/*
 * fuzz_attr_read - @data as sysfs_read_attr() returns it: NULL for what does not fit (its
 * -EFBIG: never parsed), else a new buffer of @size + 1 bytes (room for the NUL, as its
 * buffer has) holding the trimmed bytes, their length in *len. Aborts when sysfs_attr_trim()
 * breaks its own contract. Returns the buffer (free it) or NULL.
 */
static inline char *fuzz_attr_read(const uint8_t *data, size_t size, size_t *len)
{
	char *buf;

	if (size >= ATTR_MAX)
		return NULL;
	buf = malloc(size + 1);
	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	*len = sysfs_attr_trim(buf, size);
	if (*len > size || buf[*len] != '\0')
		abort();
	return buf;
}
