/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kube_recorder: posts what matters on this node as Kubernetes Events on its Node (the
 * pure half, the document and the limits, is kube_events.h), so that `kubectl describe
 * node` shows them beside the capacity. Only `mdevd run` with API access (--kubeconfig or
 * in-cluster) and a node name makes one; without, nothing is posted.
 *
 * Threads. kube_recorder_event() is called from any thread (the event loop, the vfio-pci
 * worker) and never blocks on the network: it appends the occurrence to a bounded queue
 * (KUBE_RECORDER_QUEUE_MAX; a full queue drops it, counted) under a mutex held for the
 * append, and wakes the recorder's own thread. That thread correlates each occurrence
 * (kube_events_correlate(): aggregate, rate limit) and POSTs a new Event to
 * /api/v1/namespaces/default/events or PATCHes the count of the one it aggregates into,
 * one request at a time, each bounded by KUBE_RECORDER_TIMEOUT_MS. A request that fails is
 * not retried (the next occurrence of the same message posts again); failures are counted
 * and logged once until one succeeds again.
 */
#pragma once

#include <stdint.h>

#include "kubernetes/kube_events.h"
#include "kubernetes/kubeapi.h"

#define KUBE_RECORDER_QUEUE_MAX	 64
#define KUBE_RECORDER_TIMEOUT_MS 10000

/* The reasons mdevd reports (CamelCase, as Kubernetes' own). */
#define KUBE_REASON_POLICY_REJECTED    "PolicyRejected"
#define KUBE_REASON_DEVICE_UNHEALTHY   "DeviceUnhealthy"
#define KUBE_REASON_MDEV_KEPT_IN_USE   "MdevKeptInUse"
#define KUBE_REASON_HOST_OWNED_REFUSED "HostOwnedRefused"
#define KUBE_REASON_VFIO_REFUSED       "VfioBindRefused"

struct kube_recorder;

/*
 * kube_recorder_start - a recorder for the Node @node (copied) through @cfg (borrowed: it
 * must outlive the recorder). @counts (borrowed; may be NULL): METRICS_NODE_EVENT_RESULTS
 * counters (daemon/metrics.h), counted with atomics. Call with the signals the loop reads
 * blocked (the thread inherits the mask). Returns 0, -EOPNOTSUPP / -ENXIO (libcurl cannot
 * be loaded: logged), -ENOMEM or -errno.
 */
int kube_recorder_start(const struct kube_config *cfg, const char *node, uint64_t *counts,
			struct kube_recorder **out);

/* kube_recorder_set_uid - the Node's metadata.uid once the watch saw it (copied; any thread). */
void kube_recorder_set_uid(struct kube_recorder *r, const char *uid);

/*
 * kube_recorder_event - report one occurrence (any thread; never blocks on the network).
 * @r NULL: nothing (no API access). The message is formatted from @fmt.
 */
void kube_recorder_event(struct kube_recorder *r, enum kube_events_type type, const char *reason,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * kube_recorder_free - stop: the request in flight ends within about a second, what is
 * still queued is dropped (not counted). NULL: no-op.
 */
void kube_recorder_free(struct kube_recorder *r);
