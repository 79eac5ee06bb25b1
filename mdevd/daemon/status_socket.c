/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The status socket: the daemon's side and the client's; see status_socket.h. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/status_socket.h"
#include "mdevd/policy.h"
#include "kubernetes/deviceplugin.h"
#include "mdevd/macro.h"
#include "mdevd/plan.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

int status_socket_default_path(char *buf, size_t size)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	size_t n;
	int w;

	if (rd && *rd) {
		/* systemd.exec(5): a colon-separated list when several are configured. */
		n = strcspn(rd, ":");
		w = snprintf(buf, size, "%.*s/%s", (int)n, rd, STATUS_SOCKET_NAME);
	} else {
		w = snprintf(buf, size, "%s/%s", STATUS_SOCKET_DIR, STATUS_SOCKET_NAME);
	}
	return w < 0 || (size_t)w >= size ? -ENAMETOOLONG : 0;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int status_socket_listen(const char *path, int *out)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	char *slash;
	mode_t old;
	int r;

	r = make_addr(path, &sa);
	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a daemon killed with -9: replace it, unless one answers. */
	if (access(path, F_OK) == 0) {
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return -EADDRINUSE;
		unlink(path);
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r < 0)
		return r;
	if (chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		unlink(path);
		return r;
	}
	*out = steal_fd(fd);
	return 0;
}

