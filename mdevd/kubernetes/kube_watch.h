/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kube_watch: a reflector, as client-go's: list a resource, then watch it from the list's
 * resourceVersion (with bookmarks, so a reconnect resumes close to now), keeping a local
 * copy of every object. A watch that ends is resumed from the last resourceVersion seen;
 * 410 Gone (the version was compacted away) lists again; a failure (the API server down,
 * a rejected token) retries with exponential backoff and jitter, 0.5 s up to 30 s. Each
 * request has a timeout (a watch asks the server to end it after 5 to 10 min, as client-go
 * does), and a watch that hears nothing for KUBE_WATCH_IDLE_SEC past that (a dead peer:
 * bookmarks are not sent on a timetable) is dropped and resumed.
 *
 * It runs on a thread of its own, so that no request ever blocks the daemon's epoll loop:
 * the loop polls kube_watch_fd() (an eventfd) and takes the current copy with
 * kube_watch_take() when it becomes readable. A change of state (synced, failing, back) is
 * logged once, by the thread, when it happens: an API server that stays down is one line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kubernetes/kubeapi.h"

#define KUBE_WATCH_IDLE_SEC	   90
#define KUBE_WATCH_LIST_TIMEOUT_MS 30000
#define KUBE_WATCH_BACKOFF_MIN_MS  500
#define KUBE_WATCH_BACKOFF_MAX_MS  30000

struct kube_watch;

/* What to watch. Every pointer is copied. */
struct kube_watch_spec {
	const char *what;	    /* for messages: "kubevirts.kubevirt.io", "node gpu-1" */
	const char *path;	    /* the collection: "/apis/kubevirt.io/v1/kubevirts" */
	const char *field_selector; /* "metadata.name=gpu-1", or NULL */
	const char *kind;	    /* filled into objects that lack it ("KubeVirt") */
	const char *api_version;    /* likewise ("kubevirt.io/v1") */
	/* timeoutSeconds of each watch request; 0: random in [300, 600) as client-go does */
	unsigned int watch_timeout_sec;
};

/* The loop's copy of the watched objects and the watch's state. */
struct kube_watch_state {
	unsigned long generation;    /* one more per change of the objects */
	bool synced;		     /* a list succeeded: @objects is what the server has */
	struct kube_object *objects; /* sorted by namespace, then name */
	size_t n_objects;
	char error[512]; /* why the last request failed; "" when the watch runs */
};

void kube_watch_state_clear(struct kube_watch_state *s);

/*
 * kube_watch_start - start watching @spec with @cfg (borrowed: it must outlive the watch).
 * Call with the signals the loop reads blocked (the thread inherits the mask). Returns 0,
 * -EOPNOTSUPP / -ENXIO (libcurl cannot be loaded: logged), -ENOMEM or -errno.
 */
int kube_watch_start(const struct kube_config *cfg, const struct kube_watch_spec *spec,
		     struct kube_watch **out);

/* kube_watch_fd - readable when the objects or the state changed (borrowed). */
int kube_watch_fd(const struct kube_watch *w);

/*
 * kube_watch_take - drain the eventfd and copy the current objects and state into @out
 * (kube_watch_state_clear() it). Returns 0 or -ENOMEM.
 */
int kube_watch_take(struct kube_watch *w, struct kube_watch_state *out);

/* kube_watch_free - end the request in progress (within about a second), join, free. */
void kube_watch_free(struct kube_watch *w);
