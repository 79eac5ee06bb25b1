/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp: the device-plugin logic (device lists, Allocate, GetPreferredAllocation) and the
 * manager that keeps one endpoint per pool. Messages are packed and unpacked with the
 * protobuf-c code generated from deviceplugin.proto; the transport is deviceplugin_grpc.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mdevd/kubernetes/deviceplugin.pb-c.h"

#include "daemon/metrics.h"
#include "kubernetes/deviceplugin.h"
#include "util/arena.h"
#include "util/log.h"
#include "mdevd/macro.h"

#define ENV_NAME_MAX	 320
#define VFIO_DEV_MAX	 24
#define HEALTHY		 "Healthy"
#define UNHEALTHY	 "Unhealthy"
#define PERMISSIONS	 "mrw"
#define DEV_VFIO_VFIO	 "/dev/vfio/vfio"
#define DEV_IOMMU	 "/dev/iommu"
#define DEV_VFIO_DEVICES "/dev/vfio/devices/"
/* More IDs than any pool holds; bounds the quadratic checks a request can cause. */
#define DP_MAX_IDS 4096
/* The stack an Allocate call's arena starts with (util/arena.h). */
#define ARENA_STACK 4096

/* A device as the plugin lists it. */
struct dp_device {
	char id[MDEVD_UUID_STR_LEN];
	char group_path[sizeof("/dev/vfio/-2147483648")]; /* the IOMMU group's VFIO node */
	int numa_node;
	char *card; /* resource_device.card: what GetPreferredAllocation groups by (owned) */
	bool healthy;
	char *why; /* why an unhealthy device is kept listed (owned; NULL: not kept, see below) */
	/* "/dev/vfio/devices/vfio3" when the device has an iommufd cdev, else "" */
	char cdev_path[sizeof(DEV_VFIO_DEVICES) + VFIO_DEV_MAX];
};

struct dp_plugin {
	pthread_mutex_t lock;
	char *name;
	enum resource_kind kind;
	char env[ENV_NAME_MAX];
	bool iommufd;
	struct dp_device *devices; /* sorted by id */
	size_t n_devices;
	char **allocated; /* IDs Allocate handed out, sorted */
	size_t n_allocated;
	struct dp_bytes list;		  /* the packed ListAndWatchResponse of devices */
	struct metrics_resource *metrics; /* borrowed; NULL: not counted */
};

/* ---- the device list ----------------------------------------------------------------- */

static void devices_free(struct dp_device *devs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(devs[i].card);
		free(devs[i].why);
	}
	free(devs);
}

static int cmp_device(const void *a, const void *b)
{
	return strcmp(((const struct dp_device *)a)->id, ((const struct dp_device *)b)->id);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_id_device(const void *id, const void *d)
{
	return strcmp(id, ((const struct dp_device *)d)->id);
}

static const struct dp_device *find_device(const struct dp_device *devs, size_t n, const char *id)
{
	return n ? bsearch(id, devs, n, sizeof(*devs), cmp_id_device) : NULL;
}

static bool is_allocated(const struct dp_plugin *p, const char *id)
{
	return p->n_allocated &&
	       bsearch(&id, p->allocated, p->n_allocated, sizeof(char *), cmp_str) != NULL;
}

/* The entry of @pool's unserved list for @id, or NULL. Linear: the list is short. */
static const struct resource_unserved *find_unserved(const struct resource_pool *pool,
						     const char *id)
{
	for (size_t i = 0; i < pool->n_unserved; i++)
		if (streq(pool->unserved[i].id, id))
			return &pool->unserved[i];
	return NULL;
}

/*
 * Why the listed device @old, not in @pool's devices any more, stays listed (unhealthy), or
 * NULL when it goes. Still on the node but unserved (another driver, ...): kubelet should see
 * it fail, not vanish, and it may come back. Gone but allocated: kubelet's checkpoint still
 * maps a pod to it. Gone and never allocated: nothing refers to it.
 */
static const char *keep_reason(const struct dp_plugin *p, const struct resource_pool *pool,
			       const struct dp_device *old)
{
	const struct resource_unserved *u = find_unserved(pool, old->id);

	if (u)
		return u->reason ? u->reason : "not served";
	if (is_allocated(p, old->id))
		return "it left the pool";
	return NULL;
}

/* Find the device's iommufd cdev: <sysfs>/bus/{pci,mdev}/devices/<id>/vfio-dev/vfioN. */
static void read_vfio_dev(int sysfs_fd, enum resource_kind kind, const char *id, char *buf,
			  size_t size)
{
	char path[128];
	struct dirent *de;
	DIR *dir;
	int fd;

	buf[0] = '\0';
	if (sysfs_fd < 0)
		return;
	snprintf(path, sizeof(path), "bus/%s/devices/%s/vfio-dev",
		 kind == RESOURCE_MDEV ? "mdev" : "pci", id);
	fd = openat(sysfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return; /* no iommufd cdev (Linux < 6.6, or not bound to vfio): fine */
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (strncmp(de->d_name, "vfio", 4) == 0 && de->d_name[4] >= '0' &&
		    de->d_name[4] <= '9' && len < VFIO_DEV_MAX &&
		    sizeof(DEV_VFIO_DEVICES) + len <= size) {
			memcpy(buf, DEV_VFIO_DEVICES, sizeof(DEV_VFIO_DEVICES) - 1);
			memcpy(buf + sizeof(DEV_VFIO_DEVICES) - 1, de->d_name, len + 1);
			break;
		}
	}
	closedir(dir);
}

static int pack_list(const struct dp_device *devs, size_t n, struct dp_bytes *out)
{
	_cleanup_free_ V1beta1__Device *dv = calloc(n ? n : 1, sizeof(*dv));
	_cleanup_free_ V1beta1__Device **dp = calloc(n ? n : 1, sizeof(*dp));
	_cleanup_free_ V1beta1__TopologyInfo *topo = calloc(n ? n : 1, sizeof(*topo));
	_cleanup_free_ V1beta1__NUMANode *nodes = calloc(n ? n : 1, sizeof(*nodes));
	_cleanup_free_ V1beta1__NUMANode **np = calloc(n ? n : 1, sizeof(*np));
	V1beta1__ListAndWatchResponse msg = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;

	if (!dv || !dp || !topo || !nodes || !np)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v1beta1__device__init(&dv[i]);
		dv[i].id = (char *)devs[i].id;
		dv[i].health = devs[i].healthy ? HEALTHY : UNHEALTHY;
		if (devs[i].numa_node >= 0) {
			v1beta1__topology_info__init(&topo[i]);
			v1beta1__numanode__init(&nodes[i]);
			nodes[i].id = devs[i].numa_node;
			np[i] = &nodes[i];
			topo[i].n_nodes = 1;
			topo[i].nodes = &np[i];
			dv[i].topology = &topo[i];
		}
		dp[i] = &dv[i];
	}
	msg.n_devices = n;
	msg.devices = dp;
	out->len = v1beta1__list_and_watch_response__get_packed_size(&msg);
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data)
		return -ENOMEM;
	v1beta1__list_and_watch_response__pack(&msg, out->data);
	return 0;
}

