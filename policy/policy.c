/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy's lifetime, name normalisation, resource-name rules and lookups. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "pol_private.h"

void policy_free(struct policy *pol)
{
	if (!pol)
		return;
	for (size_t i = 0; i < pol->n_mediated_device_types; i++)
		free(pol->mediated_device_types[i]);
	free(pol->mediated_device_types);
	free(pol->mediated_device_types_path);
	if (pol->mediated_device_type_paths)
		for (size_t i = 0; i < pol->n_mediated_device_types; i++)
			free(pol->mediated_device_type_paths[i]);
	free(pol->mediated_device_type_paths);
	for (size_t i = 0; i < pol->n_node_types; i++) {
		struct pol_node_types *e = &pol->node_types[i];

		pol_labels_free(e->selector, e->n_selector);
		for (size_t j = 0; j < e->n_types; j++)
			free(e->types[j]);
		free(e->types);
		free(e->path);
	}
	free(pol->node_types);
	free(pol->node_types_selected);
	for (size_t i = 0; i < pol->n_pci_devices; i++) {
		free(pol->pci_devices[i].selector);
		free(pol->pci_devices[i].resource_name);
	}
	free(pol->pci_devices);
	for (size_t i = 0; i < pol->n_mdev_devices; i++) {
		free(pol->mdev_devices[i].name_selector);
		free(pol->mdev_devices[i].resource_name);
	}
	free(pol->mdev_devices);
	for (size_t i = 0; i < pol->n_layouts; i++) {
		struct pol_layout *l = &pol->layouts[i];

		for (size_t j = 0; j < l->n_parents; j++)
			free(l->parents[j].value);
		free(l->parents);
		for (size_t j = 0; j < l->n_types; j++)
			free(l->types[j].type);
		free(l->types);
	}
	free(pol->layouts);
	for (size_t i = 0; i < pol->vfio.n_devices; i++) {
		struct pol_vfio_selector *v = &pol->vfio.devices[i];

		free(v->address);
		free(v->vendor_device);
		for (size_t j = 0; j < v->n_addresses; j++)
			free(v->addresses[j]);
		free(v->addresses);
	}
	free(pol->vfio.devices);
	for (size_t i = 0; i < pol->vfio.n_override_host_owned; i++)
		free(pol->vfio.override_host_owned[i]);
	free(pol->vfio.override_host_owned);
	free(pol);
}

void pol_labels_free(struct pol_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(labels[i].key);
		free(labels[i].value);
	}
	free(labels);
}

static bool selector_matches(const struct pol_node_types *e, const struct pol_label *labels,
			     size_t n_labels)
{
	for (size_t i = 0; i < e->n_selector; i++) {
		bool found = false;

		for (size_t j = 0; j < n_labels && !found; j++)
			found = streq(labels[j].key, e->selector[i].key) &&
				streq(labels[j].value, e->selector[i].value);
		if (!found)
			return false;
	}
	return true;
}

int pol_select_node_types(struct policy *pol, const struct pol_label *labels, size_t n_labels)
{
	_cleanup_free_ size_t *picked = NULL;
	char **types = NULL, **paths = NULL;
	size_t n_picked = 0, n = 0, cap = 0;

	pol->node_types_applied = true;
	if (pol->n_node_types == 0)
		return 0;
	picked = calloc(pol->n_node_types, sizeof(*picked));
	if (!picked)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_node_types; i++) {
		if (selector_matches(&pol->node_types[i], labels, n_labels)) {
			picked[n_picked++] = i;
			cap += pol->node_types[i].n_types;
		}
	}
	if (cap) {
		types = calloc(cap, sizeof(*types));
		paths = calloc(cap, sizeof(*paths));
		if (!types || !paths)
			goto nomem;
	}
	for (size_t k = 0; k < n_picked; k++) {
		const struct pol_node_types *e = &pol->node_types[picked[k]];

		for (size_t t = 0; t < e->n_types; t++) {
			bool dup = false;

			for (size_t j = 0; j < n && !dup; j++)
				dup = streq(types[j], e->types[t]);
			if (dup)
				continue;
			types[n] = strdup(e->types[t]);
			if (!types[n] || asprintf(&paths[n], "%s[%zu]", e->path, t) < 0) {
				paths[n] = NULL;
				n++;
				goto nomem;
			}
			n++;
		}
	}
	/* KubeVirt: the entries' union replaces the cluster-wide list only when non-empty. */
	if (n) {
		for (size_t i = 0; i < pol->n_mediated_device_types; i++)
			free(pol->mediated_device_types[i]);
		free(pol->mediated_device_types);
		pol->mediated_device_types = types;
		pol->mediated_device_type_paths = paths;
		pol->n_mediated_device_types = n;
	} else {
		free(types);
		free(paths);
	}
	pol->node_types_selected = steal_ptr(picked);
	pol->n_node_types_selected = n_picked;
	return 0;
