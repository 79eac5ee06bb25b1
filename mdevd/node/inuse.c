/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In-use detection by scanning /proc/<pid>/fd for /dev/vfio/<group> links.
 * See inuse.h for why mdevd never probes a group by opening it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/inuse.h"
#include "mdevd/macro.h"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* "/dev/vfio/12" -> 12; anything else (incl. "/dev/vfio/vfio") -> -1. */
static int vfio_group_of(const char *target)
{
	static const char prefix[] = "/dev/vfio/";
	const char *num;
	long v;

	if (strncmp(target, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	num = target + sizeof(prefix) - 1;
	if (!all_digits(num) || strlen(num) > 9)
		return -1;
	v = strtol(num, NULL, 10);
	return (int)v;
}

/* "/dev/vfio/devices/vfio3" -> 3; anything else -> -1. */
static long vfio_cdev_of(const char *target)
{
	static const char prefix[] = "/dev/vfio/devices/vfio";
	const char *num;

	if (strncmp(target, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	num = target + sizeof(prefix) - 1;
	if (!all_digits(num) || strlen(num) > 9)
		return -1;
	return strtol(num, NULL, 10);
}

static int add_cdev(struct inuse *in, size_t *cap, unsigned int cdev)
{
	for (size_t i = 0; i < in->n_cdevs; i++)
		if (in->cdevs[i] == cdev)
			return 0;
	if (in->n_cdevs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		unsigned int *c = reallocarray(in->cdevs, ncap, sizeof(*c));

		if (!c)
			return -ENOMEM;
		in->cdevs = c;
		*cap = ncap;
	}
	in->cdevs[in->n_cdevs++] = cdev;
	return 0;
}

static int add_group(struct inuse *in, size_t *cap, int group)
{
	for (size_t i = 0; i < in->n_groups; i++)
		if (in->groups[i] == group)
			return 0;
	if (in->n_groups == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		int *g = realloc(in->groups, ncap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		in->groups = g;
		*cap = ncap;
	}
	in->groups[in->n_groups++] = group;
	return 0;
}

/* Read all of a small /proc file (at most @size - 1 bytes); returns the length or -1. */
static ssize_t read_small(int proc_fd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/*
 * QEMU's guest name from its command line: "-name guest=vm1,debug-threads=on" (libvirt)
 * or "-name vm1[,...]". @cmdline holds @len bytes of NUL-separated arguments.
 */
static void qemu_guest_name(const char *cmdline, size_t len, char *out, size_t size)
{
	const char *end = cmdline + len;

	out[0] = '\0';
	for (const char *a = cmdline; a < end; a += strlen(a) + 1) {
		const char *v = a + strlen(a) + 1;
		const char *g;
		size_t n;

		if (!(streq(a, "-name") || streq(a, "--name")) || v >= end)
			continue;
		/* The first element without '=' is the name; else the guest= element. */
		n = strcspn(v, ",");
		if (memchr(v, '=', n) == NULL) {
			snprintf(out, size, "%.*s", (int)n, v);
			return;
		}
		for (g = v; *g; g += strcspn(g, ",") + (g[strcspn(g, ",")] ? 1 : 0)) {
			if (strncmp(g, "guest=", 6) == 0) {
				n = strcspn(g + 6, ",");
				snprintf(out, size, "%.*s", (int)n, g + 6);
				return;
			}
		}
		return;
	}
}

static int add_holder(struct inuse *in, int proc_fd, const char *pid, int group)
{
	struct inuse_holder *v = realloc(in->holders, (in->n_holders + 1) * sizeof(*v));
	struct inuse_holder *h;
	char path[64], cmdline[4096];
	ssize_t n;

	if (!v)
		return -ENOMEM;
	in->holders = v;
	h = &v[in->n_holders++];
	*h = (struct inuse_holder){.group = group, .pid = atoi(pid)};
	snprintf(path, sizeof(path), "%s/comm", pid);
	if (read_small(proc_fd, path, h->comm, sizeof(h->comm)) > 0)
		h->comm[strcspn(h->comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/cmdline", pid);
	n = read_small(proc_fd, path, cmdline, sizeof(cmdline));
	if (n > 0)
		qemu_guest_name(cmdline, (size_t)n, h->guest, sizeof(h->guest));
	return 0;
}

/* Scan one process's fd directory. Returns 0, -EACCES (unreadable), or -ENOMEM. */
static int scan_pid(int proc_fd, const char *pid, struct inuse *in, size_t *cap, size_t *cap_cdevs)
{
	char path[64], link[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	DIR *dir;
	int r = 0;

	snprintf(path, sizeof(path), "%s/fd", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == EACCES || errno == EPERM ? -EACCES : 0; /* gone: not holding */
	dir = fdopendir(fd);
	if (!dir)
		return -ENOMEM;
	steal_fd(fd);
	while ((de = readdir(dir))) {
		size_t before;
		ssize_t len;
		int group;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (len < 0)
			continue; /* the fd was closed meanwhile */
		link[len] = '\0';
		group = vfio_group_of(link);
		if (group < 0) {
			long cdev = vfio_cdev_of(link);

			if (cdev >= 0) {
				r = add_cdev(in, cap_cdevs, (unsigned int)cdev);
				if (r < 0)
					break;
			}
			continue;
		}
		before = in->n_groups;
		r = add_group(in, cap, group);
		if (r == 0 && in->n_groups > before)
			r = add_holder(in, proc_fd, pid, group);
		if (r < 0)
			break;
	}
	closedir(dir);
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return (x > y) - (x < y);
}

int inuse_scan(int proc_fd, struct inuse *out)
{
	struct inuse in = {};
	_cleanup_close_ int fd = -1;
	size_t cap = 0, cap_cdevs = 0;
	struct dirent *de;
	DIR *dir;
	int r = 0;

	fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir)
		return -errno;
	steal_fd(fd);
	while ((de = readdir(dir))) {
		if (!all_digits(de->d_name))
			continue;
		r = scan_pid(proc_fd, de->d_name, &in, &cap, &cap_cdevs);
		if (r == -EACCES) {
			in.unreadable++;
			r = 0;
		} else if (r < 0) {
			break;
		}
	}
	closedir(dir);
	if (r < 0) {
		inuse_release(&in);
		return r;
	}
	if (in.n_groups > 1)
		qsort(in.groups, in.n_groups, sizeof(int), cmp_int);
	if (in.n_cdevs > 1)
		qsort(in.cdevs, in.n_cdevs, sizeof(unsigned int), cmp_uint);
	*out = in;
	return 0;
}

void inuse_release(struct inuse *in)
{
	free(in->groups);
	in->groups = NULL;
	in->n_groups = 0;
	free(in->holders);
	in->holders = NULL;
	in->n_holders = 0;
	free(in->cdevs);
	in->cdevs = NULL;
	in->n_cdevs = 0;
}

const struct inuse_holder *inuse_get_holder(const struct inuse *in, int group)
{
	for (size_t i = 0; i < in->n_holders; i++)
		if (in->holders[i].group == group)
			return &in->holders[i];
	return NULL;
}

const char *inuse_holder_str(const struct inuse_holder *h, char *buf, size_t size)
{
	snprintf(buf, size, "pid %d (%s%s%s)", h->pid, h->comm[0] ? h->comm : "?",
		 h->guest[0] ? ", guest " : "", h->guest);
	return buf;
}

bool inuse_has_device(const struct inuse *in, int group, bool has_cdev, unsigned int cdev)
{
	return inuse_has_group(in, group) || (has_cdev && inuse_has_cdev(in, cdev));
}

bool inuse_has_cdev(const struct inuse *in, unsigned int cdev)
{
	return in->n_cdevs > 0 &&
	       bsearch(&cdev, in->cdevs, in->n_cdevs, sizeof(unsigned int), cmp_uint);
}

int inuse_device_is_open(int proc_fd, int group, bool has_cdev, unsigned int cdev)
{
	struct inuse in;
	bool open;
	int r;

	r = inuse_scan(proc_fd, &in);
	if (r < 0)
		return r;
	open = in.unreadable > 0 || inuse_has_device(&in, group, has_cdev, cdev);
	inuse_release(&in);
	return open;
}

bool inuse_has_group(const struct inuse *in, int group)
{
	return group >= 0 && in->n_groups > 0 &&
	       bsearch(&group, in->groups, in->n_groups, sizeof(int), cmp_int);
}

int inuse_group_is_open(int proc_fd, int group)
{
	return inuse_device_is_open(proc_fd, group, false, 0);
}