static bool same_list(const struct dp_device *a, size_t na, const struct dp_device *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!streq(a[i].id, b[i].id) || a[i].healthy != b[i].healthy ||
		    a[i].numa_node != b[i].numa_node)
			return false;
	return true;
}

struct dp_plugin *dp_plugin_new(const char *resource_name, enum resource_kind kind)
{
	struct dp_plugin *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(resource_name);
	if (!p->name || resource_env_name(kind, resource_name, p->env, sizeof(p->env)) < 0 ||
	    pack_list(NULL, 0, &p->list) < 0) {
		free(p->name);
		free(p);
		return NULL;
	}
	p->kind = kind;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void dp_plugin_free(struct dp_plugin *p)
{
	if (!p)
		return;
	devices_free(p->devices, p->n_devices);
	for (size_t i = 0; i < p->n_allocated; i++)
		free(p->allocated[i]);
	free(p->allocated);
	free(p->list.data);
	free(p->name);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int dp_plugin_set_pool(struct dp_plugin *p, const struct resource_pool *pool, int sysfs_fd,
		       bool iommufd)
{
	size_t n_pool = pool ? pool->n_devices : 0, n = 0, cap;
	struct dp_device *devs;
	struct dp_bytes list = {};
	bool changed;
	int r;

	/* Outside the lock: sysfs reads. Room for the pool plus every kept device. */
	pthread_mutex_lock(&p->lock);
	cap = n_pool + p->n_devices;
	pthread_mutex_unlock(&p->lock);
	devs = calloc(cap ? cap : 1, sizeof(*devs));
	if (!devs)
		return -ENOMEM;
	for (size_t i = 0; i < n_pool; i++) {
		const struct resource_device *rd = &pool->devices[i];
		struct dp_device *d = &devs[n];

		snprintf(d->id, sizeof(d->id), "%s", rd->id);
		snprintf(d->group_path, sizeof(d->group_path), "/dev/vfio/%d", rd->iommu_group);
		d->numa_node = rd->numa_node;
		d->healthy = rd->healthy;
		d->card = strdup(rd->card ? rd->card : "");
		if (!d->card) {
			devices_free(devs, n);
			return -ENOMEM;
		}
		read_vfio_dev(sysfs_fd, p->kind, d->id, d->cdev_path, sizeof(d->cdev_path));
		n++;
	}
	qsort(devs, n, sizeof(*devs), cmp_device);

	pthread_mutex_lock(&p->lock);
	if (pool) {
		/* Listed devices that left the pool: see keep_reason(). */
		size_t n_new = n;

		for (size_t i = 0; i < p->n_devices && n < cap; i++) {
			const struct dp_device *old = &p->devices[i];
			const char *why;

			if (find_device(devs, n_new, old->id))
				continue;
			why = keep_reason(p, pool, old);
			if (!why)
				continue;
			devs[n] = *old;
			devs[n].healthy = false;
			devs[n].card = strdup(old->card);
			devs[n].why = strdup(why);
			if (!devs[n].card || !devs[n].why) {
				pthread_mutex_unlock(&p->lock);
				devices_free(devs, n + 1);
				return -ENOMEM;
			}
			n++;
		}
		qsort(devs, n, sizeof(*devs), cmp_device);
	}
	changed = !same_list(devs, n, p->devices, p->n_devices);
	if (changed) {
		r = pack_list(devs, n, &list);
		if (r < 0) {
			pthread_mutex_unlock(&p->lock);
			devices_free(devs, n);
			return r;
		}
		free(p->list.data);
		p->list = list;
	}
	devices_free(p->devices, p->n_devices);
	p->devices = devs;
	p->n_devices = n;
	p->iommufd = iommufd;
	pthread_mutex_unlock(&p->lock);
	return changed ? 1 : 0;
}

int dp_plugin_list(struct dp_plugin *p, struct dp_bytes *out)
{
	uint8_t *data;
	size_t len;

	pthread_mutex_lock(&p->lock);
	len = p->list.len;
	data = malloc(len ? len : 1);
	if (data)
		memcpy(data, p->list.data, len);
	pthread_mutex_unlock(&p->lock);
	if (!data)
		return -ENOMEM;
	out->data = data;
	out->len = len;
	return 0;
}

/* ---- unary calls --------------------------------------------------------------------- */

static void *protobuf_arena_alloc(void *a, size_t size)
{
	return arena_alloc(a, size);
}

static void protobuf_arena_free(void *a, void *p)
{
	/* freed with the arena */
}

/* A protobuf-c allocator taking from @a: what it unpacks needs no free_unpacked(). */
static ProtobufCAllocator protobuf_arena(struct arena *a)
{
	return (ProtobufCAllocator){
		.alloc = protobuf_arena_alloc, .free = protobuf_arena_free, .allocator_data = a};
}

static void fail(struct dp_reply *reply, enum dp_status status, const char *fmt, ...)
	_printf_(3, 4);

static void fail(struct dp_reply *reply, enum dp_status status, const char *fmt, ...)
{
	va_list ap;

	reply->status = status;
	va_start(ap, fmt);
	if (vasprintf(&reply->details, fmt, ap) < 0)
		reply->details = NULL;
	va_end(ap);
}

#define PACK_REPLY(reply, prefix, m)                                                               \
	do {                                                                                       \
		(reply)->msg.len = prefix##__get_packed_size(m);                                   \
		(reply)->msg.data = malloc((reply)->msg.len ? (reply)->msg.len : 1);               \
		if (!(reply)->msg.data) {                                                          \
			fail((reply), DP_STATUS_INTERNAL, "out of memory");                        \
			break;                                                                     \
		}                                                                                  \
		prefix##__pack(m, (reply)->msg.data);                                              \
		(reply)->status = DP_STATUS_OK;                                                    \
	} while (0)

static void malformed(struct dp_reply *reply, const char *what)
{
	fail(reply, DP_STATUS_INVALID_ARGUMENT, "malformed %s message", what);
}

static void get_options(struct dp_reply *reply, const uint8_t *req, size_t len)
{
	V1beta1__DevicePluginOptions opts = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	V1beta1__Empty *e = v1beta1__empty__unpack(NULL, len, req);

	if (!e) {
		malformed(reply, "Empty");
		return;
	}
	v1beta1__empty__free_unpacked(e, NULL);
	opts.pre_start_required = false;
	opts.get_preferred_allocation_available = true;
	PACK_REPLY(reply, v1beta1__device_plugin_options, &opts);
}

static void pre_start(struct dp_reply *reply, const uint8_t *req, size_t len)
{
	V1beta1__PreStartContainerResponse resp = V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;
	V1beta1__PreStartContainerRequest *r =
		v1beta1__pre_start_container_request__unpack(NULL, len, req);

	if (!r) {
		malformed(reply, "PreStartContainerRequest");
		return;
	}
	v1beta1__pre_start_container_request__free_unpacked(r, NULL);
	PACK_REPLY(reply, v1beta1__pre_start_container_response, &resp);
}

static int record_allocated(struct dp_plugin *p, const char *id)
{
	char **v, *copy;
	size_t lo = 0, hi = p->n_allocated;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->allocated[mid], id);

		if (c == 0)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	v = reallocarray(p->allocated, p->n_allocated + 1, sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	p->allocated = v;
	memmove(&v[lo + 1], &v[lo], (p->n_allocated - lo) * sizeof(*v));
	v[lo] = copy;
	p->n_allocated++;
	return 0;
}

/* One container's response; every piece of it lives in the call's arena. */
struct container {
	V1beta1__ContainerAllocateResponse resp;
	V1beta1__ContainerAllocateResponse__EnvsEntry env;
	V1beta1__ContainerAllocateResponse__EnvsEntry *envp;
	V1beta1__DeviceSpec *specs;
};

/* Add @path (the plugin's or a constant: it outlives the packing) to @c unless it is there. */
static void add_spec(struct container *c, const char *path)
{
	V1beta1__DeviceSpec *d;

	for (size_t i = 0; i < c->resp.n_devices; i++)
		if (streq(c->resp.devices[i]->host_path, path))
			return;
	d = &c->specs[c->resp.n_devices];
	v1beta1__device_spec__init(d);
	d->container_path = (char *)path;
	d->host_path = (char *)path;
	d->permissions = PERMISSIONS;
	c->resp.devices[c->resp.n_devices++] = d;
}

/* Fill @c for @ids; the caller checked them. Returns 0 or -ENOMEM. */
static int build_container(struct dp_plugin *p, struct arena *a, char **ids, size_t n,
			   struct container *c)
{
	size_t total = 0, max_specs = 2 * n + 2;
	bool any_cdev = false;
	char *joined, *q;

	v1beta1__container_allocate_response__init(&c->resp);
	c->specs = arena_calloc(a, max_specs, sizeof(*c->specs));
	c->resp.devices = arena_calloc(a, max_specs, sizeof(*c->resp.devices));
	if (!c->specs || !c->resp.devices)
		return -ENOMEM;
	if (n == 0)
		return 0;

	for (size_t i = 0; i < n; i++)
		total += strlen(ids[i]) + 1;
	joined = arena_alloc(a, total);
	if (!joined)
		return -ENOMEM;
	q = joined;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(ids[i]);

		if (i)
			*q++ = ',';
		memcpy(q, ids[i], len);
		q += len;
	}
	*q = '\0';
	v1beta1__container_allocate_response__envs_entry__init(&c->env);
	c->env.key = p->env;
	c->env.value = joined;
	c->envp = &c->env;
	c->resp.n_envs = 1;
	c->resp.envs = &c->envp;

	add_spec(c, DEV_VFIO_VFIO);
	for (size_t i = 0; i < n; i++) {
		const struct dp_device *d = find_device(p->devices, p->n_devices, ids[i]);

		add_spec(c, d->group_path);
		if (p->iommufd && d->cdev_path[0]) {
			add_spec(c, d->cdev_path);
			any_cdev = true;
		}
	}
	if (any_cdev)
		add_spec(c, DEV_IOMMU);
	return 0;
}

static void allocate_locked(struct dp_plugin *p, struct dp_reply *reply, struct arena *a,
			    const V1beta1__AllocateRequest *req)
{
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;
	size_t n = req->n_container_requests;
	struct container *cs = arena_calloc(a, n, sizeof(*cs));
	V1beta1__ContainerAllocateResponse **cp = arena_calloc(a, n, sizeof(*cp));

	if (!cs || !cp) {
		fail(reply, DP_STATUS_INTERNAL, "out of memory");
		return;
	}
	/* Check every ID of every container first: all or nothing. */
	for (size_t i = 0; i < n; i++) {
		const V1beta1__ContainerAllocateRequest *cr = req->container_requests[i];

		if (cr->n_devices_ids > DP_MAX_IDS) {
			fail(reply, DP_STATUS_INVALID_ARGUMENT,
			     "%zu device IDs in one container request (at most %d)",
			     cr->n_devices_ids, DP_MAX_IDS);
			return;
		}

		for (size_t j = 0; j < cr->n_devices_ids; j++) {
			const char *id = cr->devices_ids[j];
			const struct dp_device *d = find_device(p->devices, p->n_devices, id);

			if (!d) {
				fail(reply, DP_STATUS_INVALID_ARGUMENT,
				     "unknown device \"%.64s\" for resource %s", id, p->name);
				return;
			}
			if (!d->healthy) {
				fail(reply, DP_STATUS_FAILED_PRECONDITION,
				     "device \"%s\" of resource %s is unhealthy (%s)", id, p->name,
				     d->why ? d->why : "no IOMMU group");
				return;
			}
			for (size_t k = 0; k < j; k++) {
				if (streq(cr->devices_ids[k], id)) {
					fail(reply, DP_STATUS_INVALID_ARGUMENT,
					     "device \"%s\" requested twice in one container", id);
					return;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const V1beta1__ContainerAllocateRequest *cr = req->container_requests[i];

		if (build_container(p, a, cr->devices_ids, cr->n_devices_ids, &cs[i]) < 0) {
			fail(reply, DP_STATUS_INTERNAL, "out of memory");
			return;
		}
		cp[i] = &cs[i].resp;
	}
	for (size_t i = 0; i < n; i++) {
		const V1beta1__ContainerAllocateRequest *cr = req->container_requests[i];

		for (size_t j = 0; j < cr->n_devices_ids; j++) {
			if (record_allocated(p, cr->devices_ids[j]) < 0) {
				fail(reply, DP_STATUS_INTERNAL, "out of memory");
				return;
			}
		}
	}
	resp.n_container_responses = n;
	resp.container_responses = cp;
	PACK_REPLY(reply, v1beta1__allocate_response, &resp);
}

static void allocate(struct dp_plugin *p, struct dp_reply *reply, const uint8_t *data, size_t len)
{
	/* A request for a few devices and its response fit in this; more spills to the heap. */
	alignas(max_align_t) unsigned char buf[ARENA_STACK];
	_cleanup_(arena_release) struct arena a;
	ProtobufCAllocator pa = protobuf_arena(&a);
	V1beta1__AllocateRequest *req;

	arena_init(&a, buf, sizeof(buf));
	req = v1beta1__allocate_request__unpack(&pa, len, data);
	if (!req) {
		malformed(reply, "AllocateRequest");
		return;
	}
	pthread_mutex_lock(&p->lock);
	allocate_locked(p, reply, &a, req);
	pthread_mutex_unlock(&p->lock);
}

/* ---- GetPreferredAllocation ---------------------------------------------------------- */

struct cand {
	const char *id;
	const struct dp_device *d; /* NULL: unknown to the plugin */
	size_t card_count;	   /* candidates on the same card */
	bool numa_match;
	bool must_card; /* a must-include device is on its card */
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c;

	if (!x->d != !y->d)
		return x->d ? -1 : 1;
	if (!x->d)
		return strcmp(x->id, y->id);
	if (x->numa_match != y->numa_match)
		return x->numa_match ? -1 : 1;
	if (x->must_card != y->must_card)
		return x->must_card ? -1 : 1;
	if (x->card_count != y->card_count)
		return x->card_count > y->card_count ? -1 : 1;
	c = strcmp(x->d->card, y->d->card);
	return c ? c : strcmp(x->id, y->id);
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v[i], s))
			return true;
	return false;
}

/* The NUMA node to prefer; -1: none. See deviceplugin.h. */
static int target_numa(const struct dp_plugin *p, char *const *must, size_t n_must,
		       const struct cand *c, size_t n_c, size_t need)
{
	int best = -1;
	size_t best_n = 0;

	/* Most must-include devices: ties to the lower node. */
	for (size_t i = 0; i < n_must; i++) {
		const struct dp_device *d = find_device(p->devices, p->n_devices, must[i]);
		size_t k = 0;

		if (!d || d->numa_node < 0)
			continue;
		for (size_t j = 0; j < n_must; j++) {
			const struct dp_device *e = find_device(p->devices, p->n_devices, must[j]);

			k += e && e->numa_node == d->numa_node;
		}
		if (k > best_n || (k == best_n && d->numa_node < best)) {
			best = d->numa_node;
			best_n = k;
		}
	}
	if (best >= 0)
		return best;

	/* Best fit: the fewest candidates that still cover @need; else the most. */
	int fit = -1, most = -1;
	size_t fit_n = 0, most_n = 0;

	for (size_t i = 0; i < n_c; i++) {
		int node = c[i].d ? c[i].d->numa_node : -1;
		size_t k = 0;

		if (node < 0)
			continue;
		for (size_t j = 0; j < n_c; j++)
			k += c[j].d && c[j].d->numa_node == node;
		if (k >= need && (fit < 0 || k < fit_n || (k == fit_n && node < fit))) {
			fit = node;
			fit_n = k;
		}
		if (most < 0 || k > most_n || (k == most_n && node < most)) {
			most = node;
			most_n = k;
		}
	}
	return fit >= 0 ? fit : most;
}

/* Choose for one container; @out gets borrowed pointers into @cr. Returns the count. */
static int prefer_one(const struct dp_plugin *p,
		      const V1beta1__ContainerPreferredAllocationRequest *cr, char **out)
{
	size_t size = cr->allocation_size > 0 ? (size_t)cr->allocation_size : 0;
	size_t n_out = 0, n_c = 0, need;
	_cleanup_free_ struct cand *c = calloc(cr->n_available_deviceids + 1, sizeof(*c));
	int numa;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < cr->n_must_include_deviceids; i++)
		if (!in_list(out, n_out, cr->must_include_deviceids[i]))
			out[n_out++] = cr->must_include_deviceids[i];
	if (n_out >= size)
		return (int)n_out;
	need = size - n_out;

	for (size_t i = 0; i < cr->n_available_deviceids; i++) {
		const char *id = cr->available_deviceids[i];
		const struct dp_device *d = find_device(p->devices, p->n_devices, id);
		bool dup = false;

		if (in_list(out, n_out, id) || (d && !d->healthy))
			continue;
		for (size_t j = 0; j < n_c && !dup; j++)
			dup = streq(c[j].id, id);
		if (dup)
			continue;
		c[n_c].id = id;
		c[n_c++].d = d;
	}
	numa = target_numa(p, out, n_out, c, n_c, need);
	for (size_t i = 0; i < n_c; i++) {
		if (!c[i].d)
			continue;
		c[i].numa_match = numa < 0 || c[i].d->numa_node == numa;
		for (size_t j = 0; j < n_out && !c[i].must_card; j++) {
			const struct dp_device *m = find_device(p->devices, p->n_devices, out[j]);

			c[i].must_card = m && streq(m->card, c[i].d->card);
		}
		for (size_t j = 0; j < n_c; j++)
			c[i].card_count += c[j].d && streq(c[j].d->card, c[i].d->card);
	}
	qsort(c, n_c, sizeof(*c), cmp_cand);
	for (size_t i = 0; i < n_c && need; i++, need--)
		out[n_out++] = (char *)c[i].id;
	return (int)n_out;
}

static void preferred_locked(struct dp_plugin *p, struct dp_reply *reply,
			     const V1beta1__PreferredAllocationRequest *req)
{
	V1beta1__PreferredAllocationResponse resp = V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
	size_t n = req->n_container_requests;
	_cleanup_free_ V1beta1__ContainerPreferredAllocationResponse *cs =
		calloc(n ? n : 1, sizeof(*cs));
	_cleanup_free_ V1beta1__ContainerPreferredAllocationResponse **cp =
		calloc(n ? n : 1, sizeof(*cp));
	size_t done = 0;

	if (!cs || !cp) {
		fail(reply, DP_STATUS_INTERNAL, "out of memory");
		return;
	}
	for (; done < n; done++) {
		const V1beta1__ContainerPreferredAllocationRequest *cr =
			req->container_requests[done];
		char **ids;
		int k;

		if (cr->n_available_deviceids > DP_MAX_IDS ||
		    cr->n_must_include_deviceids > DP_MAX_IDS) {
			fail(reply, DP_STATUS_INVALID_ARGUMENT,
			     "more than %d device IDs in one container request", DP_MAX_IDS);
			goto out;
		}
		ids = calloc(cr->n_must_include_deviceids + cr->n_available_deviceids + 1,
			     sizeof(*ids));
		v1beta1__container_preferred_allocation_response__init(&cs[done]);
		cp[done] = &cs[done];
		if (!ids || (k = prefer_one(p, cr, ids)) < 0) {
			free(ids);
			fail(reply, DP_STATUS_INTERNAL, "out of memory");
			goto out;
		}
		cs[done].deviceids = ids;
		cs[done].n_deviceids = (size_t)k;
	}
	resp.n_container_responses = n;
	resp.container_responses = cp;
	PACK_REPLY(reply, v1beta1__preferred_allocation_response, &resp);
out:
	for (size_t i = 0; i < done; i++)
		free(cs[i].deviceids);
}

static void preferred(struct dp_plugin *p, struct dp_reply *reply, const uint8_t *data, size_t len)
{
	V1beta1__PreferredAllocationRequest *req =
		v1beta1__preferred_allocation_request__unpack(NULL, len, data);

	if (!req) {
		malformed(reply, "PreferredAllocationRequest");
		return;
	}
	pthread_mutex_lock(&p->lock);
	preferred_locked(p, reply, req);
	pthread_mutex_unlock(&p->lock);
	v1beta1__preferred_allocation_request__free_unpacked(req, NULL);
}

void dp_plugin_set_metrics(struct dp_plugin *p, struct metrics_resource *r)
{
	p->metrics = r;
}

static uint64_t mono_nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum metrics_rpc_result rpc_result(enum dp_status status)
{
	switch (status) {
	case DP_STATUS_OK:
		return METRICS_RPC_OK;
	case DP_STATUS_INVALID_ARGUMENT:
		return METRICS_RPC_INVALID_ARGUMENT;
	case DP_STATUS_FAILED_PRECONDITION:
		return METRICS_RPC_FAILED_PRECONDITION;
	case DP_STATUS_NOT_FOUND:
	case DP_STATUS_UNIMPLEMENTED:
	case DP_STATUS_INTERNAL:
	case DP_STATUS_UNAVAILABLE:
		break;
	}
	return METRICS_RPC_OTHER_ERROR;
}

static void answer(struct dp_plugin *p, enum dp_rpc rpc, const uint8_t *req, size_t len,
		   struct dp_reply *reply);

void dp_plugin_call(struct dp_plugin *p, enum dp_rpc rpc, const uint8_t *req, size_t len,
		    struct dp_reply *reply)
{
	uint64_t t0;