nomem:
	for (size_t i = 0; i < n; i++) {
		free(types[i]);
		free(paths[i]);
	}
	free(types);
	free(paths);
	pol->node_types_applied = false;
	return -ENOMEM;
}

int pol_parse_labels(const char *s, struct pol_label **out, size_t *n_out, char *why, size_t size)
{
	_cleanup_free_ char *copy = strdup(s);
	struct pol_label *v = NULL;
	size_t n = 0;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *term = strtok_r(copy, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
		char *eq, *key, *val, *end;
		struct pol_label *nv;

		while (isspace((unsigned char)*term))
			term++;
		end = term + strlen(term);
		while (end > term && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*term)
			continue;
		eq = strchr(term, '=');
		if (!eq) {
			snprintf(why, size, "\"%s\" is not key=value", term);
			goto inval;
		}
		*eq = '\0';
		key = term;
		val = eq + 1;
		for (end = eq; end > key && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		while (isspace((unsigned char)*val))
			val++;
		if (!*key) {
			snprintf(why, size, "\"=%s\" has no key", val);
			goto inval;
		}
		for (size_t i = 0; i < n; i++) {
			if (streq(v[i].key, key)) {
				snprintf(why, size, "label \"%s\" is given twice", key);
				goto inval;
			}
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			goto nomem;
		v = nv;
		v[n].key = strdup(key);
		v[n].value = strdup(val);
		n++;
		if (!v[n - 1].key || !v[n - 1].value)
			goto nomem;
	}
	*out = v;
	*n_out = n;
	return 0;
inval:
	pol_labels_free(v, n);
	return -EINVAL;
nomem:
	pol_labels_free(v, n);
	return -ENOMEM;
}

bool pol_has_mdevd(const struct policy *pol)
{
	return pol->n_layouts || pol->remove_unowned || pol->vfio.n_devices ||
	       pol->vfio.bind_permitted || pol->vfio.n_override_host_owned;
}

void pol_take_mdevd(struct policy *dst, struct policy *src)
{
	struct pol_vfio vfio = dst->vfio;
	struct pol_layout *layouts = dst->layouts;
	size_t n_layouts = dst->n_layouts;

	dst->layouts = src->layouts;
	dst->n_layouts = src->n_layouts;
	dst->remove_unowned = src->remove_unowned;
	dst->vfio = src->vfio;
	/* @src gets @dst's old section, which policy_free() releases with @src. */
	src->layouts = layouts;
	src->n_layouts = n_layouts;
	src->vfio = vfio;
	src->remove_unowned = false;
}

int pol_normalize_name(const char *name, char *buf, size_t size)
{
	const char *end;
	size_t n;

	if (size == 0)
		return -ENAMETOOLONG;
	while (isspace((unsigned char)*name))
		name++;
	end = name + strlen(name);
	while (end > name && isspace((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - name);
	if (n >= size) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = name[i] == ' ' ? '_' : name[i];
	buf[n] = '\0';
	return 0;
}

const char *pol_shape_str(enum pol_shape shape)
{
	switch (shape) {
	case POL_SHAPE_BARE:
		return "bare config";
	case POL_SHAPE_KUBEVIRT:
		return "KubeVirt CR";
	case POL_SHAPE_HYPERCONVERGED:
		return "HyperConverged CR";
	}
	return "?";
}

const char *pol_config_root(enum pol_shape shape)
{
	switch (shape) {
	case POL_SHAPE_BARE:
		return "$";
	case POL_SHAPE_KUBEVIRT:
		return "$.spec.configuration";
	case POL_SHAPE_HYPERCONVERGED:
		return "$.spec";
	}
	return "$";
}

static bool is_dns_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 1123 subdomain as Kubernetes checks it (IsDNS1123Subdomain), without the length. */
static bool is_dns_subdomain(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_dns_label_char(c))
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return label > 0 && s[n - 1] != '-';
}

/*
 * Kubernetes' IsExtendedResourceName (k8s.io/kubernetes pkg/apis/core/helper):
 * not a native resource (it has a '/' and no "kubernetes.io/"), not starting with
 * "requests.", and "requests." + name must pass IsQualifiedName: a prefix that is a
 * DNS-1123 subdomain of at most 253 characters (so the domain has at most 244),
 * then '/', then a name of at most 63 characters of [A-Za-z0-9_.-] that starts and
 * ends alphanumeric.
 */
const char *pol_resource_name_error(const char *name)
{
	static const char requests[] = "requests.";
	const char *slash, *n;
	size_t dlen, nlen;

	if (!name || !*name)
		return "is empty";
	if (strncmp(name, requests, strlen(requests)) == 0)
		return "must not start with \"requests.\" (Kubernetes reserves it for quotas)";
	slash = strchr(name, '/');
	if (!slash)
		return "needs a domain prefix, like \"nvidia.com/GRID_T4-1Q\"";
	if (strstr(name, "kubernetes.io/"))
		return "must not be in the kubernetes.io domain (Kubernetes reserves it for "
		       "its own resources)";
	if (strchr(slash + 1, '/'))
		return "must have exactly one '/', between the domain and the name";
	dlen = (size_t)(slash - name);
	if (dlen == 0)
		return "has an empty domain before the '/'";
	if (dlen > 253 - strlen(requests))
		return "has a domain longer than 244 characters";
	if (!is_dns_subdomain(name, dlen))
		return "has a domain that is not a DNS subdomain (lower-case letters, digits, '-' "
		       "and '.', each part starting and ending with a letter or digit)";
	n = slash + 1;
	nlen = strlen(n);
	if (nlen == 0)
		return "has an empty name after the '/'";
	if (nlen > 63)
		return "has a name longer than 63 characters after the '/'";
	if (!is_alnum(n[0]) || !is_alnum(n[nlen - 1]))
		return "has a name that does not start and end with a letter or digit";
	for (size_t i = 0; i < nlen; i++)
		if (!is_alnum(n[i]) && n[i] != '-' && n[i] != '_' && n[i] != '.')
			return "has a name with characters other than letters, digits, '-', "
			       "'_' and '.' (write spaces as '_')";
	return NULL;
}

bool pol_parent_matches(const struct pol_parent_match *m, const struct mdev_parent *p)
{
	switch (m->kind) {
	case POL_PARENT_ADDRESS:
		return (p->pci_address && strcasecmp(p->pci_address, m->value) == 0) ||
		       strcasecmp(p->name, m->value) == 0;
	case POL_PARENT_VENDOR_DEVICE: {
		char vd[16];

		if (!p->pci_address)
			return false;
		snprintf(vd, sizeof(vd), "%04x:%04x", p->vendor_id, p->device_id);
		return strcasecmp(vd, m->value) == 0;
	}
	case POL_PARENT_NAME:
		return streq(p->name, m->value);
	}
	return false;
}

bool pol_layout_matches(const struct pol_layout *l, const struct mdev_parent *p)
{
	return pol_layout_specificity(l, p) > 0;
}

int pol_layout_specificity(const struct pol_layout *l, const struct mdev_parent *p)
{
	int best = 0;

	if (l->all_parents)
		return 1;
	for (size_t i = 0; i < l->n_parents; i++) {
		int s = l->parents[i].kind == POL_PARENT_VENDOR_DEVICE ? 2 : 3;

		if (s > best && pol_parent_matches(&l->parents[i], p))
			best = s;
	}
	return best;
}

const struct pol_layout *pol_get_layout(const struct policy *pol, const struct mdev_parent *p)
{
	const struct pol_layout *best = NULL;
	int best_s = 0;

	for (size_t i = 0; i < pol->n_layouts; i++) {
		int s = pol_layout_specificity(&pol->layouts[i], p);

		if (s > best_s) {
			best_s = s;
			best = &pol->layouts[i];
		}
	}
	return best;
}

const struct mdev_type *pol_find_type(const struct mdev_parent *p, const char *type)
{
	char want[POL_NAME_MAX], have[POL_NAME_MAX];

	for (size_t i = 0; i < p->n_types; i++)
		if (streq(p->types[i].id, type))
			return &p->types[i];
	if (pol_normalize_name(type, want, sizeof(want)) < 0 || !want[0])
		return NULL;
	for (size_t i = 0; i < p->n_types; i++) {
		const char *name = p->types[i].name ? p->types[i].name : p->types[i].id;

		if (pol_normalize_name(name, have, sizeof(have)) == 0 && streq(have, want))
			return &p->types[i];
	}
	return NULL;
}

size_t pol_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t prev[65], cur[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev[0]) * (lb + 1));
	}
	return prev[lb];
}

