/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arena: the memory of one device-plugin call. Pieces from the caller's buffer while it
 * lasts, then from growing heap blocks; every piece aligned and its own; sizes that cannot
 * be had are NULL without harming what was given; release frees every block (ASan's leak
 * check is the proof when the suite runs under it).
 */
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdevd/macro.h"
#include "testutil.h"
#include "util/arena.h"

static bool in(const void *p, const void *buf, size_t size)
{
	return (const unsigned char *)p >= (const unsigned char *)buf &&
	       (const unsigned char *)p < (const unsigned char *)buf + size;
}

static bool aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

static void test_stack_then_heap(void **state)
{
	alignas(max_align_t) unsigned char buf[256];
	unsigned char *pieces[64];
	struct arena a;
	size_t n_stack = 0;

	arena_init(&a, buf, sizeof(buf));
	for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
		pieces[i] = arena_alloc(&a, 1 + i % 40);
		assert_non_null(pieces[i]);
		assert_true(aligned(pieces[i]));
		memset(pieces[i], (int)i, 1 + i % 40);
		n_stack += in(pieces[i], buf, sizeof(buf));
		/* The caller's buffer is used first, and only until it is full. */
		if (i > 0 && !in(pieces[i - 1], buf, sizeof(buf)))
			assert_false(in(pieces[i], buf, sizeof(buf)));
	}
	assert_true(n_stack >= 4);
	assert_true(n_stack < ARRAY_SIZE(pieces));
	/* No piece was overwritten by a later one. */
	for (size_t i = 0; i < ARRAY_SIZE(pieces); i++)
		for (size_t j = 0; j < 1 + i % 40; j++)
			assert_int_equal(pieces[i][j], (unsigned char)i);
	arena_release(&a);
}

static void test_unaligned_and_no_buffer(void **state)
{
	alignas(max_align_t) unsigned char buf[100];
	struct arena a;
	void *p;

	/* A buffer that starts off alignment loses its head, not its alignment. */
	arena_init(&a, buf + 1, sizeof(buf) - 1);
	p = arena_alloc(&a, 8);
	assert_true(aligned(p));
	assert_true(in(p, buf, sizeof(buf)));
	arena_release(&a);

	/* No buffer (or one too small to align): every piece is the heap's. */
	arena_init(&a, NULL, 0);
	p = arena_alloc(&a, 0);
	assert_non_null(p);
	arena_release(&a);
	arena_init(&a, buf + 1, 3);
	p = arena_alloc(&a, 1);
	assert_non_null(p);
	assert_false(in(p, buf, sizeof(buf)));
	arena_release(&a);
}

static void test_large_piece_and_release(void **state)
{
	alignas(max_align_t) unsigned char buf[64];
	struct arena a;
	unsigned char *big, *small;

	arena_init(&a, buf, sizeof(buf));
	/* Larger than any block so far: a block of its own size. */
	big = arena_alloc(&a, 100000);
	assert_non_null(big);
	memset(big, 0xab, 100000);
	small = arena_calloc(&a, 3, 7);
	assert_non_null(small);
	for (int i = 0; i < 21; i++)
		assert_int_equal(small[i], 0);
	assert_int_equal(big[99999], 0xab);
	arena_release(&a);
	/* Released, the arena is empty and usable (from the heap). */
	assert_non_null(arena_alloc(&a, 16));
	arena_release(&a);
}

static void test_impossible_sizes(void **state)
{
	alignas(max_align_t) unsigned char buf[128];
	struct arena a;
	char *s;

	arena_init(&a, buf, sizeof(buf));
	s = arena_alloc(&a, sizeof("/dev/vfio/12"));
	memcpy(s, "/dev/vfio/12", sizeof("/dev/vfio/12"));
	assert_null(arena_alloc(&a, SIZE_MAX));
	assert_null(arena_alloc(&a, SIZE_MAX - 8));
	assert_null(arena_calloc(&a, SIZE_MAX / 2, 3));
	/* What was given before is untouched, and the arena still gives. */
	assert_string_equal(s, "/dev/vfio/12");
	assert_non_null(arena_alloc(&a, 1));
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stack_then_heap),
		cmocka_unit_test(test_unaligned_and_no_buffer),
		cmocka_unit_test(test_large_piece_and_release),
		cmocka_unit_test(test_impossible_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
