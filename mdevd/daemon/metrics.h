/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metrics: what `mdevd run --metrics-address` serves, in the Prometheus text exposition
 * format (version 0.0.4), and the /readyz and /livez probes.
 *
 * Threads. Three kinds of writers, one reader:
 *   - the daemon's main thread counts reconciles, reloads, apply steps, uevents and
 *     kubelet restarts, and after every refresh publishes a snapshot: the gauge families
 *     (devices per resource and health, mdevs per parent and type, free capacity, the
 *     policy generation), rendered once into an immutable, reference-counted text;
 *   - the gRPC completion-queue thread counts Allocate and GetPreferredAllocation calls
 *     and their latency, and registrations, in a per-resource block (metrics_resource);
 *   - the HTTP thread (metrics_microhttpd.c) renders a scrape: every counter read with a
 *     relaxed atomic load, plus the current snapshot's text.
 * Counters and histograms are plain uint64_t updated with __atomic builtins; nobody holds a
 * lock while counting or rendering. The one mutex guards the snapshot pointer (held for a
 * pointer swap or a reference count) and the liveness ping. Per-resource blocks are never
 * freed before metrics_free(): a resource that goes away keeps its counters (Prometheus
 * counters do not go backwards), only its gauges leave the snapshot.
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: the mdevd_ prefix, _total
 * on counters, seconds as the unit of time, labels resource, parent, type, backend.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Latency histogram buckets (upper bounds, seconds); a +Inf bucket follows the last. */
#define METRICS_RPC_BUCKETS                                                                        \
	{                                                                                          \
		0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1     \
	}
#define METRICS_RECONCILE_BUCKETS                                                                  \
	{                                                                                          \
		0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30         \
	}
#define METRICS_MAX_BUCKETS 16

struct metrics_histogram {
	uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
	uint64_t sum_nsec;
};

/* The device-plugin RPC results counted, by gRPC status. */
enum metrics_rpc_result {
	METRICS_RPC_OK,
	METRICS_RPC_INVALID_ARGUMENT,
	METRICS_RPC_FAILED_PRECONDITION,
	METRICS_RPC_OTHER_ERROR,
	METRICS_RPC_RESULTS,
};

enum metrics_rpc {
	METRICS_RPC_ALLOCATE,
	METRICS_RPC_PREFERRED,
	METRICS_RPCS,
};

/* One resource's counters; written by the gRPC thread and the main thread. */
struct metrics_resource {
	struct metrics_resource *next; /* the registry's list; never unlinked */
	char *name;		       /* resource name (owned) */
	uint64_t calls[METRICS_RPCS][METRICS_RPC_RESULTS];
	struct metrics_histogram latency[METRICS_RPCS];
	uint64_t registrations;	  /* Register calls kubelet accepted */
	uint64_t register_starts; /* Register calls started (serving, or kubelet restarted) */
	uint64_t served;	  /* 1 while a plugin serves the resource */
	uint64_t registered;	  /* 1 while its last Register was accepted */
};

/* The main thread's counters: apply steps, by what struct apply_result counts. */
enum metrics_apply {
	METRICS_APPLY_CREATED,
	METRICS_APPLY_REMOVED,
	METRICS_APPLY_NO_CAPACITY,
	METRICS_APPLY_FAILED,
	METRICS_APPLY_KEPT_IN_USE,
	METRICS_APPLY_KEPT_RESERVED,
	METRICS_APPLY_KINDS,
};

/* The Node's Events (kubernetes/kube_recorder.h), by what became of each occurrence. */
enum metrics_node_event {
	METRICS_NODE_EVENT_POSTED,	 /* a new Event was created */
	METRICS_NODE_EVENT_AGGREGATED,	 /* an Event's count was raised (PATCH) */
	METRICS_NODE_EVENT_RATE_LIMITED, /* no token in the node's bucket: not sent */
	METRICS_NODE_EVENT_DROPPED,	 /* the queue to the recorder's thread was full */
	METRICS_NODE_EVENT_FAILED,	 /* the API server refused it or could not be reached */
	METRICS_NODE_EVENT_RESULTS,
};

struct metrics;
struct metrics_snapshot;

/*
 * metrics_new - an empty registry. @version: mdevd's version for mdevd_build_info
 * (copied). @live_timeout_msec: how long /livez waits for the event loop to answer.
 * Makes the eventfd the loop must watch (metrics_ping_fd()). Returns the registry, or
 * NULL (ENOMEM, or no eventfd: errno says).
 */
struct metrics *metrics_new(const char *version, unsigned int live_timeout_msec);

/* metrics_free - after the HTTP server stopped and no plugin counts any more. NULL: no-op. */
void metrics_free(struct metrics *m);

/*
 * metrics_resource_get - the counters of @name, made on first use (main thread only).
 * Returns a block that lives as long as @m, or NULL on ENOMEM.
 */
