/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Kubernetes client's pure half: kubeconfig, in-cluster config, list and watch JSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubernetes/kubeapi.h"
#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "pol_private.h" /* pol_yaml_parse(): the one YAML reader */
#include "util/fileio.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

/* A kubeconfig is small; anything larger is not one. */
#define KUBECONFIG_MAX (1u << 20)

void kube_config_free(struct kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->cert_file);
	free(c->cert_data);
	free(c->key_file);
	free(c->key_data);
	free(c->token);
	free(c->token_file);
	free(c->source);
	free(c);
}

static int fmt_why(char *why, size_t size, const char *fmt, ...) _printf_(3, 4);

static int fmt_why(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (why && size) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kube_base64_decode(const char *in, char **out, size_t *out_len)
{
	size_t len = strlen(in), n = 0;
	unsigned int acc = 0, bits = 0;
	bool pad = false;
	char *buf = malloc(len / 4 * 3 + 4);

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || pad) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

static const char *get_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The entry of the named list (clusters, users, contexts) whose name is @name, its @inner. */
static const cJSON *find_named(const cJSON *root, const char *list, const char *name,
			       const char *inner)
{
	const cJSON *it, *l = cJSON_GetObjectItemCaseSensitive(root, list);

	cJSON_ArrayForEach(it, l)
	{
		const char *n = get_str(it, "name");

		if (n && streq(n, name))
			return cJSON_GetObjectItemCaseSensitive(it, inner);
	}
	return NULL;
}

/* A file name as given, or relative to @dir. */
static int path_in(const char *dir, const char *name, char **out)
{
	int n;

	if (name[0] == '/' || !dir)
		n = asprintf(out, "%s", name);
	else
		n = asprintf(out, "%s/%s", dir, name);
	return n < 0 ? -ENOMEM : 0;
}

/* The pair "x" / "x-data" of @obj: a file (relative to @dir) or base64 data. */
static int file_or_data(const cJSON *obj, const char *key, const char *dir, char **file,
			char **data, size_t *len, char *why, size_t size)
{
	char data_key[64];
	const char *f = get_str(obj, key), *d;
	int r;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	d = get_str(obj, data_key);
	if (d && *d) {
		r = kube_base64_decode(d, data, len);
		if (r == -EINVAL)
			return fmt_why(why, size, "%s is not base64", data_key);
		return r;
	}
	if (f && *f)
		return path_in(dir, f, file);
	return 0;
}

static int dup_or_null(const char *s, char **out)
{
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int kube_config_parse(const char *text, size_t len, const char *dir, const char *source,
		      struct kube_config **out, char *why, size_t size)
{
	_cleanup_(kube_config_freep) struct kube_config *c = calloc(1, sizeof(*c));
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *cluster, *user, *ctx;
	const char *cur, *cname, *uname, *server, *host;
	size_t i = 0;
	int r;

	if (!c)
		return -ENOMEM;
	while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
		i++;
	if (i < len && text[i] == '{') {
		root = cJSON_ParseWithLength(text, len);
		if (!root)
			return fmt_why(why, size, "not valid JSON");
	} else {
		struct pol_error err = {};

		r = pol_yaml_parse(text, len, &root, NULL, &err);
		if (r == -EINVAL)
			return fmt_why(why, size, "line %d: %s", err.line, err.message);
		if (r < 0)
			return r;
	}
	if (!cJSON_IsObject(root))
		return fmt_why(why, size,
			       "not a kubeconfig (a mapping with clusters, users, "
			       "contexts)");
	cur = get_str(root, "current-context");
	if (!cur || !*cur)
		return fmt_why(why, size, "no current-context");
	ctx = find_named(root, "contexts", cur, "context");
	if (!ctx)
		return fmt_why(why, size, "current-context \"%s\" is not in contexts", cur);
	cname = get_str(ctx, "cluster");
	uname = get_str(ctx, "user");
	cluster = cname ? find_named(root, "clusters", cname, "cluster") : NULL;
	if (!cluster)
		return fmt_why(why, size, "context \"%s\": cluster \"%s\" is not in clusters", cur,
			       cname ? cname : "");
	server = get_str(cluster, "server");
	if (!server || !*server)
		return fmt_why(why, size, "cluster \"%s\" has no server", cname);
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return fmt_why(why, size, "cluster \"%s\": server \"%s\" is not an http(s) URL",
			       cname, server);
	/* "https://" or "https:///x" would leave no host (and "https:" once the slashes go). */
	host = server + (server[4] == 's' ? 8 : 7);
	if (*host == '\0' || *host == '/')
		return fmt_why(why, size, "cluster \"%s\": server \"%s\" names no host", cname,
			       server);
	c->server = strdup(server);
	if (!c->server)
		return -ENOMEM;
	while (*c->server && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	c->insecure =
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cluster, "insecure-skip-tls-verify"));
	r = file_or_data(cluster, "certificate-authority", dir, &c->ca_file, &c->ca_data,
			 &c->ca_len, why, size);
	if (r < 0)
		return r;
	user = uname ? find_named(root, "users", uname, "user") : NULL;
	if (uname && !user)
		return fmt_why(why, size, "context \"%s\": user \"%s\" is not in users", cur,
			       uname);
	if (user) {
		const char *tf = get_str(user, "tokenFile");

		if (cJSON_GetObjectItemCaseSensitive(user, "exec") ||
		    cJSON_GetObjectItemCaseSensitive(user, "auth-provider"))
			return fmt_why(why, size,
				       "user \"%s\" authenticates with exec or auth-provider, "
				       "which mdevd does not run: give it a client certificate "
				       "or a token",
				       uname);
		r = file_or_data(user, "client-certificate", dir, &c->cert_file, &c->cert_data,
				 &c->cert_len, why, size);
		if (r == 0)
			r = file_or_data(user, "client-key", dir, &c->key_file, &c->key_data,
					 &c->key_len, why, size);
		if (r == 0)
			r = dup_or_null(get_str(user, "token"), &c->token);
		if (r == 0 && tf && *tf)
			r = path_in(dir, tf, &c->token_file);
		if (r < 0)
			return r;
		if (!!(c->cert_file || c->cert_data) != !!(c->key_file || c->key_data))
			return fmt_why(why, size,
				       "user \"%s\": a client certificate needs its key, and a key "
				       "its certificate",
				       uname);
	}
	c->source = strdup(source ? source : "kubeconfig");
	if (!c->source)
		return -ENOMEM;
	*out = steal_ptr(c);
	return 0;
}

int kube_config_load(const char *path, struct kube_config **out, char *why, size_t size)
{
	_cleanup_free_ char *text = NULL, *dir = strdup(path);
	char *slash;
	ssize_t n;
	int r;

	if (!dir)
		return -ENOMEM;
	n = fileio_read_at(AT_FDCWD, path, KUBECONFIG_MAX, 0, &text);
	if (n < 0) {
		r = (int)n;
		snprintf(why, size, "cannot read it: %s", strerror(-r));
		return r;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return kube_config_parse(text, (size_t)n, slash ? dir : ".", path, out, why, size);
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, char *why, size_t size)
{
	_cleanup_(kube_config_freep) struct kube_config *c = calloc(1, sizeof(*c));
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	int n;

	if (!c)
		return -ENOMEM;
	if (!host || !*host || !port || !*port) {
		snprintf(
			why, size,
			"KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a "
			"pod): give --kubeconfig FILE");
		return -ENOENT;
	}
	n = asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port);
	if (n < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->token_file, "%s/token", sa_dir) < 0) {
		c->token_file = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0) {
		c->ca_file = NULL;
		return -ENOMEM;
	}
	if (access(c->token_file, R_OK) < 0) {
		snprintf(why, size, "%s: %s (is automountServiceAccountToken false in the pod?)",
			 c->token_file, strerror(errno));
		return -ENOENT;
	}
	c->source = strdup("in-cluster");
	if (!c->source)
		return -ENOMEM;
	*out = steal_ptr(c);
	return 0;
}

