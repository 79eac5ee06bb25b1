/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp-watch: what kubelet keeps open on a node, in gRPC core's C API, for the
 * device-plugin benchmarks (tests/bench/dp-bench.py): a Registration service on
 * DIR/kubelet.sock that accepts every Register at once (no dial-back), and one ListAndWatch
 * stream per plugin socket, each on its own channel, as kubelet's device manager holds them.
 *
 *   dp-watch [-k DIR] [-f SOCKET] [SOCKET...]
 *
 * -f serves a floor device plugin on SOCKET: every unary call is answered at once with a
 * fixed AllocateResponse (one container: one env, two device specs, as mdevd answers for
 * one mdev), ListAndWatch with one empty list. Against it, dp-alloc measures what gRPC
 * core itself costs on this machine, with no plugin work at all.
 *
 * Prints one line per event, flushed, on stdout; times are CLOCK_MONOTONIC nanoseconds
 * (the clock Python's time.monotonic_ns() reads):
 *   registered N NAME          a Register call was answered (N so far)
 *   list I T_NS N_DEVICES      stream I (the I-th SOCKET) received a list
 *   end I STATUS               stream I ended
 * Runs until SIGTERM/SIGINT. One thread drives one completion queue: between events it
 * sleeps in grpc_completion_queue_next() without a deadline.
 */
#include <errno.h>
#include <signal.h>
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
#include <grpc/support/time.h>

#include "mdevd/kubernetes/deviceplugin.pb-c.h"

#define LIST_AND_WATCH "/v1beta1.DevicePlugin/ListAndWatch"

enum kind {
	STREAM_START,
	STREAM_MSG,
	STREAM_STATUS,
	REG_REQUESTED,
	REG_RECEIVED,
	REG_DONE
};

struct tag {
	enum kind kind;
	void *obj;
};

struct stream {
	int index;
	grpc_channel *channel;
	grpc_call *call;
	grpc_byte_buffer *out, *in;
	grpc_metadata_array md, trailing;
	grpc_status_code status;
	grpc_slice details;
	struct tag start, msg, end;
};

struct reg {
	grpc_server *server;
	bool floor; /* the floor plugin's call, not kubelet's Register */
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *in, *out;
	int cancelled;
	struct tag requested, received, done;
};

static grpc_completion_queue *cq;
static int n_registered;
static uint8_t floor_list[64], floor_alloc[256];
static size_t floor_list_len, floor_alloc_len;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void reg_request(grpc_server *server, bool floor)
{
	struct reg *r = calloc(1, sizeof(*r));

	r->server = server;
	r->floor = floor;
	r->requested = (struct tag){REG_REQUESTED, r};
	r->received = (struct tag){REG_RECEIVED, r};
	r->done = (struct tag){REG_DONE, r};
	grpc_call_details_init(&r->details);
	grpc_metadata_array_init(&r->md);
	grpc_server_request_call(server, &r->call, &r->details, &r->md, cq, cq, &r->requested);
}

static void reg_event(struct tag *t, bool ok)
{
	struct reg *r = t->obj;
	grpc_op ops[4] = {};

	switch (t->kind) {
	case REG_REQUESTED:
		if (!ok)
			return;
		reg_request(r->server, r->floor);
		ops[0].op = GRPC_OP_RECV_MESSAGE;
		ops[0].data.recv_message.recv_message = &r->in;
		grpc_call_start_batch(r->call, ops, 1, &r->received, NULL);
		return;
	case REG_RECEIVED: {
		V1beta1__RegisterRequest *req = NULL;

		if (r->floor) {
			bool list = grpc_slice_str_cmp(r->details.method, LIST_AND_WATCH) == 0;
			grpc_slice sl = grpc_slice_from_static_buffer(
				list ? floor_list : floor_alloc,
				list ? floor_list_len : floor_alloc_len);

			r->out = grpc_raw_byte_buffer_create(&sl, 1);
		} else if (ok && r->in) {
			grpc_byte_buffer_reader rd;
			grpc_slice s;

			grpc_byte_buffer_reader_init(&rd, r->in);
			s = grpc_byte_buffer_reader_readall(&rd);
			grpc_byte_buffer_reader_destroy(&rd);
			req = v1beta1__register_request__unpack(NULL, GRPC_SLICE_LENGTH(s),
								GRPC_SLICE_START_PTR(s));
			grpc_slice_unref(s);
		}
		if (!r->floor) {
			printf("registered %d %s\n", ++n_registered,
			       req ? req->resource_name : "(malformed)");
			fflush(stdout);
			if (req)
				v1beta1__register_request__free_unpacked(req, NULL);
			r->out = grpc_raw_byte_buffer_create(NULL, 0);
		}
		ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[1].op = GRPC_OP_SEND_MESSAGE;
		ops[1].data.send_message.send_message = r->out;
		ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
		ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		ops[3].data.recv_close_on_server.cancelled = &r->cancelled;
		grpc_call_start_batch(r->call, ops, 4, &r->done, NULL);
		return;
	}
	case REG_DONE:
		if (r->in)
			grpc_byte_buffer_destroy(r->in);
		grpc_byte_buffer_destroy(r->out);
		grpc_call_details_destroy(&r->details);
		grpc_metadata_array_destroy(&r->md);
		grpc_call_unref(r->call);
		free(r);
		return;
	default:
		return;
	}
}

static void stream_recv(struct stream *s)
{
	grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};

	op.data.recv_message.recv_message = &s->in;
	grpc_call_start_batch(s->call, &op, 1, &s->msg, NULL);
}

