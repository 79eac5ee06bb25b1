/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NVIDIA vendor-specific VFIO cards: the creatable_vgpu_types parser and the reader that
 * turns each card's VFs into one inventory parent. See nvidia_vgpu.h.
 *
 * Cost: one listing of bus/pci/devices and one faccessat per function; per VF with
 * nvidia/, four small reads and one listing of vfio-dev/.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "node/mdev.h"
#include "node/nvidia_vgpu.h"
#include "node/sysfs.h"

#define NAME_MAX_LEN 255
#define ATTR_MAX     4096

const char *parent_backend_str(enum parent_backend backend)
{
	switch (backend) {
	case PARENT_BACKEND_MDEV:
		return "mdev";
	case PARENT_BACKEND_NVIDIA_VGPU:
		return "nvidia-vgpu";
	}
	return "?";
}

void nvidia_vgpu_entries_free(struct nvidia_vgpu_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A decimal id of 1..UINT_MAX at [s, e): returns the number of digits consumed, 0 when none. */
static size_t parse_id(const char *s, const char *e, unsigned int *out)
{
	unsigned long long v = 0;
	size_t i = 0;

	while (s + i < e && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (unsigned long long)(s[i] - '0');
		if (v > UINT_MAX)
			return 0;
		i++;
	}
	if (i == 0 || v == 0)
		return 0;
	*out = (unsigned int)v;
	return i;
}

int nvidia_vgpu_type_id(const char *s, unsigned int *out)
{
	size_t len = strlen(s);
	unsigned int v;

	if (!len || parse_id(s, s + len, &v) != len)
		return -EINVAL;
	*out = v;
	return 0;
}

int nvidia_vgpu_parse_types(const char *text, size_t len, struct nvidia_vgpu_entry **out, size_t *n,
			    unsigned int *line)
{
	struct nvidia_vgpu_entry *v = NULL;
	size_t nv = 0, cap = 0;
	const char *p = text, *end = text + len;
	unsigned int lineno = 0;
	bool seen_line = false;
	int r = -EINVAL;

	if (!text && len)
		return -EINVAL;
	if (len && memchr(text, '\0', len))
		goto bad_first;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *ls = p, *le = nl ? nl : end, *q;
		unsigned int id;
		size_t digits;

		p = nl ? nl + 1 : end;
		lineno++;
		while (ls < le && is_blank(*ls))
			ls++;
		while (le > ls && is_blank(le[-1]))
			le--;
		if (ls == le)
			continue;
		digits = parse_id(ls, le, &id);
		if (!digits || (ls + digits < le && !is_blank(ls[digits]) && ls[digits] != ':')) {
			/* Only the first non-blank line may be the header (a non-number first). */
			if (!seen_line && !(ls[0] >= '0' && ls[0] <= '9')) {
				seen_line = true;
				continue;
			}
			goto bad;
		}
		seen_line = true;
		q = ls + digits;
		while (q < le && is_blank(*q))
			q++;
		if (q < le && *q == ':') {
			q++;
			while (q < le && is_blank(*q))
				q++;
		} else if (q == ls + digits) {
			goto bad; /* no separator at all */
		}
		if (q >= le || (size_t)(le - q) > NAME_MAX_LEN)
			goto bad;
		for (size_t i = 0; i < nv; i++)
			if (v[i].id == id)
				goto bad;
		if (nv == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct nvidia_vgpu_entry *nvv = reallocarray(v, ncap, sizeof(*v));

			if (!nvv) {
				r = -ENOMEM;
				goto fail;
			}
			v = nvv;
			cap = ncap;
		}
		v[nv].name = strndup(q, (size_t)(le - q));
		if (!v[nv].name) {
			r = -ENOMEM;
			goto fail;
		}
		v[nv++].id = id;
	}
	if (!nv) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = nv;
	return 0;
bad_first:
	lineno = 1;
	for (const char *c = text; c < text + len && *c; c++)
		if (*c == '\n')
			lineno++;
bad:
	if (line)
		*line = lineno;
	r = -EINVAL;
fail:
	nvidia_vgpu_entries_free(v, nv);
	return r;
}

