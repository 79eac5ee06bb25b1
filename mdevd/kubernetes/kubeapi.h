/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kubeapi: the pure half of mdevd's small Kubernetes API client (no I/O but reading the
 * files a kubeconfig names, no libcurl): where the API server is and how to authenticate
 * (a kubeconfig, or the pod's service account as client-go's in-cluster config does), and
 * the JSON the server answers a list and a watch with. The HTTP half is
 * apiserver_libcurl.c (apiserver.h); the reflector that keeps a watched object current
 * on its own thread is kube_watch.c (kube_watch.h).
 *
 * JSON is read with cJSON here (the API's documents), the kubeconfig's YAML through the
 * policy engine's libyaml adapter, which builds the same cJSON tree.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mdevd/macro.h"

/* Where the service account's files are mounted in a pod. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/*
 * How to reach one API server. Exactly what a kubeconfig's current context gives, or
 * the in-cluster config. PEM data is held as bytes; files are read when a request is
 * made (a rotated token or certificate is picked up without a restart).
 */
struct kube_config {
	char *server;  /* "https://127.0.0.1:6443", no trailing slash */
	char *ca_file; /* certificate-authority; or NULL */
	char *ca_data; /* certificate-authority-data, decoded PEM; or NULL */
	size_t ca_len;
	char *cert_file; /* client-certificate; or NULL */
	char *cert_data; /* client-certificate-data, decoded PEM; or NULL */
	size_t cert_len;
	char *key_file; /* client-key; or NULL */
	char *key_data; /* client-key-data, decoded PEM; or NULL */
	size_t key_len;
	char *token;	  /* a bearer token given inline; or NULL */
	char *token_file; /* tokenFile, or the service account's token: read per request */
	bool insecure;	  /* insecure-skip-tls-verify */
	char *source;	  /* what it came from, for messages: the file, or "in-cluster" */
};

void kube_config_free(struct kube_config *c);
DEFINE_CLEANUP(struct kube_config, kube_config_free)

/*
 * kube_config_parse - the current context of a kubeconfig (@text, @len bytes, YAML or
 * JSON; borrowed): its cluster's server, certificate-authority(-data) and
 * insecure-skip-tls-verify, its user's client-certificate(-data), client-key(-data),
 * token and tokenFile. Relative file names are taken relative to @dir (the kubeconfig's
 * directory). @source names it in messages. On -EINVAL @why says what is missing or
 * wrong (no current-context, a context naming a cluster that is not there, bad base64,
 * an exec or auth-provider user, which mdevd does not run). @out: a new config.
 * Returns 0, -EINVAL or -ENOMEM.
 */
int kube_config_parse(const char *text, size_t len, const char *dir, const char *source,
		      struct kube_config **out, char *why, size_t size);

/*
 * kube_config_load - kube_config_parse() of the file @path. Returns 0, -EINVAL (@why
 * says why), or -errno when it cannot be read (@why says so too).
 */
int kube_config_load(const char *path, struct kube_config **out, char *why, size_t size);

/*
 * kube_config_in_cluster - the pod's config, as client-go's rest.InClusterConfig():
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host in brackets),
 * @sa_dir/token (re-read per request) and @sa_dir/ca.crt. @sa_dir: KUBE_SA_DIR, or a test
 * directory. Returns 0, -ENOENT when the variables are not set (not in a pod) or the token
 * is not there (@why says which), or -ENOMEM.
 */
int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, char *why, size_t size);

/* kube_base64_decode - standard base64 (padding optional, white space skipped) into a new
 * buffer with a NUL after its @out_len bytes. Returns 0, -EINVAL or -ENOMEM. */
int kube_base64_decode(const char *in, char **out, size_t *out_len);

/* One object of a list or a watch: its identity and its whole JSON text. */
struct kube_object {
	char *namespace; /* "" for cluster-scoped objects */
	char *name;
	char *resource_version; /* metadata.resourceVersion; "" when absent */
	char *json;		/* the object, printed back (owned) */
};

void kube_object_clear(struct kube_object *o);

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK, /* only object.metadata.resourceVersion is meaningful */
	KUBE_EVENT_ERROR,    /* object is a Status: see code and message */
};

/* One line of a watch stream: {"type": ..., "object": ...}. */
struct kube_event {
	enum kube_event_type type;
	struct kube_object object; /* BOOKMARK: only resource_version; ERROR: empty */
	int code;		   /* ERROR: the Status' code (410: the resourceVersion expired) */
	char *message;		   /* ERROR: the Status' message; else NULL */
};

void kube_event_clear(struct kube_event *e);

/*
 * kube_event_parse - one watch event (@line, @len bytes: one JSON document; borrowed).
 * An ADDED / MODIFIED / DELETED object gets @kind and @api_version filled in when it
 * lacks them (a list's items do; kind tells the policy parser which CR it reads); NULL:
 * left as they are. On success @out is filled (kube_event_clear()). Returns 0, -EINVAL
 * (not JSON, no type, an unknown type, an object without metadata.name) or -ENOMEM.
 */
int kube_event_parse(const char *line, size_t len, const char *kind, const char *api_version,
		     struct kube_event *out);

/*
 * kube_list_parse - a list's reply (@json, @len; borrowed): its items (with @kind and
 * @api_version filled in as above) into a new array @items of @n_items (free each with
 * kube_object_clear(), then the array), and metadata.resourceVersion into @rv (new).
 * Returns 0, -EINVAL (not a list) or -ENOMEM.
 */
int kube_list_parse(const char *json, size_t len, const char *kind, const char *api_version,
		    struct kube_object **items, size_t *n_items, char **rv);

/*
 * kube_status_message - the message of a Status document (an error reply's body), into
 * @buf; "" when the body is not one. Returns @buf.
 */
const char *kube_status_message(const char *json, size_t len, char *buf, size_t size);

/*
 * kube_object_labels - metadata.labels of the object @json as "k=v" pairs: @keys and
 * @values, @n of them (free with kube_strv_free() each). Returns 0, -EINVAL or -ENOMEM.
 */
int kube_object_labels(const char *json, char ***keys, char ***values, size_t *n);

/*
 * kube_object_annotation - metadata.annotations[@key] of the object @json, as a new
 * string into @out, or NULL when absent. Returns 0, -EINVAL (not an object) or -ENOMEM.
 */
int kube_object_annotation(const char *json, const char *key, char **out);

/*
 * kube_object_uid - metadata.uid of the object @json, as a new string into @out, or NULL
 * when absent. Returns 0, -EINVAL (not an object) or -ENOMEM.
 */
int kube_object_uid(const char *json, char **out);

/*
 * kube_object_spec - the object's "spec", printed (NULL: "null"), into @out (new): what a
 * CR's edit changes, and its status updates do not. Returns 0, -EINVAL or -ENOMEM.
 */
int kube_object_spec(const char *json, char **out);

void kube_strv_free(char **v, size_t n);
