/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apiserver: HTTP to the Kubernetes API server, the one adapter of libcurl
 * (apiserver_libcurl.c; loaded on first use, util/dlopen.h). Blocking calls, made from the
 * watch threads (kube_watch.h) and the Event recorder's thread (kube_recorder.h), never
 * from the daemon's event loop. One client per thread: a client is not shared.
 *
 * Every request authenticates afresh from the kube_config: a token file (the service
 * account's, which the kubelet rotates) is read again for each request, client
 * certificates and the CA are handed to libcurl each time too.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kubernetes/kubeapi.h"

struct kube_http;

/*
 * kube_http_new - a client for @cfg (borrowed: it must outlive the client). @stop (borrowed;
 * may be NULL): when it becomes true, a request in progress ends within about a second
 * with -ECANCELED. Returns 0, -EOPNOTSUPP / -ENXIO (libcurl cannot be loaded: @why says
 * so) or -ENOMEM.
 */
int kube_http_new(const struct kube_config *cfg, const atomic_bool *stop, struct kube_http **out,
		  char *why, size_t size);
void kube_http_free(struct kube_http *h);

/*
 * kube_http_get - GET @path (with its query), the whole reply body into @body (new,
 * NUL-terminated; also on an HTTP error status, when it is the server's Status) and its
 * status into @status. @timeout_ms bounds the whole request. Returns 0 when a reply came
 * (any status), -ECANCELED (stopped), -ETIMEDOUT, -ECONNREFUSED / -EHOSTUNREACH (cannot
 * connect), -EPROTO (TLS or HTTP failure), -EFBIG, -ENOMEM; @why says what libcurl said.
 */
int kube_http_get(struct kube_http *h, const char *path, unsigned int timeout_ms, char **body,
		  size_t *len, long *status, char *why, size_t size);

/*
 * kube_http_send - @method ("POST", "PATCH") @data (a NUL-terminated document of
 * @content_type) to @path; the reply as kube_http_get() gives it. Returns as kube_http_get().
 */
int kube_http_send(struct kube_http *h, const char *method, const char *path,
		   const char *content_type, const char *data, unsigned int timeout_ms, char **body,
		   size_t *len, long *status, char *why, size_t size);

/*
 * Called once with @line NULL (@len 0) when a 200 reply's headers have arrived (the stream is
 * open, even if no event follows for minutes), then with each line of its body (without the
 * newline). Non-zero ends it.
 */
typedef int (*kube_line_fn)(void *userdata, const char *line, size_t len);

/*
 * kube_http_stream - GET @path and hand each line of the body to @fn as it arrives (a
 * watch). It ends when the server ends the reply (0), when @fn returns non-zero (that
 * value), when nothing arrived for @idle_sec seconds (-ETIMEDOUT), or as kube_http_get()
 * fails. A reply other than 200 is not streamed: @status says which, @why holds the
 * server's message. Returns 0 or as above.
 */
int kube_http_stream(struct kube_http *h, const char *path, unsigned int idle_sec, kube_line_fn fn,
		     void *userdata, long *status, char *why, size_t size);
