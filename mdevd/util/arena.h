/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arena: the memory of one request, taken in order and given back at once. An Allocate
 * call unpacks its request and builds its response from a few dozen small pieces (the
 * protobuf-c message, each ID, the response's arrays) that all die with the call; taking them
 * from a buffer on the caller's stack instead of one malloc(3) and free(3) each is most of
 * what the call costs beyond gRPC (docs/benchmarks.md, "Allocate, closed loop").
 *
 * Not thread-safe: an arena belongs to the one thread serving the call.
 */
#pragma once

#include <stddef.h>

struct arena_chunk;

struct arena {
	unsigned char *buf; /* the block being filled: the caller's, then the newest chunk */
	size_t size, used;
	struct arena_chunk *chunks; /* blocks taken from the heap once @buf was full */
};

/*
 * arena_init - start @a on the caller's @buf of @size bytes (it may be NULL and 0: then every
 * piece comes from the heap). @buf must outlive @a; the arena does not free it.
 */
void arena_init(struct arena *a, void *buf, size_t size);

/*
 * arena_alloc - @size bytes (0 is taken as 1), aligned for any type (alignof(max_align_t)),
 * valid until arena_release(). When @buf is full a heap block of at least twice the last
 * block's size, and at least @size, is added. Returns NULL when that block cannot be had
 * (malloc failed, or @size is too large to round up): the arena is unchanged and still valid.
 */
void *arena_alloc(struct arena *a, size_t size);

/* arena_calloc - @n x @size zeroed bytes; NULL as arena_alloc() or when @n x @size overflows. */
void *arena_calloc(struct arena *a, size_t n, size_t size);

/* arena_release - free every heap block of @a; every piece it gave is invalid after it. */
void arena_release(struct arena *a);