/* JSON paths. */

void pol_path_init(struct pol_path *p, const char *root)
{
	snprintf(p->buf, sizeof(p->buf), "%s", root);
	p->len = strlen(p->buf);
}

static void path_putc(struct pol_path *p, char c)
{
	if (p->len + 1 < sizeof(p->buf)) {
		p->buf[p->len++] = c;
		p->buf[p->len] = '\0';
	}
}

static void path_puts(struct pol_path *p, const char *s)
{
	while (*s)
		path_putc(p, *s++);
}

static bool is_identifier(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

size_t pol_path_push_quoted(struct pol_path *p, const char *key)
{
	size_t saved = p->len;

	path_puts(p, "[\"");
	for (const unsigned char *s = (const unsigned char *)key; *s; s++) {
		if (*s == '"' || *s == '\\') {
			path_putc(p, '\\');
			path_putc(p, (char)*s);
		} else if (*s < 0x20 || *s == 0x7f) {
			char esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			path_puts(p, esc);
		} else {
			path_putc(p, (char)*s);
		}
	}
	path_puts(p, "\"]");
	return saved;
}

size_t pol_path_push_key(struct pol_path *p, const char *key)
{
	size_t saved = p->len;

	if (!is_identifier(key))
		return pol_path_push_quoted(p, key);
	path_putc(p, '.');
	path_puts(p, key);
	return saved;
}

size_t pol_path_push_index(struct pol_path *p, size_t i)
{
	size_t saved = p->len;
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_puts(p, idx);
	return saved;
}

void pol_path_pop(struct pol_path *p, size_t len)
{
	if (len < sizeof(p->buf)) {
		p->len = len;
		p->buf[len] = '\0';
	}
}

const char *pol_error_where(const struct pol_error *err, char *buf, size_t size)
{
	if (err->line > 0 && streq(err->path, "$"))
		snprintf(buf, size, "line %d", err->line);
	else if (err->line > 0)
		snprintf(buf, size, "line %d, column %d: %s", err->line, err->column, err->path);
	else
		snprintf(buf, size, "%s", err->path);
	return buf;
}

const char *pol_diag_where(const struct pol_diag *d, char *buf, size_t size)
{
	struct pol_error e = {.line = d->line, .column = d->column};

	snprintf(e.path, sizeof(e.path), "%s", d->path);
	return pol_error_where(&e, buf, size);
}

int pol_fail(struct pol_error *err, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	snprintf(err->path, sizeof(err->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->line = 0;
	err->column = 0;
	return -EINVAL;
}