void kube_object_clear(struct kube_object *o)
{
	free(o->namespace);
	free(o->name);
	free(o->resource_version);
	free(o->json);
	*o = (struct kube_object){};
}

void kube_event_clear(struct kube_event *e)
{
	kube_object_clear(&e->object);
	free(e->message);
	*e = (struct kube_event){};
}

void kube_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* @obj (a cJSON object, changed: kind and apiVersion filled in) into @out. */
static int object_from(cJSON *obj, const char *kind, const char *api_version,
		       struct kube_object *out)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *name = get_str(meta, "name"), *ns = get_str(meta, "namespace");
	const char *rv = get_str(meta, "resourceVersion");
	struct kube_object o = {};

	if (!cJSON_IsObject(obj) || !name)
		return -EINVAL;
	if (kind && !cJSON_GetObjectItemCaseSensitive(obj, "kind") &&
	    !cJSON_AddStringToObject(obj, "kind", kind))
		return -ENOMEM;
	if (api_version && !cJSON_GetObjectItemCaseSensitive(obj, "apiVersion") &&
	    !cJSON_AddStringToObject(obj, "apiVersion", api_version))
		return -ENOMEM;
	o.name = strdup(name);
	o.namespace = strdup(ns ? ns : "");
	o.resource_version = strdup(rv ? rv : "");
	o.json = cJSON_PrintUnformatted(obj);
	if (!o.name || !o.namespace || !o.resource_version || !o.json) {
		kube_object_clear(&o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

int kube_event_parse(const char *line, size_t len, const char *kind, const char *api_version,
		     struct kube_event *out)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_ParseWithLength(line, len);
	static const char *const names[] = {
		[KUBE_EVENT_ADDED] = "ADDED",	  [KUBE_EVENT_MODIFIED] = "MODIFIED",
		[KUBE_EVENT_DELETED] = "DELETED", [KUBE_EVENT_BOOKMARK] = "BOOKMARK",
		[KUBE_EVENT_ERROR] = "ERROR",
	};
	struct kube_event e = {};
	const char *type = get_str(root, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
	size_t t;
	int r;

	if (!root || !type || !cJSON_IsObject(obj))
		return -EINVAL;
	for (t = 0; t < ARRAY_SIZE(names); t++)
		if (streq(type, names[t]))
			break;
	if (t == ARRAY_SIZE(names))
		return -EINVAL;
	e.type = (enum kube_event_type)t;
	switch (e.type) {
	case KUBE_EVENT_ERROR: {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");

		e.code = cJSON_IsNumber(code) ? code->valueint : 0;
		e.message = strdup(get_str(obj, "message") ?: "");
		if (!e.message)
			return -ENOMEM;
		break;
	}
	case KUBE_EVENT_BOOKMARK: {
		const char *rv = get_str(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
					 "resourceVersion");

		if (!rv)
			return -EINVAL;
		e.object.resource_version = strdup(rv);
		if (!e.object.resource_version)
			return -ENOMEM;
		break;
	}
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
	case KUBE_EVENT_DELETED:
		r = object_from(obj, kind, api_version, &e.object);
		if (r < 0)
			return r;
		break;
	}
	*out = e;
	return 0;
}

int kube_list_parse(const char *json, size_t len, const char *kind, const char *api_version,
		    struct kube_object **items, size_t *n_items, char **rv)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_ParseWithLength(json, len);
	cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "items"), *it;
	const char *v =
		get_str(cJSON_GetObjectItemCaseSensitive(root, "metadata"), "resourceVersion");
	struct kube_object *objs;
	size_t n = 0;
	int r;

	if (!root || !v || !(cJSON_IsArray(list) || cJSON_IsNull(list) || !list))
		return -EINVAL;
	objs = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	cJSON_ArrayForEach(it, list)
	{
		r = object_from(it, kind, api_version, &objs[n]);
		if (r < 0)
			goto fail;
		n++;
	}
	*rv = strdup(v);
	if (!*rv) {
		r = -ENOMEM;
		goto fail;
	}
	*items = objs;
	*n_items = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		kube_object_clear(&objs[i]);
	free(objs);
	return r;
}