	if (!p->metrics || (rpc != DP_RPC_ALLOCATE && rpc != DP_RPC_GET_PREFERRED_ALLOCATION)) {
		answer(p, rpc, req, len, reply);
		return;
	}
	t0 = mono_nsec();
	answer(p, rpc, req, len, reply);
	metrics_rpc_done(p->metrics,
			 rpc == DP_RPC_ALLOCATE ? METRICS_RPC_ALLOCATE : METRICS_RPC_PREFERRED,
			 rpc_result(reply->status), mono_nsec() - t0);
}

static void answer(struct dp_plugin *p, enum dp_rpc rpc, const uint8_t *req, size_t len,
		   struct dp_reply *reply)
{
	switch (rpc) {
	case DP_RPC_GET_DEVICE_PLUGIN_OPTIONS:
		get_options(reply, req, len);
		return;
	case DP_RPC_GET_PREFERRED_ALLOCATION:
		preferred(p, reply, req, len);
		return;
	case DP_RPC_ALLOCATE:
		allocate(p, reply, req, len);
		return;
	case DP_RPC_PRE_START_CONTAINER:
		pre_start(reply, req, len);
		return;
	case DP_RPC_LIST_AND_WATCH:
		fail(reply, DP_STATUS_INTERNAL, "ListAndWatch is a stream");
		return;
	}
	fail(reply, DP_STATUS_UNIMPLEMENTED, "no such method");
}

int dp_plugin_register_request(struct dp_plugin *p, const char *endpoint, struct dp_bytes *out)
{
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	V1beta1__DevicePluginOptions opts = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	opts.get_preferred_allocation_available = true;
	req.version = DP_API_VERSION;
	req.endpoint = (char *)endpoint;
	req.resource_name = p->name;
	req.options = &opts;
	out->len = v1beta1__register_request__get_packed_size(&req);
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data)
		return -ENOMEM;
	v1beta1__register_request__pack(&req, out->data);
	return 0;
}

