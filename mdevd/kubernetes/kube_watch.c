/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reflector thread: list, watch, resume, re-list; see kube_watch.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "kubernetes/apiserver.h"
#include "kubernetes/kube_watch.h"
#include "mdevd/macro.h"
#include "util/log.h"

struct kube_watch {
	const struct kube_config *cfg;
	char *what, *path, *field_selector, *kind, *api_version;
	unsigned int watch_timeout_sec;
	struct kube_http *http;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	int event_fd; /* to the loop: something changed */
	int stop_fd;  /* to the thread: wake from a backoff sleep */
	unsigned int seed;

	/* Shared with the loop, under @lock. */
	pthread_mutex_t lock;
	struct kube_object *objects;
	size_t n_objects;
	unsigned long generation;
	bool synced;
	char error[512];

	/* The thread's own. */
	char *rv;	  /* resume the watch from here; NULL: list first */
	char logged[512]; /* the failure last logged, so each is logged once */
	bool gone;	  /* the watch said 410 Gone */
	unsigned int backoff_ms;
};

void kube_watch_state_clear(struct kube_watch_state *s)
{
	for (size_t i = 0; i < s->n_objects; i++)
		kube_object_clear(&s->objects[i]);
	free(s->objects);
	*s = (struct kube_watch_state){};
}

static void notify(struct kube_watch *w)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, and the loop will read it anyway. */
	(void)!write(w->event_fd, &one, sizeof(one));
}

static int cmp_object(const void *a, const void *b)
{
	const struct kube_object *x = a, *y = b;
	int c = strcmp(x->namespace, y->namespace);

	return c ? c : strcmp(x->name, y->name);
}

/* A failure: kept for the loop, logged when it differs from the one last logged. */
static void set_error(struct kube_watch *w, const char *fmt, ...) _printf_(2, 3);

static void set_error(struct kube_watch *w, const char *fmt, ...)
{
	char msg[512];
	bool changed;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&w->lock);
	changed = !streq(w->error, msg);
	snprintf(w->error, sizeof(w->error), "%s", msg);
	pthread_mutex_unlock(&w->lock);
	if (!streq(w->logged, msg)) {
		log_warnx("%s: %s (retrying with backoff)", w->what, msg);
		snprintf(w->logged, sizeof(w->logged), "%s", msg);
	}
	if (changed)
		notify(w);
}

static void clear_error(struct kube_watch *w)
{
	bool had;

	pthread_mutex_lock(&w->lock);
	had = w->error[0] != '\0';
	w->error[0] = '\0';
	pthread_mutex_unlock(&w->lock);
	if (w->logged[0]) {
		log_info("%s: the API server answers again", w->what);
		w->logged[0] = '\0';
	}
	w->backoff_ms = 0;
	if (had)
		notify(w);
}

/* Sleep the backoff (with jitter: half to all of it), or until stopped. */
static void backoff(struct kube_watch *w)
{
	struct pollfd p = {.fd = w->stop_fd, .events = POLLIN};
	unsigned int ms;

	w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : KUBE_WATCH_BACKOFF_MIN_MS;
	if (w->backoff_ms > KUBE_WATCH_BACKOFF_MAX_MS)
		w->backoff_ms = KUBE_WATCH_BACKOFF_MAX_MS;
	ms = w->backoff_ms / 2 + (unsigned int)rand_r(&w->seed) % (w->backoff_ms / 2 + 1);
	(void)poll(&p, 1, (int)ms);
}