const char *kube_status_message(const char *json, size_t len, char *buf, size_t size)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_ParseWithLength(json, len);
	const char *msg = get_str(root, "message");

	snprintf(buf, size, "%s", msg ? msg : "");
	return buf;
}

int kube_object_labels(const char *json, char ***keys, char ***values, size_t *n)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_Parse(json);
	const cJSON *labels, *it;
	char **k, **v;
	size_t i = 0;

	if (!cJSON_IsObject(root))
		return -EINVAL;
	labels = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "metadata"), "labels");
	k = calloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(*k));
	v = calloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(*v));
	if (!k || !v)
		goto nomem;
	cJSON_ArrayForEach(it, labels)
	{
		if (!it->string || !cJSON_IsString(it))
			continue;
		k[i] = strdup(it->string);
		v[i] = strdup(it->valuestring);
		i++;
		if (!k[i - 1] || !v[i - 1])
			goto nomem;
	}
	*keys = k;
	*values = v;
	*n = i;
	return 0;
nomem:
	kube_strv_free(k, i);
	kube_strv_free(v, i);
	return -ENOMEM;
}

int kube_object_annotation(const char *json, const char *key, char **out)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_Parse(json);
	const char *v;

	if (!cJSON_IsObject(root))
		return -EINVAL;
	v = get_str(cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(root, "metadata"), "annotations"),
		    key);
	*out = NULL;
	return dup_or_null(v, out);
}

int kube_object_uid(const char *json, char **out)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_Parse(json);

	if (!cJSON_IsObject(root))
		return -EINVAL;
	*out = NULL;
	return dup_or_null(get_str(cJSON_GetObjectItemCaseSensitive(root, "metadata"), "uid"), out);
}

int kube_object_spec(const char *json, char **out)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_Parse(json);
	const cJSON *spec;

	if (!cJSON_IsObject(root))
		return -EINVAL;
	spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
	*out = spec ? cJSON_PrintUnformatted(spec) : strdup("null");
	return *out ? 0 : -ENOMEM;
}
