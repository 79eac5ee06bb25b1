/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the Kubernetes API client's parsers (mdevd/kubernetes/kubeapi.c), what
 * the API server or a kubeconfig hands mdevd: the first byte picks the parser (bits 0-2,
 * modulo 5) and its arguments, the rest is the text, in a heap buffer of exactly its size
 * where the parser takes a length (no NUL after it, so a read past the end is caught), else
 * as a C string (cut at the first NUL):
 *   op 0: kube_config_parse(), a kubeconfig in YAML or JSON;
 *   op 1: kube_base64_decode(), compared with a reference decoder written here;
 *   op 2: kube_event_parse(), one line of a watch stream;
 *   op 3: kube_list_parse(), a list reply, then kube_status_message() of it;
 *   op 4: kube_object_labels(), kube_object_annotation() (the key: what follows the first
 *         NUL, else "mdevd/policy"), kube_object_uid(), kube_object_spec() of one object.
 * Bit 3 of the first byte passes kind and apiVersion (or a kubeconfig's directory), bit 4 no
 * room for the reason (why NULL, size 0), bits 5-7 the size of kube_status_message()'s buffer.
 * Checks: every return is 0 or one the header names; on error the out-params are as they were
 * (a sentinel each) and a kubeconfig's reason is a NUL-terminated sentence; on success every
 * string is NUL-terminated, a decoded buffer has its NUL after out_len bytes, an object's JSON
 * parses back with the name it was listed under and the kind filled in, and everything is
 * freed with the module's own calls (LeakSanitizer checks the rest). Built and run by
 * `make fuzz` (docs/fuzzing.md); seeds: tests/fuzz/make-seeds.py (kubeconfigs as
 * tests/k8s/apiserver.sh writes them, watch events, lists of KubeVirt and HyperConverged CRs,
 * a Node).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubernetes/kubeapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KIND "KubeVirt"
#define API  "kubevirt.io/v1"

/* What an out-param holds before the call: never a pointer the module hands out. */
static char sentinel_byte;
#define SENTINEL ((void *)&sentinel_byte)

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* A string the module handed out: readable up to its NUL (ASan checks each byte). */
static void check_str(const char *s)
{
	check(s != NULL);
	(void)strlen(s);
}

static int b64_ref_value(unsigned char c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/*
 * The reference: the header's "standard base64 (padding optional, white space skipped)",
 * and nothing but white space and padding after the first '='. Returns the number of bytes
 * written to @out (room for strlen(@in)), or -1 when it is not base64.
 */
static long b64_ref(const char *in, unsigned char *out)
{
	unsigned long acc = 0;
	unsigned int bits = 0;
	bool pad = false;
	long n = 0;

	for (; *in; in++) {
		int v = b64_ref_value((unsigned char)*in);

		if (strchr(" \n\r\t", *in))
			continue;
		if (*in == '=') {
			pad = true;
			continue;
		}
		if (v < 0 || pad)
			return -1;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

static void fuzz_config(const char *text, size_t len, bool with_dir, bool with_why)
{
	struct kube_config *c = SENTINEL;
	const char *host;
	char why[128];
	int r;

	memset(why, 'X', sizeof(why));
	r = kube_config_parse(text, len, with_dir ? "/etc/kubernetes" : NULL,
			      with_dir ? "fuzz.kubeconfig" : NULL, &c, with_why ? why : NULL,
			      with_why ? sizeof(why) : 0);
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		check(c == SENTINEL);
		if (r == -EINVAL && with_why)
			check(memchr(why, '\0', sizeof(why)) != NULL && why[0] != '\0');
		return;
	}
	check(c != NULL && c != SENTINEL);
	check_str(c->server);
	/* An http(s) URL with a host, without the trailing slash. */
	check(!strncmp(c->server, "https://", 8) || !strncmp(c->server, "http://", 7));
	host = c->server + (c->server[4] == 's' ? 8 : 7);
	check(*host != '\0' && *host != '/');
	check(c->server[strlen(c->server) - 1] != '/');
	check_str(c->source);
	if (c->ca_data)
		check(c->ca_data[c->ca_len] == '\0');
	if (c->cert_data)
		check(c->cert_data[c->cert_len] == '\0');
	if (c->key_data)
		check(c->key_data[c->key_len] == '\0');
	check(!(c->ca_file && c->ca_data) && !(c->cert_file && c->cert_data) &&
	      !(c->key_file && c->key_data));
	check(!!(c->cert_file || c->cert_data) == !!(c->key_file || c->key_data));
	if (c->ca_file)
		check_str(c->ca_file);
	if (c->cert_file)
		check_str(c->cert_file);
	if (c->key_file)
		check_str(c->key_file);
	if (c->token)
		check_str(c->token);
	if (c->token_file)
		check_str(c->token_file);
	if (with_dir && c->token_file)
		check(c->token_file[0] == '/');
	kube_config_free(c);
}

static void fuzz_base64(const char *s)
{
	unsigned char *ref = malloc(strlen(s) + 1);
	char *out = SENTINEL;
	size_t out_len = 12345;
	long n;
	int r;

	check(ref != NULL);
	n = b64_ref(s, ref);
	r = kube_base64_decode(s, &out, &out_len);
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -ENOMEM) {
		free(ref);
		return;
	}
	if (r < 0) {
		check(n < 0 && out == SENTINEL && out_len == 12345);
	} else {
		check(n >= 0 && out_len == (size_t)n);
		check(!memcmp(out, ref, out_len) && out[out_len] == '\0');
		free(out);
	}
	free(ref);
}

/* A listed or watched object: every field set, its JSON the object with kind filled in. */
static void check_object(const struct kube_object *o, bool with_kind)
{
	cJSON *root;
	const cJSON *meta, *name;

	check_str(o->name);
	check_str(o->namespace);
	check_str(o->resource_version);
	check_str(o->json);
	root = cJSON_Parse(o->json);
	check(cJSON_IsObject(root));
	meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	name = cJSON_GetObjectItemCaseSensitive(meta, "name");
	check(cJSON_IsString(name) && !strcmp(name->valuestring, o->name));
	if (with_kind)
		check(cJSON_GetObjectItemCaseSensitive(root, "kind") != NULL &&
		      cJSON_GetObjectItemCaseSensitive(root, "apiVersion") != NULL);
	cJSON_Delete(root);
}

static void fuzz_event(const char *text, size_t len, bool with_kind)
{
	struct kube_event e, before;
	int r;

	memset(&e, 0, sizeof(e));
	e.type = KUBE_EVENT_ERROR;
	e.object.name = e.object.namespace = e.object.resource_version = e.object.json = SENTINEL;
	e.code = 12345;
	e.message = SENTINEL;
	before = e;
	r = kube_event_parse(text, len, with_kind ? KIND : NULL, with_kind ? API : NULL, &e);
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		check(!memcmp(&e, &before, sizeof(e)));
		return;
	}
	check(e.type <= KUBE_EVENT_ERROR);
	switch (e.type) {
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
	case KUBE_EVENT_DELETED:
		check_object(&e.object, with_kind);
		check(e.message == NULL && e.code == 0);
		break;
	case KUBE_EVENT_BOOKMARK:
		check_str(e.object.resource_version);
		check(!e.object.name && !e.object.namespace && !e.object.json && !e.message &&
		      e.code == 0);
		break;
	case KUBE_EVENT_ERROR:
		check_str(e.message);
		check(!e.object.name && !e.object.namespace && !e.object.resource_version &&
		      !e.object.json);
		break;
	}
	kube_event_clear(&e);
	check(!e.object.name && !e.object.json && !e.message);
}

static void fuzz_list(const char *text, size_t len, bool with_kind, size_t msg_size)
{
	struct kube_object *items = SENTINEL;
	size_t n = 12345;
	char *rv = SENTINEL, msg[8];
	const char *m;
	int r;

	r = kube_list_parse(text, len, with_kind ? KIND : NULL, with_kind ? API : NULL, &items, &n,
			    &rv);
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		check(items == SENTINEL && n == 12345 && rv == SENTINEL);
	} else {
		check(items != NULL && items != SENTINEL);
		check_str(rv);
		for (size_t i = 0; i < n; i++) {
			check_object(&items[i], with_kind);
			kube_object_clear(&items[i]);
		}
		free(items);
		free(rv);
	}
	memset(msg, 'X', sizeof(msg));
	m = kube_status_message(text, len, msg, msg_size);
	check(m == msg);
	if (msg_size)
		check(memchr(msg, '\0', msg_size) != NULL);
	for (size_t i = msg_size; i < sizeof(msg); i++)
		check(msg[i] == 'X');
}

