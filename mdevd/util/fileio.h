/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fileio: the one loop that reads a whole file. sysfs and proc files do not tell their
 * size to stat(2), a policy may come from a pipe, and a kubeconfig from anywhere, so every
 * reader reads to end of file with a bound instead of trusting st_size.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

enum fileio_flags {
	FILEIO_CUT = 1 << 0, /* keep the first @max bytes of a longer file (else -EFBIG) */
};

/*
 * fileio_read_fd - everything @fd has until end of file (regular file, proc or sysfs
 * attribute, pipe) into a new NUL-terminated buffer *@out (free()), at most @max bytes
 * of it. @fd stays open and the caller's. A file longer than @max bytes is -EFBIG, or
 * its first @max bytes with FILEIO_CUT. Retries EINTR. Returns the length read (the
 * buffer may hold NULs: use the length, not strlen(), when that matters), -EFBIG,
 * -ENOMEM, or the -errno of read(2) (e.g. -EISDIR for a directory); *@out is untouched
 * on error.
 */
ssize_t fileio_read_fd(int fd, size_t max, unsigned flags, char **out);

/*
 * fileio_read_at - fileio_read_fd() of @path opened (O_RDONLY | O_CLOEXEC) relative to @dirfd
 * (AT_FDCWD for the working directory; an absolute @path ignores it). Returns what
 * fileio_read_fd() returns, or the -errno of openat(2) (-ENOENT when absent).
 */
ssize_t fileio_read_at(int dirfd, const char *path, size_t max, unsigned flags, char **out);