struct metrics_resource *metrics_resource_get(struct metrics *m, const char *name);

/* metrics_rpc_done - count one @rpc call that ended with @result after @nsec (any thread). */
void metrics_rpc_done(struct metrics_resource *r, enum metrics_rpc rpc,
		      enum metrics_rpc_result result, uint64_t nsec);

/* Set or count a field of a resource block or of the registry (any thread). */
static inline void metrics_set(uint64_t *field, uint64_t v)
{
	__atomic_store_n(field, v, __ATOMIC_RELAXED);
}
static inline void metrics_add(uint64_t *field, uint64_t v)
{
	__atomic_fetch_add(field, v, __ATOMIC_RELAXED);
}

/* The main thread's counters (metrics_counters()); all monotonic but generation/ready. */
struct metrics_counters {
	uint64_t reconciles, reconcile_failures;
	struct metrics_histogram reconcile_duration;
	uint64_t reloads_ok, reloads_rejected;
	uint64_t generation; /* gauge: the policy generation in force */
	uint64_t apply[METRICS_APPLY_KINDS];
	uint64_t uevents;	   /* uevents read and handled */
	uint64_t kubelet_restarts; /* kubelet.sock appeared while running */
	uint64_t policy_applied;   /* gauge: 1 once the policy in force was applied */
	/* The recorder's thread and the loop count these (any thread). */
	uint64_t node_events[METRICS_NODE_EVENT_RESULTS];
};

/* metrics_counters - the main thread's counters in @m, to update with metrics_add(). */
struct metrics_counters *metrics_counters(struct metrics *m);

/* metrics_observe - count one @nsec observation into @h with @bounds (any thread). */
void metrics_observe(struct metrics_histogram *h, const double *bounds, size_t n_bounds,
		     uint64_t nsec);

/*
 * Building a snapshot (main thread): metrics_snapshot_new(), then metrics_snapshot_printf()
 * lines of complete gauge families, then metrics_publish(), which takes it over and makes it
 * the one scrapes render; the one it replaces is freed when its last scrape ends.
 * metrics_snapshot_new() returns NULL on ENOMEM; printf on a failed (NULL or out of memory)
 * snapshot is a no-op and metrics_publish() then keeps the old one. Returns 0 or -ENOMEM.
 */
struct metrics_snapshot *metrics_snapshot_new(void);
void metrics_snapshot_printf(struct metrics_snapshot *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int metrics_publish(struct metrics *m, struct metrics_snapshot *s);

/* metrics_escape_label - @value as a label value (\\, \", \n escaped) into @buf. */
void metrics_escape_label(const char *value, char *buf, size_t size);

/*
 * metrics_render - the whole exposition (counters, then the snapshot) as a new
 * NUL-terminated string in *out, its length in *len (any thread; HTTP thread).
 * Returns 0 or -ENOMEM.
 */
int metrics_render(struct metrics *m, char **out, size_t *len);

/*
 * Probes. metrics_ready() (any thread, no lock): the policy in force was applied and every
 * served resource's plugin is registered with kubelet; @why (may be NULL) gets the first
 * reason it is not. metrics_live() (HTTP thread): asks the event loop through the ping
 * eventfd and waits up to the live timeout for metrics_pong(); true when it answered.
 */
bool metrics_ready(struct metrics *m, char *why, size_t size);
bool metrics_live(struct metrics *m);

/* The eventfd the event loop watches (EPOLLIN): on it, call metrics_pong(). Borrowed. */
int metrics_ping_fd(struct metrics *m);
void metrics_pong(struct metrics *m);

/*
 * The HTTP server (metrics_microhttpd.c, the only file that includes <microhttpd.h>).
 * metrics_http_start - serve GET /metrics, /readyz and /livez of @m on @address
 * ("HOST:PORT", "[V6]:PORT" or ":PORT" for every address; PORT 0 picks one) from
 * libmicrohttpd's own thread, which blocks in epoll while no request comes (no timers).
 * Loads libmicrohttpd on first use (dlopen.h). @port_out (may be NULL): the bound port.
 * Returns 0, -EINVAL (@address does not parse; @why says how), -EOPNOTSUPP / -ENXIO
 * (libmicrohttpd cannot be loaded: @why names the package), -EADDRINUSE or another -errno
 * (cannot listen). @why: at least 256 bytes.
 */
struct metrics_http;
int metrics_http_start(struct metrics *m, const char *address, struct metrics_http **out,
		       unsigned int *port_out, char *why, size_t size);
/* metrics_http_stop - stop the thread, close the socket. NULL: no-op. */
void metrics_http_stop(struct metrics_http *h);

/* metrics_parse_address - "HOST:PORT" into a socket address; see metrics_http_start(). */
struct sockaddr_storage;
int metrics_parse_address(const char *address, struct sockaddr_storage *ss, unsigned int *len);
