/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "node/sysfs.h"
#include "util/fileio.h"

int sysfs_open_root(const char *path, int *out_fd)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*out_fd = fd;
	return 0;
}

int sysfs_read_attr(int dirfd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	ssize_t len;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* sysfs hands out a whole attribute in the first read. */
	len = read(fd, buf, size);
	if (len < 0)
		return -errno;
	if ((size_t)len >= size)
		return -EFBIG;
	return (int)sysfs_attr_trim(buf, (size_t)len);
}

size_t sysfs_attr_trim(char *buf, size_t len)
{
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	buf[len] = '\0';
	return len;
}

int sysfs_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int sysfs_read_uint(int dirfd, const char *path, unsigned int *out)
{
	char buf[64];
	long v;
	int r;

	r = sysfs_read_attr(dirfd, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = sysfs_parse_long(buf, 0, UINT_MAX, &v);
	if (r < 0)
		return r;
	*out = (unsigned int)v;
	return 0;
}

int sysfs_read_int(int dirfd, const char *path, int *out)
{
	char buf[64];
	long v;
	int r;

	r = sysfs_read_attr(dirfd, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = sysfs_parse_long(buf, INT_MIN, INT_MAX, &v);
	if (r < 0)
		return r;
	*out = (int)v;
	return 0;
}

int sysfs_read_link_name(int dirfd, const char *path, char *buf, size_t size)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t len;
	size_t blen;

	len = readlinkat(dirfd, path, target, sizeof(target) - 1);
	if (len < 0)
		return -errno;
	target[len] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	blen = strlen(base);
	if (blen >= size)
		return -EFBIG;
	memcpy(buf, base, blen + 1);
	return (int)blen;
}

int sysfs_read_link(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t len;

	if (size == 0)
		return -EFBIG;
	len = readlinkat(dirfd, path, buf, size);
	if (len < 0)
		return -errno;
	if ((size_t)len >= size)
		return -EFBIG;
	buf[len] = '\0';
	return (int)len;
}

/* Open directory @path under @dirfd as a DIR stream (closedir() it). Returns 0 or -errno. */
static int opendir_at(int dirfd, const char *path, DIR **out)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*out = fdopendir(fd);
	if (!*out) {
		int r = -errno;

		close(fd);
		return r;
	}
	return 0;
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int sysfs_count_dir(int dirfd, const char *path, size_t *n)
{
	struct dirent *de;
	size_t count = 0;
	DIR *dir;
	int r;

	r = opendir_at(dirfd, path, &dir);
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(dir))) {
		if (is_dot(de->d_name))
			continue;
		count++;
	}
	if (errno) {
		r = -errno;
		closedir(dir);
		return r;
	}
	closedir(dir);
	*n = count;
	return 0;
}

static int write_attr(int dirfd, const char *path, const char *value, int flags)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);
	ssize_t w;

	fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	w = write(fd, value, len);
	if (w < 0)
		return -errno;
	if ((size_t)w != len)
		return -EIO;
	return 0;
}

int sysfs_write_attr(int dirfd, const char *path, const char *value)
{
	return write_attr(dirfd, path, value, 0);
}

int sysfs_replace_attr(int dirfd, const char *path, const char *value)
{
	return write_attr(dirfd, path, value, O_TRUNC);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void sysfs_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int sysfs_list_dir(int dirfd, const char *path, char ***names, size_t *n)
{
	char **list = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int r;

	r = opendir_at(dirfd, path, &dir);
	if (r < 0)
		return r;

	while ((errno = 0, de = readdir(dir))) {
		if (is_dot(de->d_name))
			continue;
		if (count == cap) {
			char **grown;

			cap = cap ? cap * 2 : 16;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown)
				goto oom;
			list = grown;
		}
		list[count] = strdup(de->d_name);
		if (!list[count])
			goto oom;
		count++;
	}
	if (errno) {
		r = -errno;
		closedir(dir);
		sysfs_names_free(list, count);
		return r;
	}
	closedir(dir);
	if (count > 1)
		qsort(list, count, sizeof(*list), cmp_names);
	*names = list;
	*n = count;
	return 0;
oom:
	closedir(dir);
	sysfs_names_free(list, count);
	return -ENOMEM;
}

ssize_t sysfs_read_file(int dirfd, const char *path, size_t max, char **out)
{
	return fileio_read_at(dirfd, path, max, FILEIO_CUT, out);
}