/* ---- socket names -------------------------------------------------------------------- */

int dp_socket_name(const char *plugin_dir, const char *resource_name, char *buf, size_t size)
{
	size_t dir_len = strlen(plugin_dir), n;
	uint64_t h = 0xcbf29ce484222325ULL;
	char name[DP_SOCKET_PATH_MAX];

	n = (size_t)snprintf(name, sizeof(name), "mdevd-%s.sock", resource_name);
	if (n < sizeof(name)) {
		for (char *c = name; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
				*c = '_';
	}
	if (n >= sizeof(name) || dir_len + 1 + n >= DP_SOCKET_PATH_MAX) {
		for (const char *c = resource_name; *c; c++) {
			h ^= (unsigned char)*c;
			h *= 0x100000001b3ULL;
		}
		n = (size_t)snprintf(name, sizeof(name), "mdevd-%016llx.sock",
				     (unsigned long long)h);
		if (dir_len + 1 + n >= DP_SOCKET_PATH_MAX)
			return -ENAMETOOLONG;
	}
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, name, n + 1);
	return 0;
}

/* ---- the manager --------------------------------------------------------------------- */

struct mplugin {
	char *name;
	enum resource_kind kind;
	struct dp_plugin *logic;
	struct dp_grpc_endpoint *ep;	  /* NULL when serving failed */
	struct metrics_resource *metrics; /* borrowed from the manager's metrics; may be NULL */
	char sock[DP_SOCKET_PATH_MAX];
	size_t endpoint; /* offset of the basename in sock (the struct moves: no pointer) */
};