/* Add @item to @obj under @key; false (and @item freed) when either is NULL. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static const char *kind_str(enum resource_kind k)
{
	switch (k) {
	case RESOURCE_MDEV:
		return "mdev";
	case RESOURCE_PCI:
		return "pci";
	}
	return "?";
}

struct each_ctx {
	cJSON *devs;
	bool failed;
};

static void add_device(void *userdata, const char *id, bool healthy, const char *why)
{
	struct each_ctx *c = userdata;
	cJSON *d = cJSON_CreateObject();

	if (!d || !cJSON_AddItemToArray(c->devs, d)) {
		cJSON_Delete(d);
		c->failed = true;
		return;
	}
	if (!add(d, "id", cJSON_CreateString(id)) ||
	    !add(d, "health", cJSON_CreateString(healthy ? "Healthy" : "Unhealthy")) ||
	    !add(d, "why", str_or_null(why)))
		c->failed = true;
}

static cJSON *resource_json(const struct status_view *v, const struct resource_pool *p)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	struct each_ctx c = {};
	cJSON *unserved, *plugin = NULL;
	bool listed = false;

	if (!o || !add(o, "name", cJSON_CreateString(p->name)) ||
	    !add(o, "kind", cJSON_CreateString(kind_str(p->kind))) ||
	    !add(o, "external_resource_provider", cJSON_CreateBool(p->external_resource_provider)))
		return NULL;
	c.devs = cJSON_AddArrayToObject(o, "devices");
	if (!c.devs)
		return NULL;
	for (size_t i = 0; v->dp && i < dp_manager_n_plugins(v->dp) && !listed; i++) {
		struct dp_plugin_info info;

		if (dp_manager_plugin(v->dp, i, &info, NULL, NULL) < 0 ||
		    !streq(info.name, p->name))
			continue;
		dp_manager_plugin(v->dp, i, &info, add_device, &c);
		listed = true;
		plugin = cJSON_CreateObject();
		if (!add(o, "plugin", plugin) ||
		    !add(plugin, "socket", cJSON_CreateString(info.socket)) ||
		    !add(plugin, "serving", cJSON_CreateBool(info.serving)) ||
		    !add(plugin, "registered", cJSON_CreateBool(info.registered)))
			return NULL;
	}
	if (!listed) {
		if (!add(o, "plugin", cJSON_CreateNull()))
			return NULL;
		for (size_t j = 0; j < p->n_devices; j++)
			add_device(&c, p->devices[j].id, p->devices[j].healthy, NULL);
	}
	if (c.failed)
		return NULL;
	unserved = cJSON_AddArrayToObject(o, "unserved");
	if (!unserved)
		return NULL;
	for (size_t j = 0; j < p->n_unserved; j++) {
		cJSON *u = cJSON_CreateObject();

		if (!u || !cJSON_AddItemToArray(unserved, u))
			return cJSON_Delete(u), NULL;
		if (!add(u, "id", cJSON_CreateString(p->unserved[j].id)) ||
		    !add(u, "reason", cJSON_CreateString(p->unserved[j].reason)))
			return NULL;
	}
	return steal_ptr(o);
}

static int node_json(const struct status_view *v, cJSON *root)
{
	const struct inventory *inv = v->inv;
	cJSON *mdevs = cJSON_AddArrayToObject(root, "mdevs");
	cJSON *parents = cJSON_AddArrayToObject(root, "parents");

	if (!mdevs || !parents)
		return -ENOMEM;
	for (size_t i = 0; inv && i < inv->n_mdevs; i++) {
		const struct mdev_instance *m = &inv->mdevs[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(mdevs, o))
			return cJSON_Delete(o), -ENOMEM;
		if (!add(o, "uuid", cJSON_CreateString(m->uuid)) ||
		    !add(o, "parent", cJSON_CreateString(m->parent)) ||
		    !add(o, "type", cJSON_CreateString(m->type_id)) ||
		    !add(o, "owned",
			 v->machine_id
				 ? cJSON_CreateBool(plan_is_owned(inv, m, v->machine_id, NULL))
				 : cJSON_CreateNull()))
			return -ENOMEM;
	}
	for (size_t i = 0; inv && i < inv->n_parents; i++) {
		const struct mdev_parent *p = &inv->parents[i];
		cJSON *o = cJSON_CreateObject(), *types;

		if (!o || !cJSON_AddItemToArray(parents, o))
			return cJSON_Delete(o), -ENOMEM;
		if (!add(o, "name", cJSON_CreateString(p->name)))
			return -ENOMEM;
		types = cJSON_AddArrayToObject(o, "types");
		if (!types)
			return -ENOMEM;
		for (size_t j = 0; j < p->n_types; j++) {
			const struct mdev_type *t = &p->types[j];
			cJSON *to = cJSON_CreateObject();

			if (!to || !cJSON_AddItemToArray(types, to))
				return cJSON_Delete(to), -ENOMEM;
			if (!add(to, "id", cJSON_CreateString(t->id)) ||
			    !add(to, "name", cJSON_CreateString(t->name)) ||
			    !add(to, "available_instances",
				 cJSON_CreateNumber(t->available_instances)) ||
			    !add(to, "instances", cJSON_CreateNumber(t->n_instances)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int cluster_json(const struct status_view *v, cJSON *root)
{
	const struct status_cluster *c = v->cluster;
	cJSON *o, *labels;

	if (!c)
		return add(root, "cluster", cJSON_CreateNull()) ? 0 : -ENOMEM;
	o = cJSON_AddObjectToObject(root, "cluster");
	if (!o || !add(o, "api_server", str_or_null(c->api_server)) ||
	    !add(o, "cr", str_or_null(c->cr)) ||
	    !add(o, "cr_resource_version", str_or_null(c->cr_resource_version)) ||
	    !add(o, "cr_watch", str_or_null(c->cr_watch)) ||
	    !add(o, "node", str_or_null(c->node)) ||
	    !add(o, "node_watch", str_or_null(c->node_watch)))
		return -ENOMEM;
	if (!c->labels_known)
		return add(o, "labels", cJSON_CreateNull()) ? 0 : -ENOMEM;
	labels = cJSON_AddObjectToObject(o, "labels");
	if (!labels)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_labels; i++)
		if (!add(labels, c->labels[i].key, cJSON_CreateString(c->labels[i].value)))
			return -ENOMEM;
	return 0;
}

static int host_device_json(cJSON *list, const char *kind, const char *selector,
			    const char *resource_name, bool external, bool external_only)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(list, o))
		return cJSON_Delete(o), -ENOMEM;
	if (!add(o, "kind", cJSON_CreateString(kind)) ||
	    !add(o, "selector", cJSON_CreateString(selector)) ||
	    !add(o, "resource_name", cJSON_CreateString(resource_name)) ||
	    !add(o, "external_resource_provider", cJSON_CreateBool(external)) ||
	    !add(o, "served_by",
		 cJSON_CreateString(external || !external_only ? "mdevd" : "virt-handler")))
		return -ENOMEM;
	return 0;
}

/* The policy in force: its types and who serves each permittedHostDevices entry. */
static int policy_json(const struct status_view *v, cJSON *root)
{
	const struct policy *pol = v->pol;
	cJSON *types, *hd, *nt, *sel;

	if (!add(root, "policy_source", cJSON_CreateString(v->policy_source ?: "file")) ||
	    cluster_json(v, root) < 0)
		return -ENOMEM;
	if (!pol)
		return 0;
	types = cJSON_AddArrayToObject(root, "mediated_device_types");
	hd = cJSON_AddArrayToObject(root, "host_devices");
	if (!types || !hd)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_mediated_device_types; i++)
		if (!cJSON_AddItemToArray(types, cJSON_CreateString(pol->mediated_device_types[i])))
			return -ENOMEM;
	if (pol->n_node_types) {
		nt = cJSON_AddObjectToObject(root, "node_mediated_device_types");
		sel = nt ? cJSON_AddArrayToObject(nt, "selected") : NULL;
		if (!sel || !add(nt, "entries", cJSON_CreateNumber((double)pol->n_node_types)))
			return -ENOMEM;
		for (size_t i = 0; i < pol->n_node_types_selected; i++)
			if (!cJSON_AddItemToArray(
				    sel, cJSON_CreateNumber((double)pol->node_types_selected[i])))
				return -ENOMEM;
	}
	for (size_t i = 0; i < pol->n_mdev_devices; i++)
		if (host_device_json(hd, "mdev", pol->mdev_devices[i].name_selector,
				     pol->mdev_devices[i].resource_name,
				     pol->mdev_devices[i].external_resource_provider,
				     pol->external_only) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < pol->n_pci_devices; i++)
		if (host_device_json(hd, "pci", pol->pci_devices[i].selector,
				     pol->pci_devices[i].resource_name,
				     pol->pci_devices[i].external_resource_provider,
				     pol->external_only) < 0)
			return -ENOMEM;
	return 0;
}

