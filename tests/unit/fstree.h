/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building small sysfs / proc / dev trees in a temp dir for the unit tests. */
#pragma once

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

struct fstree {
	char dir[64];
	int fd;
};

static inline void fstree_mkdirs(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static inline void fstree_init(struct fstree *t, const char *tag)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/mdevd-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(t->dir));
	t->fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->fd >= 0);
}

static inline void fstree_free(struct fstree *t)
{
	char cmd[128];

	close(t->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
}

/* The absolute path of @rel in the tree, in a static buffer of four rotating slots. */
static inline const char *fstree_path(const struct fstree *t, const char *rel)
{
	static char bufs[4][1024];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, 1024, "%s/%s", t->dir, rel);
	return b;
}

/* Write @contents to @rel, creating its directories. */
static inline void fstree_file(const struct fstree *t, const char *rel, const char *contents)
{
	char path[1024], dir[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	fstree_mkdirs(dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(contents, f);
	fclose(f);
}

static inline void fstree_dir(const struct fstree *t, const char *rel)
{
	fstree_mkdirs(fstree_path(t, rel));
}

/* A symlink @rel -> @target (target as written), creating @rel's directories. */
static inline void fstree_link(const struct fstree *t, const char *rel, const char *target)
{
	char path[1024], dir[1024];

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	fstree_mkdirs(dir);
	assert_int_equal(symlink(target, path), 0);
}