/* The answer of a call that gives a new string or NULL (absent); freed. */
static void check_maybe_str(int r, char *s)
{
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		check(s == SENTINEL);
	if (r == 0 && s) {
		check_str(s);
		free(s);
	}
}

static void fuzz_object(const char *json, const char *key)
{
	char **keys = SENTINEL, **values = SENTINEL, *s = SENTINEL;
	size_t n = 12345;
	int r;

	r = kube_object_labels(json, &keys, &values, &n);
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		check(keys == SENTINEL && values == SENTINEL && n == 12345);
	} else {
		check(keys != NULL && values != NULL && keys != SENTINEL && values != SENTINEL);
		for (size_t i = 0; i < n; i++) {
			check_str(keys[i]);
			check_str(values[i]);
		}
		kube_strv_free(keys, n);
		kube_strv_free(values, n);
	}

	r = kube_object_annotation(json, key, &s);
	check_maybe_str(r, s);
	s = SENTINEL;
	r = kube_object_uid(json, &s);
	check_maybe_str(r, s);

	s = SENTINEL;
	r = kube_object_spec(json, &s);
	check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		check(s == SENTINEL);
	if (r == 0) {
		cJSON *spec;

		check_str(s);
		spec = cJSON_Parse(s);
		check(spec != NULL);
		cJSON_Delete(spec);
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int op, flags;
	size_t len;
	char *buf, *str;

	if (size < 1)
		return 0;
	op = (data[0] & 7) % 5;
	flags = data[0];
	len = size - 1;
	/* The text as a length-taking parser gets it: exactly its bytes, nothing after. */
	buf = malloc(len ? len : 1);
	/* The text as a C string: up to the first NUL. */
	str = malloc(len + 1);
	check(buf != NULL && str != NULL);
	memcpy(buf, data + 1, len);
	memcpy(str, data + 1, len);
	str[len] = '\0';

	switch (op) {
	case 0:
		fuzz_config(buf, len, flags & 8, !(flags & 16));
		break;
	case 1:
		fuzz_base64(str);
		break;
	case 2:
		fuzz_event(buf, len, flags & 8);
		break;
	case 3:
		fuzz_list(buf, len, flags & 8, (flags >> 5) & 7);
		break;
	case 4: {
		size_t l = strlen(str);

		fuzz_object(str, l < len ? str + l + 1 : "mdevd/policy");
		break;
	}
	default: /* 0 to 4 */
		break;
	}
	free(buf);
	free(str);
	return 0;
}
