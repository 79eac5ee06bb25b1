/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdev: discovery of mdev parents, their types and live mdev instances.
 *
 * Kernel ABI followed (Linux 6.1: Documentation/driver-api/vfio-mediated-device.rst,
 * Documentation/ABI/testing/sysfs-bus-vfio-mdev, drivers/vfio/mdev/mdev_sysfs.c):
 *   class/mdev_bus/<parent>   a link to the parent's device dir, named like the device
 *                             ("mtty" -> devices/virtual/mtty/mtty, "0000:3b:00.4" -> the VF)
 *   <parent dir>/mdev_supported_types/<type id>/
 *                             name (optional: fall back to the id), description (optional),
 *                             device_api, available_instances, create, devices/ (links)
 *   bus/mdev/devices/<uuid>   a link to <parent dir>/<uuid>, which holds
 *                             mdev_type -> ../mdev_supported_types/<type id> and, once VFIO
 *                             has the device, iommu_group -> kernel/iommu_groups/<N>
 *   A PCI parent also has bus/pci/devices/<bdf>; its dir has vendor, device, numa_node and,
 *   for an SR-IOV VF, physfn -> the PF's dir.
 *
 * Cost per type, the hot path of `mdevd types`: one openat(O_DIRECTORY) of the type dir,
 * then one open + read + close per attribute relative to it. No stat, and no listing of
 * devices/ unless instance counts are asked for.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/mdev.h"
#include "mdevd/macro.h"
#include "node/sysfs.h"

/* Attribute contents are at most a page; names, ids and counts are much shorter. */
#define ATTR_MAX 4096

void mdev_report(const struct mdev_scan *s, const char *path, int err, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (!s->report)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->report(s->userdata, path, err, what);
}

bool mdev_is_bdf(const char *s)
{
	size_t i = 0;

	while (isxdigit((unsigned char)s[i]))
		i++;
	if (i < 4 || i > 8 || s[i] != ':')
		return false;
	s += i + 1;
	return isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) && s[2] == ':' &&
	       isxdigit((unsigned char)s[3]) && isxdigit((unsigned char)s[4]) && s[5] == '.' &&
	       s[6] >= '0' && s[6] <= '7' && s[7] == '\0';
}

int mdev_uuid_normalize(const char *s, char out[MDEVD_UUID_STR_LEN])
{
	char buf[MDEVD_UUID_STR_LEN];

	if (strlen(s) != MDEVD_UUID_STR_LEN - 1)
		return -EINVAL;
	for (size_t i = 0; i < MDEVD_UUID_STR_LEN - 1; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			buf[i] = '-';
		} else {
			if (!isxdigit((unsigned char)s[i]))
				return -EINVAL;
			buf[i] = (char)tolower((unsigned char)s[i]);
		}
	}
	buf[MDEVD_UUID_STR_LEN - 1] = '\0';
	memcpy(out, buf, MDEVD_UUID_STR_LEN);
	return 0;
}

int mdev_parse_count(const char *s, unsigned int *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > UINT_MAX)
			return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

int mdev_parse_index(const char *s, unsigned int *out)
{
	return mdev_parse_count(s, out);
}

static void type_clear(struct mdev_type *t)
{
	free(t->id);
	free(t->name);
	free(t->description);
	free(t->device_api);
}

/*
 * Read one type dir into *t (which takes @id on success). A malformed or vanished type is
 * reported and its errno returned; -ENOMEM is reported to nobody: the caller stops.
 */
