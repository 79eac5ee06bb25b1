/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vfio-pci ownership file; vfio_state.h describes it. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply/vfio_state.h"
#include "mdevd/macro.h"

static int cmp_owned(const void *a, const void *b)
{
	return strcmp(((const struct vfio_owned *)a)->address,
		      ((const struct vfio_owned *)b)->address);
}

void vfio_state_release(struct vfio_state *s)
{
	free(s->entries);
	s->entries = NULL;
	s->n = 0;
}

const struct vfio_owned *vfio_state_find(const struct vfio_state *s, const char *address)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->entries[i].address, address))
			return &s->entries[i];
	return NULL;
}

int vfio_state_put(struct vfio_state *s, const struct vfio_owned *e)
{
	struct vfio_owned *n;

	for (size_t i = 0; i < s->n; i++) {
		if (streq(s->entries[i].address, e->address)) {
			s->entries[i] = *e;
			return 0;
		}
	}
	n = realloc(s->entries, (s->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->entries = n;
	s->entries[s->n++] = *e;
	qsort(s->entries, s->n, sizeof(*s->entries), cmp_owned);
	return 0;
}

bool vfio_state_drop(struct vfio_state *s, const char *address)
{
	for (size_t i = 0; i < s->n; i++) {
		if (streq(s->entries[i].address, address)) {
			memmove(&s->entries[i], &s->entries[i + 1],
				(s->n - i - 1) * sizeof(*s->entries));
			s->n--;
			return true;
		}
	}
	return false;
}

int vfio_state_load(const char *path, struct vfio_state *out, unsigned int *skipped)
{
	struct vfio_state s = {0};
	unsigned int bad = 0;
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f) {
		if (errno != ENOENT)
			return -errno;
		*out = s;
		if (skipped)
			*skipped = 0;
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		struct vfio_owned e = {0};
		unsigned int v, d;
		char addr[32], drv[64];

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%31s %x:%x %63s", addr, &v, &d, drv) != 4 || strlen(addr) != 12 ||
		    v > 0xffff || d > 0xffff) {
			bad++;
			continue;
		}
		memcpy(e.address, addr, sizeof("dddd:bb:ss.f")); /* length checked above */
		e.vendor_id = (uint16_t)v;
		e.device_id = (uint16_t)d;
		snprintf(e.driver, sizeof(e.driver), "%s", streq(drv, "-") ? "" : drv);
		if (vfio_state_put(&s, &e) < 0) {
			fclose(f);
			vfio_state_release(&s);
			return -ENOMEM;
		}
	}
	fclose(f);
	if (skipped)
		*skipped = bad;
	*out = s;
	return 0;
}

static int mkdir_parents(const char *dir)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int vfio_state_save(const char *path, const struct vfio_state *s)
{
	char dir[4096], tmp[4200];
	_cleanup_close_ int dfd = -1;
	FILE *f;
	int fd, r;

	char copy[4096];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	r = mkdir_parents(dir);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	fprintf(f, "# PCI functions mdevd bound to vfio-pci: address vendor:device host-driver\n"
		   "# Written by mdevd; replaced whole on every change.\n");
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s %04x:%04x %s\n", s->entries[i].address, s->entries[i].vendor_id,
			s->entries[i].device_id,
			s->entries[i].driver[0] ? s->entries[i].driver : "-");
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		r = -errno;
		fclose(f);
		unlink(tmp);
		return r;
	}
	if (fclose(f) != 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}
