/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Node's Events: the queue and the thread that posts them; see kube_recorder.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/metrics.h"
#include "kubernetes/apiserver.h"
#include "kubernetes/kube_recorder.h"
#include "mdevd/macro.h"
#include "util/log.h"

struct occurrence {
	enum kube_events_type type;
	const char *reason; /* static */
	char *message;
	uint64_t at_ms; /* realtime */
};

struct kube_recorder {
	const struct kube_config *cfg;
	char *node;
	uint64_t *counts;
	struct kube_http *http;
	pthread_t thread;
	bool started;
	atomic_bool stop;

	/* Shared, under @lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct occurrence queue[KUBE_RECORDER_QUEUE_MAX];
	size_t head, n;
	char *uid;

	/* The thread's own. */
	struct kube_events_correlator corr;
	char logged[512]; /* the failure last logged */
};

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void count(struct kube_recorder *r, enum metrics_node_event what)
{
	if (r->counts)
		metrics_add(&r->counts[what], 1);
}

/* A failure: logged when it differs from the one last logged. */
static void failed(struct kube_recorder *r, const char *fmt, ...) _printf_(2, 3);

static void failed(struct kube_recorder *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	count(r, METRICS_NODE_EVENT_FAILED);
	if (!streq(r->logged, msg)) {
		log_warnx("node %s: Events: %s (not retried; counted in "
			  "mdevd_node_events_total{result=\"failed\"})",
			  r->node, msg);
		snprintf(r->logged, sizeof(r->logged), "%s", msg);
	}
}

/* One request; returns the HTTP status, or 0 when none came (said by failed()). */
static long request(struct kube_recorder *r, const char *method, const char *path,
		    const char *content_type, const char *data, const char *what)
{
	_cleanup_free_ char *body = NULL;
	char why[512] = "", msg[512];
	size_t len = 0;
	long status = 0;
	int e;

	e = kube_http_send(r->http, method, path, content_type, data, KUBE_RECORDER_TIMEOUT_MS,
			   &body, &len, &status, why, sizeof(why));
	if (e == -ECANCELED)
		return 0;
	if (e < 0) {
		failed(r, "%s: %s", what, why);
		return 0;
	}
	if (status >= 200 && status < 300) {
		if (r->logged[0]) {
			log_info("node %s: Events are taken again", r->node);
			r->logged[0] = '\0';
		}
		return status;
	}
	if (status != 404) /* a PATCH of an Event the server let expire: posted again */
		failed(r, "%s: HTTP %ld: %s%s", what, status,
		       kube_status_message(body, len, msg, sizeof(msg)),
		       status == 403 ? " (RBAC: see deploy/kubernetes/rbac.yaml)" : "");
	return status;
}

static void post(struct kube_recorder *r, const struct occurrence *o)
{
	struct kube_events_decision d;
	_cleanup_free_ char *doc = NULL, *uid = NULL;
	char path[512];
	long status;

	if (kube_events_correlate(&r->corr, r->node, o->at_ms, o->type, o->reason, o->message, &d) <
	    0) {
		failed(r, "out of memory");
		return;
	}
	switch (d.verdict) {
	case KUBE_EVENTS_RATE_LIMITED:
		count(r, METRICS_NODE_EVENT_RATE_LIMITED);
		log_debug("node %s: Event %s rate limited: %s", r->node, o->reason, o->message);
		return;
	case KUBE_EVENTS_AGGREGATE:
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s",
			 KUBE_EVENTS_NAMESPACE, d.name);
		if (kube_events_patch_json(o->message, &d, &doc) < 0) {
			failed(r, "out of memory");
			return;
		}
		status = request(r, "PATCH", path, "application/merge-patch+json", doc,
				 "PATCH of an Event's count");
		if (status >= 200 && status < 300) {
			count(r, METRICS_NODE_EVENT_AGGREGATED);
			return;
		}
		if (status != 404) {
			kube_events_forget(&r->corr, d.name);
			return;
		}
		free(steal_ptr(doc));
		break; /* gone: create it again, with its count */
	case KUBE_EVENTS_CREATE:
		break;
	}
	pthread_mutex_lock(&r->lock);
	uid = r->uid ? strdup(r->uid) : NULL;
	pthread_mutex_unlock(&r->lock);
	if (kube_events_json(&(struct kube_events_node){.name = r->node, .uid = uid}, o->type,
			     o->reason, o->message, &d, &doc) < 0) {
		failed(r, "out of memory");
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", KUBE_EVENTS_NAMESPACE);
	status = request(r, "POST", path, "application/json", doc, "POST of an Event");
	if (status >= 200 && status < 300) {
		count(r, METRICS_NODE_EVENT_POSTED);
		log_debug("node %s: Event %s %s (count %u): %s", r->node, d.name, o->reason,
			  d.count, o->message);
		return;
	}
	if (status == 404)
		failed(r, "POST of an Event: HTTP 404 (is namespace %s there?)",
		       KUBE_EVENTS_NAMESPACE);
	kube_events_forget(&r->corr, d.name);
}