/* The collection's path with the query of a list or of a watch from w->rv. */
static int build_path(struct kube_watch *w, bool watch, unsigned int timeout_sec, char *buf,
		      size_t size)
{
	char sel[512] = "";
	int n;

	if (w->field_selector)
		snprintf(sel, sizeof(sel), "&fieldSelector=%s", w->field_selector);
	if (!watch)
		n = snprintf(buf, size, "%s?limit=500%s", w->path, sel);
	else
		n = snprintf(buf, size,
			     "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s"
			     "&timeoutSeconds=%u%s",
			     w->path, w->rv,
			     w->watch_timeout_sec ?: 300 + (unsigned int)rand_r(&w->seed) % 300,
			     sel);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Say what an HTTP status means for the request it answered. */
static void http_error(struct kube_watch *w, const char *verb, long status, const char *msg)
{
	const char *hint = "";

	if (status == 401)
		hint = " (the credentials were rejected: an expired or revoked token, or a "
		       "certificate the server does not trust)";
	else if (status == 403)
		hint = " (RBAC: see deploy/kubernetes/rbac.yaml)";
	else if (status == 404)
		hint = " (is the CRD installed?)";
	set_error(w, "%s: HTTP %ld: %s%s", verb, status, msg, hint);
}

static int do_list(struct kube_watch *w)
{
	_cleanup_free_ char *body = NULL, *rv = NULL;
	struct kube_object *items = NULL;
	char path[1024], why[512] = "";
	size_t len = 0, n = 0;
	long status = 0;
	int r;

	r = build_path(w, false, 0, path, sizeof(path));
	if (r < 0)
		return r;
	r = kube_http_get(w->http, path, KUBE_WATCH_LIST_TIMEOUT_MS, &body, &len, &status, why,
			  sizeof(why));
	if (r == -ECANCELED)
		return r;
	if (r < 0) {
		set_error(w, "list: %s", why);
		return r;
	}
	if (status != 200) {
		char msg[512];

		http_error(w, "list", status, kube_status_message(body, len, msg, sizeof(msg)));
		return -EPROTO;
	}
	r = kube_list_parse(body, len, w->kind, w->api_version, &items, &n, &rv);
	if (r < 0) {
		set_error(w, "list: the reply is not a list");
		return r;
	}
	qsort(items, n, sizeof(*items), cmp_object);
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_objects; i++)
		kube_object_clear(&w->objects[i]);
	free(w->objects);
	w->objects = items;
	w->n_objects = n;
	w->generation++;
	if (!w->synced)
		log_info("%s: listed %zu at resourceVersion %s; watching", w->what, n, rv);
	else
		log_debug("%s: listed %zu at resourceVersion %s", w->what, n, rv);
	w->synced = true;
	pthread_mutex_unlock(&w->lock);
	free(w->rv);
	w->rv = steal_ptr(rv);
	clear_error(w);
	notify(w);
	return 0;
}

