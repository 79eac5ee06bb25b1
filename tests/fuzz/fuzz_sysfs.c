/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the sysfs attribute readers: any bytes as one read(2) of an attribute
 * returns them, through what sysfs_read_attr() does with them (sysfs_attr_trim()), then
 * every interpretation mdevd makes of an attribute's contents:
 *   available_instances   mdev_parse_count()                      (mdev.c, type_load)
 *   numa_node             sysfs_parse_long(INT_MIN..INT_MAX)       (sysfs_read_int)
 *   other counts          sysfs_parse_long(0..UINT_MAX)            (sysfs_read_uint)
 *   device_api, name,     the trimmed string itself: type_load() takes it as it is, an
 *   description           empty device_api is an error, an empty name falls back to the id
 *   directory entries     mdev_uuid_normalize() (bus/mdev/devices), mdev_is_bdf()
 *                         (class/mdev_bus link targets)
 * Each result is checked against a reference written here with strtol/strtoul, so a parser
 * that accepts what it should not (or the reverse) aborts, not only one that crashes.
 * NVIDIA's creatable_vgpu_types table has its own target, tests/fuzz/fuzz_nvidia_vgpu.c.
 * Built and run by `make fuzz` (docs/fuzzing.md); seeds: the fixture trees' attribute files.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_attr.h"
#include "node/mdev.h"
#include "node/sysfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: one optionally signed decimal, white space around it, in [min, max]. */
static bool ref_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+'))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s)
		return false;
	while (isspace((unsigned char)*end))
		end++;
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void check_long(const char *s, long min, long max)
{
	long got = 0, want = 0;
	bool ok = sysfs_parse_long(s, min, max, &got) == 0;

	if (ok != ref_long(s, min, max, &want) || (ok && got != want))
		abort();
}

static void check_count(const char *s)
{
	unsigned int got = 7;
	unsigned long want;
	bool digits = *s != '\0';
	char *end;
	int r;

	for (const char *c = s; *c; c++)
		digits = digits && *c >= '0' && *c <= '9';
	r = mdev_parse_count(s, &got);
	if (!digits) {
		if (r != -EINVAL || got != 7)
			abort();
		return;
	}
	errno = 0;
	want = strtoul(s, &end, 10);
	if (errno == ERANGE || want > UINT_MAX) {
		if (r != -EINVAL || got != 7)
			abort();
		return;
	}
	if (r != 0 || got != want)
		abort();
}

static void check_uuid(const char *s)
{
	char out[MDEVD_UUID_STR_LEN] = "untouched";
	int r = mdev_uuid_normalize(s, out);

	if (r == 0) {
		if (strlen(s) != MDEVD_UUID_STR_LEN - 1 || strcasecmp(out, s) != 0)
			abort();
		for (const char *c = out; *c; c++)
			if (isupper((unsigned char)*c))
				abort();
	} else if (r != -EINVAL || strcmp(out, "untouched") != 0) {
		abort();
	}
}

static void check_bdf(const char *s)
{
	unsigned int dom, bus, slot, fn;
	char tail;

	if (!mdev_is_bdf(s))
		return;
	/* "dddd:bb:ss.f", 4 to 8 hex digits of domain, function 0..7, nothing after. */
	if (sscanf(s, "%8x:%2x:%2x.%1u%c", &dom, &bus, &slot, &fn, &tail) != 4 || fn > 7 ||
	    strlen(s) < 12 || strlen(s) > 16)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	size_t len;

	buf = fuzz_attr_read(data, size, &len);
	if (!buf)
		return 0;
	if ((len && isspace((unsigned char)buf[len - 1])) || memcmp(buf, data, len) != 0)
		abort();
	for (size_t i = len; i < size; i++)
		if (!isspace(data[i]))
			abort();

	check_count(buf);
	check_long(buf, INT_MIN, INT_MAX);
	check_long(buf, 0, UINT_MAX);
	check_uuid(buf);
	check_bdf(buf);
	free(buf);
	return 0;
}
