/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp_grpc: gRPC core's C API behind deviceplugin_grpc.h. One completion queue carries every
 * server call and every Register client call; one thread (cq_thread) drains it and
 * runs the registration retry timers through the queue's own deadline, so nothing
 * polls. Each queued operation carries a struct tag whose done() runs on that thread.
 *
 * Lifetimes: an endpoint is reference-counted; the owner holds one reference until
 * dp_grpc_endpoint_free(), and every call, stream and Register attempt in flight holds
 * one, so a completion that arrives after the owner let go still finds its endpoint.
 * The handler and its userdata are only used under the endpoint's lock, and only until
 * dp_grpc_endpoint_free() returns.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "util/dlopen.h"
#include "kubernetes/deviceplugin_grpc.h"
#include "util/log.h"
#include "mdevd/macro.h"

/*
 * libgrpc and libgpr are loaded by dp_grpc_new() (dlopen.h): the CLI commands never
 * pay for the hundred shared objects gRPC pulls in. Written once, read-only after.
 *
 * The library is gRPC core's own build without TLS, libgrpc_unsecure (same package,
 * libgrpc29; same C API and headers): device plugins speak over unix sockets with
 * insecure credentials, as kubelet does, so OpenSSL, RE2 and the security stack would
 * only be loaded, relocated and initialised for nothing. That is 3.5 MB of the idle
 * daemon's RSS (idle, 8 plugins: 13 812 -> about 10 500 KiB; docs/benchmarks.md).
 */
static struct {
	DLSYM_TYPE(gpr_free) gpr_free;
	DLSYM_TYPE(gpr_inf_future) gpr_inf_future;
	DLSYM_TYPE(gpr_now) gpr_now;
	DLSYM_TYPE(gpr_time_add) gpr_time_add;
	DLSYM_TYPE(gpr_time_from_millis) gpr_time_from_millis;
	DLSYM_TYPE(grpc_byte_buffer_destroy) grpc_byte_buffer_destroy;
	DLSYM_TYPE(grpc_byte_buffer_reader_destroy) grpc_byte_buffer_reader_destroy;
	DLSYM_TYPE(grpc_byte_buffer_reader_init) grpc_byte_buffer_reader_init;
	DLSYM_TYPE(grpc_byte_buffer_reader_readall) grpc_byte_buffer_reader_readall;
	DLSYM_TYPE(grpc_call_cancel) grpc_call_cancel;
	DLSYM_TYPE(grpc_call_details_destroy) grpc_call_details_destroy;
	DLSYM_TYPE(grpc_call_details_init) grpc_call_details_init;
	DLSYM_TYPE(grpc_call_start_batch) grpc_call_start_batch;
	DLSYM_TYPE(grpc_call_unref) grpc_call_unref;
	DLSYM_TYPE(grpc_channel_create) grpc_channel_create;
	DLSYM_TYPE(grpc_channel_create_call) grpc_channel_create_call;
	DLSYM_TYPE(grpc_channel_credentials_release) grpc_channel_credentials_release;
	DLSYM_TYPE(grpc_channel_destroy) grpc_channel_destroy;
	DLSYM_TYPE(grpc_completion_queue_create_for_next) grpc_completion_queue_create_for_next;
	DLSYM_TYPE(grpc_completion_queue_destroy) grpc_completion_queue_destroy;
	DLSYM_TYPE(grpc_completion_queue_next) grpc_completion_queue_next;
	DLSYM_TYPE(grpc_completion_queue_shutdown) grpc_completion_queue_shutdown;
	DLSYM_TYPE(grpc_empty_slice) grpc_empty_slice;
	DLSYM_TYPE(grpc_init) grpc_init;
	DLSYM_TYPE(grpc_insecure_credentials_create) grpc_insecure_credentials_create;
	DLSYM_TYPE(grpc_insecure_server_credentials_create) grpc_insecure_server_credentials_create;
	DLSYM_TYPE(grpc_metadata_array_destroy) grpc_metadata_array_destroy;
	DLSYM_TYPE(grpc_metadata_array_init) grpc_metadata_array_init;
	DLSYM_TYPE(grpc_raw_byte_buffer_create) grpc_raw_byte_buffer_create;
	DLSYM_TYPE(grpc_server_add_http2_port) grpc_server_add_http2_port;
	DLSYM_TYPE(grpc_server_cancel_all_calls) grpc_server_cancel_all_calls;
	DLSYM_TYPE(grpc_server_create) grpc_server_create;
	DLSYM_TYPE(grpc_server_credentials_release) grpc_server_credentials_release;
	DLSYM_TYPE(grpc_server_destroy) grpc_server_destroy;
	DLSYM_TYPE(grpc_server_register_completion_queue) grpc_server_register_completion_queue;
	DLSYM_TYPE(grpc_server_request_call) grpc_server_request_call;
	DLSYM_TYPE(grpc_server_shutdown_and_notify) grpc_server_shutdown_and_notify;
	DLSYM_TYPE(grpc_server_start) grpc_server_start;
	DLSYM_TYPE(grpc_shutdown) grpc_shutdown;
	DLSYM_TYPE(grpc_slice_from_copied_buffer) grpc_slice_from_copied_buffer;
	DLSYM_TYPE(grpc_slice_from_copied_string) grpc_slice_from_copied_string;
	DLSYM_TYPE(grpc_slice_from_static_string) grpc_slice_from_static_string;
	DLSYM_TYPE(grpc_slice_str_cmp) grpc_slice_str_cmp;
	DLSYM_TYPE(grpc_slice_to_c_string) grpc_slice_to_c_string;
	DLSYM_TYPE(grpc_slice_unref) grpc_slice_unref;
} sym;

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static int sym_result;