/* ADDED / MODIFIED: insert or replace; DELETED: remove. Under the lock. */
static int apply_event(struct kube_watch *w, struct kube_event *e)
{
	size_t i;

	for (i = 0; i < w->n_objects; i++)
		if (cmp_object(&w->objects[i], &e->object) == 0)
			break;
	if (e->type == KUBE_EVENT_DELETED) {
		if (i == w->n_objects)
			return 0;
		kube_object_clear(&w->objects[i]);
		memmove(&w->objects[i], &w->objects[i + 1],
			(w->n_objects - i - 1) * sizeof(*w->objects));
		w->n_objects--;
		return 1;
	}
	if (i < w->n_objects) {
		kube_object_clear(&w->objects[i]);
		w->objects[i] = e->object;
	} else {
		struct kube_object *n = realloc(w->objects, (w->n_objects + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		w->objects = n;
		w->objects[w->n_objects++] = e->object;
		qsort(w->objects, w->n_objects, sizeof(*w->objects), cmp_object);
	}
	e->object = (struct kube_object){};
	return 1;
}

static int on_line(void *userdata, const char *line, size_t len)
{
	struct kube_watch *w = userdata;
	struct kube_event e = {};
	int r;

	if (!line) { /* the watch is open: the server answers, whether or not events come */
		clear_error(w);
		return 0;
	}
	r = kube_event_parse(line, len, w->kind, w->api_version, &e);
	if (r < 0) {
		log_warnx("%s: a watch event that does not parse: dropping the watch", w->what);
		return r;
	}
	switch (e.type) {
	case KUBE_EVENT_ERROR:
		if (e.code == 410) {
			log_info("%s: the watch expired (410 Gone: %s); listing again", w->what,
				 e.message);
			w->gone = true;
			r = 1;
		} else {
			set_error(w, "watch: error %d: %s", e.code, e.message);
			r = -EPROTO;
		}
		break;
	case KUBE_EVENT_BOOKMARK:
		free(w->rv);
		w->rv = steal_ptr(e.object.resource_version);
		r = 0;
		break;
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
	case KUBE_EVENT_DELETED: {
		char *rv = strdup(e.object.resource_version);

		pthread_mutex_lock(&w->lock);
		r = apply_event(w, &e);
		if (r > 0)
			w->generation++;
		pthread_mutex_unlock(&w->lock);
		if (!rv)
			r = -ENOMEM;
		if (r < 0) {
			free(rv);
			break;
		}
		log_debug("%s: watch: %s (resourceVersion %s)", w->what,
			  e.type == KUBE_EVENT_DELETED ? "deleted" : "changed", rv);
		if (*rv) {
			free(w->rv);
			w->rv = rv;
		} else {
			free(rv);
		}
		if (r > 0)
			notify(w);
		r = 0;
		break;
	}
	}
	kube_event_clear(&e);
	return r;
}

static int do_watch(struct kube_watch *w)
{
	/* As client-go: a random timeout in [5, 10) min spreads the reconnects of a fleet. */
	unsigned int timeout = w->watch_timeout_sec ?: 300 + (unsigned int)rand_r(&w->seed) % 300;
	char path[1024], why[512] = "";
	long status = 0;
	int r;

	r = build_path(w, true, timeout, path, sizeof(path));
	if (r < 0)
		return r;
	w->gone = false;
	r = kube_http_stream(w->http, path, timeout + KUBE_WATCH_IDLE_SEC, on_line, w, &status, why,
			     sizeof(why));
	if (r == -ECANCELED || w->gone)
		return r;
	if (r == -ETIMEDOUT) {
		log_info("%s: the watch outlived its timeout by %u s in silence; resuming it",
			 w->what, KUBE_WATCH_IDLE_SEC);
		return 0;
	}
	if (r < 0 && r != -EPROTO) {
		set_error(w, "watch: %s", why);
		return r;
	}
	if (r < 0)
		return r; /* said by on_line() */
	if (status == 410) {
		log_info("%s: resourceVersion %s is gone (410); listing again", w->what, w->rv);
		w->gone = true;
		return 0;
	}
	if (status != 200) {
		http_error(w, "watch", status, why);
		return -EPROTO;
	}
	clear_error(w);
	return 0; /* the server ended it: timeoutSeconds */
}

static void *watch_main(void *arg)
{
	struct kube_watch *w = arg;

	while (!atomic_load(&w->stop)) {
		int r;

		if (!w->rv) {
			r = do_list(w);
		} else {
			r = do_watch(w);
			if (w->gone) {
				free(w->rv);
				w->rv = NULL;
				continue;
			}
		}
		if (r < 0 && !atomic_load(&w->stop))
			backoff(w);
	}
	return NULL;
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int kube_watch_start(const struct kube_config *cfg, const struct kube_watch_spec *spec,
		     struct kube_watch **out)
{
	struct kube_watch *w = calloc(1, sizeof(*w));
	char why[512] = "";
	int r;

	if (!w)
		return -ENOMEM;
	w->cfg = cfg;
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->watch_timeout_sec = spec->watch_timeout_sec;
	w->seed = (unsigned int)getpid() ^ (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)w;
	pthread_mutex_init(&w->lock, NULL);
	atomic_init(&w->stop, false);
	if (w->event_fd < 0 || w->stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = dup_opt(spec->what, &w->what)) < 0 || (r = dup_opt(spec->path, &w->path)) < 0 ||
	    (r = dup_opt(spec->field_selector, &w->field_selector)) < 0 ||
	    (r = dup_opt(spec->kind, &w->kind)) < 0 ||
	    (r = dup_opt(spec->api_version, &w->api_version)) < 0)
		goto fail;
	r = kube_http_new(cfg, &w->stop, &w->http, why, sizeof(why));
	if (r < 0) {
		log_warnx("%s: %s", spec->what, why);
		goto fail;
	}
	r = -pthread_create(&w->thread, NULL, watch_main, w);
	if (r < 0) {
		log_warn(r, "%s: cannot start the watch thread", spec->what);
		goto fail;
	}
	w->started = true;
	*out = w;
	return 0;
fail:
	kube_watch_free(w);
	return r;
}

int kube_watch_fd(const struct kube_watch *w)
{
	return w->event_fd;
}

int kube_watch_take(struct kube_watch *w, struct kube_watch_state *out)
{
	struct kube_watch_state s = {};
	uint64_t v;
	int r = 0;

	(void)!read(w->event_fd, &v, sizeof(v));
	pthread_mutex_lock(&w->lock);
	s.generation = w->generation;
	s.synced = w->synced;
	snprintf(s.error, sizeof(s.error), "%s", w->error);
	s.objects = calloc(w->n_objects + 1, sizeof(*s.objects));
	if (!s.objects)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < w->n_objects; i++) {
		struct kube_object *d = &s.objects[i];
		const struct kube_object *o = &w->objects[i];

		d->namespace = strdup(o->namespace);
		d->name = strdup(o->name);
		d->resource_version = strdup(o->resource_version);
		d->json = strdup(o->json);
		s.n_objects = i + 1;
		if (!d->namespace || !d->name || !d->resource_version || !d->json)
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		kube_watch_state_clear(&s);
		return r;
	}
	*out = s;
	return 0;
}

void kube_watch_free(struct kube_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	if (w->started) {
		atomic_store(&w->stop, true);
		(void)!write(w->stop_fd, &one, sizeof(one));
		pthread_join(w->thread, NULL);
	}
	kube_http_free(w->http);
	for (size_t i = 0; i < w->n_objects; i++)
		kube_object_clear(&w->objects[i]);
	free(w->objects);
	pthread_mutex_destroy(&w->lock);
	if (w->event_fd >= 0)
		close(w->event_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w->what);
	free(w->path);
	free(w->field_selector);
	free(w->kind);
	free(w->api_version);
	free(w->rv);
	free(w);
}