static int type_load(const struct mdev_scan *s, int types_fd, const char *parent, char *id,
		     bool count_instances, struct mdev_type *t)
{
	_cleanup_free_ char *name = NULL, *description = NULL, *device_api = NULL;
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	char buf[ATTR_MAX];
	unsigned int avail;
	size_t n = 0;
	int r;

#define TYPE_PATH()                                                                                \
	(snprintf(path, sizeof(path), "class/mdev_bus/%s/mdev_supported_types/%s", parent, id),    \
	 path)

	fd = openat(types_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			mdev_report(s, TYPE_PATH(), r, "vanished during the scan");
		else
			mdev_report(s, TYPE_PATH(), r, "cannot open the type directory: %s",
				    strerror(-r));
		return r;
	}

	r = sysfs_read_attr(fd, "available_instances", buf, sizeof(buf));
	if (r == -ENOENT) {
		mdev_report(s, TYPE_PATH(), r, "available_instances is missing");
		return r;
	}
	if (r < 0) {
		mdev_report(s, TYPE_PATH(), r, "cannot read available_instances: %s", strerror(-r));
		return r;
	}
	if (mdev_parse_count(buf, &avail) < 0) {
		mdev_report(s, TYPE_PATH(), -EINVAL,
			    "available_instances is not a number (\"%.64s\")", buf);
		return -EINVAL;
	}

	r = sysfs_read_attr(fd, "device_api", buf, sizeof(buf));
	if (r == 0)
		r = -EINVAL;
	if (r < 0) {
		if (r == -ENOENT)
			mdev_report(s, TYPE_PATH(), r, "device_api is missing");
		else if (r == -EINVAL)
			mdev_report(s, TYPE_PATH(), r, "device_api is empty");
		else
			mdev_report(s, TYPE_PATH(), r, "cannot read device_api: %s", strerror(-r));
		return r;
	}
	device_api = strdup(buf);
	if (!device_api)
		return -ENOMEM;

	r = sysfs_read_attr(fd, "name", buf, sizeof(buf));
	if (r > 0)
		name = strdup(buf);
	else if (r == 0 || r == -ENOENT)
		name = strdup(id); /* the kernel leaves out `name` when a driver gives none */
	else {
		mdev_report(s, TYPE_PATH(), r, "cannot read name: %s", strerror(-r));
		return r;
	}
	if (!name)
		return -ENOMEM;

	r = sysfs_read_attr(fd, "description", buf, sizeof(buf));
	if (r >= 0) {
		description = strdup(buf);
		if (!description)
			return -ENOMEM;
	} else if (r != -ENOENT) {
		mdev_report(s, TYPE_PATH(), r, "cannot read description: %s", strerror(-r));
		return r;
	}

	/* Git keeps no empty dirs and a racing removal may take devices/ away: count 0. */
	if (count_instances && sysfs_count_dir(fd, "devices", &n) < 0)
		n = 0;
#undef TYPE_PATH

	*t = (struct mdev_type){
		.id = id,
		.name = steal_ptr(name),
		.description = steal_ptr(description),
		.device_api = steal_ptr(device_api),
		.available_instances = avail,
		.n_instances = (unsigned int)n,
	};
	return 0;
}

void mdev_parent_clear(struct mdev_parent *p)
{
	for (size_t i = 0; i < p->n_types; i++)
		type_clear(&p->types[i]);
	free(p->types);
	for (size_t i = 0; i < p->n_vfs; i++)
		free(p->vfs[i].creatable);
	free(p->vfs);
	free(p->name);
	free(p->pci_address);
	free(p->physfn);
}

uint16_t mdev_read_hex16(int dirfd, const char *attr)
{
	char buf[32], *end;
	unsigned long v;

	if (sysfs_read_attr(dirfd, attr, buf, sizeof(buf)) <= 0)
		return 0;
	errno = 0;
	v = strtoul(buf, &end, 16);
	if (errno || *end || v > 0xffff)
		return 0;
	return (uint16_t)v;
}