static void sym_load(void)
{
	void *dl;

	sym_result = dlopen_symbols(&dl, SONAME_GPR, DLSYM_ARG(sym, gpr_free),
				    DLSYM_ARG(sym, gpr_inf_future), DLSYM_ARG(sym, gpr_now),
				    DLSYM_ARG(sym, gpr_time_add),
				    DLSYM_ARG(sym, gpr_time_from_millis), NULL);
	if (sym_result < 0)
		return;
	sym_result = dlopen_symbols(
		&dl, SONAME_GRPC, DLSYM_ARG(sym, grpc_byte_buffer_destroy),
		DLSYM_ARG(sym, grpc_byte_buffer_reader_destroy),
		DLSYM_ARG(sym, grpc_byte_buffer_reader_init),
		DLSYM_ARG(sym, grpc_byte_buffer_reader_readall), DLSYM_ARG(sym, grpc_call_cancel),
		DLSYM_ARG(sym, grpc_call_details_destroy), DLSYM_ARG(sym, grpc_call_details_init),
		DLSYM_ARG(sym, grpc_call_start_batch), DLSYM_ARG(sym, grpc_call_unref),
		DLSYM_ARG(sym, grpc_channel_create), DLSYM_ARG(sym, grpc_channel_create_call),
		DLSYM_ARG(sym, grpc_channel_credentials_release),
		DLSYM_ARG(sym, grpc_channel_destroy),
		DLSYM_ARG(sym, grpc_completion_queue_create_for_next),
		DLSYM_ARG(sym, grpc_completion_queue_destroy),
		DLSYM_ARG(sym, grpc_completion_queue_next),
		DLSYM_ARG(sym, grpc_completion_queue_shutdown), DLSYM_ARG(sym, grpc_empty_slice),
		DLSYM_ARG(sym, grpc_init), DLSYM_ARG(sym, grpc_insecure_credentials_create),
		DLSYM_ARG(sym, grpc_insecure_server_credentials_create),
		DLSYM_ARG(sym, grpc_metadata_array_destroy),
		DLSYM_ARG(sym, grpc_metadata_array_init),
		DLSYM_ARG(sym, grpc_raw_byte_buffer_create),
		DLSYM_ARG(sym, grpc_server_add_http2_port),
		DLSYM_ARG(sym, grpc_server_cancel_all_calls), DLSYM_ARG(sym, grpc_server_create),
		DLSYM_ARG(sym, grpc_server_credentials_release),
		DLSYM_ARG(sym, grpc_server_destroy),
		DLSYM_ARG(sym, grpc_server_register_completion_queue),
		DLSYM_ARG(sym, grpc_server_request_call),
		DLSYM_ARG(sym, grpc_server_shutdown_and_notify), DLSYM_ARG(sym, grpc_server_start),
		DLSYM_ARG(sym, grpc_shutdown), DLSYM_ARG(sym, grpc_slice_from_copied_buffer),
		DLSYM_ARG(sym, grpc_slice_from_copied_string),
		DLSYM_ARG(sym, grpc_slice_from_static_string), DLSYM_ARG(sym, grpc_slice_str_cmp),
		DLSYM_ARG(sym, grpc_slice_to_c_string), DLSYM_ARG(sym, grpc_slice_unref), NULL);
}

static void byte_buffer_destroy(grpc_byte_buffer *bb)
{
	sym.grpc_byte_buffer_destroy(bb);
}

DEFINE_CLEANUP(grpc_byte_buffer, byte_buffer_destroy)

#define REQUESTS_PER_SERVER 8	  /* sym.grpc_server_request_call()s kept outstanding */
#define REGISTER_TIMEOUT_MS 5000  /* one Register attempt */
#define BACKOFF_FIRST_MS    100	  /* first retry after a failed Register */
#define BACKOFF_MAX_MS	    10000 /* retries level off here */
#define FLUSH_GRACE_MS	    1000  /* dp_grpc_endpoint_free(flush): wait for slow readers */

