/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kube_events: the pure half of the Node's Events (kube_recorder.h posts them): the
 * core/v1 Event document, and the correlator that decides, with a clock handed in, whether
 * one occurrence becomes a new Event, a count added to an Event already posted, or nothing.
 * No I/O, no clock, no threads: unit-tested with an injected time.
 *
 * Why core/v1 and not events.k8s.io/v1: `kubectl describe node` searches core/v1 Events
 * by involvedObject (name, kind, and uid = the Node's uid or, as kubelet writes it, the
 * Node's name) and prints count, firstTimestamp and lastTimestamp ("x3 over 5m"): the
 * fields client-go's EventRecorder writes and kubelet's own Node events carry. Both APIs
 * store the same objects, and an events.k8s.io/v1 Event would need eventTime, series,
 * reportingController and reportingInstance to say the same.
 *
 * The limits, as client-go's EventCorrelator keeps them (tools/record/events_cache.go),
 * for the one object mdevd reports on, its Node:
 *   - the same type, reason and message within KUBE_EVENTS_AGGREGATE_SEC of the Event's
 *     last posting is aggregated into that Event: count + 1 and lastTimestamp, a PATCH,
 *     not a new object; after the window a new Event is posted;
 *   - every post and every PATCH takes a token from one bucket per node: a burst of
 *     KUBE_EVENTS_BURST, then one token per KUBE_EVENTS_REFILL_SEC (client-go's spam
 *     filter: 25, one per 5 minutes); an occurrence without a token is dropped and counted;
 *   - KUBE_EVENTS_CACHE distinct messages are remembered (least recently seen goes first).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KUBE_EVENTS_AGGREGATE_SEC 600
#define KUBE_EVENTS_BURST	  25
#define KUBE_EVENTS_REFILL_SEC	  300
#define KUBE_EVENTS_CACHE	  64
/* Messages longer than this are cut (the API server's limit is 1 kB for a note). */
#define KUBE_EVENTS_MESSAGE_MAX 1024
/* Where Events about cluster-scoped objects go, as kubelet's Node events do. */
#define KUBE_EVENTS_NAMESPACE "default"

enum kube_events_type {
	KUBE_EVENTS_NORMAL,
	KUBE_EVENTS_WARNING,
};

/* What the correlator decided for one occurrence. */
enum kube_events_verdict {
	KUBE_EVENTS_CREATE,	  /* post a new Event named @name */
	KUBE_EVENTS_AGGREGATE,	  /* PATCH the Event @name: @count, lastTimestamp */
	KUBE_EVENTS_RATE_LIMITED, /* no token: nothing is sent */
};

/* One remembered Event. */
struct kube_events_entry {
	char *key;	       /* type, reason, message (owned) */
	char name[128];	       /* metadata.name of the Event posted */
	uint64_t first_ms;     /* its firstTimestamp (realtime, ms) */
	uint64_t last_ms;      /* its last occurrence that was sent */
	uint64_t last_seen_ms; /* the cache's order */
	unsigned int count;    /* its count as last sent */
};

struct kube_events_correlator {
	struct kube_events_entry entries[KUBE_EVENTS_CACHE];
	size_t n;
	/* The node's bucket, in milliseconds of refill: a token is KUBE_EVENTS_REFILL_SEC s. */
	uint64_t credit_ms;
	uint64_t refilled_ms;
	unsigned int seq; /* tells apart the names of Events made in one millisecond */
	bool started;
};

/* The decision and what it needs: copied out of the correlator. */
struct kube_events_decision {
	enum kube_events_verdict verdict;
	char name[128];
	unsigned int count;
	uint64_t first_ms, last_ms;
};

/*
 * kube_events_correlate - decide for one occurrence of (@type, @reason, @message) at
 * @now_ms (realtime milliseconds; tests hand their own) on the Node @node (names new
 * Events "<node>.<hex nanoseconds>", as client-go does). Fills @out. Returns 0 or -ENOMEM
 * (nothing remembered: @out says CREATE all the same).
 */
int kube_events_correlate(struct kube_events_correlator *c, const char *node, uint64_t now_ms,
			  enum kube_events_type type, const char *reason, const char *message,
			  struct kube_events_decision *out);

/*
 * kube_events_forget - the Event @name was not stored (the post failed): the next
 * occurrence posts a new one instead of patching a missing one.
 */
void kube_events_forget(struct kube_events_correlator *c, const char *name);

/* kube_events_correlator_release - free what @c remembers and empty it. */
void kube_events_correlator_release(struct kube_events_correlator *c);

/* The Node an Event is about. */
struct kube_events_node {
	const char *name;
	const char *uid; /* metadata.uid when known; NULL or "": the name, as kubelet does */
};

/*
 * kube_events_json - the core/v1 Event for @d (CREATE) as a new NUL-terminated document
 * into @out: involvedObject the Node, source {component: "mdevd", host: the node}, @type,
 * @reason, @message (cut to KUBE_EVENTS_MESSAGE_MAX), firstTimestamp, lastTimestamp, count.
 * kube_events_patch_json - the merge patch that aggregates (AGGREGATE): count,
 * lastTimestamp, message. Return 0 or -ENOMEM.
 */
int kube_events_json(const struct kube_events_node *node, enum kube_events_type type,
		     const char *reason, const char *message, const struct kube_events_decision *d,
		     char **out);
int kube_events_patch_json(const char *message, const struct kube_events_decision *d, char **out);

/* kube_events_time - @ms as RFC 3339 UTC with seconds ("2024-05-01T12:00:00Z") into @buf. */
void kube_events_time(uint64_t ms, char *buf, size_t size);
