/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics registry, its snapshot and the exposition text; see metrics.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "mdevd/macro.h"

static const double rpc_bounds[] = METRICS_RPC_BUCKETS;
static const double reconcile_bounds[] = METRICS_RECONCILE_BUCKETS;
_Static_assert(ARRAY_SIZE(rpc_bounds) <= METRICS_MAX_BUCKETS, "too many buckets");
_Static_assert(ARRAY_SIZE(reconcile_bounds) <= METRICS_MAX_BUCKETS, "too many buckets");

/* A growable text; a failed append marks it failed and later ones do nothing. */
struct text {
	char *data;
	size_t len, cap;
	bool failed;
};

struct metrics_snapshot {
	struct text t;
	unsigned int refs; /* under metrics.lock once published */
};

struct metrics {
	pthread_mutex_t lock;
	pthread_cond_t pong_cond;
	struct metrics_snapshot *snap; /* under lock */
	uint64_t ping_seq, pong_seq;   /* under lock */
	int ping_fd;
	unsigned int live_timeout_msec;
	char *version;
	double start_time; /* seconds since the epoch */
	struct metrics_counters c;
	struct metrics_resource *resources; /* newest first; __atomic loads */
};

static void text_vprintf(struct text *t, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_copy(aq, ap);
		n = vsnprintf(t->data ? t->data + t->len : NULL, t->cap - t->len, fmt, aq);
		va_end(aq);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		char *p;

		while (cap - t->len <= (size_t)n)
			cap *= 2;
		p = realloc(t->data, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->data = p;
		t->cap = cap;
	}
}

static void text_printf(struct text *t, const char *fmt, ...) _printf_(2, 3);
static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_vprintf(t, fmt, ap);
	va_end(ap);
}

struct metrics *metrics_new(const char *version, unsigned int live_timeout_msec)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct timespec ts;

	if (!m)
		return NULL;
	m->version = strdup(version);
	m->ping_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!m->version || m->ping_fd < 0) {
		int saved = m->version ? errno : ENOMEM;

		if (m->ping_fd >= 0)
			close(m->ping_fd);
		free(m->version);
		free(m);
		errno = saved;
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->pong_cond, NULL);
	m->live_timeout_msec = live_timeout_msec;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return m;
}

static void snapshot_unref_locked(struct metrics_snapshot *s)
{
	if (s && --s->refs == 0) {
		free(s->t.data);
		free(s);
	}
}

void metrics_free(struct metrics *m)
{
	struct metrics_resource *r, *next;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	snapshot_unref_locked(m->snap);
	pthread_mutex_unlock(&m->lock);
	for (r = m->resources; r; r = next) {
		next = r->next;
		free(r->name);
		free(r);
	}
	close(m->ping_fd);
	pthread_cond_destroy(&m->pong_cond);
	pthread_mutex_destroy(&m->lock);
	free(m->version);
	free(m);
}

struct metrics_counters *metrics_counters(struct metrics *m)
{
	return &m->c;
}

struct metrics_resource *metrics_resource_get(struct metrics *m, const char *name)
{
	struct metrics_resource *r;

	for (r = m->resources; r; r = r->next)
		if (streq(r->name, name))
			return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->name = strdup(name);
	if (!r->name) {
		free(r);
		return NULL;
	}
	r->next = m->resources;
	/* Release: a scrape that sees the new head sees the block filled in. */
	__atomic_store_n(&m->resources, r, __ATOMIC_RELEASE);
	return r;
}

void metrics_observe(struct metrics_histogram *h, const double *bounds, size_t n_bounds,
		     uint64_t nsec)
{
	double s = (double)nsec / 1e9;
	size_t i = 0;

	while (i < n_bounds && s > bounds[i])
		i++;
	metrics_add(&h->counts[i], 1);
	metrics_add(&h->sum_nsec, nsec);
}

void metrics_rpc_done(struct metrics_resource *r, enum metrics_rpc rpc,
		      enum metrics_rpc_result result, uint64_t nsec)
{
	if (!r)
		return;
	metrics_add(&r->calls[rpc][result], 1);
	metrics_observe(&r->latency[rpc], rpc_bounds, ARRAY_SIZE(rpc_bounds), nsec);
}

struct metrics_snapshot *metrics_snapshot_new(void)
{
	return calloc(1, sizeof(struct metrics_snapshot));
}