struct tag {
	void (*done)(struct tag *t, bool ok);
};

struct dp_grpc {
	grpc_completion_queue *cq;
	pthread_t thread;
	pthread_mutex_t lock; /* guards the endpoint list */
	struct dp_grpc_endpoint *endpoints;
	/* An endpoint's retry_at was set since the completion-queue thread last looked: it
	 * scans the endpoints only then and when the earliest retry it knows of is due, not
	 * on every completion (three per unary call). */
	atomic_bool timers_changed;
};

struct reg;
struct stream;

struct dp_grpc_endpoint {
	struct dp_grpc *g;
	struct dp_grpc_endpoint *next; /* in g->endpoints */
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	grpc_server *server;
	struct tag shutdown_tag;
	bool shutdown_done;
	bool stopping;
	bool flush;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;

	const struct dp_grpc_handler *h; /* NULL once stopped */
	void *userdata;
	struct stream *streams;

	/* Registration with kubelet. */
	char *kubelet; /* "unix:<path>" */
	char *name;
	uint8_t *reg_req;
	size_t reg_len;
	struct reg *reg; /* the attempt in flight, or NULL */
	bool reg_again;	 /* start a new attempt when the one in flight ends */
	bool registered;
	int64_t retry_at; /* monotonic ms of the next attempt; 0 = none due */
	unsigned int backoff_ms;
	unsigned int failures;
};

/* A unary call (and, until its request arrived, any incoming call). */
struct ucall {
	struct tag tag;
	struct dp_grpc_endpoint *ep;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *in, *out;
	grpc_slice status_details;
	bool has_details;
	int cancelled;
	int rpc; /* enum dp_rpc, or -1: no such method */
};

/* A ListAndWatch stream. */
struct stream {
	struct tag send_tag, close_tag;
	struct dp_grpc_endpoint *ep;
	struct stream *next; /* in ep->streams */
	grpc_call *call;
	grpc_byte_buffer *out;
	int cancelled;
	bool sent_initial; /* initial metadata went with the first message */
	bool sending;	   /* a send batch is in flight */
	bool dirty;	   /* the list changed since the last send */
	bool finished;	   /* status sent (or the client is gone): send nothing more */
	bool closed;	   /* RECV_CLOSE_ON_SERVER completed */
};

/* One Register attempt. */
struct reg {
	struct tag tag;
	struct dp_grpc_endpoint *ep;
	grpc_channel *channel;
	grpc_call *call;
	grpc_metadata_array md_in, trailing;
	grpc_byte_buffer *out, *in;
	grpc_status_code status;
	grpc_slice details;
};

