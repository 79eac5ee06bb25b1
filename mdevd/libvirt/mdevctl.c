/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mdevctl definitions for --persist with the sysfs backend; see mdevctl.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libvirt/mdevctl.h"
#include "mdevd/macro.h"
#include "cli/output.h"

static bool name_ok(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/');
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Does @path already hold exactly @text? */
static bool same_content(const char *path, const char *text, size_t len)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return n == len && memcmp(buf, text, len) == 0;
}

int mdevctl_define(const char *dir, const char *parent, const char *type_id, const char *uuid)
{
	char pdir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!dir || !name_ok(parent) || !name_ok(uuid) || !type_id)
		return -EINVAL;
	if ((size_t)snprintf(pdir, sizeof(pdir), "%s/%s", dir, parent) >= sizeof(pdir) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", pdir, uuid) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", pdir, uuid) >= sizeof(tmp))
		return -ENAMETOOLONG;

	{
		_cleanup_(fclosep) FILE *mem = open_memstream(&text, &len);

		if (!mem)
			return -ENOMEM;
		r = output_mdevctl_config(mem, type_id);
		if (r < 0)
			return r;
		if (fflush(mem) == EOF)
			return -ENOMEM;
	}
	if (same_content(path, text, len))
		return 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(pdir, 0755) < 0 && errno != EEXIST)
		return -errno;
	{
		_cleanup_close_ int fd =
			open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0)
			return -errno;
		if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
			r = errno ? -errno : -EIO;
			unlink(tmp);
			return r;
		}
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

int mdevctl_undefine(const char *dir, const char *parent, const char *uuid)
{
	char path[PATH_MAX];

	if (!dir || !name_ok(parent) || !name_ok(uuid))
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, parent, uuid) >= sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