bool nvidia_vgpu_vf_offers(const struct vgpu_vf *vf, unsigned int id)
{
	for (size_t i = 0; i < vf->n_creatable; i++)
		if (vf->creatable[i] == id)
			return true;
	return false;
}

/* --- the sysfs reader --- */

/* --- the catalogue file --- */

struct cat_entry {
	uint16_t vendor, device;
	unsigned int id;
	char *name;
};

struct catalogue {
	struct cat_entry *e;
	size_t n;
};

static void catalogue_release(struct catalogue *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].name);
	free(c->e);
	c->e = NULL;
	c->n = 0;
}

const char *nvidia_vgpu_catalogue_path(char *buf, size_t size)
{
	const char *dir = getenv("MDEVD_RUN_DIR");

	snprintf(buf, size, "%s/nvidia-vgpu-types", dir && *dir ? dir : "/run/mdevd");
	return buf;
}

static const char *catalogue_name(const struct catalogue *c, uint16_t vendor, uint16_t device,
				  unsigned int id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].vendor == vendor && c->e[i].device == device && c->e[i].id == id)
			return c->e[i].name;
	return NULL;
}

static int catalogue_add(struct catalogue *c, uint16_t vendor, uint16_t device, unsigned int id,
			 const char *name)
{
	struct cat_entry *e;

	if (catalogue_name(c, vendor, device, id))
		return 0;
	e = reallocarray(c->e, c->n + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	c->e = e;
	e[c->n] = (struct cat_entry){.vendor = vendor, .device = device, .id = id};
	e[c->n].name = strdup(name);
	if (!e[c->n].name)
		return -ENOMEM;
	c->n++;
	return 1;
}

/* Read the catalogue file; a missing or unreadable one is empty, malformed lines are skipped. */
static int catalogue_load(struct catalogue *c)
{
	char path[PATH_MAX], line[512];
	FILE *f;
	int r = 0;

	f = fopen(nvidia_vgpu_catalogue_path(path, sizeof(path)), "re");
	if (!f)
		return 0;
	while (r >= 0 && fgets(line, sizeof(line), f)) {
		struct nvidia_vgpu_entry *e = NULL;
		unsigned int vendor, device;
		size_t n = 0;
		int off = 0;

		if (sscanf(line, "%4x:%4x %n", &vendor, &device, &off) != 2 || !off)
			continue;
		if (nvidia_vgpu_parse_types(line + off, strlen(line + off), &e, &n, NULL) < 0)
			continue;
		if (n == 1)
			r = catalogue_add(c, (uint16_t)vendor, (uint16_t)device, e[0].id,
					  e[0].name);
		nvidia_vgpu_entries_free(e, n);
	}
	fclose(f);
	return r < 0 ? r : 0;
}

int nvidia_vgpu_catalogue_save(const struct inventory *inv)
{
	_cleanup_(catalogue_release) struct catalogue c = {};
	char path[PATH_MAX], tmp[PATH_MAX + 8], *slash;
	bool changed = false;
	FILE *f;
	int r;

	r = catalogue_load(&c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < inv->n_parents; i++) {
		const struct mdev_parent *p = &inv->parents[i];

		if (p->backend != PARENT_BACKEND_NVIDIA_VGPU)
			continue;
		for (size_t k = 0; k < p->n_types; k++) {
			unsigned int id;

			if (p->types[k].description || nvidia_vgpu_type_id(p->types[k].id, &id) < 0)
				continue; /* a name we do not know */
			r = catalogue_add(&c, p->vendor_id, p->device_id, id, p->types[k].name);
			if (r < 0)
				return r;
			changed |= r > 0;
		}
	}
	if (!changed)
		return 0;
	nvidia_vgpu_catalogue_path(path, sizeof(path));
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*slash = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (size_t i = 0; i < c.n; i++)
		fprintf(f, "%04x:%04x %u : %s\n", c.e[i].vendor, c.e[i].device, c.e[i].id,
			c.e[i].name);
	if (fflush(f) != 0 || ferror(f)) {
		r = -errno;
		fclose(f);
		unlink(tmp);
		return r ? r : -EIO;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

/* One VF as read, with its card and the names its list gives. */
struct vf_read {
	struct vgpu_vf vf;
	char physfn[MDEVD_BDF_STR_LEN];
	struct nvidia_vgpu_entry *names;
	size_t n_names;
	bool garbage; /* a file was malformed: neither free nor configured */
};

static void vf_read_clear(struct vf_read *v)
{
	free(v->vf.creatable);
	nvidia_vgpu_entries_free(v->names, v->n_names);
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return (x > y) - (x < y);
}

bool mdev_read_vfio_cdev(int fd, unsigned int *out)
{
	char **names = NULL;
	size_t n = 0;
	bool found = false;

	if (sysfs_list_dir(fd, "vfio-dev", &names, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++) {
		unsigned int v;

		if (strncmp(names[i], "vfio", 4) == 0 && mdev_parse_index(names[i] + 4, &v) == 0) {
			*out = v;
			found = true;
		}
	}
	sysfs_names_free(names, n);
	return found;
}

/*
 * Read bus/pci/devices/@bdf when it has nvidia/current_vgpu_type. Returns 1 (read into @v),
 * 0 (no vendor VFIO there, or left out and reported), or -ENOMEM.
 */
static int vf_load(const struct mdev_scan *s, const char *bdf, struct vf_read *v)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX], buf[ATTR_MAX];
	unsigned int line = 0;
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s", bdf);
	fd = openat(s->sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* vanished */
	if (faccessat(fd, "nvidia/current_vgpu_type", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	*v = (struct vf_read){.vf = {.iommu_group = -1}};
	snprintf(v->vf.address, sizeof(v->vf.address), "%s", bdf);
	if (sysfs_read_link_name(fd, "physfn", v->physfn, sizeof(v->physfn)) <= 0 ||
	    !mdev_is_bdf(v->physfn)) {
		mdev_report(s, path, -EINVAL,
			    "has nvidia/current_vgpu_type but no physfn link: not an SR-IOV VF");
		return 0;
	}
	if (sysfs_read_link_name(fd, "iommu_group", buf, 32) > 0) {
		unsigned int g;

		if (mdev_parse_index(buf, &g) == 0 && g <= INT_MAX)
			v->vf.iommu_group = (int)g;
	}
	v->vf.has_vfio_cdev = mdev_read_vfio_cdev(fd, &v->vf.vfio_cdev);

	r = sysfs_read_uint(fd, "nvidia/current_vgpu_type", &v->vf.current_type);
	if (r < 0) {
		mdev_report(
			s, path, r == -EINVAL ? r : -ENOENT,
			"nvidia/current_vgpu_type is not a number: the VF counts as neither free "
			"nor configured");
		v->garbage = true;
	}
	r = sysfs_read_attr(fd, "nvidia/creatable_vgpu_types", buf, sizeof(buf));
	if (r >= 0)
		r = nvidia_vgpu_parse_types(buf, (size_t)r, &v->names, &v->n_names, &line);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (r == -EINVAL)
			mdev_report(
				s, path, r,
				"nvidia/creatable_vgpu_types: line %u is not '<id> : <name>': the "
				"VF counts as neither free nor configured",
				line);
		else
			mdev_report(s, path, r, "cannot read nvidia/creatable_vgpu_types: %s",
				    strerror(-r));
		v->garbage = true;
		return 1;
	}
	if (v->n_names) {
		v->vf.creatable = calloc(v->n_names, sizeof(*v->vf.creatable));
		if (!v->vf.creatable) {
			vf_read_clear(v);
			return -ENOMEM;
		}
		for (size_t i = 0; i < v->n_names; i++)
			v->vf.creatable[i] = v->names[i].id;
		v->vf.n_creatable = v->n_names;
		qsort(v->vf.creatable, v->vf.n_creatable, sizeof(unsigned int), cmp_uint);
	}
	return 1;
}

/* The name of @id from the VFs in [vs, ve) (a card), else from any VF of @all on a card of
 * the same vendor:device. NULL when nobody names it. */
static const char *name_of(unsigned int id, const struct vf_read *vs, size_t nvs,
			   const struct vf_read *all, size_t n_all, const uint16_t *devids,
			   uint16_t devid, const struct catalogue *cat, uint16_t vendor)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct vf_read *set = pass ? all : vs;
		size_t n = pass ? n_all : nvs;

		for (size_t i = 0; i < n; i++) {
			if (pass && devids[i] != devid)
				continue;
			for (size_t k = 0; k < set[i].n_names; k++)
				if (set[i].names[k].id == id)
					return set[i].names[k].name;
		}
	}
	return catalogue_name(cat, vendor, devid, id);
}

static int cmp_type(const void *a, const void *b)
{
	return strcmp(((const struct mdev_type *)a)->id, ((const struct mdev_type *)b)->id);
}

static int add_type(struct mdev_parent *p, unsigned int id, const char *name)
{
	char idbuf[16];
	struct mdev_type *t;

	snprintf(idbuf, sizeof(idbuf), "%u", id);
	for (size_t i = 0; i < p->n_types; i++)
		if (streq(p->types[i].id, idbuf))
			return 0;
	t = reallocarray(p->types, p->n_types + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	p->types = t;
	t = &t[p->n_types];
	*t = (struct mdev_type){};
	t->id = strdup(idbuf);
	t->name = strdup(name ? name : idbuf);
	t->device_api = strdup("vfio-pci");
	if (!name && asprintf(&t->description,
			      "type id %u: no VF on this node lists it, so its name is unknown "
			      "(the lists leave out what a VF already holds)",
			      id) < 0)
		t->description = NULL;
	if (!t->id || !t->name || !t->device_api || (!name && !t->description)) {
		free(t->id);
		free(t->name);
		free(t->device_api);
		free(t->description);
		return -ENOMEM;
	}
	p->n_types++;
	return 0;
}

/* Build the card of the VFs [vs, vs + nvs) (same physfn). Returns 0 or -ENOMEM. */
static int card_build(const struct mdev_scan *s, const struct vf_read *vs, size_t nvs,
		      const struct vf_read *all, size_t n_all, const uint16_t *devids,
		      const struct catalogue *cat, bool count_instances, struct mdev_parent *p)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	int numa, r;

	*p = (struct mdev_parent){.numa_node = -1, .backend = PARENT_BACKEND_NVIDIA_VGPU};
	p->name = strdup(vs[0].physfn);
	p->pci_address = strdup(vs[0].physfn);
	p->vfs = calloc(nvs, sizeof(*p->vfs));
	if (!p->name || !p->pci_address || !p->vfs)
		return -ENOMEM;
	snprintf(path, sizeof(path), "bus/pci/devices/%s", vs[0].physfn);
	fd = openat(s->sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		p->vendor_id = mdev_read_hex16(fd, "vendor");
		p->device_id = mdev_read_hex16(fd, "device");
		if (sysfs_read_int(fd, "numa_node", &numa) == 0)
			p->numa_node = numa;
	}
	for (size_t i = 0; i < nvs; i++) {
		const struct vf_read *v = &vs[i];
		struct vgpu_vf *d = &p->vfs[p->n_vfs++];

		*d = v->vf;
		d->creatable = NULL;
		d->n_creatable = 0;
		if (v->garbage) {
			d->current_type = 0;
			continue; /* lists nothing: never chosen */
		}
		if (v->vf.n_creatable && !d->current_type) {
			d->creatable = malloc(v->vf.n_creatable * sizeof(unsigned int));
			if (!d->creatable)
				return -ENOMEM;
			memcpy(d->creatable, v->vf.creatable,
			       v->vf.n_creatable * sizeof(unsigned int));
			d->n_creatable = v->vf.n_creatable;
		}
		for (size_t k = 0; k < v->n_names; k++) {
			r = add_type(p, v->names[k].id, v->names[k].name);
			if (r < 0)
				return r;
		}
	}
	/* Configured ids next: their names may only be known from elsewhere. */
	for (size_t i = 0; i < p->n_vfs; i++) {
		unsigned int id = p->vfs[i].current_type;

		if (!id || vs[i].garbage)
			continue;
		r = add_type(
			p, id,
			name_of(id, vs, nvs, all, n_all, devids, p->device_id, cat, p->vendor_id));
		if (r < 0)
			return r;
	}
	/*
	 * The rest of the model's types mdevd has seen listed (the catalogue file): the card
	 * supports them, none is creatable now (as an mdev type reading 0), and a policy may still
	 * ask for one: freeing the VFs of another type lets the driver list it again.
	 */
	for (size_t i = 0; i < cat->n; i++) {
		if (cat->e[i].vendor != p->vendor_id || cat->e[i].device != p->device_id)
			continue;
		r = add_type(p, cat->e[i].id, cat->e[i].name);
		if (r < 0)
			return r;
	}
	for (size_t ti = 0; ti < p->n_types; ti++) {
		struct mdev_type *t = &p->types[ti];
		unsigned int id = 0;

		nvidia_vgpu_type_id(t->id, &id);
		for (size_t i = 0; i < p->n_vfs; i++) {
			const struct vgpu_vf *vf = &p->vfs[i];

			if (vs[i].garbage)
				continue;
			if (!vf->current_type && nvidia_vgpu_vf_offers(vf, id))
				t->available_instances++;
			if (count_instances && vf->current_type == id)
				t->n_instances++;
		}
	}
	if (p->n_types > 1)
		qsort(p->types, p->n_types, sizeof(*p->types), cmp_type);
	return 0;
}

static int cmp_vf_read(const void *a, const void *b)
{
	const struct vf_read *x = a, *y = b;
	int c = strcmp(x->physfn, y->physfn);

	return c ? c : strcmp(x->vf.address, y->vf.address);
}

static int cmp_instances(const void *a, const void *b)
{
	return strcmp(((const struct mdev_instance *)a)->uuid,
		      ((const struct mdev_instance *)b)->uuid);
}

static int instances_build(const struct mdev_parent *cards, size_t n_cards,
			   const struct vf_read *vs, struct mdev_instance **out, size_t *n)
{
	struct mdev_instance *m = NULL;
	size_t count = 0, k = 0;

	for (size_t c = 0; c < n_cards; c++)
		for (size_t i = 0; i < cards[c].n_vfs; i++, k++)
			if (cards[c].vfs[i].current_type && !vs[k].garbage)
				count++;
	if (count) {
		m = calloc(count, sizeof(*m));
		if (!m)
			return -ENOMEM;
	}
	count = 0;
	k = 0;
	for (size_t c = 0; c < n_cards; c++) {
		for (size_t i = 0; i < cards[c].n_vfs; i++, k++) {
			const struct vgpu_vf *vf = &cards[c].vfs[i];
			struct mdev_instance *x;

			if (!vf->current_type || vs[k].garbage)
				continue;
			x = &m[count++];
			*x = (struct mdev_instance){
				.iommu_group = vf->iommu_group,
				.backend = PARENT_BACKEND_NVIDIA_VGPU,
				.has_vfio_cdev = vf->has_vfio_cdev,
				.vfio_cdev = vf->vfio_cdev,
			};
			snprintf(x->uuid, sizeof(x->uuid), "%s", vf->address);
			x->parent = strdup(cards[c].name);
			if (asprintf(&x->type_id, "%u", vf->current_type) < 0)
				x->type_id = NULL;
			if (!x->parent || !x->type_id) {
				mdev_instances_free(m, count);
				return -ENOMEM;
			}
		}
	}
	if (count > 1)
		qsort(m, count, sizeof(*m), cmp_instances);
	*out = m;
	*n = count;
	return 0;
}

int nvidia_vgpu_load(int sysfs_fd, bool count_instances, inventory_report_fn report_fn,
		     void *userdata, struct mdev_parent **parents, size_t *n_parents,
		     struct mdev_instance **mdevs, size_t *n_mdevs)
{
	const struct mdev_scan s = {
		.sysfs_fd = sysfs_fd, .report = report_fn, .userdata = userdata};
	struct vf_read *vs = NULL;
	struct mdev_parent *cards = NULL;
	_cleanup_free_ uint16_t *devids = NULL;
	_cleanup_(catalogue_release) struct catalogue cat = {};
	char **names = NULL;
	size_t n_names = 0, nvs = 0, n_cards = 0;
	int r;

	r = sysfs_list_dir(sysfs_fd, "bus/pci/devices", &names, &n_names);
	if (r == -ENOENT) {
		names = NULL;
		n_names = 0;
	} else if (r < 0) {
		return r;
	}
	if (n_names) {
		vs = calloc(n_names, sizeof(*vs));
		if (!vs) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n_names; i++) {
		r = vf_load(&s, names[i], &vs[nvs]);
		if (r < 0)
			goto out;
		if (r > 0)
			nvs++;
	}
	if (nvs > 1)
		qsort(vs, nvs, sizeof(*vs), cmp_vf_read);
	if (nvs) {
		r = catalogue_load(&cat);
		if (r < 0)
			goto out;
	}

	/* The device id of each VF's card, for names borrowed from a card of the same model. */
	devids = calloc(nvs ? nvs : 1, sizeof(*devids));
	if (!devids) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nvs; i++) {
		_cleanup_close_ int fd = -1;
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "bus/pci/devices/%s", vs[i].physfn);
		fd = openat(sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			devids[i] = mdev_read_hex16(fd, "device");
	}

	for (size_t i = 0; i < nvs;) {
		size_t j = i;

		while (j < nvs && streq(vs[j].physfn, vs[i].physfn))
			j++;
		struct mdev_parent *nc = reallocarray(cards, n_cards + 1, sizeof(*cards));

		if (!nc) {
			r = -ENOMEM;
			goto out;
		}
		cards = nc;
		r = card_build(&s, &vs[i], j - i, vs, nvs, devids, &cat, count_instances,
			       &cards[n_cards]);
		n_cards++;
		if (r < 0)
			goto out;
		i = j;
	}
	if (mdevs) {
		r = instances_build(cards, n_cards, vs, mdevs, n_mdevs);
		if (r < 0)
			goto out;
	}
	*parents = steal_ptr(cards);
	*n_parents = n_cards;
	r = 0;
out:
	if (cards)
		mdev_parents_free(cards, n_cards);
	for (size_t i = 0; i < nvs; i++)
		vf_read_clear(&vs[i]);
	free(vs);
	sysfs_names_free(names, n_names);
	return r;
}

bool nvidia_vgpu_vfs_disabled(const struct inventory *inv, const struct pci_function *f)
{
	if (f->vendor_id != 0x10de || f->physfn || !f->driver || !streq(f->driver, "nvidia") ||
	    !f->sriov_totalvfs || f->sriov_numvfs)
		return false;
	for (size_t i = 0; i < inv->n_parents; i++)
		if (inv->parents[i].pci_address && streq(inv->parents[i].pci_address, f->address))
			return false;
	return true;
}