struct dp_manager {
	char *plugin_dir;
	char kubelet[DP_SOCKET_PATH_MAX];
	int sysfs_fd;
	struct dp_grpc *grpc;
	struct mplugin *plugins; /* sorted by name */
	size_t n_plugins;
	struct metrics *metrics; /* borrowed; NULL: not counted */
};

static void handler_call(void *userdata, enum dp_rpc rpc, const uint8_t *req, size_t len,
			 struct dp_reply *reply)
{
	dp_plugin_call(userdata, rpc, req, len, reply);
}

static int handler_list(void *userdata, struct dp_bytes *out)
{
	return dp_plugin_list(userdata, out);
}

/* gRPC's thread, under the endpoint's lock: kubelet accepted the plugin. */
static void handler_registered(void *userdata)
{
	struct dp_plugin *p = userdata;

	if (p->metrics) {
		metrics_set(&p->metrics->registered, 1);
		metrics_add(&p->metrics->registrations, 1);
	}
}

static const struct dp_grpc_handler handler = {
	.call = handler_call,
	.list = handler_list,
	.registered = handler_registered,
};

int dp_manager_new(const char *plugin_dir, int sysfs_fd, struct dp_manager **out)
{
	struct dp_manager *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->sysfs_fd = -1;
	m->plugin_dir = strdup(plugin_dir);
	if (!m->plugin_dir) {
		r = -ENOMEM;
		goto fail;
	}
	if ((size_t)snprintf(m->kubelet, sizeof(m->kubelet), "%s/%s", plugin_dir,
			     DP_KUBELET_SOCKET) >= sizeof(m->kubelet)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (sysfs_fd >= 0) {
		m->sysfs_fd = fcntl(sysfs_fd, F_DUPFD_CLOEXEC, 3);
		if (m->sysfs_fd < 0) {
			r = -errno;
			goto fail;
		}
	}
	r = dp_grpc_new(&m->grpc);
	if (r < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	if (m->sysfs_fd >= 0)
		close(m->sysfs_fd);
	free(m->plugin_dir);
	free(m);
	return r;
}

/* Serve @mp on its socket and register it. Returns 0 or -errno (logged). */
static int serve(struct dp_manager *m, struct mplugin *mp)
{
	struct dp_bytes req = {};
	int r;

	if (mp->metrics) {
		metrics_set(&mp->metrics->registered, 0);
		metrics_add(&mp->metrics->register_starts, 1);
	}
	r = dp_grpc_endpoint_new(m->grpc, mp->sock, &handler, mp->logic, &mp->ep);
	if (r < 0) {
		log_warn(r, "device plugin %s: cannot serve on %s", mp->name, mp->sock);
		mp->ep = NULL;
		return r;
	}
	r = dp_plugin_register_request(mp->logic, mp->sock + mp->endpoint, &req);
	if (r == 0)
		r = dp_grpc_endpoint_register(mp->ep, m->kubelet, mp->name, req.data, req.len);
	free(req.data);
	if (r < 0)
		log_warn(r, "device plugin %s: cannot register", mp->name);
	return r;
}

static void mplugin_stop(struct mplugin *mp)
{
	dp_grpc_endpoint_free(mp->ep, true);
	if (mp->metrics) {
		metrics_set(&mp->metrics->served, 0);
		metrics_set(&mp->metrics->registered, 0);
	}
	dp_plugin_free(mp->logic);
	free(mp->name);
}

/* Start a plugin for @pool into @mp. Returns 0 or -errno (logged). */
static int mplugin_start(struct dp_manager *m, const struct resource_pool *pool, bool iommufd,
			 struct mplugin *mp)
{
	char base[DP_SOCKET_PATH_MAX];
	int r;

	*mp = (struct mplugin){.kind = pool->kind};
	r = dp_socket_name(m->plugin_dir, pool->name, base, sizeof(base));
	if (r < 0) {
		log_warn(r, "device plugin %s: no socket name fits under %s", pool->name,
			 m->plugin_dir);
		return r;
	}
	if ((size_t)snprintf(mp->sock, sizeof(mp->sock), "%s/%s", m->plugin_dir, base) >=
	    sizeof(mp->sock))
		return -ENAMETOOLONG; /* dp_socket_name() saw to it; kept for the compiler */
	mp->endpoint = strlen(m->plugin_dir) + 1;
	mp->name = strdup(pool->name);
	mp->logic = dp_plugin_new(pool->name, pool->kind);
	if (!mp->name || !mp->logic ||
	    dp_plugin_set_pool(mp->logic, pool, m->sysfs_fd, iommufd) < 0) {
		dp_plugin_free(mp->logic);
		free(mp->name);
		log_warnx("device plugin %s: out of memory", pool->name);
		return -ENOMEM;
	}
	if (m->metrics) {
		mp->metrics = metrics_resource_get(m->metrics, pool->name);
		dp_plugin_set_metrics(mp->logic, mp->metrics);
		if (mp->metrics)
			metrics_set(&mp->metrics->served, 1);
	}
	r = serve(m, mp);
	if (r < 0) {
		mplugin_stop(mp);
		return r;
	}
	log_info("device plugin %s: serving %zu device%s on %s", mp->name, pool->n_devices,
		 pool->n_devices == 1 ? "" : "s", mp->sock);
	return 0;
}

int dp_manager_update(struct dp_manager *m, const struct resource_set *set)
{
	bool iommufd = access(DEV_IOMMU, F_OK) == 0;
	struct mplugin *next = calloc(set->n_pools ? set->n_pools : 1, sizeof(*next));
	size_t n_next = 0;
	int ret = 0, r;

	if (!next)
		return -ENOMEM;
	/* Stop the plugins whose pool is gone (or changed kind) first: they free their names. */
	for (size_t i = 0; i < m->n_plugins; i++) {
		struct mplugin *mp = &m->plugins[i];
		const struct resource_pool *pool = resource_get_pool(set, mp->name);

		if (pool && pool->kind == mp->kind)
			continue;
		log_info("device plugin %s: pool gone, stopping", mp->name);
		dp_plugin_set_pool(mp->logic, NULL, -1, iommufd);
		if (mp->ep)
			dp_grpc_endpoint_changed(mp->ep);
		mplugin_stop(mp);
		mp->name = NULL;
	}
	for (size_t i = 0; i < set->n_pools; i++) {
		const struct resource_pool *pool = &set->pools[i];
		struct mplugin *old = NULL;

		for (size_t j = 0; j < m->n_plugins && !old; j++)
			if (m->plugins[j].name && streq(m->plugins[j].name, pool->name))
				old = &m->plugins[j];
		if (old) {
			next[n_next] = *old;
			old->name = NULL;
			r = dp_plugin_set_pool(next[n_next].logic, pool, m->sysfs_fd, iommufd);
			if (r < 0) {
				log_warn(r, "device plugin %s: cannot update the device list",
					 pool->name);
				ret = ret ? ret : r;
			} else if (r > 0 && next[n_next].ep) {
				log_debug("device plugin %s: %zu devices, sending the new list",
					  pool->name, pool->n_devices);
				dp_grpc_endpoint_changed(next[n_next].ep);
			}
			n_next++;
			continue;
		}
		r = mplugin_start(m, pool, iommufd, &next[n_next]);
		if (r < 0) {
			ret = ret ? ret : r;
			continue;
		}
		n_next++;
	}
	free(m->plugins);
	m->plugins = next;
	m->n_plugins = n_next;
	return ret;
}

int dp_manager_kubelet_restarted(struct dp_manager *m)
{
	int ret = 0;

	for (size_t i = 0; i < m->n_plugins; i++) {
		struct mplugin *mp = &m->plugins[i];
		int r;

		/* kubelet is gone: its streams are dead, nothing to flush. */
		dp_grpc_endpoint_free(mp->ep, false);
		mp->ep = NULL;
		r = serve(m, mp);
		if (r < 0)
			ret = ret ? ret : r;
	}
	if (m->n_plugins)
		log_info("kubelet restarted: serving and registering %zu device plugin%s again",
			 m->n_plugins, m->n_plugins == 1 ? "" : "s");
	return ret;
}

void dp_manager_registered(struct dp_manager *m, size_t *n_plugins, size_t *n_registered)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n_plugins; i++)
		k += m->plugins[i].ep && dp_grpc_endpoint_registered(m->plugins[i].ep);
	*n_plugins = m->n_plugins;
	*n_registered = k;
}

