/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a whole file with a bound; see fileio.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "util/fileio.h"

ssize_t fileio_read_fd(int fd, size_t max, unsigned flags, char **out)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			/* Room for max + 1 bytes: the extra byte tells a longer file apart. */
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (cap > max)
				break;
			if (ncap > max + 1)
				ncap = max + 1;
			nb = realloc(buf, ncap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		if (!(flags & FILEIO_CUT))
			return -EFBIG;
		len = max;
	}
	buf[len] = '\0';
	*out = steal_ptr(buf);
	return (ssize_t)len;
}

ssize_t fileio_read_at(int dirfd, const char *path, size_t max, unsigned flags, char **out)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fileio_read_fd(fd, max, flags, out);
}
