/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy parser: the only file of mdevd that reads JSON through cJSON (YAML comes
 * through yaml_libyaml.c as the same cJSON tree). It turns the document into an owned
 * struct policy and rejects, with a JSON path, anything
 * that can be judged without the node (policy.h lists what).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "pol_private.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

/* Which shapes know a key: a mask of 1 << enum pol_shape. */
#define IN_BARE		     (1u << POL_SHAPE_BARE)
#define IN_KV		     (1u << POL_SHAPE_KUBEVIRT)
#define IN_HCO		     (1u << POL_SHAPE_HYPERCONVERGED)
#define IN_KUBEVIRT_SPELLING (IN_BARE | IN_KV)
#define IN_ALL		     (IN_BARE | IN_KV | IN_HCO)

#define MAX_KEYS 8

struct key_spec {
	const char *key;
	unsigned int shapes;
};

/* Keys that KubeVirt and the HyperConverged CR spell differently: {KubeVirt, HyperConverged}. */
static const char *const spellings[][2] = {
	{"pciVendorSelector", "pciDeviceSelector"},
	{"usb", "usbHostDevices"},
};

struct parser {
	enum pol_shape shape;
	struct pol_path path;
	struct pol_error
		*err; /* the error at hand: always set (a local when the caller's is NULL) */
	/* Every error, for pol_parse_report(): the parse goes on after an entry or a section
	 * that fails; NULL stops at the first (pol_parse()). */
	struct pol_report *rep;
	struct policy *pol;
	/* Where each kept pciHostDevices / mediatedDevices entry was written (index in the list).
	 */
	size_t *pci_src, *mdev_src;
	size_t total_parents, total_types;
	bool vfio_override; /* parsing mdevd.vfioPci.overrideHostOwned */
};

static int fail(struct parser *ps, const char *fmt, ...) _printf_(2, 3);

static int fail(struct parser *ps, const char *fmt, ...)
{
	char msg[POL_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pol_fail(ps->err, ps->path.buf, "%s", msg);
}

/*
 * After a part that returned @r: with a report, a rejected part (-EINVAL) is recorded
 * and the parse goes on with the path back at @path_len (returns 0); anything else is
 * returned as it is.
 */
static int go_on(struct parser *ps, int r, size_t path_len)
{
	struct pol_report *rep = ps->rep;
	struct pol_diag *v;

	if (r != -EINVAL || !rep)
		return r;
	if (rep->n == rep->cap) {
		size_t cap = rep->cap ? rep->cap * 2 : 8;

		v = realloc(rep->diags, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rep->diags = v;
		rep->cap = cap;
	}
	v = &rep->diags[rep->n++];
	*v = (struct pol_diag){.severity = POL_SEVERITY_ERROR};
	snprintf(v->path, sizeof(v->path), "%s", ps->err->path);
	snprintf(v->message, sizeof(v->message), "%s", ps->err->message);
	rep->n_errors++;
	pol_path_pop(&ps->path, path_len);
	return 0;
}

static int nomem(struct parser *ps)
{
	fail(ps, "out of memory");
	return -ENOMEM;
}

static const char *json_type(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	return "an unknown value";
}

/* The closest of @cands to @word: a case-insensitive match or at most 2 edits; or NULL. */
static const char *suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (strcasecmp(word, cands[i]) == 0)
			return cands[i];
		d = pol_edit_distance(word, cands[i]);
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	return best;
}

static bool known_in(const struct key_spec *s, enum pol_shape shape)
{
	return s->shapes & (1u << shape);
}

/* The error for an unknown key; the path already names the key. */
static int unknown_key(struct parser *ps, const char *key, const struct key_spec *specs, size_t n)
{
	const char *cands[MAX_KEYS] = {0};
	size_t nc = 0;
	const char *s;

	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		const char *kv = spellings[i][0], *hco = spellings[i][1];

		if (ps->shape == POL_SHAPE_HYPERCONVERGED && streq(key, kv))
			return fail(ps, "unknown key: a HyperConverged CR spells it \"%s\"", hco);
		if (ps->shape != POL_SHAPE_HYPERCONVERGED && streq(key, hco))
			return fail(ps,
				    "unknown key: \"%s\" is the HyperConverged CR's spelling; a %s "
				    "says \"%s\"",
				    hco, pol_shape_str(ps->shape), kv);
	}
	for (size_t i = 0; i < n; i++) {
		if (streq(key, specs[i].key))
			return fail(ps, "unknown key in a %s (only %s has it)",
				    pol_shape_str(ps->shape),
				    specs[i].shapes == IN_HCO ? "a HyperConverged CR"
							      : "a KubeVirt config");
		if (known_in(&specs[i], ps->shape))
			cands[nc++] = specs[i].key;
	}
	s = suggest(key, cands, nc);
	if (s)
		return fail(ps, "unknown key (did you mean \"%s\"?)", s);
	if (nc == 0)
		return fail(ps, "unknown key");
	{
		char list[256] = "";
		size_t len = 0;

		for (size_t i = 0; i < nc; i++)
			len += (size_t)snprintf(list + len,
						len < sizeof(list) ? sizeof(list) - len : 0, "%s%s",
						i ? ", " : "", cands[i]);
		return fail(ps, "unknown key (expected one of: %s)", list);
	}
}

/*
 * Walk the members of object @obj: vals[i] is set to the member named specs[i].key
 * (NULL when absent or null). A key twice is an error; an unknown key is an error
 * when @strict, else ignored. The path is the object's on entry and on return.
 */
static int walk_object(struct parser *ps, const cJSON *obj, const struct key_spec *specs, size_t n,
		       const cJSON **vals, bool strict)
{
	bool seen[MAX_KEYS] = {false};

	for (size_t i = 0; i < n; i++)
		vals[i] = NULL;
	for (const cJSON *it = obj->child; it; it = it->next) {
		const char *key = it->string ? it->string : "";
		size_t k;

		for (k = 0; k < n; k++)
			if (known_in(&specs[k], ps->shape) && streq(key, specs[k].key))
				break;
		if (k == n) {
			if (!strict)
				continue;
			pol_path_push_key(&ps->path, key);
			return unknown_key(ps, key, specs, n);
		}
		if (seen[k]) {
			pol_path_push_key(&ps->path, key);
			return fail(ps, "duplicate key: \"%s\" is given twice in this object", key);
		}
		seen[k] = true;
		vals[k] = cJSON_IsNull(it) ? NULL : it;
	}
	return 0;
}

static int want_object(struct parser *ps, const cJSON *v)
{
	if (!cJSON_IsObject(v))
		return fail(ps, "must be an object, not %s", json_type(v));
	return 0;
}

