/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for NVIDIA's creatable_vgpu_types table parser, nvidia_vgpu_parse_types()
 * (mdevd/node/nvidia_vgpu.c): any bytes as the whole file, twice:
 *   - as they are, in a heap buffer of exactly their size (no NUL after them, so a read past
 *     the end is caught), which is the parser's own contract (a NUL byte is an error);
 *   - as the reader hands them over: what sysfs_read_attr() keeps of one read(2) of the file
 *     (sysfs_attr_trim(); a file of a page or more is -EFBIG and never parsed).
 * Each answer is compared with a reference parser written here from the grammar in
 * nvidia_vgpu.h (strtoull, strspn): the same return, the same line number on error, *out and
 * *n untouched on error; on success the same rows in file order, each id in 1..UINT_MAX and
 * unique, each name a NUL-terminated copy of 1..255 bytes with no blank at either end and no
 * newline. nvidia_vgpu_type_id() of the (trimmed) bytes is compared with a reference too.
 * Built and run by `make fuzz` (docs/fuzzing.md); seeds: the fixture trees'
 * creatable_vgpu_types files and the formats the unit tests use (tests/fuzz/make-seeds.py).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_attr.h"
#include "node/nvidia_vgpu.h"

#define NAME_MAX_LEN 255
#define BLANKS	     " \t\r\v\f"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ref_row {
	unsigned int id;
	const char *name; /* into the input */
	size_t len;
};

static bool blank(char c)
{
	return c != '\0' && strchr(BLANKS, c) != NULL;
}

/*
 * The reference: rows into @rows (room for one per line), their number into *n. Returns 0,
 * or -EINVAL with the 1-based number of the offending line in *line.
 */
static int ref_parse(const char *text, size_t len, struct ref_row *rows, size_t *n,
		     unsigned int *line)
{
	const char *nul = memchr(text, '\0', len);
	bool first = true;
	unsigned int no = 0;
	size_t nr = 0;

	if (nul) {
		*line = 1;
		for (const char *c = text; c < nul; c++)
			*line += *c == '\n';
		return -EINVAL;
	}
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		unsigned long long v;
		char *num, *after;
		size_t digits;

		p = nl ? nl + 1 : end;
		no++;
		while (s < e && blank(*s))
			s++;
		while (e > s && blank(e[-1]))
			e--;
		if (s == e)
			continue;
		if (first && !isdigit((unsigned char)*s)) {
			first = false; /* the header */
			continue;
		}
		first = false;
		digits = 0;
		while (s + digits < e && isdigit((unsigned char)s[digits]))
			digits++;
		if (!digits)
			goto bad;
		/* strtoull on a copy: the raw input has no NUL after it to stop at. */
		num = strndup(s, digits);
		if (!num)
			abort();
		errno = 0;
		v = strtoull(num, &after, 10);
		if (errno || *after) {
			free(num);
			goto bad;
		}
		free(num);
		if (v == 0 || v > UINT_MAX)
			goto bad;
		s += digits;
		if (s == e || (!blank(*s) && *s != ':'))
			goto bad;
		while (s < e && blank(*s))
			s++;
		if (s < e && *s == ':') {
			s++;
			while (s < e && blank(*s))
				s++;
		}
		if (s == e || (size_t)(e - s) > NAME_MAX_LEN)
			goto bad;
		for (size_t i = 0; i < nr; i++)
			if (rows[i].id == v)
				goto bad;
		rows[nr++] =
			(struct ref_row){.id = (unsigned int)v, .name = s, .len = (size_t)(e - s)};
	}
	*n = nr;
	return 0;
bad:
	*line = no;
	return -EINVAL;
}

static void check_table(const char *text, size_t len)
{
	static struct nvidia_vgpu_entry untouched;
	struct nvidia_vgpu_entry *sentinel = &untouched, *e = sentinel;
	unsigned int line = 0, want_line = 0;
	size_t n = 12345, want_n = 0, lines = 1;
	struct ref_row *rows;
	int r, want;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	rows = calloc(lines, sizeof(*rows));
	if (!rows)
		abort();
	want = ref_parse(text, len, rows, &want_n, &want_line);
	r = nvidia_vgpu_parse_types(text, len, &e, &n, &line);
	if (r == -ENOMEM) {
		/* Nothing to compare; out-params stay as they were. */
		if (e != sentinel || n != 12345)
			abort();
		free(rows);
		return;
	}
	if (r != want)
		abort();
	if (r < 0) {
		if (e != sentinel || n != 12345 || line != want_line || line < 1 || line > lines)
			abort();
		free(rows);
		return;
	}
	if (n != want_n || (n == 0) != (e == NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(e[i].name);

		if (e[i].id == 0 || e[i].id != rows[i].id)
			abort();
		/* A NUL-terminated copy of exactly the reference's bytes, trimmed, one line. */
		if (l != rows[i].len || l == 0 || l > NAME_MAX_LEN ||
		    memcmp(e[i].name, rows[i].name, l) != 0 || blank(e[i].name[0]) ||
		    blank(e[i].name[l - 1]) || memchr(e[i].name, '\n', l))
			abort();
		/* Owned, not borrowed from the input. */
		if ((uintptr_t)e[i].name < (uintptr_t)(text + len) &&
		    (uintptr_t)(e[i].name + l) >= (uintptr_t)text)
			abort();
		for (size_t k = 0; k < i; k++)
			if (e[k].id == e[i].id)
				abort();
	}
	nvidia_vgpu_entries_free(e, n);
	free(rows);
}

/* nvidia_vgpu_type_id(): a decimal of 1..UINT_MAX and nothing else. */
static void check_type_id(const char *s)
{
	unsigned int got = 7;
	bool digits = *s != '\0';
	unsigned long long want = 0;
	int r = nvidia_vgpu_type_id(s, &got);

	for (const char *c = s; *c; c++)
		digits = digits && isdigit((unsigned char)*c);
	if (digits) {
		errno = 0;
		want = strtoull(s, NULL, 10);
		if (errno == ERANGE)
			want = 0;
	}
	if (digits && want >= 1 && want <= UINT_MAX) {
		if (r != 0 || got != want)
			abort();
	} else if (r != -EINVAL || got != 7) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	size_t len;

	/* The parser's contract: any bytes, exactly these, no terminator to lean on. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check_table(buf, size);
	free(buf);

	/* What the reader parses: sysfs_read_attr()'s trimmed bytes, a NUL after them. */
	buf = fuzz_attr_read(data, size, &len);
	if (!buf)
		return 0;
	check_table(buf, len);
	check_type_id(buf);
	free(buf);
	return 0;
}
