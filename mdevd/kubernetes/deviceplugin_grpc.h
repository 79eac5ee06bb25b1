/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp_grpc: the gRPC adapter of the device plugins. deviceplugin_grpc.c is the only file that
 * includes <grpc/grpc.h>; this header speaks bytes and status codes only.
 *
 * Threads: dp_grpc_new() starts one thread that drives one completion queue for every
 * endpoint (server sockets and Register client calls alike). That thread calls the
 * endpoint's handler (below) for each request, under the endpoint's lock, one call at a
 * time; the handler must not block and must not call back into this adapter. Everything
 * else here is called from the daemon's main thread. Signals must be blocked in every
 * thread before dp_grpc_new() (grpc_init() starts gRPC's own threads, which inherit the
 * mask).
 *
 * Source of truth: gRPC core's C API (grpc/grpc.h, 1.51) and the device-plugin API,
 * k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gRPC status codes, with the values of grpc/status.h. */
enum dp_status {
	DP_STATUS_OK = 0,
	DP_STATUS_INVALID_ARGUMENT = 3,
	DP_STATUS_NOT_FOUND = 5,
	DP_STATUS_FAILED_PRECONDITION = 9,
	DP_STATUS_UNIMPLEMENTED = 12,
	DP_STATUS_INTERNAL = 13,
	DP_STATUS_UNAVAILABLE = 14,
};

/* The methods of /v1beta1.DevicePlugin/. */
enum dp_rpc {
	DP_RPC_GET_DEVICE_PLUGIN_OPTIONS,
	DP_RPC_LIST_AND_WATCH, /* server stream: answered through dp_grpc_handler.list */
	DP_RPC_GET_PREFERRED_ALLOCATION,
	DP_RPC_ALLOCATE,
	DP_RPC_PRE_START_CONTAINER,
};

/* A serialized protobuf message; malloc'd, owned by whoever holds the struct. */
struct dp_bytes {
	uint8_t *data;
	size_t len;
};

/* What a unary handler answers. */
struct dp_reply {
	enum dp_status status;
	struct dp_bytes msg; /* DP_STATUS_OK: the response message (owned) */
	char *details;	     /* other statuses: the status message (owned); may stay NULL */
};

struct dp_grpc_handler {
	/*
	 * Answer a unary call of @rpc (never DP_RPC_LIST_AND_WATCH) whose request message
	 * is @req, @len (borrowed; not yet parsed: it may be garbage). Fill @reply, which
	 * comes zeroed.
	 */
	void (*call)(void *userdata, enum dp_rpc rpc, const uint8_t *req, size_t len,
		     struct dp_reply *reply);
	/* The current ListAndWatchResponse, in @out (owned by the caller). Returns 0 or -ENOMEM. */
	int (*list)(void *userdata, struct dp_bytes *out);
	/* Optional (NULL: none): kubelet accepted a Register call. Must not block. */
	void (*registered)(void *userdata);
};

struct dp_grpc;
struct dp_grpc_endpoint;

/*
 * dp_grpc_new - grpc_init() and start the completion-queue thread.
 * @out: the adapter on success (dp_grpc_free()). Loads libgrpc on first use (dlopen.h).
 * Returns 0, -ENOMEM, -EOPNOTSUPP or -ENXIO when gRPC cannot be loaded (logged), or -errno.
 */
int dp_grpc_new(struct dp_grpc **out);

/* dp_grpc_free - stop the thread and grpc_shutdown(). Free every endpoint first. NULL: no-op. */
void dp_grpc_free(struct dp_grpc *g);

/*
 * dp_grpc_endpoint_new - serve /v1beta1.DevicePlugin on the unix socket @socket_path
 * (a stale socket file there is replaced). The handler and @userdata (borrowed) are
 * used until dp_grpc_endpoint_free() returns.
 * @out: the endpoint on success. Returns 0, -ENOMEM, -ENAMETOOLONG or -EADDRINUSE (bind
 * failed; gRPC logs why).
 */
int dp_grpc_endpoint_new(struct dp_grpc *g, const char *socket_path,
			 const struct dp_grpc_handler *h, void *userdata,
			 struct dp_grpc_endpoint **out);

/*
 * dp_grpc_endpoint_changed - the handler's list changed: every open ListAndWatch stream
 * gets the new message (a stream still sending gets it once that send is done; versions
 * in between are skipped, since each message replaces the whole list).
 */
void dp_grpc_endpoint_changed(struct dp_grpc_endpoint *ep);

/*
 * dp_grpc_endpoint_register - call /v1beta1.Registration/Register on @kubelet_socket with
 * the RegisterRequest @req (copied). Asynchronous: the endpoint keeps serving meanwhile
 * (kubelet calls GetDevicePluginOptions back before it answers). A failed attempt is
 * retried with backoff (100 ms doubling to 10 s) until one succeeds; calling this again
 * starts over at once. @name names the endpoint in log messages (copied).
 * Returns 0 or -ENOMEM.
 */
int dp_grpc_endpoint_register(struct dp_grpc_endpoint *ep, const char *kubelet_socket,
			      const char *name, const uint8_t *req, size_t len);

/* dp_grpc_endpoint_registered - has a Register call succeeded since the last register? */
bool dp_grpc_endpoint_registered(struct dp_grpc_endpoint *ep);

/*
 * dp_grpc_endpoint_free - stop serving and remove the socket file (when it is still ours).
 * @flush: let each open ListAndWatch stream receive the handler's current list (call
 * dp_grpc_endpoint_changed() first with an empty list) and end it with status OK, waiting
 * up to a second for slow readers; false: cancel every call at once (kubelet is gone).
 * No handler runs after this returns. NULL is a no-op.
 */
void dp_grpc_endpoint_free(struct dp_grpc_endpoint *ep, bool flush);
