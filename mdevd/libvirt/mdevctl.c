/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mdevctl definitions for --persist with the sysfs backend; see mdevctl.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "libvirt/mdevctl.h"
#include "mdevd/macro.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

/*
 * The text of an mdevctl definition (mdevctl 1.x, /etc/mdevctl.d/<parent>/<uuid>) of an mdev
 * of @type_id that starts with the node: {"mdev_type": @type_id, "start": "auto", "attrs":
 * []}, formatted as mdevctl writes it, then a newline. Returns a string the caller frees, or
 * NULL when out of memory.
 */
static char *definition_text(const char *type_id)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	_cleanup_free_ char *json = NULL;
	char *text;

	if (!root || !cJSON_AddStringToObject(root, "mdev_type", type_id) ||
	    !cJSON_AddStringToObject(root, "start", "auto") ||
	    !cJSON_AddArrayToObject(root, "attrs"))
		return NULL;
	json = cJSON_PrintBuffered(root, 128, 1);
	if (!json || asprintf(&text, "%s\n", json) < 0)
		return NULL;
	return text;
}

static bool name_ok(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/');
}

/* fsync(2) a directory, so that a rename or unlink in it is on disk. Returns 0 or -errno. */
static int fsync_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

/* mkdir(2) that fsyncs the directory above a new directory. Returns 0 or -errno. */
static int mkdir_synced(const char *path, const char *above)
{
	if (mkdir(path, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	return above ? fsync_dir(above) : 0;
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

	text = definition_text(type_id);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (same_content(path, text, len))
		return 0;
	r = mkdir_synced(dir, NULL);
	if (r < 0)
		return r;
	r = mkdir_synced(pdir, dir);
	if (r < 0)
		return r;
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
	return fsync_dir(pdir);
}

int mdevctl_undefine(const char *dir, const char *parent, const char *uuid)
{
	char path[PATH_MAX];

	if (!dir || !name_ok(parent) || !name_ok(uuid))
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, parent, uuid) >= sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	*strrchr(path, '/') = '\0';
	return fsync_dir(path);
}

/* A temp file of mdevctl_define(): ".<name>.tmp". */
static bool is_temp_name(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && name[0] == '.' && streq(name + n - 4, ".tmp");
}

/* One <dir>/<parent> directory; see mdevctl_reconcile(). */
static int reconcile_parent(const char *pdir, const char *parent, mdevctl_keep_fn keep, void *data,
			    struct mdevctl_reconcile_result *res)
{
	DIR *d = opendir(pdir);
	struct dirent *e;
	bool changed = false;
	int r = 0, q;

	if (!d)
		return errno == ENOTDIR || errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		unsigned int *counter;

		if (streq(e->d_name, ".") || streq(e->d_name, ".."))
			continue;
		if (is_temp_name(e->d_name)) /* left by a run killed before its rename */
			counter = &res->temp_removed;
		else if (name_ok(e->d_name) && !keep(data, parent, e->d_name))
			counter = &res->removed;
		else
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
			if (r == 0)
				r = -errno;
			continue;
		}
		(*counter)++;
		changed = true;
	}
	closedir(d);
	if (changed) {
		q = fsync_dir(pdir);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

int mdevctl_reconcile(const char *dir, mdevctl_keep_fn keep, void *data,
		      struct mdevctl_reconcile_result *out)
{
	struct mdevctl_reconcile_result res = {};
	char pdir[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int r = 0, q;

	if (!dir || !keep)
		return -EINVAL;
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return -errno;
		if (out)
			*out = res;
		return 0;
	}
	while ((e = readdir(d))) {
		if (!name_ok(e->d_name))
			continue;
		if ((size_t)snprintf(pdir, sizeof(pdir), "%s/%s", dir, e->d_name) >= sizeof(pdir)) {
			if (r == 0)
				r = -ENAMETOOLONG;
			continue;
		}
		q = reconcile_parent(pdir, e->d_name, keep, data, &res);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (r == 0 && out)
		*out = res;
	return r;
}