static int want_array(struct parser *ps, const cJSON *v, size_t *n)
{
	int size;

	if (!cJSON_IsArray(v))
		return fail(ps, "must be a list, not %s", json_type(v));
	size = cJSON_GetArraySize(v);
	if (size < 0 || (size_t)size > POL_MAX_ENTRIES)
		return fail(ps, "has more than %d entries", POL_MAX_ENTRIES);
	*n = (size_t)size;
	return 0;
}

static int want_bool(struct parser *ps, const cJSON *v, bool *out)
{
	if (!cJSON_IsBool(v))
		return fail(ps, "must be true or false, not %s", json_type(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

/* A non-empty string of less than POL_NAME_MAX bytes that is not only white space. */
/* The optional boolean @v under @key: absent (NULL) leaves *out as it is. */
static int want_bool_key(struct parser *ps, const cJSON *v, const char *key, bool *out)
{
	size_t saved;
	int r;

	if (!v)
		return 0;
	saved = pol_path_push_key(&ps->path, key);
	r = want_bool(ps, v, out);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);
	return 0;
}

static int want_name(struct parser *ps, const cJSON *v, const char **out)
{
	const char *s;
	size_t len;

	if (!cJSON_IsString(v))
		return fail(ps, "must be a string, not %s", json_type(v));
	s = v->valuestring;
	len = strlen(s);
	if (len == 0 || strspn(s, " \t\r\n") == len)
		return fail(ps, "must not be empty");
	if (len >= POL_NAME_MAX)
		return fail(ps, "is longer than %d bytes", POL_NAME_MAX - 1);
	*out = s;
	return 0;
}

static int dup_str(struct parser *ps, const char *s, char **out)
{
	char *d = strdup(s);

	if (!d)
		return nomem(ps);
	*out = d;
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* "vvvv:dddd" in hexadecimal, any case. */
static bool is_vendor_device(const char *s)
{
	return strlen(s) == 9 && is_hex(s, 4) && s[4] == ':' && is_hex(s + 5, 4);
}

/* "dddd:bb:ss.f" or "bb:ss.f" in hexadecimal (function 0-7). */
static bool is_bdf(const char *s, bool with_domain)
{
	if (with_domain) {
		if (strlen(s) != 12 || !is_hex(s, 4) || s[4] != ':')
			return false;
		s += 5;
	} else if (strlen(s) != 7) {
		return false;
	}
	return is_hex(s, 2) && s[2] == ':' && is_hex(s + 3, 2) && s[5] == '.' && s[6] >= '0' &&
	       s[6] <= '7';
}

/* pciVendorSelector / pciDeviceSelector */
static int parse_vendor_selector(struct parser *ps, const cJSON *v, char **out)
{
	const char *s;
	char *d;
	int r;

	r = want_name(ps, v, &s);
	if (r < 0)
		return r;
	if (!is_vendor_device(s))
		return fail(ps, "\"%s\" is not vendor:device in hexadecimal, like \"10de:1eb8\"",
			    s);
	r = dup_str(ps, s, &d);
	if (r < 0)
		return r;
	lower(d);
	*out = d;
	return 0;
}

static int parse_resource_name(struct parser *ps, const cJSON *v, char **out)
{
	const char *why;

	if (!cJSON_IsString(v))
		return fail(ps, "must be a string, not %s", json_type(v));
	why = pol_resource_name_error(v->valuestring);
	if (why)
		return fail(ps, "\"%.200s\" is not a Kubernetes extended resource name: it %s",
			    v->valuestring, why);
	return dup_str(ps, v->valuestring, out);
}

/* The resource names of PCI entries and of mdev entries must not meet. */
static int check_resource_kind(struct parser *ps, const char *name, bool is_mdev)
{
	const struct policy *pol = ps->pol;

	if (is_mdev) {
		for (size_t i = 0; i < pol->n_pci_devices; i++)
			if (streq(pol->pci_devices[i].resource_name, name))
				return fail(
					ps,
					"\"%s\" is already the resource of pciHostDevices[%zu]: "
					"one resource holds either PCI functions or mdevs",
					name, ps->pci_src[i]);
	}
	return 0;
}

static int parse_pci_device(struct parser *ps, const cJSON *obj, size_t idx)
{
	static const struct key_spec specs[] = {
		{"pciVendorSelector", IN_KUBEVIRT_SPELLING},
		{"pciDeviceSelector", IN_HCO},
		{"resourceName", IN_ALL},
		{"externalResourceProvider", IN_ALL},
		{"disabled", IN_HCO},
	};
	const char *sel_key =
		ps->shape == POL_SHAPE_HYPERCONVERGED ? "pciDeviceSelector" : "pciVendorSelector";
	_cleanup_free_ char *sel = NULL, *res = NULL;
	const cJSON *v[ARRAY_SIZE(specs)];
	const cJSON *selv;
	bool ext = false, disabled = false;
	struct pol_pci_device *d;
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;
	selv = v[0] ? v[0] : v[1];
	if (!selv)
		return fail(ps, "missing \"%s\" (the device's vendor:device, like \"10de:1eb8\")",
			    sel_key);
	if (!v[2])
		return fail(ps, "missing \"resourceName\" (like \"nvidia.com/TU104GL_Tesla_T4\")");

	saved = pol_path_push_key(&ps->path, sel_key);
	r = parse_vendor_selector(ps, selv, &sel);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ps->pol->n_pci_devices; i++)
		if (streq(ps->pol->pci_devices[i].selector, sel))
			return fail(ps, "\"%s\" is already selected by pciHostDevices[%zu]", sel,
				    ps->pci_src[i]);
	pol_path_pop(&ps->path, saved);

	saved = pol_path_push_key(&ps->path, "resourceName");
	r = parse_resource_name(ps, v[2], &res);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);

	r = want_bool_key(ps, v[3], "externalResourceProvider", &ext);
	if (r < 0)
		return r;
	r = want_bool_key(ps, v[4], "disabled", &disabled);
	if (r < 0)
		return r;
	if (disabled)
		return 0;
	d = &ps->pol->pci_devices[ps->pol->n_pci_devices];
	d->selector = steal_ptr(sel);
	d->resource_name = steal_ptr(res);
	d->external_resource_provider = ext;
	ps->pci_src[ps->pol->n_pci_devices++] = idx;
	return 0;
}

static int parse_mdev_device(struct parser *ps, const cJSON *obj, size_t idx)
{
	static const struct key_spec specs[] = {
		{"mdevNameSelector", IN_ALL},
		{"resourceName", IN_ALL},
		{"externalResourceProvider", IN_ALL},
		{"disabled", IN_HCO},
	};
	_cleanup_free_ char *sel = NULL, *res = NULL;
	const cJSON *v[ARRAY_SIZE(specs)];
	bool ext = false, disabled = false;
	char norm[POL_NAME_MAX], other[POL_NAME_MAX];
	struct pol_mdev_device *d;
	const char *s;
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;
	if (!v[0])
		return fail(ps, "missing \"mdevNameSelector\" (the mdev type's name, like \"GRID "
				"T4-1Q\")");
	if (!v[1])
		return fail(ps, "missing \"resourceName\" (like \"nvidia.com/GRID_T4-1Q\")");

	saved = pol_path_push_key(&ps->path, "mdevNameSelector");
	r = want_name(ps, v[0], &s);
	if (r < 0)
		return r;
	pol_normalize_name(s, norm, sizeof(norm));
	for (size_t i = 0; i < ps->pol->n_mdev_devices; i++) {
		pol_normalize_name(ps->pol->mdev_devices[i].name_selector, other, sizeof(other));
		if (streq(norm, other))
			return fail(ps, "\"%s\" is already selected by mediatedDevices[%zu]", s,
				    ps->mdev_src[i]);
	}
	r = dup_str(ps, s, &sel);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);

	saved = pol_path_push_key(&ps->path, "resourceName");
	r = parse_resource_name(ps, v[1], &res);
	if (r < 0)
		return r;
	r = check_resource_kind(ps, res, true);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);

	r = want_bool_key(ps, v[2], "externalResourceProvider", &ext);
	if (r < 0)
		return r;
	r = want_bool_key(ps, v[3], "disabled", &disabled);
	if (r < 0)
		return r;
	if (disabled)
		return 0;
	d = &ps->pol->mdev_devices[ps->pol->n_mdev_devices];
	d->name_selector = steal_ptr(sel);
	d->resource_name = steal_ptr(res);
	d->external_resource_provider = ext;
	ps->mdev_src[ps->pol->n_mdev_devices++] = idx;
	return 0;
}