/* The document, as a new string; NULL on ENOMEM. */
static char *status_document(const struct status_view *v)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	cJSON *res, *reload;

	if (!root || !add(root, "source", cJSON_CreateString("daemon")) ||
	    !add(root, "pid", cJSON_CreateNumber(getpid())) ||
	    !add(root, "version", cJSON_CreateString(v->version)) ||
	    !add(root, "started", cJSON_CreateNumber(v->started)) ||
	    !add(root, "policy", cJSON_CreateString(v->policy_path)) ||
	    !add(root, "generation", cJSON_CreateNumber(v->generation)) ||
	    !add(root, "shape", cJSON_CreateString(v->shape)) ||
	    !add(root, "ready", cJSON_CreateBool(v->ready)) ||
	    !add(root, "not_ready", str_or_null(v->not_ready)) ||
	    !add(root, "reconciles", cJSON_CreateNumber((double)v->reconciles)) ||
	    !add(root, "uevents", cJSON_CreateNumber((double)v->uevents)) ||
	    !add(root, "metrics_address", str_or_null(v->metrics_address)))
		return NULL;
	reload = cJSON_AddObjectToObject(root, "last_reload");
	if (!reload || !add(reload, "result", cJSON_CreateString(v->last_reload_result)) ||
	    !add(reload, "error", str_or_null(v->last_reload_error)))
		return NULL;
	res = cJSON_AddArrayToObject(root, "resources");
	if (!res)
		return NULL;
	for (size_t i = 0; v->set && i < v->set->n_pools; i++) {
		cJSON *p = resource_json(v, &v->set->pools[i]);

		if (!p || !cJSON_AddItemToArray(res, p))
			return cJSON_Delete(p), NULL;
	}
	if (node_json(v, root) < 0 || policy_json(v, root) < 0)
		return NULL;
	return cJSON_PrintUnformatted(root);
}

static void send_all(int fd, const char *buf, size_t len)
{
	struct timeval tv = {.tv_sec = 1};
	size_t off = 0;

	/* Blocking with a bound: a client that does not read is dropped after a second. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (off < len) {
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

int status_socket_serve(int fd, const struct status_view *v)
{
	_cleanup_free_ char *doc = NULL;
	int n = 0;

	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return n; /* EAGAIN: all answered */
		}
		if (!doc)
			doc = status_document(v);
		if (doc) {
			send_all(c, doc, strlen(doc));
			n++;
		}
		close(c);
		if (!doc)
			return -ENOMEM;
	}
}

static long long mono_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int status_socket_query(const char *path, unsigned int timeout_msec, char **out)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	long long until = mono_msec() + timeout_msec;
	size_t len = 0, cap = 0;
	struct sockaddr_un sa;
	int r;

	r = make_addr(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect does not wait for accept(): the backlog takes it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = until - mono_msec();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (cap - len < 4096) {
			char *p;

			cap = cap ? cap * 2 : 65536;
			if (cap > STATUS_REPLY_MAX + 1)
				return -EMSGSIZE;
			p = realloc(buf, cap);
			if (!p)
				return -ENOMEM;
			buf = p;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf || len == 0)
		return -EPROTO; /* closed without a word: not an mdevd status socket */
	buf[len] = '\0';
	*out = steal_ptr(buf);
	return 0;
}