void metrics_snapshot_printf(struct metrics_snapshot *s, const char *fmt, ...)
{
	va_list ap;

	if (!s)
		return;
	va_start(ap, fmt);
	text_vprintf(&s->t, fmt, ap);
	va_end(ap);
}

int metrics_publish(struct metrics *m, struct metrics_snapshot *s)
{
	if (!s)
		return -ENOMEM;
	if (s->t.failed) {
		free(s->t.data);
		free(s);
		return -ENOMEM;
	}
	s->refs = 1;
	pthread_mutex_lock(&m->lock);
	snapshot_unref_locked(m->snap);
	m->snap = s;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void metrics_escape_label(const char *value, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *c = value; *c && n + 3 < size; c++) {
		if (*c == '\\' || *c == '"' || *c == '\n') {
			buf[n++] = '\\';
			buf[n++] = *c == '\n' ? 'n' : *c;
		} else {
			buf[n++] = *c;
		}
	}
	buf[n] = '\0';
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one series without labels. */
static void scalar(struct text *t, const char *name, const char *type, const char *help, uint64_t v)
{
	family(t, name, type, help);
	text_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

/* A histogram's series; @labels is "" or 'a="b",' (with the trailing comma). */
static void histogram(struct text *t, const char *name, const char *labels,
		      const struct metrics_histogram *h, const double *bounds, size_t n)
{
	uint64_t cum = 0;
	char lab[512];

	for (size_t i = 0; i < n; i++) {
		cum += load(&h->counts[i]);
		text_printf(t, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i],
			    (unsigned long long)cum);
	}
	cum += load(&h->counts[n]);
	text_printf(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
	/* Without the trailing comma for _sum and _count. */
	snprintf(lab, sizeof(lab), "%s", labels);
	if (*lab)
		lab[strlen(lab) - 1] = '\0';
	text_printf(t, "%s_sum%s%s%s %.9f\n", name, *lab ? "{" : "", lab, *lab ? "}" : "",
		    (double)load(&h->sum_nsec) / 1e9);
	text_printf(t, "%s_count%s%s%s %llu\n", name, *lab ? "{" : "", lab, *lab ? "}" : "",
		    (unsigned long long)cum);
}

static const char *const rpc_method[METRICS_RPCS] = {
	[METRICS_RPC_ALLOCATE] = "Allocate",
	[METRICS_RPC_PREFERRED] = "GetPreferredAllocation",
};
static const char *const rpc_result[METRICS_RPC_RESULTS] = {
	[METRICS_RPC_OK] = "ok",
	[METRICS_RPC_INVALID_ARGUMENT] = "invalid_argument",
	[METRICS_RPC_FAILED_PRECONDITION] = "failed_precondition",
	[METRICS_RPC_OTHER_ERROR] = "error",
};

static void render_resources(struct metrics *m, struct text *t)
{
	struct metrics_resource *head = __atomic_load_n(&m->resources, __ATOMIC_ACQUIRE), *r;
	char name[512], labels[600];

	family(t, "mdevd_device_plugin_registered", "gauge",
	       "1 when kubelet accepted the served plugin's last Register call, else 0.");
	for (r = head; r; r = r->next) {
		if (!load(&r->served))
			continue;
		metrics_escape_label(r->name, name, sizeof(name));
		text_printf(t, "mdevd_device_plugin_registered{resource=\"%s\"} %llu\n", name,
			    (unsigned long long)load(&r->registered));
	}
	family(t, "mdevd_device_plugin_registrations_total", "counter",
	       "Register calls kubelet accepted (the first and every re-registration).");
	for (r = head; r; r = r->next) {
		metrics_escape_label(r->name, name, sizeof(name));
		text_printf(t, "mdevd_device_plugin_registrations_total{resource=\"%s\"} %llu\n",
			    name, (unsigned long long)load(&r->registrations));
	}
	family(t, "mdevd_device_plugin_reregistrations_total", "counter",
	       "Register calls kubelet accepted after the first (kubelet restarts).");
	for (r = head; r; r = r->next) {
		uint64_t n = load(&r->registrations);

		metrics_escape_label(r->name, name, sizeof(name));
		text_printf(t, "mdevd_device_plugin_reregistrations_total{resource=\"%s\"} %llu\n",
			    name, (unsigned long long)(n ? n - 1 : 0));
	}
	family(t, "mdevd_device_plugin_requests_total", "counter",
	       "Allocate and GetPreferredAllocation calls answered, by method and result.");
	for (r = head; r; r = r->next) {
		metrics_escape_label(r->name, name, sizeof(name));
		for (size_t k = 0; k < METRICS_RPCS; k++)
			for (size_t j = 0; j < METRICS_RPC_RESULTS; j++)
				text_printf(t,
					    "mdevd_device_plugin_requests_total{resource=\"%s\","
					    "method=\"%s\",result=\"%s\"} %llu\n",
					    name, rpc_method[k], rpc_result[j],
					    (unsigned long long)load(&r->calls[k][j]));
	}
	family(t, "mdevd_device_plugin_request_duration_seconds", "histogram",
	       "Time to answer Allocate and GetPreferredAllocation, inside mdevd.");
	for (r = head; r; r = r->next) {
		metrics_escape_label(r->name, name, sizeof(name));
		for (size_t k = 0; k < METRICS_RPCS; k++) {
			snprintf(labels, sizeof(labels), "resource=\"%s\",method=\"%s\",", name,
				 rpc_method[k]);
			histogram(t, "mdevd_device_plugin_request_duration_seconds", labels,
				  &r->latency[k], rpc_bounds, ARRAY_SIZE(rpc_bounds));
		}
	}
}

static void render_counters(struct metrics *m, struct text *t)
{
	const struct metrics_counters *c = &m->c;
	char why[8];

	family(t, "mdevd_build_info", "gauge", "Always 1; the version label says which mdevd.");
	text_printf(t, "mdevd_build_info{version=\"%s\"} 1\n", m->version);
	family(t, "mdevd_start_time_seconds", "gauge",
	       "When the daemon started, in seconds since the Unix epoch.");
	text_printf(t, "mdevd_start_time_seconds %.3f\n", m->start_time);
	scalar(t, "mdevd_ready", "gauge",
	       "1 when the policy in force was applied and every plugin is "
	       "registered.",
	       metrics_ready(m, why, sizeof(why)) ? 1 : 0);
	scalar(t, "mdevd_reconciles_total", "counter", "Reconciles run.", load(&c->reconciles));
	scalar(t, "mdevd_reconcile_failures_total", "counter",
	       "Reconciles that could not read the node, build the pools or "
	       "update the plugins.",
	       load(&c->reconcile_failures));
	family(t, "mdevd_reconcile_duration_seconds", "histogram",
	       "Time a reconcile took: apply, read the node, serve.");
	histogram(t, "mdevd_reconcile_duration_seconds", "", &c->reconcile_duration,
		  reconcile_bounds, ARRAY_SIZE(reconcile_bounds));
	family(t, "mdevd_policy_reloads_total", "counter",
	       "Policy reloads, by result: ok (taken) or rejected (the last good one kept).");
	text_printf(t, "mdevd_policy_reloads_total{result=\"ok\"} %llu\n",
		    (unsigned long long)load(&c->reloads_ok));
	text_printf(t, "mdevd_policy_reloads_total{result=\"rejected\"} %llu\n",
		    (unsigned long long)load(&c->reloads_rejected));
	scalar(t, "mdevd_policy_generation", "gauge",
	       "The policy generation in force: 1 at start, one more per "
	       "accepted reload.",
	       load(&c->generation));
	family(t, "mdevd_apply_actions_total", "counter",
	       "mdev creates and removes the applier ran, by backend, action and result.");
	text_printf(t,
		    "mdevd_apply_actions_total{backend=\"sysfs\",action=\"create\",result=\"ok\"} "
		    "%llu\n",
		    (unsigned long long)load(&c->apply[METRICS_APPLY_CREATED]));
	text_printf(t,
		    "mdevd_apply_actions_total{backend=\"sysfs\",action=\"create\",result=\"no_"
		    "capacity\"} %llu\n",
		    (unsigned long long)load(&c->apply[METRICS_APPLY_NO_CAPACITY]));
	text_printf(t,
		    "mdevd_apply_actions_total{backend=\"sysfs\",action=\"remove\",result=\"ok\"} "
		    "%llu\n",
		    (unsigned long long)load(&c->apply[METRICS_APPLY_REMOVED]));
	family(t, "mdevd_apply_failures_total", "counter",
	       "Apply steps the kernel refused for another reason than capacity.");
	text_printf(t, "mdevd_apply_failures_total{backend=\"sysfs\"} %llu\n",
		    (unsigned long long)load(&c->apply[METRICS_APPLY_FAILED]));
	family(t, "mdevd_in_use_refusals_total", "counter",
	       "mdev removals held back: in use (an open VFIO group or a running domain) or "
	       "reserved (a defined libvirt domain names it).");
	text_printf(t, "mdevd_in_use_refusals_total{reason=\"in_use\"} %llu\n",
		    (unsigned long long)load(&c->apply[METRICS_APPLY_KEPT_IN_USE]));
	text_printf(t, "mdevd_in_use_refusals_total{reason=\"reserved\"} %llu\n",
		    (unsigned long long)load(&c->apply[METRICS_APPLY_KEPT_RESERVED]));
	scalar(t, "mdevd_uevents_total", "counter", "Kernel uevents read and handled.",
	       load(&c->uevents));
	scalar(t, "mdevd_kubelet_restarts_total", "counter",
	       "Times kubelet.sock appeared while mdevd ran (kubelet "
	       "started or restarted; the plugins registered again).",
	       load(&c->kubelet_restarts));
	family(t, "mdevd_node_events_total", "counter",
	       "Occurrences reported as Kubernetes Events on the Node, by result: posted (a new "
	       "Event), aggregated (an Event's count raised), rate_limited, dropped (queue "
	       "full), failed (the API server refused it or could not be reached).");
	for (size_t i = 0; i < METRICS_NODE_EVENT_RESULTS; i++) {
		static const char *const names[METRICS_NODE_EVENT_RESULTS] = {
			[METRICS_NODE_EVENT_POSTED] = "posted",
			[METRICS_NODE_EVENT_AGGREGATED] = "aggregated",
			[METRICS_NODE_EVENT_RATE_LIMITED] = "rate_limited",
			[METRICS_NODE_EVENT_DROPPED] = "dropped",
			[METRICS_NODE_EVENT_FAILED] = "failed",
		};

		text_printf(t, "mdevd_node_events_total{result=\"%s\"} %llu\n", names[i],
			    (unsigned long long)load(&c->node_events[i]));
	}
}

int metrics_render(struct metrics *m, char **out, size_t *len)
{
	struct text t = {};
	struct metrics_snapshot *s;

	render_counters(m, &t);
	render_resources(m, &t);
	pthread_mutex_lock(&m->lock);
	s = m->snap;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&m->lock);
	if (s && s->t.len)
		text_printf(&t, "%.*s", (int)s->t.len, s->t.data);
	pthread_mutex_lock(&m->lock);
	snapshot_unref_locked(s);
	pthread_mutex_unlock(&m->lock);
	if (!t.data) /* nothing at all: cannot happen, the counters always print */
		t.failed = true;
	if (t.failed) {
		free(t.data);
		return -ENOMEM;
	}
	*out = t.data;
	*len = t.len;
	return 0;
}

bool metrics_ready(struct metrics *m, char *why, size_t size)
{
	struct metrics_resource *r = __atomic_load_n(&m->resources, __ATOMIC_ACQUIRE);

	if (!load(&m->c.policy_applied)) {
		if (why)
			snprintf(why, size, "the policy in force was not applied yet");
		return false;
	}
	for (; r; r = r->next) {
		if (load(&r->served) && !load(&r->registered)) {
			if (why)
				snprintf(why, size,
					 "device plugin %s is not registered with kubelet",
					 r->name);
			return false;
		}
	}
	if (why && size)
		why[0] = '\0';
	return true;
}

int metrics_ping_fd(struct metrics *m)
{
	return m->ping_fd;
}

void metrics_pong(struct metrics *m)
{
	uint64_t v;

	while (read(m->ping_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	pthread_mutex_lock(&m->lock);
	m->pong_seq = m->ping_seq;
	pthread_cond_broadcast(&m->pong_cond);
	pthread_mutex_unlock(&m->lock);
}

bool metrics_live(struct metrics *m)
{
	uint64_t one = 1, seq;
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += m->live_timeout_msec / 1000;
	until.tv_nsec += (long)(m->live_timeout_msec % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	seq = ++m->ping_seq;
	if (write(m->ping_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full of unanswered pings; the loop is not reading. */
		pthread_mutex_unlock(&m->lock);
		return false;
	}
	while (m->pong_seq < seq)
		if (pthread_cond_timedwait(&m->pong_cond, &m->lock, &until) == ETIMEDOUT)
			break;
	ok = m->pong_seq >= seq;
	pthread_mutex_unlock(&m->lock);
	return ok;
}