/* The PCI side of a parent: only when its device dir is a PCI function. */
static int parent_load_pci(const struct mdev_scan *s, int parent_fd, struct mdev_parent *p)
{
	char target[PATH_MAX], path[PATH_MAX], buf[MDEVD_BDF_STR_LEN];
	const char *base;
	int r;

	snprintf(path, sizeof(path), "class/mdev_bus/%s", p->name);
	if (sysfs_read_link(s->sysfs_fd, path, target, sizeof(target)) < 0)
		return 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!mdev_is_bdf(base))
		return 0;
	snprintf(path, sizeof(path), "bus/pci/devices/%.16s", base); /* a BDF is short */
	if (faccessat(s->sysfs_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;

	p->pci_address = strdup(base);
	if (!p->pci_address)
		return -ENOMEM;
	p->vendor_id = mdev_read_hex16(parent_fd, "vendor");
	p->device_id = mdev_read_hex16(parent_fd, "device");
	if (sysfs_read_int(parent_fd, "numa_node", &r) == 0)
		p->numa_node = r;
	if (sysfs_read_link_name(parent_fd, "physfn", buf, sizeof(buf)) > 0) {
		p->physfn = strdup(buf);
		if (!p->physfn)
			return -ENOMEM;
	}
	return 0;
}

/* Read one parent into *p (which takes @name on success); reports and returns like type_load. */
static int parent_load(const struct mdev_scan *s, char *name, bool count_instances,
		       struct mdev_parent *p)
{
	_cleanup_close_ int fd = -1, types_fd = -1;
	char path[PATH_MAX];
	char **ids = NULL;
	size_t n_ids = 0;
	int r;

	snprintf(path, sizeof(path), "class/mdev_bus/%s", name);
	fd = openat(s->sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			mdev_report(s, path, r, "vanished during the scan (the link dangles)");
		else
			mdev_report(s, path, r, "cannot open the parent device: %s", strerror(-r));
		return r;
	}

	*p = (struct mdev_parent){.name = name, .numa_node = -1, .backend = PARENT_BACKEND_MDEV};
	r = parent_load_pci(s, fd, p);
	if (r < 0)
		goto fail;

	types_fd = openat(fd, "mdev_supported_types", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (types_fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return 0; /* a parent that offers nothing (yet) */
		mdev_report(s, path, r, "cannot open mdev_supported_types: %s", strerror(-r));
		goto fail;
	}
	r = sysfs_list_dir(types_fd, ".", &ids, &n_ids);
	if (r < 0) {
		if (r != -ENOMEM)
			mdev_report(s, path, r, "cannot list mdev_supported_types: %s",
				    strerror(-r));
		goto fail;
	}
	if (n_ids) {
		p->types = calloc(n_ids, sizeof(*p->types));
		if (!p->types) {
			sysfs_names_free(ids, n_ids);
			r = -ENOMEM;
			goto fail;
		}
	}
	for (size_t i = 0; i < n_ids; i++) {
		r = type_load(s, types_fd, name, ids[i], count_instances, &p->types[p->n_types]);
		if (r == 0) {
			p->n_types++;
			ids[i] = NULL; /* the type owns it now */
			continue;
		}
		if (r == -ENOMEM) {
			sysfs_names_free(ids, n_ids);
			goto fail;
		}
	}
	sysfs_names_free(ids, n_ids);
	return 0;
fail:
	p->name = NULL; /* still the caller's on failure */
	mdev_parent_clear(p);
	return r;
}

void mdev_parents_free(struct mdev_parent *parents, size_t n)
{
	if (!parents)
		return;
	for (size_t i = 0; i < n; i++)
		mdev_parent_clear(&parents[i]);
	free(parents);
}

int mdev_parents_load(int sysfs_fd, bool count_instances, inventory_report_fn report_fn,
		      void *userdata, struct mdev_parent **out, size_t *n)
{
	const struct mdev_scan s = {
		.sysfs_fd = sysfs_fd, .report = report_fn, .userdata = userdata};
	struct mdev_parent *parents = NULL;
	char **names = NULL;
	size_t n_names = 0, count = 0;
	int r;

	r = sysfs_list_dir(sysfs_fd, "class/mdev_bus", &names, &n_names);
	if (r == -ENOENT) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (n_names) {
		parents = calloc(n_names, sizeof(*parents));
		if (!parents) {
			sysfs_names_free(names, n_names);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n_names; i++) {
		r = parent_load(&s, names[i], count_instances, &parents[count]);
		if (r == 0) {
			count++;
			names[i] = NULL;
		} else if (r == -ENOMEM) {
			sysfs_names_free(names, n_names);
			mdev_parents_free(parents, count);
			return r;
		}
	}
	sysfs_names_free(names, n_names);
	*out = parents;
	*n = count;
	return 0;
}

/*
 * Resolve "." and ".." in the relative path @path in place, lexically: sysfs dirs on the
 * way are real directories, so this matches the kernel's resolution. Returns 0, or
 * -EINVAL when ".." climbs above the root.
 */
static int path_normalize(char *path)
{
	char *comp[256]; /* sysfs paths are a few dozen components deep */
	size_t n = 0;
	char *save = NULL, *tok;
	char out[PATH_MAX];
	size_t len = 0;

	for (tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (streq(tok, "."))
			continue;
		if (streq(tok, "..")) {
			if (n == 0)
				return -EINVAL;
			n--;
			continue;
		}
		if (n == ARRAY_SIZE(comp))
			return -EINVAL;
		comp[n++] = tok;
	}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + len, sizeof(out) - len, "%s%s", i ? "/" : "", comp[i]);

		if (w < 0 || (size_t)w >= sizeof(out) - len)
			return -EINVAL;
		len += (size_t)w;
	}
	memcpy(path, out, len + 1);
	return 0;
}

/* The dir part of @path ("a/b/c" -> "a/b"), in place. */
static void path_dirname(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash)
		*slash = '\0';
	else
		path[0] = '\0';
}

static void instance_clear(struct mdev_instance *m)
{
	free(m->parent);
	free(m->type_id);
}

