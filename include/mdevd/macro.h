/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers shared by every module: cleanup attributes and ownership
 * transfer, in the manner of libkmod and systemd.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _nonnull_      __attribute__((nonnull))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_	_cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Declare `static inline void namep(type **p)` that calls `func(*p)` when *p is not NULL. */
#define DEFINE_CLEANUP(type, func)                                                                 \
	static inline void func##p(type **p)                                                       \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

/* Hand a pointer out of a _cleanup_ variable: the variable is NULL afterwards. */
#define steal_ptr(p)                                                                               \
	({                                                                                         \
		__typeof__(p) _tmp = (p);                                                          \
		(p) = NULL;                                                                        \
		_tmp;                                                                              \
	})

/* Hand a file descriptor out of a _cleanup_close_ variable: the variable is -1 afterwards. */
#define steal_fd(fd)                                                                               \
	({                                                                                         \
		int _tmp = (fd);                                                                   \
		(fd) = -1;                                                                         \
		_tmp;                                                                              \
	})

#define streq(a, b) (strcmp((a), (b)) == 0)
