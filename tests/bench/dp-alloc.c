/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp-alloc: Allocate latency of one device-plugin socket, from a client that is neither
 * Python nor mdevd's own plugin code: gRPC core's C API, as kubelet's Go client would do
 * it, one channel, one completion queue and one thread per client.
 *
 *   dp-alloc [-c CLIENTS] [-n CALLS] [-w WARMUP] [-r RATE] SOCKET
 *
 * Reads the device list once (the first ListAndWatch message), then every client thread
 * connects, makes WARMUP untimed Allocate calls, waits for the others and makes CALLS
 * timed ones, each for one healthy device (client i uses device i % n). Prints p50, p90,
 * p99, p99.9 and max of the per-call latency (client side: create call .. status
 * received) and the calls per second of the whole timed phase. Without -r each client calls
 * again as soon as its answer came (closed loop: the latency is then mostly queueing, about
 * CLIENTS / throughput); with -r the clients together start RATE calls per second on a fixed
 * schedule (each client every CLIENTS/RATE s, the clients spread over that period) and
 * latency counts from the scheduled start, so a call that starts late because the previous
 * one was slow counts its wait too. Numbers, no asserts; exits
 * non-zero when a call fails.
 *
 * Built by tests/bench/dp-bench.sh:
 *   cc -O2 -Ibuild/release/gen tests/bench/dp-alloc.c
 * build/release/gen/mdevd/kubernetes/deviceplugin.pb-c.c \
 *      $(pkg-config --cflags --libs grpc_unsecure libprotobuf-c) -pthread
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "mdevd/kubernetes/deviceplugin.pb-c.h"

#define ALLOCATE	"/v1beta1.DevicePlugin/Allocate"
#define LIST_AND_WATCH	"/v1beta1.DevicePlugin/ListAndWatch"
#define CALL_TIMEOUT_MS 10000

struct client {
	pthread_t thread;
	int index;
	grpc_channel *channel;
	grpc_completion_queue *cq;
	uint8_t *req;
	size_t req_len;
	int64_t *lat_ns;
	long failures;
};

static char target[256];
static int n_calls = 2000, n_warmup = 50;
static double rate; /* calls per second of all clients together; 0: closed loop */
static int n_clients = 32;
static pthread_barrier_t ready, go;
static grpc_slice allocate_method;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gpr_timespec deadline(void)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_millis(CALL_TIMEOUT_MS, GPR_TIMESPAN));
}

static grpc_channel *channel_new(void)
{
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(target, creds, NULL);

	grpc_channel_credentials_release(creds);
	return ch;
}

/* Wait for @tag on @cq (a queue only this thread uses). Returns its success flag. */
static bool wait_tag(grpc_completion_queue *cq, void *tag)
{
	for (;;) {
		grpc_event ev =
			grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);

		if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
			return ev.success;
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return false;
	}
}

/* One unary call of @method with @req; the reply's bytes go to @reply when not NULL. */
static int unary(grpc_channel *ch, grpc_completion_queue *cq, grpc_slice method, const uint8_t *req,
		 size_t len, grpc_slice *reply)
{
	grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method,
						   NULL, deadline(), NULL);
	grpc_slice s = grpc_slice_from_copied_buffer((const char *)req, len);
	grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&s, 1), *in = NULL;
	grpc_metadata_array md, trailing;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_op ops[6] = {};
	int r = 0;

	grpc_slice_unref(s);
	grpc_metadata_array_init(&md);
	grpc_metadata_array_init(&trailing);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &in;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK ||
	    !wait_tag(cq, call) || status != GRPC_STATUS_OK || !in) {
		char *d = grpc_slice_to_c_string(details);

		fprintf(stderr, "dp-alloc: call failed: status %d: %s\n", (int)status, d);
		gpr_free(d);
		r = -EIO;
	} else if (reply) {
		grpc_byte_buffer_reader rd;

		grpc_byte_buffer_reader_init(&rd, in);
		*reply = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
	}
	if (in)
		grpc_byte_buffer_destroy(in);
	grpc_byte_buffer_destroy(out);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md);
	grpc_metadata_array_destroy(&trailing);
	grpc_call_unref(call);
	return r;
}

/* The healthy device IDs of the first ListAndWatch message. Returns the count, or -1. */
static int list_devices(char ***ids)
{
	grpc_channel *ch = channel_new();
	grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
	grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
						   grpc_slice_from_static_string(LIST_AND_WATCH),
						   NULL, deadline(), NULL);
	grpc_byte_buffer *out = grpc_raw_byte_buffer_create(NULL, 0), *in = NULL;
	V1beta1__ListAndWatchResponse *msg = NULL;
	grpc_metadata_array md;
	grpc_op ops[4] = {};
	int n = -1;

	grpc_metadata_array_init(&md);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
	if (grpc_call_start_batch(call, ops, 4, call, NULL) == GRPC_CALL_OK && wait_tag(cq, call)) {
		grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};

		op.data.recv_message.recv_message = &in;
		if (grpc_call_start_batch(call, &op, 1, &in, NULL) == GRPC_CALL_OK &&
		    wait_tag(cq, &in) && in) {
			grpc_byte_buffer_reader rd;
			grpc_slice s;

			grpc_byte_buffer_reader_init(&rd, in);
			s = grpc_byte_buffer_reader_readall(&rd);
			grpc_byte_buffer_reader_destroy(&rd);
			msg = v1beta1__list_and_watch_response__unpack(NULL, GRPC_SLICE_LENGTH(s),
								       GRPC_SLICE_START_PTR(s));
			grpc_slice_unref(s);
		}
	}
	if (msg) {
		*ids = calloc(msg->n_devices + 1, sizeof(**ids));
		n = 0;
		for (size_t i = 0; i < msg->n_devices; i++)
			if (strcmp(msg->devices[i]->health, "Healthy") == 0)
				(*ids)[n++] = strdup(msg->devices[i]->id);
		v1beta1__list_and_watch_response__free_unpacked(msg, NULL);
	}
	grpc_call_cancel(call, NULL);
	grpc_call_unref(call);
	if (in)
		grpc_byte_buffer_destroy(in);
	grpc_byte_buffer_destroy(out);
	grpc_metadata_array_destroy(&md);
	grpc_channel_destroy(ch);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	return n;
}