static void *recorder_main(void *arg)
{
	struct kube_recorder *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct occurrence o;

		while (r->n == 0 && !atomic_load(&r->stop))
			pthread_cond_wait(&r->wake, &r->lock);
		if (atomic_load(&r->stop))
			break;
		o = r->queue[r->head];
		r->head = (r->head + 1) % KUBE_RECORDER_QUEUE_MAX;
		r->n--;
		pthread_mutex_unlock(&r->lock);
		post(r, &o);
		free(o.message);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int kube_recorder_start(const struct kube_config *cfg, const char *node, uint64_t *counts,
			struct kube_recorder **out)
{
	struct kube_recorder *r = calloc(1, sizeof(*r));
	char why[512] = "";
	int e;

	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	r->counts = counts;
	atomic_init(&r->stop, false);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->node = strdup(node);
	if (!r->node) {
		e = -ENOMEM;
		goto fail;
	}
	e = kube_http_new(cfg, &r->stop, &r->http, why, sizeof(why));
	if (e < 0) {
		log_warnx("node %s: Events: %s", node, why);
		goto fail;
	}
	e = -pthread_create(&r->thread, NULL, recorder_main, r);
	if (e < 0) {
		log_warn(e, "node %s: cannot start the Events thread", node);
		goto fail;
	}
	r->started = true;
	*out = r;
	return 0;
fail:
	kube_recorder_free(r);
	return e;
}

void kube_recorder_set_uid(struct kube_recorder *r, const char *uid)
{
	char *n;

	if (!r || !uid)
		return;
	n = strdup(uid);
	if (!n)
		return;
	pthread_mutex_lock(&r->lock);
	free(r->uid);
	r->uid = n;
	pthread_mutex_unlock(&r->lock);
}

void kube_recorder_event(struct kube_recorder *r, enum kube_events_type type, const char *reason,
			 const char *fmt, ...)
{
	struct occurrence o = {.type = type, .reason = reason};
	va_list ap;
	bool full;

	if (!r)
		return;
	va_start(ap, fmt);
	if (vasprintf(&o.message, fmt, ap) < 0)
		o.message = NULL;
	va_end(ap);
	if (!o.message) {
		count(r, METRICS_NODE_EVENT_DROPPED);
		return;
	}
	o.at_ms = realtime_ms();
	pthread_mutex_lock(&r->lock);
	full = r->n == KUBE_RECORDER_QUEUE_MAX;
	if (!full) {
		r->queue[(r->head + r->n) % KUBE_RECORDER_QUEUE_MAX] = o;
		r->n++;
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	if (full) {
		count(r, METRICS_NODE_EVENT_DROPPED);
		log_debug("node %s: Events queue full: dropped %s: %s", r->node, reason, o.message);
		free(o.message);
	}
}

void kube_recorder_free(struct kube_recorder *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		atomic_store(&r->stop, true);
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	for (size_t i = 0; i < r->n; i++)
		free(r->queue[(r->head + i) % KUBE_RECORDER_QUEUE_MAX].message);
	kube_http_free(r->http);
	kube_events_correlator_release(&r->corr);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r->uid);
	free(r->node);
	free(r);
}