/* Call @fn on each element of the array @arr with its index, the path naming it. */
static int parse_each(struct parser *ps, const cJSON *arr,
		      int (*fn)(struct parser *ps, const cJSON *obj, size_t idx))
{
	const cJSON *it;
	size_t i = 0;

	cJSON_ArrayForEach(it, arr)
	{
		size_t saved = pol_path_push_index(&ps->path, i);
		int r = go_on(ps, fn(ps, it, i), saved);

		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
		i++;
	}
	return 0;
}

static int parse_permitted(struct parser *ps, const cJSON *obj)
{
	static const struct key_spec specs[] = {
		{"pciHostDevices", IN_ALL},
		{"mediatedDevices", IN_ALL},
		{"usb", IN_KUBEVIRT_SPELLING},
		{"usbHostDevices", IN_HCO},
	};
	struct policy *pol = ps->pol;
	const cJSON *v[ARRAY_SIZE(specs)];
	size_t saved, n;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;

	if (v[0]) {
		saved = pol_path_push_key(&ps->path, "pciHostDevices");
		r = want_array(ps, v[0], &n);
		if (r < 0)
			return r;
		pol->pci_devices = calloc(n ? n : 1, sizeof(*pol->pci_devices));
		ps->pci_src = calloc(n ? n : 1, sizeof(*ps->pci_src));
		if (!pol->pci_devices || !ps->pci_src)
			return nomem(ps);
		r = parse_each(ps, v[0], parse_pci_device);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	if (v[1]) {
		saved = pol_path_push_key(&ps->path, "mediatedDevices");
		r = want_array(ps, v[1], &n);
		if (r < 0)
			return r;
		pol->mdev_devices = calloc(n ? n : 1, sizeof(*pol->mdev_devices));
		ps->mdev_src = calloc(n ? n : 1, sizeof(*ps->mdev_src));
		if (!pol->mdev_devices || !ps->mdev_src)
			return nomem(ps);
		r = parse_each(ps, v[1], parse_mdev_device);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	/* USB host devices: known, not managed by mdevd. Only their shape is checked. */
	for (size_t k = 2; k < 4; k++) {
		if (!v[k])
			continue;
		saved = pol_path_push_key(&ps->path, specs[k].key);
		r = want_array(ps, v[k], &n);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A list of type ids (mediatedDeviceTypes): non-empty strings, no duplicates. */
static int parse_type_list(struct parser *ps, const cJSON *list, char ***out, size_t *out_n)
{
	char **v;
	const cJSON *it;
	size_t n, i = 0;
	int r;

	r = want_array(ps, list, &n);
	if (r < 0)
		return r;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return nomem(ps);
	cJSON_ArrayForEach(it, list)
	{
		size_t saved = pol_path_push_index(&ps->path, i);
		const char *s;

		r = want_name(ps, it, &s);
		if (r < 0)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (streq(v[j], s)) {
				r = fail(ps, "\"%s\" is listed twice (also at [%zu])", s, j);
				goto fail;
			}
		}
		r = dup_str(ps, s, &v[i]);
		if (r < 0)
			goto fail;
		pol_path_pop(&ps->path, saved);
		i++;
	}
	*out = v;
	*out_n = n;
	return 0;
fail:
	strv_free(v, i);
	return r;
}

static bool strv_equal(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!streq(a[i], b[i]))
			return false;
	return true;
}

/* nodeSelector: an object of string values (Kubernetes' map[string]string). */
static int parse_node_selector(struct parser *ps, const cJSON *obj, struct pol_node_types *e)
{
	const cJSON *it;
	size_t n = 0;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	cJSON_ArrayForEach(it, obj)
	{
		n++;
	}
	if (n > POL_MAX_ENTRIES)
		return fail(ps, "has more than %d entries", POL_MAX_ENTRIES);
	e->selector = calloc(n ? n : 1, sizeof(*e->selector));
	if (!e->selector)
		return nomem(ps);
	cJSON_ArrayForEach(it, obj)
	{
		const char *key = it->string ? it->string : "";
		size_t saved = pol_path_push_key(&ps->path, key);

		if (!*key)
			return fail(ps, "a label key must not be empty");
		if (!cJSON_IsString(it))
			return fail(ps, "a label value must be a string, not %s", json_type(it));
		for (size_t j = 0; j < e->n_selector; j++)
			if (streq(e->selector[j].key, key))
				return fail(ps,
					    "duplicate key: \"%s\" is given twice in this "
					    "object",
					    key);
		r = dup_str(ps, key, &e->selector[e->n_selector].key);
		if (r < 0)
			return r;
		e->n_selector++;
		r = dup_str(ps, it->valuestring, &e->selector[e->n_selector - 1].value);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

/* One nodeMediatedDeviceTypes entry: {nodeSelector, mediatedDeviceTypes}. */
static int parse_node_types_entry(struct parser *ps, const cJSON *obj, struct pol_node_types *e)
{
	static const struct key_spec specs[] = {
		{"nodeSelector", IN_ALL},
		{"mediatedDeviceTypes", IN_ALL},
		{"mediatedDevicesTypes", IN_ALL},
	};
	const cJSON *v[ARRAY_SIZE(specs)];
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;
	if (!v[0]) {
		pol_path_push_key(&ps->path, "nodeSelector");
		return fail(ps, "is required (KubeVirt's NodeMediatedDeviceTypesConfig)");
	}
	saved = pol_path_push_key(&ps->path, "nodeSelector");
	r = parse_node_selector(ps, v[0], e);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);
	/* KubeVirt takes mediatedDeviceTypes, or the deprecated spelling when that is empty. */
	for (size_t k = 1; k < 3; k++) {
		char **types = NULL;
		size_t n = 0;

		if (!v[k])
			continue;
		saved = pol_path_push_key(&ps->path, specs[k].key);
		r = parse_type_list(ps, v[k], &types, &n);
		if (r < 0)
			return r;
		if (e->n_types == 0 && n) {
			strv_free(e->types, 0);
			e->types = types;
			e->n_types = n;
			free(e->path);
			e->path = strdup(ps->path.buf);
			if (!e->path)
				return nomem(ps);
		} else if (e->n_types && n && !strv_equal(e->types, e->n_types, types, n)) {
			strv_free(types, n);
			return fail(ps,
				    "differs from mediatedDeviceTypes: give only "
				    "mediatedDeviceTypes (mediatedDevicesTypes is its deprecated "
				    "spelling)");
		} else {
			strv_free(types, n);
		}
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static int parse_node_types(struct parser *ps, const cJSON *list)
{
	struct policy *pol = ps->pol;
	const cJSON *it;
	size_t n, i = 0;
	int r;

	r = want_array(ps, list, &n);
	if (r < 0)
		return r;
	pol->node_types = calloc(n ? n : 1, sizeof(*pol->node_types));
	if (!pol->node_types)
		return nomem(ps);
	cJSON_ArrayForEach(it, list)
	{
		size_t saved = pol_path_push_index(&ps->path, i);

		/* Counted first: policy_free() releases a half-parsed entry. */
		pol->n_node_types = ++i;
		r = parse_node_types_entry(ps, it, &pol->node_types[i - 1]);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static int parse_mdev_config(struct parser *ps, const cJSON *obj)
{
	static const struct key_spec specs[] = {
		{"mediatedDeviceTypes", IN_ALL},
		{"mediatedDevicesTypes", IN_ALL},
		{"nodeMediatedDeviceTypes", IN_ALL},
		{"enabled", IN_KUBEVIRT_SPELLING},
	};
	struct policy *pol = ps->pol;
	const cJSON *v[ARRAY_SIZE(specs)];
	char **types[2] = {NULL, NULL};
	size_t n_types[2] = {0, 0};
	size_t saved, pick;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;

	for (size_t k = 0; k < 2; k++) {
		if (!v[k])
			continue;
		saved = pol_path_push_key(&ps->path, specs[k].key);
		r = parse_type_list(ps, v[k], &types[k], &n_types[k]);
		if (r < 0)
			goto out;
		pol_path_pop(&ps->path, saved);
	}
	if (n_types[0] && n_types[1] && !strv_equal(types[0], n_types[0], types[1], n_types[1])) {
		pol_path_push_key(&ps->path, specs[1].key);
		r = fail(ps, "differs from mediatedDeviceTypes: give only mediatedDeviceTypes "
			     "(mediatedDevicesTypes is its deprecated spelling)");
		goto out;
	}
	pick = v[0] && (n_types[0] || !v[1]) ? 0 : 1;
	if (v[pick]) {
		saved = pol_path_push_key(&ps->path, specs[pick].key);
		pol->mediated_device_types_path = strdup(ps->path.buf);
		pol_path_pop(&ps->path, saved);
		if (!pol->mediated_device_types_path) {
			r = nomem(ps);
			goto out;
		}
		pol->mediated_device_types = steal_ptr(types[pick]);
		pol->n_mediated_device_types = n_types[pick];
	}

	if (v[2]) {
		saved = pol_path_push_key(&ps->path, "nodeMediatedDeviceTypes");
		r = parse_node_types(ps, v[2]);
		if (r < 0)
			goto out;
		pol_path_pop(&ps->path, saved);
	}
	if (v[3]) {
		bool enabled = true;

		r = want_bool_key(ps, v[3], "enabled", &enabled);
		if (r < 0)
			goto out;
		pol->mediated_devices_disabled = !enabled;
	}
	r = 0;
out:
	strv_free(types[0], types[0] ? n_types[0] : 0);
	strv_free(types[1], types[1] ? n_types[1] : 0);
	return r;
}

/* Layouts. */

static void parents_free(struct pol_parent_match *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].value);
	free(m);
}

static void layout_clearp(struct pol_layout *l)
{
	parents_free(l->parents, l->n_parents);
	for (size_t i = 0; i < l->n_types; i++)
		free(l->types[i].type);
	free(l->types);
	memset(l, 0, sizeof(*l));
}

static const char *parent_kind_str(enum pol_parent_kind kind)
{
	switch (kind) {
	case POL_PARENT_ADDRESS:
		return "PCI address";
	case POL_PARENT_VENDOR_DEVICE:
		return "vendor:device";
	case POL_PARENT_NAME:
		return "parent name";
	}
	return "parent";
}

/* One string of "parents": tell an address, a vendor:device and a name apart. */
static int parse_parent(struct parser *ps, const cJSON *v, struct pol_parent_match *out)
{
	char buf[POL_NAME_MAX];
	const char *s;
	enum pol_parent_kind kind;
	char *d;
	int r;

	r = want_name(ps, v, &s);
	if (r < 0)
		return r;
	if (strcasecmp(s, "all") == 0)
		return fail(ps, "\"all\" cannot be in a list: write \"parents\": \"all\"");
	if (is_bdf(s, true)) {
		kind = POL_PARENT_ADDRESS;
		snprintf(buf, sizeof(buf), "%s", s);
	} else if (is_bdf(s, false)) {
		kind = POL_PARENT_ADDRESS;
		snprintf(buf, sizeof(buf), "0000:%s", s);
	} else if (is_vendor_device(s)) {
		kind = POL_PARENT_VENDOR_DEVICE;
		snprintf(buf, sizeof(buf), "%s", s);
	} else {
		if (strchr(s, '/'))
			return fail(ps,
				    "\"%s\" is not a parent: write a class/mdev_bus name (no "
				    "'/'), a PCI address or a vendor:device",
				    s);
		kind = POL_PARENT_NAME;
		snprintf(buf, sizeof(buf), "%s", s);
	}
	if (kind != POL_PARENT_NAME)
		lower(buf);
	r = dup_str(ps, buf, &d);
	if (r < 0)
		return r;
	out->kind = kind;
	out->value = d;
	return 0;
}

static int parse_parents(struct parser *ps, const cJSON *v, struct pol_layout *l, size_t idx)
{
	const struct policy *pol = ps->pol;
	const cJSON *it;
	size_t n, i = 0;
	int r;

	if (cJSON_IsString(v)) {
		if (streq(v->valuestring, "all")) {
			for (size_t k = 0; k < idx; k++)
				if (pol->layouts[k].all_parents)
					return fail(ps,
						    "\"all\" is also $.mdevd.layouts[%zu].parents: "
						    "one layout may take the parents no other "
						    "layout selects",
						    k);
			l->all_parents = true;
			return 0;
		}
		if (strcasecmp(v->valuestring, "all") == 0)
			return fail(ps,
				    "must be \"all\" or a list of parents (did you mean \"all\"?)");
		return fail(
			ps,
			"must be \"all\" or a list of parents: write one parent as [\"%.100s\"]",
			v->valuestring);
	}
	if (!cJSON_IsArray(v))
		return fail(ps, "must be \"all\" or a list of parents, not %s", json_type(v));
	r = want_array(ps, v, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return fail(ps, "is empty: list at least one parent, or write \"all\"");
	ps->total_parents += n;
	if (ps->total_parents > POL_MAX_ENTRIES)
		return fail(ps, "too many parents: at most %d over all layouts", POL_MAX_ENTRIES);
	l->parents = calloc(n, sizeof(*l->parents));
	if (!l->parents)
		return nomem(ps);
	cJSON_ArrayForEach(it, v)
	{
		size_t saved = pol_path_push_index(&ps->path, i);
		struct pol_parent_match *m = &l->parents[i];

		r = parse_parent(ps, it, m);
		if (r < 0)
			return r;
		l->n_parents = ++i;
		for (size_t j = 0; j + 1 < i; j++)
			if (l->parents[j].kind == m->kind && streq(l->parents[j].value, m->value))
				return fail(ps, "\"%s\" is listed twice (also at [%zu])", m->value,
					    j);
		for (size_t k = 0; k < idx; k++) {
			const struct pol_layout *o = &pol->layouts[k];

			for (size_t j = 0; j < o->n_parents; j++)
				if (o->parents[j].kind == m->kind &&
				    streq(o->parents[j].value, m->value))
					return fail(
						ps,
						"%s \"%s\" is also in "
						"$.mdevd.layouts[%zu].parents[%zu]: a parent may "
						"be in one layout only",
						parent_kind_str(m->kind), m->value, k, j);
		}
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static int parse_count(struct parser *ps, const cJSON *v, int *out)
{
	double d;

	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		char *end;

		if (streq(s, "max")) {
			*out = POL_COUNT_MAX;
			return 0;
		}
		if (strcasecmp(s, "max") == 0)
			return fail(ps, "must be a count >= 0 or \"max\" (did you mean \"max\"?)");
		(void)strtod(s, &end);
		if ((isdigit((unsigned char)*s) || *s == '-') && !*end)
			return fail(ps,
				    "must be a number, not the string \"%s\": write it without "
				    "quotes",
				    s);
		return fail(ps, "must be a count >= 0 or \"max\", not the string \"%.100s\"", s);
	}
	if (!cJSON_IsNumber(v))
		return fail(ps, "must be a count >= 0 or \"max\", not %s", json_type(v));
	d = v->valuedouble;
	if (!isfinite(d))
		return fail(ps, "must be a count >= 0 or \"max\"");
	if (d < 0)
		return fail(ps, "must be a count >= 0 or \"max\", not %g", d);
	if (d != floor(d))
		return fail(ps, "must be a whole number, not %g", d);
	if (d > INT_MAX)
		return fail(ps, "is too large (%g; at most %d)", d, INT_MAX);
	*out = (int)d;
	return 0;
}

static int parse_types(struct parser *ps, const cJSON *v, struct pol_layout *l)
{
	const cJSON *it;
	size_t n = 0;
	int r;

	if (!cJSON_IsObject(v))
		return fail(ps, "must be an object of type to count, like {\"mtty-2\": 1}, not %s",
			    json_type(v));
	for (it = v->child; it; it = it->next)
		n++;
	if (n > POL_MAX_ENTRIES)
		return fail(ps, "has more than %d types", POL_MAX_ENTRIES);
	ps->total_types += n;
	if (ps->total_types > POL_MAX_ENTRIES)
		return fail(ps, "too many types: at most %d over all layouts", POL_MAX_ENTRIES);
	l->types = calloc(n ? n : 1, sizeof(*l->types));
	if (!l->types)
		return nomem(ps);
	for (it = v->child; it; it = it->next) {
		const char *key = it->string ? it->string : "";
		size_t saved = pol_path_push_quoted(&ps->path, key);
		char norm[POL_NAME_MAX], other[POL_NAME_MAX];
		struct pol_type_request *t = &l->types[l->n_types];
		size_t len = strlen(key);
		int count;

		if (len == 0 || strspn(key, " \t\r\n") == len)
			return fail(ps, "a type id or name must not be empty");
		if (len >= POL_NAME_MAX)
			return fail(ps, "a type id or name is at most %d bytes", POL_NAME_MAX - 1);
		pol_normalize_name(key, norm, sizeof(norm));
		for (size_t j = 0; j < l->n_types; j++) {
			if (streq(l->types[j].type, key))
				return fail(ps, "duplicate key: this type is given twice");
			pol_normalize_name(l->types[j].type, other, sizeof(other));
			if (streq(norm, other))
				return fail(ps, "names the same type as types[\"%s\"]",
					    l->types[j].type);
		}
		r = parse_count(ps, it, &count);
		if (r < 0)
			return r;
		r = dup_str(ps, key, &t->type);
		if (r < 0)
			return r;
		t->count = count;
		l->n_types++;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static int parse_layout(struct parser *ps, const cJSON *obj, size_t idx, struct pol_layout *out)
{
	static const struct key_spec specs[] = {
		{"parents", IN_ALL},
		{"types", IN_ALL},
	};
	_cleanup_(layout_clearp) struct pol_layout l = {};
	const cJSON *v[ARRAY_SIZE(specs)];
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;
	if (!v[0])
		return fail(ps, "missing \"parents\": \"all\" or a list of parent names, PCI "
				"addresses and vendor:device ids");
	if (!v[1])
		return fail(ps, "missing \"types\": an object of type id or name to count, like "
				"{\"mtty-2\": 1}");
	saved = pol_path_push_key(&ps->path, "parents");
	r = parse_parents(ps, v[0], &l, idx);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);
	saved = pol_path_push_key(&ps->path, "types");
	r = parse_types(ps, v[1], &l);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);
	*out = l;
	memset(&l, 0, sizeof(l));
	return 0;
}

/* mdevd.vfioPci */

/* A PCI address with or without the domain, normalised to lower case with the domain. */
static int parse_vfio_address(struct parser *ps, const cJSON *v, char **out)
{
	char buf[MDEVD_BDF_STR_LEN];
	const char *s;
	int r;

	r = want_name(ps, v, &s);
	if (r < 0)
		return r;
	if (is_bdf(s, true))
		snprintf(buf, sizeof(buf), "%s", s);
	else if (is_bdf(s, false))
		snprintf(buf, sizeof(buf), "0000:%s", s);
	else if (is_vendor_device(s))
		return fail(ps,
			    "\"%s\" is a vendor:device, not a PCI address like \"0000:65:00.0\"%s",
			    s,
			    ps->vfio_override ? " (the host-owned guard is overridden per address "
						"only, never by vendor:device)"
					      : "");
	else
		return fail(ps, "\"%.100s\" is not a PCI address like \"0000:65:00.0\"", s);
	lower(buf);
	return dup_str(ps, buf, out);
}

/* A list of PCI addresses, no duplicates. */
static int parse_vfio_addresses(struct parser *ps, const cJSON *v, char ***out, size_t *out_n)
{
	const cJSON *it;
	char **list;
	size_t n, i = 0;
	int r;

	r = want_array(ps, v, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return fail(ps, "is empty: list at least one PCI address, or leave the key out");
	list = calloc(n, sizeof(*list));
	if (!list)
		return nomem(ps);
	*out = list;
	cJSON_ArrayForEach(it, v)
	{
		size_t saved = pol_path_push_index(&ps->path, i);

		r = parse_vfio_address(ps, it, &list[i]);
		if (r < 0)
			return r;
		*out_n = ++i;
		for (size_t j = 0; j + 1 < i; j++)
			if (streq(list[j], list[i - 1]))
				return fail(ps, "\"%s\" is listed twice (also at [%zu])", list[j],
					    j);
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static int parse_vfio_entry(struct parser *ps, const cJSON *v, struct pol_vfio_selector *out)
{
	static const struct key_spec specs[] = {
		{"address", IN_ALL},
		{"vendorDevice", IN_ALL},
		{"addresses", IN_ALL},
		{"numaNode", IN_ALL},
	};
	const cJSON *k[ARRAY_SIZE(specs)];
	size_t saved;
	int r;

	out->numa_node = -1;
	if (cJSON_IsString(v)) {
		if (is_vendor_device(v->valuestring))
			return parse_vendor_selector(ps, v, &out->vendor_device);
		return parse_vfio_address(ps, v, &out->address);
	}
	if (!cJSON_IsObject(v))
		return fail(ps,
			    "must be a PCI address, a vendor:device or an object like "
			    "{\"vendorDevice\": \"10de:1eb8\", \"numaNode\": 0}, not %s",
			    json_type(v));
	r = walk_object(ps, v, specs, ARRAY_SIZE(specs), k, true);
	if (r < 0)
		return r;
	if (!!k[0] == !!k[1])
		return fail(ps, "needs exactly one of \"address\" and \"vendorDevice\"");
	if (k[0]) {
		if (k[2] || k[3])
			return fail(ps, "\"addresses\" and \"numaNode\" narrow a \"vendorDevice\"; "
					"an \"address\" names one function already");
		saved = pol_path_push_key(&ps->path, "address");
		r = parse_vfio_address(ps, k[0], &out->address);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
		return 0;
	}
	saved = pol_path_push_key(&ps->path, "vendorDevice");
	r = parse_vendor_selector(ps, k[1], &out->vendor_device);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);
	if (k[2]) {
		saved = pol_path_push_key(&ps->path, "addresses");
		r = parse_vfio_addresses(ps, k[2], &out->addresses, &out->n_addresses);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	if (k[3]) {
		double d;

		saved = pol_path_push_key(&ps->path, "numaNode");
		if (!cJSON_IsNumber(k[3]))
			return fail(ps, "must be a NUMA node number >= 0, not %s", json_type(k[3]));
		d = k[3]->valuedouble;
		if (!isfinite(d) || d < 0 || d > 1023 || d != (double)(int)d)
			return fail(ps, "must be a NUMA node number from 0 to 1023, not %g", d);
		out->numa_node = (int)d;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static bool vfio_selector_same(const struct pol_vfio_selector *a, const struct pol_vfio_selector *b)
{
	if (a->address || b->address)
		return a->address && b->address && streq(a->address, b->address);
	return streq(a->vendor_device, b->vendor_device) && a->numa_node == b->numa_node &&
	       a->n_addresses == 0 && b->n_addresses == 0;
}

static int parse_vfio_pci(struct parser *ps, const cJSON *obj)
{
	static const struct key_spec specs[] = {
		{"devices", IN_ALL},
		{"bindPermittedHostDevices", IN_ALL},
		{"overrideHostOwned", IN_ALL},
	};
	struct pol_vfio *vf = &ps->pol->vfio;
	const cJSON *v[ARRAY_SIZE(specs)];
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;
	if (v[0]) {
		const cJSON *it;
		size_t n, i = 0;

		saved = pol_path_push_key(&ps->path, "devices");
		r = want_array(ps, v[0], &n);
		if (r < 0)
			return r;
		vf->devices = calloc(n ? n : 1, sizeof(*vf->devices));
		if (!vf->devices)
			return nomem(ps);
		cJSON_ArrayForEach(it, v[0])
		{
			size_t s = pol_path_push_index(&ps->path, i);

			vf->n_devices = ++i;
			r = parse_vfio_entry(ps, it, &vf->devices[i - 1]);
			if (r < 0)
				return r;
			for (size_t j = 0; j + 1 < i; j++)
				if (vfio_selector_same(&vf->devices[j], &vf->devices[i - 1]))
					return fail(ps,
						    "selects the same functions as devices[%zu]",
						    j);
			pol_path_pop(&ps->path, s);
		}
		pol_path_pop(&ps->path, saved);
	}
	r = want_bool_key(ps, v[1], "bindPermittedHostDevices", &vf->bind_permitted);
	if (r < 0)
		return r;
	if (v[2]) {
		saved = pol_path_push_key(&ps->path, "overrideHostOwned");
		if (cJSON_IsString(v[2]))
			return fail(ps, "must be a list of PCI addresses: write [\"%.100s\"]",
				    v[2]->valuestring);
		ps->vfio_override = true;
		r = parse_vfio_addresses(ps, v[2], &vf->override_host_owned,
					 &vf->n_override_host_owned);
		ps->vfio_override = false;
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static int parse_mdevd(struct parser *ps, const cJSON *obj)
{
	static const struct key_spec specs[] = {
		{"layouts", IN_ALL},
		{"removeUnowned", IN_ALL},
		{"vfioPci", IN_ALL},
	};
	struct policy *pol = ps->pol;
	const cJSON *v[ARRAY_SIZE(specs)];
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, true);
	if (r < 0)
		return r;
	if (v[0]) {
		const cJSON *it;
		size_t n, i = 0;

		saved = pol_path_push_key(&ps->path, "layouts");
		r = want_array(ps, v[0], &n);
		if (r < 0)
			return r;
		pol->layouts = calloc(n ? n : 1, sizeof(*pol->layouts));
		if (!pol->layouts)
			return nomem(ps);
		cJSON_ArrayForEach(it, v[0])
		{
			size_t s = pol_path_push_index(&ps->path, i);

			r = go_on(ps, parse_layout(ps, it, i, &pol->layouts[i]), s);
			if (r < 0)
				return r;
			pol->n_layouts = ++i;
			pol_path_pop(&ps->path, s);
		}
		pol_path_pop(&ps->path, saved);
	}
	r = want_bool_key(ps, v[1], "removeUnowned", &pol->remove_unowned);
	if (r < 0 || !v[2])
		return r;
	saved = pol_path_push_key(&ps->path, "vfioPci");
	r = parse_vfio_pci(ps, v[2]);
	if (r < 0)
		return r;
	pol_path_pop(&ps->path, saved);
	return 0;
}

/* The config object: the bare document, or a CR's spec.configuration / spec. */
static int parse_config(struct parser *ps, const cJSON *obj)
{
	static const struct key_spec specs[] = {
		{"permittedHostDevices", IN_ALL},
		{"mediatedDevicesConfiguration", IN_ALL},
		{"mdevd", IN_BARE},
	};
	bool bare = ps->shape == POL_SHAPE_BARE;
	const cJSON *v[ARRAY_SIZE(specs)];
	size_t saved;
	int r;

	r = want_object(ps, obj);
	if (r < 0)
		return r;
	if (!bare && cJSON_GetObjectItemCaseSensitive(obj, "mdevd")) {
		pol_path_push_key(&ps->path, "mdevd");
		return fail(ps,
			    "the mdevd section belongs at the top level of the document, beside "
			    "\"kind\"");
	}
	r = walk_object(ps, obj, specs, ARRAY_SIZE(specs), v, bare);
	if (r < 0)
		return r;
	if (v[0]) {
		saved = pol_path_push_key(&ps->path, "permittedHostDevices");
		r = go_on(ps, parse_permitted(ps, v[0]), saved);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	if (v[1]) {
		saved = pol_path_push_key(&ps->path, "mediatedDevicesConfiguration");
		r = go_on(ps, parse_mdev_config(ps, v[1]), saved);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	if (v[2]) {
		saved = pol_path_push_key(&ps->path, "mdevd");
		r = go_on(ps, parse_mdevd(ps, v[2]), saved);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

/* In a bare config: keys that mean the author forgot "kind". */
static int check_bare_keys(struct parser *ps, const cJSON *root)
{
	static const char *const cr_keys[] = {"apiVersion", "metadata", "spec", "status"};

	for (const cJSON *it = root->child; it; it = it->next) {
		for (size_t i = 0; i < ARRAY_SIZE(cr_keys); i++) {
			if (it->string && streq(it->string, cr_keys[i])) {
				pol_path_push_key(&ps->path, it->string);
				return fail(ps, "unknown key in a bare config: a whole CR needs "
						"\"kind\": \"KubeVirt\" or \"HyperConverged\"");
			}
		}
	}
	return 0;
}

static int parse_document(struct parser *ps, const cJSON *root)
{
	static const struct key_spec cr_specs[] = {
		{"kind", IN_ALL},
		{"spec", IN_ALL},
		{"mdevd", IN_ALL},
	};
	const cJSON *v[ARRAY_SIZE(cr_specs)];
	const cJSON *kind = NULL;
	size_t saved;
	int r;

	if (!cJSON_IsObject(root))
		return fail(ps, "a policy must be a JSON object (a YAML mapping), not %s",
			    json_type(root));
	for (const cJSON *it = root->child; it; it = it->next)
		if (it->string && streq(it->string, "kind"))
			kind = it;
	if (!kind) {
		ps->shape = POL_SHAPE_BARE;
		r = check_bare_keys(ps, root);
		if (r < 0)
			return r;
		return parse_config(ps, root);
	}

	saved = pol_path_push_key(&ps->path, "kind");
	if (!cJSON_IsString(kind))
		return fail(ps, "must be a string, not %s", json_type(kind));
	if (streq(kind->valuestring, "KubeVirt")) {
		ps->shape = POL_SHAPE_KUBEVIRT;
	} else if (streq(kind->valuestring, "HyperConverged")) {
		ps->shape = POL_SHAPE_HYPERCONVERGED;
	} else {
		static const char *const kinds[] = {"KubeVirt", "HyperConverged"};
		const char *s = suggest(kind->valuestring, kinds, ARRAY_SIZE(kinds));

		if (s)
			return fail(ps, "unsupported kind \"%.100s\" (did you mean \"%s\"?)",
				    kind->valuestring, s);
		return fail(ps,
			    "unsupported kind \"%.100s\": mdevd reads a KubeVirt or "
			    "HyperConverged CR, or a bare config without \"kind\"",
			    kind->valuestring);
	}
	pol_path_pop(&ps->path, saved);

	r = walk_object(ps, root, cr_specs, ARRAY_SIZE(cr_specs), v, false);
	if (r < 0)
		return r;
	if (v[1]) {
		const cJSON *config = v[1];

		saved = pol_path_push_key(&ps->path, "spec");
		r = want_object(ps, config);
		if (r < 0)
			return r;
		if (ps->shape == POL_SHAPE_KUBEVIRT) {
			static const struct key_spec spec_specs[] = {
				{"configuration", IN_ALL},
			};
			const cJSON *c;

			/* The API server would prune it there, and the layouts with it. */
			if (cJSON_GetObjectItemCaseSensitive(config, "mdevd")) {
				pol_path_push_key(&ps->path, "mdevd");
				return fail(ps, "the mdevd section belongs at the top level of the "
						"document, beside \"kind\" (inside spec the API "
						"server drops it)");
			}
			r = walk_object(ps, config, spec_specs, 1, &c, false);
			if (r < 0)
				return r;
			config = c;
			pol_path_push_key(&ps->path, "configuration");
		}
		if (config) {
			r = go_on(ps, parse_config(ps, config), saved);
			if (r < 0)
				return r;
		}
		pol_path_pop(&ps->path, saved);
	}
	if (v[2]) {
		saved = pol_path_push_key(&ps->path, "mdevd");
		r = go_on(ps, parse_mdevd(ps, v[2]), saved);
		if (r < 0)
			return r;
		pol_path_pop(&ps->path, saved);
	}
	return 0;
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Fill @err for a syntax error at byte @off of @json. */
static int syntax_error(struct pol_error *err, const char *json, size_t len, size_t off,
			const char *what, const char *tail)
{
	char near[48];
	size_t k = 0, from, to, line_start = 0;
	int line = 1, col = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (json[i] == '\n') {
			line++;
			col = 1;
			line_start = i + 1;
		} else if (((unsigned char)json[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	/* What is around the spot on its line, white space trimmed: cJSON's spot is rough. */
	from = off > line_start + 16 ? off - 16 : line_start;
	for (to = off; to < len && to < off + 16 && json[to] != '\n' && json[to] != '\r'; to++)
		;
	while (from < to && is_json_space(json[from]))
		from++;
	while (to > from && is_json_space(json[to - 1]))
		to--;
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)json[i];

		near[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	near[k] = '\0';
	if (!err)
		return -EINVAL;
	if (k && !tail)
		pol_fail(err, "$", "%s at column %d, near '%s'", what, col, near);
	else
		pol_fail(err, "$", "%s at column %d%s", what, col, tail ? tail : "");
	err->line = line;
	err->column = col;
	return -EINVAL;
}

/*
 * The node of @root that the JSON path @path names ("$.a.b[0][\"k\"]", as pol_path
 * builds them), or the deepest one on the way; NULL when not even the first step is there.
 */
static const cJSON *node_at(const cJSON *root, const char *path)
{
	const cJSON *n = root;
	const char *p = path;

	if (*p++ != '$')
		return NULL;
	while (*p && n) {
		const cJSON *next = NULL;
		char key[POL_PATH_MAX];
		size_t k = 0;

		if (*p == '.') {
			for (p++; *p && *p != '.' && *p != '[' && k + 1 < sizeof(key); p++)
				key[k++] = *p;
			key[k] = '\0';
			next = cJSON_GetObjectItemCaseSensitive(n, key);
		} else if (p[0] == '[' && p[1] == '"') {
			for (p += 2; *p && *p != '"' && k + 1 < sizeof(key); p++) {
				if (*p == '\\' && p[1])
					p++; /* \" and \\; \uXXXX control characters stay as they
						are */
				key[k++] = *p;
			}
			key[k] = '\0';
			p += *p == '"' ? 1 : 0;
			p += *p == ']' ? 1 : 0;
			next = cJSON_GetObjectItemCaseSensitive(n, key);
		} else if (*p == '[') {
			char *end;
			long i = strtol(p + 1, &end, 10);

			if (*end != ']' || i < 0)
				break;
			p = end + 1;
			next = cJSON_IsArray(n) ? cJSON_GetArrayItem(n, (int)i) : NULL;
		} else {
			break;
		}
		if (!next)
			break;
		n = next;
	}
	return n;
}

/* YAML: the line and column of the node @path names, into *line / *column. */
static void yaml_place(const struct pol_yaml_marks *marks, const cJSON *root, const char *path,
		       int *line, int *column)
{
	const struct pol_yaml_mark *m =
		marks->n ? pol_yaml_mark_of(marks, node_at(root, path)) : NULL;

	if (m) {
		*line = m->line;
		*column = m->column;
	}
}

int pol_parse(const char *json, size_t len, struct policy **out, struct pol_error *err)
{
	return pol_parse_report(json, len, out, err, NULL);
}

int pol_parse_report(const char *json, size_t len, struct policy **out, struct pol_error *err,
		     struct pol_report *rep)
{
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ size_t *pci_src = NULL, *mdev_src = NULL;
	_cleanup_(pol_yaml_marks_clear) struct pol_yaml_marks marks = {};
	struct pol_error local = {};
	struct parser ps = {.err = err ? err : &local, .rep = rep};
	size_t start = 0, off, first = rep ? rep->n : 0;
	const char *end = NULL;
	int r;

	err = ps.err;
	memset(err, 0, sizeof(*err));
	pol_path_init(&ps.path, "$");
	if (len > POL_MAX_SIZE)
		return fail(&ps, "the policy is larger than %u MiB", POL_MAX_SIZE >> 20);
	if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0)
		start = 3;
	for (off = start; off < len && is_json_space(json[off]); off++)
		;
	if (off == len)
		return pol_fail(err, "$",
				"the document is empty: expected a JSON object or a YAML mapping");

	/* JSON starts with '{' (or a wrong '['); anything else is read as YAML. */
	if (json[off] != '{' && json[off] != '[') {
		r = pol_yaml_parse(json + start, len - start, &root, &marks, err);
		if (r < 0)
			return r;
		goto parsed;
	}
	root = cJSON_ParseWithLengthOpts(json + start, len - start, &end, false);
	if (!root) {
		size_t rest;

		off = end && end >= json + start ? (size_t)(end - json) : start;
		for (rest = off; rest < len && is_json_space(json[rest]); rest++)
			;
		if (rest >= len) {
			/* Report the line of the last thing there is. */
			for (off = len; off > start && is_json_space(json[off - 1]); off--)
				;
			return syntax_error(err, json, len, off, "invalid JSON",
					    ": the document ends early (a missing '}' or ']'?)");
		}
		return syntax_error(err, json, len, off, "invalid JSON", NULL);
	}
	off = (size_t)(end - json);
	while (off < len && is_json_space(json[off]))
		off++;
	if (off < len)
		return syntax_error(err, json, len, off, "unexpected text after the JSON document",
				    NULL);
parsed:

	pol = calloc(1, sizeof(*pol));
	if (!pol)
		return nomem(&ps);
	ps.pol = pol;
	r = parse_document(&ps, root);
	pci_src = ps.pci_src;
	mdev_src = ps.mdev_src;
	/* With a report: the first of the errors recorded is the one in @err. */
	r = go_on(&ps, r, 0);
	if (r == 0 && rep && rep->n > first) {
		for (size_t i = first; i < rep->n; i++)
			yaml_place(&marks, root, rep->diags[i].path, &rep->diags[i].line,
				   &rep->diags[i].column);
		pol_fail(err, rep->diags[first].path, "%s", rep->diags[first].message);
		r = -EINVAL;
	}
	if (r == -EINVAL)
		yaml_place(&marks, root, err->path, &err->line, &err->column);
	if (r < 0)
		return r;
	pol->shape = ps.shape;
	*out = steal_ptr(pol);
	return 0;
}