static int instance_load(const struct mdev_scan *s, const char *name, struct mdev_instance *m)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX], dir[PATH_MAX], target[PATH_MAX], buf[32];
	char uuid[MDEVD_UUID_STR_LEN];
	char *type_id, *parent, *slash;
	int group = -1, r;

	snprintf(path, sizeof(path), "bus/mdev/devices/%s", name);
	if (mdev_uuid_normalize(name, uuid) < 0) {
		mdev_report(s, path, -EINVAL, "the name is not a UUID");
		return -EINVAL;
	}
	fd = openat(s->sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			mdev_report(s, path, r, "vanished during the scan (the link dangles)");
		else
			mdev_report(s, path, r, "cannot open the mdev: %s", strerror(-r));
		return r;
	}

	/* Where the instance dir is: bus/mdev/devices/ + its link target. */
	r = sysfs_read_link(s->sysfs_fd, path, target, sizeof(target));
	if (r < 0) {
		mdev_report(s, path, r, "is not a link to the mdev's device: %s", strerror(-r));
		return r;
	}
	if (target[0] == '/' ||
	    (size_t)snprintf(dir, sizeof(dir), "bus/mdev/devices/%s", target) >= sizeof(dir) ||
	    path_normalize(dir) < 0) {
		mdev_report(s, path, -EINVAL, "link target \"%s\" leaves the sysfs root", target);
		return -EINVAL;
	}

	/* Its type dir: <instance dir>/ + mdev_type's target = <parent>/mdev_supported_types/<id>.
	 */
	r = sysfs_read_link(fd, "mdev_type", target, sizeof(target));
	if (r < 0) {
		if (r == -ENOENT)
			mdev_report(s, path, r, "vanished during the scan (no mdev_type link)");
		else
			mdev_report(s, path, r, "cannot read mdev_type: %s", strerror(-r));
		return r;
	}
	if (target[0] == '/' || strlen(dir) + 1 + strlen(target) >= sizeof(dir)) {
		mdev_report(s, path, -EINVAL, "mdev_type link \"%s\" is not relative", target);
		return -EINVAL;
	}
	strcat(dir, "/");
	strcat(dir, target);
	if (path_normalize(dir) < 0) {
		mdev_report(s, path, -EINVAL, "mdev_type link \"%s\" leaves the sysfs root",
			    target);
		return -EINVAL;
	}
	slash = strrchr(dir, '/');
	type_id = slash ? slash + 1 : dir;
	path_dirname(dir);
	slash = strrchr(dir, '/');
	if (!slash || !streq(slash + 1, "mdev_supported_types") || *type_id == '\0') {
		mdev_report(s, path, -EINVAL, "mdev_type link \"%s\" is not a type directory",
			    target);
		return -EINVAL;
	}
	path_dirname(dir);
	slash = strrchr(dir, '/');
	parent = slash ? slash + 1 : dir;
	if (*parent == '\0') {
		mdev_report(s, path, -EINVAL, "mdev_type link \"%s\" names no parent", target);
		return -EINVAL;
	}

	if (sysfs_read_link_name(fd, "iommu_group", buf, sizeof(buf)) > 0) {
		char *end;
		long v;

		errno = 0;
		v = strtol(buf, &end, 10);
		if (!errno && !*end && v >= 0 && v <= INT_MAX)
			group = (int)v;
	}

	*m = (struct mdev_instance){.iommu_group = group, .backend = PARENT_BACKEND_MDEV};
	m->has_vfio_cdev = mdev_read_vfio_cdev(fd, &m->vfio_cdev);
	memcpy(m->uuid, uuid, sizeof(uuid));
	m->type_id = strdup(type_id);
	m->parent = strdup(parent);
	if (!m->type_id || !m->parent) {
		instance_clear(m);
		return -ENOMEM;
	}
	return 0;
}

void mdev_instances_free(struct mdev_instance *mdevs, size_t n)
{
	if (!mdevs)
		return;
	for (size_t i = 0; i < n; i++)
		instance_clear(&mdevs[i]);
	free(mdevs);
}

static int cmp_instances(const void *a, const void *b)
{
	return strcmp(((const struct mdev_instance *)a)->uuid,
		      ((const struct mdev_instance *)b)->uuid);
}

int mdev_instances_load(int sysfs_fd, inventory_report_fn report_fn, void *userdata,
			struct mdev_instance **out, size_t *n)
{
	const struct mdev_scan s = {
		.sysfs_fd = sysfs_fd, .report = report_fn, .userdata = userdata};
	struct mdev_instance *mdevs = NULL;
	char **names = NULL;
	size_t n_names = 0, count = 0;
	int r;

	r = sysfs_list_dir(sysfs_fd, "bus/mdev/devices", &names, &n_names);
	if (r == -ENOENT) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (n_names) {
		mdevs = calloc(n_names, sizeof(*mdevs));
		if (!mdevs) {
			sysfs_names_free(names, n_names);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n_names; i++) {
		r = instance_load(&s, names[i], &mdevs[count]);
		if (r == 0) {
			count++;
		} else if (r == -ENOMEM) {
			sysfs_names_free(names, n_names);
			mdev_instances_free(mdevs, count);
			return r;
		}
	}
	sysfs_names_free(names, n_names);
	if (count > 1)
		qsort(mdevs, count, sizeof(*mdevs), cmp_instances);
	*out = mdevs;
	*n = count;
	return 0;
}
