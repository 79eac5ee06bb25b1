/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"

#define ALIGN	    alignof(max_align_t)
#define FIRST_CHUNK 4096 /* the first heap block's size */

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* of data[] */
	alignas(max_align_t) unsigned char data[];
};

void arena_init(struct arena *a, void *buf, size_t size)
{
	uintptr_t p = (uintptr_t)buf, aligned = (p + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);

	a->chunks = NULL;
	a->size = buf && size > aligned - p ? size - (aligned - p) : 0;
	a->buf = a->size ? (unsigned char *)aligned : NULL;
	a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c;
	size_t want, grow;
	void *p;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ALIGN - sizeof(*c))
		return NULL;
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (a->size - a->used >= size) {
		p = a->buf + a->used;
		a->used += size;
		return p;
	}
	grow = a->chunks ? a->chunks->size : FIRST_CHUNK / 2;
	want = grow <= (SIZE_MAX - sizeof(*c)) / 2 ? 2 * grow : grow;
	if (want < size)
		want = size;
	c = malloc(sizeof(*c) + want);
	if (!c)
		return NULL;
	c->size = want;
	c->next = a->chunks;
	a->chunks = c;
	a->buf = c->data;
	a->size = want;
	a->used = size;
	return c->data;
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = arena_alloc(a, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void arena_release(struct arena *a)
{
	while (a->chunks) {
		struct arena_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	a->buf = NULL;
	a->size = a->used = 0;
}