static void stream_open(struct stream *s, const char *path)
{
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	char target[256];
	grpc_op ops[5] = {};

	snprintf(target, sizeof(target), "unix:%s", path);
	s->channel = grpc_channel_create(target, creds, NULL);
	grpc_channel_credentials_release(creds);
	s->call = grpc_channel_create_call(s->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
					   grpc_slice_from_static_string(LIST_AND_WATCH), NULL,
					   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	s->start = (struct tag){STREAM_START, s};
	s->msg = (struct tag){STREAM_MSG, s};
	s->end = (struct tag){STREAM_STATUS, s};
	s->out = grpc_raw_byte_buffer_create(NULL, 0);
	s->details = grpc_empty_slice();
	grpc_metadata_array_init(&s->md);
	grpc_metadata_array_init(&s->trailing);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = s->out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md;
	grpc_call_start_batch(s->call, ops, 4, &s->start, NULL);
	ops[0] = (grpc_op){.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
	ops[0].data.recv_status_on_client.trailing_metadata = &s->trailing;
	ops[0].data.recv_status_on_client.status = &s->status;
	ops[0].data.recv_status_on_client.status_details = &s->details;
	grpc_call_start_batch(s->call, ops, 1, &s->end, NULL);
	stream_recv(s);
}

static void stream_event(struct tag *t, bool ok)
{
	struct stream *s = t->obj;
	int64_t at = now_ns();

	switch (t->kind) {
	case STREAM_MSG: {
		V1beta1__ListAndWatchResponse *msg = NULL;
		grpc_byte_buffer_reader rd;
		grpc_slice sl;

		if (!ok || !s->in)
			return; /* the stream ended: STREAM_STATUS says how */
		grpc_byte_buffer_reader_init(&rd, s->in);
		sl = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
		grpc_byte_buffer_destroy(s->in);
		s->in = NULL;
		msg = v1beta1__list_and_watch_response__unpack(NULL, GRPC_SLICE_LENGTH(sl),
							       GRPC_SLICE_START_PTR(sl));
		grpc_slice_unref(sl);
		printf("list %d %lld %d\n", s->index, (long long)at,
		       msg ? (int)msg->n_devices : -1);
		fflush(stdout);
		if (msg)
			v1beta1__list_and_watch_response__free_unpacked(msg, NULL);
		stream_recv(s);
		return;
	}
	case STREAM_STATUS:
		printf("end %d %d\n", s->index, (int)s->status);
		fflush(stdout);
		return;
	default:
		return;
	}
}

/* The floor plugin's fixed answers: one healthy device; one container's AllocateResponse. */
static void floor_messages(void)
{
	V1beta1__Device dev = V1BETA1__DEVICE__INIT, *devp = &dev;
	V1beta1__ListAndWatchResponse list = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	V1beta1__ContainerAllocateResponse__EnvsEntry
		env = V1BETA1__CONTAINER_ALLOCATE_RESPONSE__ENVS_ENTRY__INIT,
		*envp = &env;
	V1beta1__DeviceSpec spec[2] = {V1BETA1__DEVICE_SPEC__INIT, V1BETA1__DEVICE_SPEC__INIT};
	V1beta1__DeviceSpec *specp[2] = {&spec[0], &spec[1]};
	V1beta1__ContainerAllocateResponse cr = V1BETA1__CONTAINER_ALLOCATE_RESPONSE__INIT,
					   *crp = &cr;
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;

	dev.id = "b0000000-0000-4000-8000-000000000001";
	dev.health = "Healthy";
	list.n_devices = 1;
	list.devices = &devp;
	floor_list_len = v1beta1__list_and_watch_response__pack(&list, floor_list);
	env.key = "MDEV_PCI_RESOURCE_EXAMPLE_COM_BENCH0";
	env.value = dev.id;
	spec[0].container_path = spec[0].host_path = "/dev/vfio/vfio";
	spec[1].container_path = spec[1].host_path = "/dev/vfio/100";
	spec[0].permissions = spec[1].permissions = "mrw";
	cr.n_envs = 1;
	cr.envs = &envp;
	cr.n_devices = 2;
	cr.devices = specp;
	resp.n_container_responses = 1;
	resp.container_responses = &crp;
	floor_alloc_len = v1beta1__allocate_response__pack(&resp, floor_alloc);
}

static grpc_server *serve(const char *path, bool floor)
{
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	grpc_server *server = grpc_server_create(NULL, NULL);
	char addr[256];

	snprintf(addr, sizeof(addr), "unix:%s", path);
	unlink(path);
	grpc_server_register_completion_queue(server, cq, NULL);
	if (!grpc_server_add_http2_port(server, addr, creds)) {
		fprintf(stderr, "dp-watch: cannot serve on %s\n", addr);
		exit(1);
	}
	grpc_server_credentials_release(creds);
	grpc_server_start(server);
	for (int i = 0; i < 32; i++)
		reg_request(server, floor);
	return server;
}

int main(int argc, char **argv)
{
	const char *kubelet_dir = NULL, *floor_sock = NULL;
	struct stream *streams;
	int opt, n;

	while ((opt = getopt(argc, argv, "k:f:")) != -1) {
		if (opt == 'k') {
			kubelet_dir = optarg;
		} else if (opt == 'f') {
			floor_sock = optarg;
		} else {
			fprintf(stderr, "usage: dp-watch [-k DIR] [-f SOCKET] [SOCKET...]\n");
			return 2;
		}
	}
	n = argc - optind;
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	cq = grpc_completion_queue_create_for_next(NULL);
	if (kubelet_dir) {
		char path[256];

		snprintf(path, sizeof(path), "%s/kubelet.sock", kubelet_dir);
		serve(path, false);
		printf("kubelet %s\n", path);
		fflush(stdout);
	}
	if (floor_sock) {
		floor_messages();
		serve(floor_sock, true);
		printf("floor %s\n", floor_sock);
		fflush(stdout);
	}
	streams = calloc((size_t)n + 1, sizeof(*streams));
	for (int i = 0; i < n; i++) {
		streams[i].index = i;
		stream_open(&streams[i], argv[optind + i]);
	}
	for (;;) {
		grpc_event ev =
			grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		struct tag *t = ev.tag;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (t->kind >= REG_REQUESTED)
			reg_event(t, ev.success);
		else
			stream_event(t, ev.success);
	}
	return 0;
}