static void *client_run(void *arg)
{
	struct client *c = arg;

	c->channel = channel_new();
	c->cq = grpc_completion_queue_create_for_next(NULL);
	for (int i = 0; i < n_warmup; i++)
		if (unary(c->channel, c->cq, allocate_method, c->req, c->req_len, NULL) < 0)
			c->failures++;
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	int64_t period = rate > 0 ? (int64_t)(1e9 * n_clients / rate) : 0;
	int64_t next = now_ns() + period * c->index / n_clients;

	for (int i = 0; i < n_calls; i++) {
		int64_t t0 = now_ns();

		if (period) {
			struct timespec ts = {next / 1000000000, next % 1000000000};

			if (next > t0)
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			t0 = next;
			next += period;
		}
		if (unary(c->channel, c->cq, allocate_method, c->req, c->req_len, NULL) < 0)
			c->failures++;
		c->lat_ns[i] = now_ns() - t0;
	}
	grpc_channel_destroy(c->channel);
	grpc_completion_queue_shutdown(c->cq);
	while (grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(c->cq);
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n);

	return (double)v[i < n ? i : n - 1] / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: dp-alloc [-c CLIENTS] [-n CALLS] [-w WARMUP] [-r RATE] SOCKET\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int n_ids, opt;
	long failures = 0;
	struct client *cs;
	int64_t *all, t0, t1;
	char **ids = NULL;
	size_t n_all = 0;

	while ((opt = getopt(argc, argv, "c:n:w:r:")) != -1) {
		switch (opt) {
		case 'c':
			n_clients = atoi(optarg);
			break;
		case 'n':
			n_calls = atoi(optarg);
			break;
		case 'w':
			n_warmup = atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || n_clients < 1 || n_calls < 1 || n_warmup < 0)
		usage();
	snprintf(target, sizeof(target), "unix:%s", argv[optind]);

	grpc_init();
	allocate_method = grpc_slice_from_static_string(ALLOCATE);
	n_ids = list_devices(&ids);
	if (n_ids <= 0) {
		fprintf(stderr, "dp-alloc: %s lists no healthy device\n", argv[optind]);
		return 1;
	}
	cs = calloc((size_t)n_clients, sizeof(*cs));
	all = calloc((size_t)n_clients * (size_t)n_calls, sizeof(*all));
	pthread_barrier_init(&ready, NULL, (unsigned)n_clients + 1);
	pthread_barrier_init(&go, NULL, (unsigned)n_clients + 1);
	for (int i = 0; i < n_clients; i++) {
		V1beta1__AllocateRequest req = V1BETA1__ALLOCATE_REQUEST__INIT;
		V1beta1__ContainerAllocateRequest cr = V1BETA1__CONTAINER_ALLOCATE_REQUEST__INIT;
		V1beta1__ContainerAllocateRequest *crp = &cr;

		cr.n_devices_ids = 1;
		cr.devices_ids = &ids[i % n_ids];
		req.n_container_requests = 1;
		req.container_requests = &crp;
		cs[i].index = i;
		cs[i].req_len = v1beta1__allocate_request__get_packed_size(&req);
		cs[i].req = malloc(cs[i].req_len);
		v1beta1__allocate_request__pack(&req, cs[i].req);
		cs[i].lat_ns = calloc((size_t)n_calls, sizeof(int64_t));
		pthread_create(&cs[i].thread, NULL, client_run, &cs[i]);
	}
	pthread_barrier_wait(&ready);
	t0 = now_ns();
	pthread_barrier_wait(&go);
	for (int i = 0; i < n_clients; i++) {
		pthread_join(cs[i].thread, NULL);
		failures += cs[i].failures;
	}
	t1 = now_ns();
	for (int i = 0; i < n_clients; i++) {
		memcpy(all + n_all, cs[i].lat_ns, (size_t)n_calls * sizeof(int64_t));
		n_all += (size_t)n_calls;
	}
	qsort(all, n_all, sizeof(*all), cmp_i64);
	char mode[64] = "closed loop";

	if (rate > 0)
		snprintf(mode, sizeof(mode), "paced at %.0f calls/s", rate);
	printf("Allocate: %d clients x %d calls (%d devices), %s: %zu calls in %.2f s, %.0f "
	       "calls/s; "
	       "latency ms: p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f; failed %ld\n",
	       n_clients, n_calls, n_ids, mode, n_all, (double)(t1 - t0) / 1e9,
	       (double)n_all / ((double)(t1 - t0) / 1e9), pct(all, n_all, 50), pct(all, n_all, 90),
	       pct(all, n_all, 99), pct(all, n_all, 99.9), (double)all[n_all - 1] / 1e6, failures);
	grpc_shutdown();
	return failures ? 1 : 0;
}