static const char *const methods[] = {
	[DP_RPC_GET_DEVICE_PLUGIN_OPTIONS] = "/v1beta1.DevicePlugin/GetDevicePluginOptions",
	[DP_RPC_LIST_AND_WATCH] = "/v1beta1.DevicePlugin/ListAndWatch",
	[DP_RPC_GET_PREFERRED_ALLOCATION] = "/v1beta1.DevicePlugin/GetPreferredAllocation",
	[DP_RPC_ALLOCATE] = "/v1beta1.DevicePlugin/Allocate",
	[DP_RPC_PRE_START_CONTAINER] = "/v1beta1.DevicePlugin/PreStartContainer",
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static gpr_timespec deadline_in_ms(int64_t ms)
{
	return sym.gpr_time_add(sym.gpr_now(GPR_CLOCK_MONOTONIC),
				sym.gpr_time_from_millis(ms < 0 ? 0 : ms, GPR_TIMESPAN));
}

/* Retry Register on @ep after the current backoff (ep->lock held). */
static void retry_later_locked(struct dp_grpc_endpoint *ep)
{
	ep->retry_at = now_ms() + ep->backoff_ms;
	atomic_store(&ep->g->timers_changed, true);
}

static void ep_ref(struct dp_grpc_endpoint *ep)
{
	atomic_fetch_add(&ep->refs, 1);
}

static void ep_unref(struct dp_grpc_endpoint *ep)
{
	if (atomic_fetch_sub(&ep->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&ep->lock);
	pthread_cond_destroy(&ep->cond);
	free(ep->kubelet);
	free(ep->name);
	free(ep->reg_req);
	free(ep);
}

static grpc_byte_buffer *bytes_to_buffer(const uint8_t *data, size_t len)
{
	grpc_slice s = sym.grpc_slice_from_copied_buffer((const char *)data, len);
	grpc_byte_buffer *bb = sym.grpc_raw_byte_buffer_create(&s, 1);

	sym.grpc_slice_unref(s);
	return bb;
}

/*
 * The bytes of a received message: @bb's own when gRPC holds them in one uncompressed slice
 * (as it does a small message read whole), else a copy of them all (readall), which
 * *@owned then holds: grpc_slice_unref() it when done with the bytes (an empty slice when
 * nothing was copied). Returns 0 or -EIO (a buffer gRPC cannot read).
 */
static int message_bytes(grpc_byte_buffer *bb, grpc_slice *owned, const uint8_t **data, size_t *len)
{
	grpc_byte_buffer_reader reader;
	const grpc_slice *one = &bb->data.raw.slice_buffer.slices[0];

	*owned = sym.grpc_empty_slice();
	if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
	    bb->data.raw.slice_buffer.count == 1) {
		*data = GRPC_SLICE_START_PTR(*one);
		*len = GRPC_SLICE_LENGTH(*one);
		return 0;
	}
	if (!sym.grpc_byte_buffer_reader_init(&reader, bb))
		return -EIO;
	*owned = sym.grpc_byte_buffer_reader_readall(&reader);
	sym.grpc_byte_buffer_reader_destroy(&reader);
	*data = GRPC_SLICE_START_PTR(*owned);
	*len = GRPC_SLICE_LENGTH(*owned);
	return 0;
}

/* ---- server side: unary calls ------------------------------------------------------ */

static void request_call(struct dp_grpc_endpoint *ep);

static void ucall_free(struct ucall *u)
{
	if (u->call)
		sym.grpc_call_unref(u->call);
	sym.grpc_call_details_destroy(&u->details);
	sym.grpc_metadata_array_destroy(&u->md);
	if (u->in)
		sym.grpc_byte_buffer_destroy(u->in);
	if (u->out)
		sym.grpc_byte_buffer_destroy(u->out);
	if (u->has_details)
		sym.grpc_slice_unref(u->status_details);
	ep_unref(u->ep);
	free(u);
}

static void ucall_finished(struct tag *t, bool ok)
{
	ucall_free((struct ucall *)t);
}

/* Answer @u with @reply (consumed). */
static void ucall_reply(struct ucall *u, struct dp_reply *reply)
{
	grpc_op ops[4] = {};
	size_t n = 0;

	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (reply->status == DP_STATUS_OK) {
		u->out = bytes_to_buffer(reply->msg.data, reply->msg.len);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = u->out;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)reply->status;
	if (reply->details) {
		u->status_details = sym.grpc_slice_from_copied_string(reply->details);
		u->has_details = true;
		ops[n].data.send_status_from_server.status_details = &u->status_details;
	}
	n++;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &u->cancelled;
	free(reply->msg.data);
	free(reply->details);
	u->tag.done = ucall_finished;
	if (sym.grpc_call_start_batch(u->call, ops, n, &u->tag, NULL) != GRPC_CALL_OK)
		ucall_free(u);
}

static void stream_start(struct ucall *u);

static void ucall_received(struct tag *t, bool ok)
{
	struct ucall *u = (struct ucall *)t;
	struct dp_grpc_endpoint *ep = u->ep;
	struct dp_reply reply = {};
	const uint8_t *req;
	grpc_slice owned;
	size_t len;

	if (!ok) {
		ucall_free(u);
		return;
	}
	if (u->rpc == DP_RPC_LIST_AND_WATCH) {
		stream_start(u);
		return;
	}
	if (!u->in) {
		reply.status = DP_STATUS_INVALID_ARGUMENT;
		reply.details = strdup("no request message");
		ucall_reply(u, &reply);
		return;
	}
	if (message_bytes(u->in, &owned, &req, &len) < 0) {
		reply.status = DP_STATUS_INVALID_ARGUMENT;
		reply.details = strdup("cannot read the request message");
		ucall_reply(u, &reply);
		return;
	}
	pthread_mutex_lock(&ep->lock);
	if (ep->h) {
		ep->h->call(ep->userdata, (enum dp_rpc)u->rpc, req, len, &reply);
	} else {
		reply.status = DP_STATUS_UNAVAILABLE;
		reply.details = strdup("the device plugin is stopping");
	}
	pthread_mutex_unlock(&ep->lock);
	sym.grpc_slice_unref(owned);
	ucall_reply(u, &reply);
}

static void ucall_requested(struct tag *t, bool ok)
{
	struct ucall *u = (struct ucall *)t;
	struct dp_grpc_endpoint *ep = u->ep;
	grpc_op op = {};
	bool stopping;

	if (!ok) { /* the server is shutting down */
		ucall_free(u);
		return;
	}
	pthread_mutex_lock(&ep->lock);
	stopping = ep->stopping;
	pthread_mutex_unlock(&ep->lock);
	if (!stopping)
		request_call(ep);

	u->rpc = -1;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (sym.grpc_slice_str_cmp(u->details.method, methods[i]) == 0)
			u->rpc = (int)i;
	if (u->rpc < 0) {
		struct dp_reply reply = {.status = DP_STATUS_UNIMPLEMENTED};
		char *m = sym.grpc_slice_to_c_string(u->details.method);

		if (asprintf(&reply.details, "no such method: %s", m ? m : "?") < 0)
			reply.details = NULL;
		sym.gpr_free(m);
		ucall_reply(u, &reply);
		return;
	}
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &u->in;
	u->tag.done = ucall_received;
	if (sym.grpc_call_start_batch(u->call, &op, 1, &u->tag, NULL) != GRPC_CALL_OK)
		ucall_free(u);
}

/* Ask the server for the next incoming call. */
static void request_call(struct dp_grpc_endpoint *ep)
{
	struct ucall *u = calloc(1, sizeof(*u));

	if (!u) {
		log_warnx("device plugin %s: out of memory, serving one call fewer", ep->path);
		return;
	}
	ep_ref(ep);
	u->ep = ep;
	u->tag.done = ucall_requested;
	sym.grpc_call_details_init(&u->details);
	sym.grpc_metadata_array_init(&u->md);
	if (sym.grpc_server_request_call(ep->server, &u->call, &u->details, &u->md, ep->g->cq,
					 ep->g->cq, &u->tag) != GRPC_CALL_OK)
		ucall_free(u);
}

/* ---- server side: ListAndWatch streams ----------------------------------------------- */

static void stream_sent(struct tag *t, bool ok);

/* Send what is due on @s: a newer list, else (when the endpoint flushes) the final status. */
static void stream_pump_locked(struct stream *s)
{
	struct dp_grpc_endpoint *ep = s->ep;
	grpc_op ops[2] = {};
	size_t n = 0;

	if (s->sending || s->finished || s->closed)
		return;
	if (!s->sent_initial)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (s->dirty && ep->h) {
		struct dp_bytes msg = {};

		if (ep->h->list(ep->userdata, &msg) < 0)
			return; /* out of memory: the next change tries again */
		s->dirty = false;
		s->out = bytes_to_buffer(msg.data, msg.len);
		free(msg.data);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = s->out;
	} else if (ep->stopping && ep->flush) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n++].data.send_status_from_server.status = GRPC_STATUS_OK;
		s->finished = true;
	} else {
		return;
	}
	s->sent_initial = true;
	s->sending = true;
	if (sym.grpc_call_start_batch(s->call, ops, n, &s->send_tag, NULL) != GRPC_CALL_OK) {
		s->sending = false;
		s->finished = true;
		if (s->out) {
			sym.grpc_byte_buffer_destroy(s->out);
			s->out = NULL;
		}
		sym.grpc_call_cancel(s->call, NULL);
	}
}

