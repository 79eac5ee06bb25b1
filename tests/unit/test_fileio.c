/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fileio: the one bounded whole-file read. Files of every size around the bound, a pipe
 * that says nothing of its size, a directory, and a proc file stat(2) calls empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "testutil.h"
#include "util/fileio.h"

struct dir {
	char path[64];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/mdevd-fileio-XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

/* A file of @n bytes 'a'..'z' repeating, under @d; its path in @path. */
static void make_file(struct dir *d, const char *name, size_t n, char *path, size_t size)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = malloc(n + 1);

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + i % 26);
	snprintf(path, size, "%s/%s", d->path, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

static void test_sizes_around_the_bound(void **state)
{
	static const size_t max = 10000; /* past the first 4 KiB buffer, not a power of 2 */
	static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 9999, 10000};
	char path[128];

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *buf = NULL;
		ssize_t n;

		make_file(*state, "f", sizes[i], path, sizeof(path));
		n = fileio_read_at(AT_FDCWD, path, max, 0, &buf);
		assert_int_equal(n, (ssize_t)sizes[i]);
		assert_non_null(buf);
		assert_int_equal(strlen(buf), sizes[i]); /* NUL-terminated right after */
		if (sizes[i])
			assert_int_equal(buf[sizes[i] - 1], 'a' + (sizes[i] - 1) % 26);
		free(buf);
	}
}

static void test_longer_is_efbig_or_cut(void **state)
{
	char path[128], *buf = NULL;

	make_file(*state, "big", 10001, path, sizeof(path));
	assert_int_equal(fileio_read_at(AT_FDCWD, path, 10000, 0, &buf), -EFBIG);
	assert_null(buf); /* untouched on error */
	assert_int_equal(fileio_read_at(AT_FDCWD, path, 10000, FILEIO_CUT, &buf), 10000);
	assert_int_equal(strlen(buf), 10000);
	free(buf);
	buf = NULL;
	assert_int_equal(fileio_read_at(AT_FDCWD, path, 0, 0, &buf), -EFBIG);
	assert_int_equal(fileio_read_at(AT_FDCWD, path, 0, FILEIO_CUT, &buf), 0);
	assert_string_equal(buf, "");
	free(buf);
}

static void test_pipe_and_relative_path(void **state)
{
	struct dir *d = *state;
	_cleanup_close_ int dirfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int p[2];
	char path[128], *buf = NULL;

	/* A pipe: no size to trust, only end of file. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "policy: 1\n", 10), 10);
	close(p[1]);
	assert_int_equal(fileio_read_fd(p[0], 100, 0, &buf), 10);
	assert_string_equal(buf, "policy: 1\n");
	free(buf);
	buf = NULL;
	close(p[0]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	assert_int_equal(fileio_read_fd(p[0], 9, 0, &buf), -EFBIG);
	close(p[0]);

	/* Relative to a directory fd, as sysfs_read_file() reads sysfs. */
	make_file(d, "rel", 3, path, sizeof(path));
	assert_true(dirfd >= 0);
	assert_int_equal(fileio_read_at(dirfd, "rel", 100, 0, &buf), 3);
	assert_string_equal(buf, "abc");
	free(buf);
	buf = NULL;
	assert_int_equal(fileio_read_at(dirfd, "absent", 100, 0, &buf), -ENOENT);
	assert_int_equal(fileio_read_at(dirfd, ".", 100, 0, &buf), -EISDIR);
	assert_null(buf);
}

static void test_proc_file_stat_calls_empty(void **state)
{
	char *buf = NULL;
	ssize_t n;

	/* /proc/self/status is 0 bytes to stat(2) and over 1 KiB to read(2). */
	n = fileio_read_at(AT_FDCWD, "/proc/self/status", 1u << 20, 0, &buf);
	assert_true(n > 512);
	assert_non_null(strstr(buf, "\nPid:"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes_around_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longer_is_efbig_or_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_and_relative_path, setup, teardown),
		cmocka_unit_test(test_proc_file_stat_calls_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