void dp_manager_set_metrics(struct dp_manager *m, struct metrics *metrics)
{
	m->metrics = metrics;
}

size_t dp_manager_n_plugins(struct dp_manager *m)
{
	return m->n_plugins;
}

int dp_manager_plugin(struct dp_manager *m, size_t i, struct dp_plugin_info *out,
		      void (*each)(void *userdata, const char *id, bool healthy, const char *why),
		      void *userdata)
{
	const struct mplugin *mp;
	struct dp_plugin *p;

	if (i >= m->n_plugins)
		return -ENOENT;
	mp = &m->plugins[i];
	p = mp->logic;
	*out = (struct dp_plugin_info){
		.name = mp->name,
		.socket = mp->sock,
		.serving = mp->ep != NULL,
		.registered = mp->ep && dp_grpc_endpoint_registered(mp->ep),
	};
	pthread_mutex_lock(&p->lock);
	for (size_t j = 0; j < p->n_devices; j++) {
		const struct dp_device *dev = &p->devices[j];

		if (dev->healthy)
			out->n_healthy++;
		else
			out->n_unhealthy++;
		if (each)
			each(userdata, dev->id, dev->healthy, dev->why);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int dp_manager_allocated(struct dp_manager *m, char ***ids, size_t *n)
{
	char **v = NULL;
	size_t count = 0;
	int r = 0;

	for (size_t i = 0; i < m->n_plugins && r == 0; i++) {
		struct dp_plugin *p = m->plugins[i].logic;

		pthread_mutex_lock(&p->lock);
		for (size_t k = 0; k < p->n_allocated && r == 0; k++) {
			char **nv = reallocarray(v, count + 1, sizeof(*v));

			if (!nv || !(nv[count] = strdup(p->allocated[k]))) {
				v = nv ? nv : v;
				r = -ENOMEM;
				break;
			}
			v = nv;
			count++;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (r < 0) {
		for (size_t k = 0; k < count; k++)
			free(v[k]);
		free(v);
		return r;
	}
	*ids = v;
	*n = count;
	return 0;
}

void dp_manager_free(struct dp_manager *m)
{
	if (!m)
		return;
	/* Every stream gets its empty list at once, then each endpoint waits for its own. */
	for (size_t i = 0; i < m->n_plugins; i++) {
		dp_plugin_set_pool(m->plugins[i].logic, NULL, -1, false);
		if (m->plugins[i].ep)
			dp_grpc_endpoint_changed(m->plugins[i].ep);
	}
	for (size_t i = 0; i < m->n_plugins; i++)
		mplugin_stop(&m->plugins[i]);
	free(m->plugins);
	dp_grpc_free(m->grpc);
	if (m->sysfs_fd >= 0)
		close(m->sysfs_fd);
	free(m->plugin_dir);
	free(m);
}