/* Unlink and free @s when nothing of it is in flight. Returns true when it was freed. */
static bool stream_reap_locked(struct stream *s)
{
	struct stream **pp;

	if (!s->closed || s->sending)
		return false;
	for (pp = &s->ep->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	sym.grpc_call_unref(s->call);
	free(s);
	return true;
}

static void stream_sent(struct tag *t, bool ok)
{
	struct stream *s = (struct stream *)((char *)t - offsetof(struct stream, send_tag));
	struct dp_grpc_endpoint *ep = s->ep;
	bool freed;

	pthread_mutex_lock(&ep->lock);
	s->sending = false;
	if (s->out) {
		sym.grpc_byte_buffer_destroy(s->out);
		s->out = NULL;
	}
	if (!ok)
		s->finished = true; /* the client went away mid-stream */
	stream_pump_locked(s);
	freed = stream_reap_locked(s);
	pthread_mutex_unlock(&ep->lock);
	if (freed)
		ep_unref(ep);
}

static void stream_closed(struct tag *t, bool ok)
{
	struct stream *s = (struct stream *)((char *)t - offsetof(struct stream, close_tag));
	struct dp_grpc_endpoint *ep = s->ep;
	bool freed;

	pthread_mutex_lock(&ep->lock);
	s->closed = true;
	freed = stream_reap_locked(s);
	pthread_mutex_unlock(&ep->lock);
	if (freed)
		ep_unref(ep);
}

/* Turn the ListAndWatch call @u (its request read) into a stream: send the list now. */
static void stream_start(struct ucall *u)
{
	struct dp_grpc_endpoint *ep = u->ep;
	struct stream *s = calloc(1, sizeof(*s));
	grpc_op op = {};

	pthread_mutex_lock(&ep->lock);
	if (!s || ep->stopping) {
		struct dp_reply reply = {.status = DP_STATUS_UNAVAILABLE};

		pthread_mutex_unlock(&ep->lock);
		free(s);
		reply.details = strdup("the device plugin is stopping");
		ucall_reply(u, &reply);
		return;
	}
	s->send_tag.done = stream_sent;
	s->close_tag.done = stream_closed;
	s->ep = ep;
	ep_ref(ep);
	s->call = steal_ptr(u->call);
	s->next = ep->streams;
	ep->streams = s;
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &s->cancelled;
	if (sym.grpc_call_start_batch(s->call, &op, 1, &s->close_tag, NULL) != GRPC_CALL_OK) {
		s->closed = true;
		s->finished = true;
		sym.grpc_call_cancel(s->call, NULL);
	}
	s->dirty = true;
	stream_pump_locked(s);
	if (stream_reap_locked(s))
		ep_unref(ep); /* not the last reference: u holds one */
	pthread_mutex_unlock(&ep->lock);
	ucall_free(u);
}

/* ---- client side: Register ----------------------------------------------------------- */

static void reg_start_locked(struct dp_grpc_endpoint *ep);

static void reg_free(struct reg *r)
{
	if (r->call)
		sym.grpc_call_unref(r->call);
	if (r->channel)
		sym.grpc_channel_destroy(r->channel);
	sym.grpc_metadata_array_destroy(&r->md_in);
	sym.grpc_metadata_array_destroy(&r->trailing);
	if (r->out)
		sym.grpc_byte_buffer_destroy(r->out);
	if (r->in)
		sym.grpc_byte_buffer_destroy(r->in);
	sym.grpc_slice_unref(r->details);
	free(r);
}

static void reg_done(struct tag *t, bool ok)
{
	struct reg *r = (struct reg *)t;
	struct dp_grpc_endpoint *ep = r->ep;
	grpc_status_code status = ok ? r->status : GRPC_STATUS_UNKNOWN;
	char *details = sym.grpc_slice_to_c_string(r->details);

	pthread_mutex_lock(&ep->lock);
	ep->reg = NULL;
	if (ep->stopping) {
		/* nothing more to do */
	} else if (ep->reg_again) {
		ep->reg_again = false;
		reg_start_locked(ep);
	} else if (status == GRPC_STATUS_OK) {
		ep->registered = true;
		ep->failures = 0;
		ep->backoff_ms = BACKOFF_FIRST_MS;
		log_info("registered %s with kubelet", ep->name);
		if (ep->h && ep->h->registered)
			ep->h->registered(ep->userdata);
	} else {
		if (ep->failures++ == 0)
			log_warnx("registering %s with kubelet at %s failed (status %d: %s); "
				  "retrying with backoff",
				  ep->name, ep->kubelet + strlen("unix:"), (int)status,
				  details && *details ? details : "no details");
		else
			log_debug("registering %s: attempt %u failed (status %d: %s)", ep->name,
				  ep->failures, (int)status, details ? details : "");
		retry_later_locked(ep);
		ep->backoff_ms =
			ep->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ep->backoff_ms * 2;
	}
	pthread_mutex_unlock(&ep->lock);
	sym.gpr_free(details);
	reg_free(r);
	ep_unref(ep);
}

/* Start one Register attempt, or mark that one should follow the attempt in flight. */
static void reg_start_locked(struct dp_grpc_endpoint *ep)
{
	grpc_channel_credentials *creds;
	grpc_op ops[6] = {};
	struct reg *r;

	ep->retry_at = 0;
	ep->registered = false;
	if (ep->reg) {
		ep->reg_again = true;
		sym.grpc_call_cancel(ep->reg->call, NULL);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		retry_later_locked(ep);
		return;
	}
	r->tag.done = reg_done;
	r->ep = ep;
	r->details = sym.grpc_empty_slice();
	sym.grpc_metadata_array_init(&r->md_in);
	sym.grpc_metadata_array_init(&r->trailing);
	creds = sym.grpc_insecure_credentials_create();
	r->channel = sym.grpc_channel_create(ep->kubelet, creds, NULL);
	sym.grpc_channel_credentials_release(creds);
	r->call = sym.grpc_channel_create_call(
		r->channel, NULL, GRPC_PROPAGATE_DEFAULTS, ep->g->cq,
		sym.grpc_slice_from_static_string("/v1beta1.Registration/Register"), NULL,
		deadline_in_ms(REGISTER_TIMEOUT_MS), NULL);
	r->out = bytes_to_buffer(ep->reg_req, ep->reg_len);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = r->out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->md_in;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &r->in;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &r->trailing;
	ops[5].data.recv_status_on_client.status = &r->status;
	ops[5].data.recv_status_on_client.status_details = &r->details;
	if (!r->call || sym.grpc_call_start_batch(r->call, ops, ARRAY_SIZE(ops), &r->tag, NULL) !=
				GRPC_CALL_OK) {
		reg_free(r);
		retry_later_locked(ep);
		return;
	}
	ep_ref(ep);
	ep->reg = r;
}

int dp_grpc_endpoint_register(struct dp_grpc_endpoint *ep, const char *kubelet_socket,
			      const char *name, const uint8_t *req, size_t len)
{
	_cleanup_free_ char *kubelet = NULL, *n = strdup(name);
	_cleanup_free_ uint8_t *copy = malloc(len ? len : 1);

	if (!n || !copy || asprintf(&kubelet, "unix:%s", kubelet_socket) < 0)
		return -ENOMEM;
	memcpy(copy, req, len);
	pthread_mutex_lock(&ep->lock);
	free(ep->kubelet);
	free(ep->name);
	free(ep->reg_req);
	ep->kubelet = steal_ptr(kubelet);
	ep->name = steal_ptr(n);
	ep->reg_req = steal_ptr(copy);
	ep->reg_len = len;
	ep->backoff_ms = BACKOFF_FIRST_MS;
	ep->failures = 0;
	reg_start_locked(ep);
	pthread_mutex_unlock(&ep->lock);
	return 0;
}

bool dp_grpc_endpoint_registered(struct dp_grpc_endpoint *ep)
{
	bool r;

	pthread_mutex_lock(&ep->lock);
	r = ep->registered;
	pthread_mutex_unlock(&ep->lock);
	return r;
}

/* ---- the completion-queue thread ----------------------------------------------------- */

/* Start the Register attempts that are due; return the monotonic ms of the next one (-1:
 * none). */
static int64_t run_timers(struct dp_grpc *g)
{
	int64_t now = now_ms(), next = -1;

	atomic_store(&g->timers_changed, false);
	pthread_mutex_lock(&g->lock);
	for (struct dp_grpc_endpoint *ep = g->endpoints; ep; ep = ep->next) {
		pthread_mutex_lock(&ep->lock);
		if (ep->retry_at && !ep->stopping) {
			if (ep->retry_at <= now)
				reg_start_locked(ep);
			if (ep->retry_at && (next < 0 || ep->retry_at < next))
				next = ep->retry_at;
		}
		pthread_mutex_unlock(&ep->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return next;
}

static void *cq_thread(void *arg)
{
	struct dp_grpc *g = arg;
	int64_t next = -1; /* the earliest Register retry, monotonic ms; -1: none */

	for (;;) {
		gpr_timespec deadline;
		grpc_event ev;

		if (atomic_load(&g->timers_changed) || (next >= 0 && now_ms() >= next))
			next = run_timers(g);
		deadline = next < 0 ? sym.gpr_inf_future(GPR_CLOCK_MONOTONIC)
				    : deadline_in_ms(next - now_ms());
		ev = sym.grpc_completion_queue_next(g->cq, deadline, NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			((struct tag *)ev.tag)->done(ev.tag, ev.success);
	}
	return NULL;
}

int dp_grpc_new(struct dp_grpc **out)
{
	struct dp_grpc *g;
	int r;

	pthread_once(&sym_once, sym_load);
	if (sym_result < 0) {
		log_warnx("cannot load gRPC (" SONAME_GRPC ", package libgrpc29): %s",
			  dlopen_error());
		return sym_result;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	sym.grpc_init();
	g->cq = sym.grpc_completion_queue_create_for_next(NULL);
	pthread_mutex_init(&g->lock, NULL);
	r = pthread_create(&g->thread, NULL, cq_thread, g);
	if (r) {
		sym.grpc_completion_queue_shutdown(g->cq);
		sym.grpc_completion_queue_destroy(g->cq);
		pthread_mutex_destroy(&g->lock);
		free(g);
		sym.grpc_shutdown();
		return -r;
	}
	*out = g;
	return 0;
}

void dp_grpc_free(struct dp_grpc *g)
{
	if (!g)
		return;
	sym.grpc_completion_queue_shutdown(g->cq);
	pthread_join(g->thread, NULL);
	sym.grpc_completion_queue_destroy(g->cq);
	pthread_mutex_destroy(&g->lock);
	free(g);
	sym.grpc_shutdown();
}

/* ---- endpoints ----------------------------------------------------------------------- */

static void shutdown_done(struct tag *t, bool ok)
{
	struct dp_grpc_endpoint *ep =
		(struct dp_grpc_endpoint *)((char *)t -
					    offsetof(struct dp_grpc_endpoint, shutdown_tag));

	pthread_mutex_lock(&ep->lock);
	ep->shutdown_done = true;
	pthread_cond_broadcast(&ep->cond);
	pthread_mutex_unlock(&ep->lock);
}

/* Remove a socket file left at @path by an earlier run; never anything else. */
/*
 * Why gRPC could not listen on @path (it says only that no address was added): the
 * directory's errno when it is missing or not writable (-ENOENT before kubelet created it,
 * -EACCES), else -EADDRINUSE.
 */
static int bind_failure(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (access(dir, W_OK | X_OK) < 0)
			return -errno;
	}
	return -EADDRINUSE;
}

static void unlink_stale_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

int dp_grpc_endpoint_new(struct dp_grpc *g, const char *socket_path,
			 const struct dp_grpc_handler *h, void *userdata,
			 struct dp_grpc_endpoint **out)
{
	_cleanup_free_ char *addr = NULL;
	grpc_server_credentials *creds;
	struct dp_grpc_endpoint *ep;
	pthread_condattr_t ca;
	struct stat st;
	int port;

	if (strlen(socket_path) >= sizeof(ep->path))
		return -ENAMETOOLONG;
	if (asprintf(&addr, "unix:%s", socket_path) < 0)
		return -ENOMEM;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	atomic_init(&ep->refs, 1);
	pthread_mutex_init(&ep->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ep->cond, &ca);
	pthread_condattr_destroy(&ca);
	ep->g = g;
	ep->h = h;
	ep->userdata = userdata;
	ep->backoff_ms = BACKOFF_FIRST_MS;
	ep->shutdown_tag.done = shutdown_done;
	snprintf(ep->path, sizeof(ep->path), "%s", socket_path);

	unlink_stale_socket(socket_path);
	ep->server = sym.grpc_server_create(NULL, NULL);
	sym.grpc_server_register_completion_queue(ep->server, g->cq, NULL);
	creds = sym.grpc_insecure_server_credentials_create();
	port = sym.grpc_server_add_http2_port(ep->server, addr, creds);
	sym.grpc_server_credentials_release(creds);
	if (port == 0) {
		int r = bind_failure(socket_path);

		sym.grpc_server_destroy(ep->server); /* never started: no shutdown needed */
		ep_unref(ep);
		return r;
	}
	sym.grpc_server_start(ep->server);
	if (stat(socket_path, &st) == 0) {
		ep->dev = st.st_dev;
		ep->ino = st.st_ino;
	}
	for (int i = 0; i < REQUESTS_PER_SERVER; i++)
		request_call(ep);

	pthread_mutex_lock(&g->lock);
	ep->next = g->endpoints;
	g->endpoints = ep;
	pthread_mutex_unlock(&g->lock);
	*out = ep;
	return 0;
}

void dp_grpc_endpoint_changed(struct dp_grpc_endpoint *ep)
{
	pthread_mutex_lock(&ep->lock);
	for (struct stream *s = ep->streams; s; s = s->next) {
		s->dirty = true;
		stream_pump_locked(s);
	}
	pthread_mutex_unlock(&ep->lock);
}

/* Wait until the server's shutdown completed, at most @ms (-1: no limit). */
static bool wait_shutdown_locked(struct dp_grpc_endpoint *ep, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!ep->shutdown_done) {
		if (ms < 0)
			pthread_cond_wait(&ep->cond, &ep->lock);
		else if (pthread_cond_timedwait(&ep->cond, &ep->lock, &ts) == ETIMEDOUT)
			break;
	}
	return ep->shutdown_done;
}

void dp_grpc_endpoint_free(struct dp_grpc_endpoint *ep, bool flush)
{
	struct dp_grpc *g;
	struct stat st;

	if (!ep)
		return;
	g = ep->g;
	pthread_mutex_lock(&g->lock);
	for (struct dp_grpc_endpoint **pp = &g->endpoints; *pp; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);

	pthread_mutex_lock(&ep->lock);
	ep->stopping = true;
	ep->flush = flush;
	ep->retry_at = 0;
	if (ep->reg)
		sym.grpc_call_cancel(ep->reg->call, NULL);
	for (struct stream *s = ep->streams; s; s = s->next)
		stream_pump_locked(s);
	pthread_mutex_unlock(&ep->lock);

	sym.grpc_server_shutdown_and_notify(ep->server, g->cq, &ep->shutdown_tag);
	if (!flush)
		sym.grpc_server_cancel_all_calls(ep->server);
	pthread_mutex_lock(&ep->lock);
	if (!wait_shutdown_locked(ep, FLUSH_GRACE_MS)) {
		pthread_mutex_unlock(&ep->lock);
		sym.grpc_server_cancel_all_calls(ep->server);
		pthread_mutex_lock(&ep->lock);
		wait_shutdown_locked(ep, -1);
	}
	ep->h = NULL;
	ep->userdata = NULL;
	pthread_mutex_unlock(&ep->lock);
	sym.grpc_server_destroy(ep->server);

	/* kubelet may have deleted our socket and something else made one there since. */
	if (lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == ep->dev &&
	    st.st_ino == ep->ino)
		unlink(ep->path);
	ep_unref(ep);
}
