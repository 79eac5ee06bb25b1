/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics: the exposition text, the snapshot, the probes and the HTTP adapter. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include "daemon/metrics.h"
#include "mdevd/macro.h"

static char *render(struct metrics *m)
{
	char *text;
	size_t len;

	assert_int_equal(metrics_render(m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

/* The value of the series line that starts with @series (name and labels), or -1. */
static double series(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void test_counters_and_histogram(void **state)
{
	struct metrics *m = metrics_new("9.9", 100);
	struct metrics_counters *c;
	static const double bounds[] = METRICS_RECONCILE_BUCKETS;
	char *text;

	assert_non_null(m);
	c = metrics_counters(m);
	metrics_add(&c->reconciles, 3);
	metrics_add(&c->reloads_rejected, 1);
	metrics_set(&c->generation, 4);
	metrics_observe(&c->reconcile_duration, bounds, ARRAY_SIZE(bounds), 500000);  /* 0.5 ms */
	metrics_observe(&c->reconcile_duration, bounds, ARRAY_SIZE(bounds), 3000000); /* 3 ms */
	metrics_observe(&c->reconcile_duration, bounds, ARRAY_SIZE(bounds), 99000000000); /* 99 s */
	text = render(m);
	assert_non_null(strstr(text, "# TYPE mdevd_reconciles_total counter\n"));
	assert_true(series(text, "mdevd_build_info{version=\"9.9\"}") == 1);
	assert_true(series(text, "mdevd_reconciles_total") == 3);
	assert_true(series(text, "mdevd_policy_reloads_total{result=\"rejected\"}") == 1);
	assert_true(series(text, "mdevd_policy_reloads_total{result=\"ok\"}") == 0);
	assert_true(series(text, "mdevd_policy_generation") == 4);
	/* Buckets are cumulative; +Inf and _count are every observation. */
	assert_true(series(text, "mdevd_reconcile_duration_seconds_bucket{le=\"0.001\"}") == 1);
	assert_true(series(text, "mdevd_reconcile_duration_seconds_bucket{le=\"0.0025\"}") == 1);
	assert_true(series(text, "mdevd_reconcile_duration_seconds_bucket{le=\"0.005\"}") == 2);
	assert_true(series(text, "mdevd_reconcile_duration_seconds_bucket{le=\"30\"}") == 2);
	assert_true(series(text, "mdevd_reconcile_duration_seconds_bucket{le=\"+Inf\"}") == 3);
	assert_true(series(text, "mdevd_reconcile_duration_seconds_count") == 3);
	assert_float_equal(series(text, "mdevd_reconcile_duration_seconds_sum"), 99.0035, 1e-9);
	free(text);
	metrics_free(m);
}

static void test_resources(void **state)
{
	struct metrics *m = metrics_new("1", 100);
	struct metrics_resource *r = metrics_resource_get(m, "example.com/A\"B");
	char *text;

	assert_ptr_equal(metrics_resource_get(m, "example.com/A\"B"), r);
	metrics_rpc_done(r, METRICS_RPC_ALLOCATE, METRICS_RPC_OK, 200000);
	metrics_rpc_done(r, METRICS_RPC_ALLOCATE, METRICS_RPC_INVALID_ARGUMENT, 150000);
	metrics_rpc_done(r, METRICS_RPC_PREFERRED, METRICS_RPC_OK, 50000);
	metrics_add(&r->registrations, 3);
	text = render(m);
	/* Not served: counters stay, the registered gauge is left out. */
	assert_null(strstr(text, "mdevd_device_plugin_registered{"));
	assert_true(series(text, "mdevd_device_plugin_requests_total{resource=\"example.com/"
				 "A\\\"B\",method=\"Allocate\",result=\"ok\"}") == 1);
	assert_true(series(text, "mdevd_device_plugin_requests_total{resource=\"example.com/"
				 "A\\\"B\",method=\"Allocate\",result=\"invalid_argument\"}") == 1);
	assert_true(series(text, "mdevd_device_plugin_request_duration_seconds_count{resource="
				 "\"example.com/A\\\"B\",method=\"Allocate\"}") == 2);
	assert_true(series(text,
			   "mdevd_device_plugin_request_duration_seconds_bucket{resource="
			   "\"example.com/A\\\"B\",method=\"Allocate\",le=\"0.00025\"}") == 2);
	assert_true(series(text, "mdevd_device_plugin_request_duration_seconds_bucket{resource="
				 "\"example.com/A\\\"B\",method=\"Allocate\",le=\"0.0001\"}") == 0);
	assert_true(series(text, "mdevd_device_plugin_reregistrations_total{resource="
				 "\"example.com/A\\\"B\"}") == 2);
	free(text);
	metrics_set(&r->served, 1);
	text = render(m);
	assert_true(series(text,
			   "mdevd_device_plugin_registered{resource=\"example.com/A\\\"B\"}") == 0);
	free(text);
	metrics_free(m);
}

static void test_snapshot(void **state)
{
	struct metrics *m = metrics_new("1", 100);
	struct metrics_snapshot *s;
	char buf[64], *text;

	metrics_escape_label("a\"b\\c\nd", buf, sizeof(buf));
	assert_string_equal(buf, "a\\\"b\\\\c\\nd");
	text = render(m);
	assert_null(strstr(text, "mdevd_devices"));
	free(text);
	s = metrics_snapshot_new();
	metrics_snapshot_printf(
		s, "# TYPE mdevd_devices gauge\nmdevd_devices{resource=\"%s\"} %d\n", "r", 5);
	assert_int_equal(metrics_publish(m, s), 0);
	text = render(m);
	assert_true(series(text, "mdevd_devices{resource=\"r\"}") == 5);
	free(text);
	/* A new snapshot replaces the old one whole. */
	s = metrics_snapshot_new();
	metrics_snapshot_printf(s, "mdevd_devices{resource=\"q\"} 1\n");
	assert_int_equal(metrics_publish(m, s), 0);
	text = render(m);
	assert_true(series(text, "mdevd_devices{resource=\"r\"}") == -1);
	assert_true(series(text, "mdevd_devices{resource=\"q\"}") == 1);
	free(text);
	assert_int_equal(metrics_publish(m, NULL), -ENOMEM);
	metrics_free(m);
}

static void test_ready(void **state)
{
	struct metrics *m = metrics_new("1", 100);
	struct metrics_resource *r = metrics_resource_get(m, "x/y");
	char why[128];

	assert_false(metrics_ready(m, why, sizeof(why)));
	assert_non_null(strstr(why, "not applied"));
	metrics_set(&metrics_counters(m)->policy_applied, 1);
	assert_true(metrics_ready(m, why, sizeof(why)));
	metrics_set(&r->served, 1);
	assert_false(metrics_ready(m, why, sizeof(why)));
	assert_string_equal(why, "device plugin x/y is not registered with kubelet");
	metrics_set(&r->registered, 1);
	assert_true(metrics_ready(m, NULL, 0));
	metrics_free(m);
}

static void *ponger(void *arg)
{
	struct metrics *m = arg;
	struct pollfd p = {.fd = metrics_ping_fd(m), .events = POLLIN};

	if (poll(&p, 1, 5000) == 1)
		metrics_pong(m);
	return NULL;
}

static void test_live(void **state)
{
	struct metrics *m = metrics_new("1", 50);
	bool live = false;
	pthread_t t;

	/* Nobody reads the eventfd: not live once the timeout passed. */
	assert_false(metrics_live(m));
	metrics_pong(m); /* the loop catches up: drains, answers the old ping */
	/* A loop that answers: live. Retried, so a loaded machine's scheduling cannot decide. */
	for (int i = 0; i < 20 && !live; i++) {
		assert_int_equal(pthread_create(&t, NULL, ponger, m), 0);
		live = metrics_live(m);
		pthread_join(t, NULL);
	}
	assert_true(live);
	metrics_free(m);
}

static void test_parse_address(void **state)
{
	struct sockaddr_storage ss;
	unsigned int len;

	assert_int_equal(metrics_parse_address("127.0.0.1:9478", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9478);
	assert_int_equal(metrics_parse_address(":0", &ss, &len), 0);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(metrics_parse_address("[::1]:80", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(metrics_parse_address("9478", &ss, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("localhost:9478", &ss, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("1.2.3.4:65536", &ss, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("1.2.3.4:", &ss, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("[::1:80", &ss, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("1.2.3.4:-1", &ss, &len), -EINVAL);
}

/* One HTTP/1.0 GET of @path on 127.0.0.1:@port; the whole answer into @buf. */
static void get(unsigned int port, const char *path, char *buf, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t n = 0;
	ssize_t r;
	char req[256];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < size && (r = read(fd, buf + n, size - n - 1)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

static void test_http(void **state)
{
	struct metrics *m = metrics_new("1", 100);
	struct metrics_http *h = NULL;
	unsigned int port = 0;
	char why[256], *buf = malloc(65536);

	assert_int_equal(metrics_http_start(m, "nonsense", &h, &port, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "HOST:PORT"));
	assert_int_equal(metrics_http_start(m, "127.0.0.1:0", &h, &port, why, sizeof(why)), 0);
	assert_true(port > 0);
	get(port, "/metrics", buf, 65536);
	assert_non_null(strstr(buf, "HTTP/1.0 200") ? buf : strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "\nmdevd_build_info{version=\"1\"} 1\n"));
	get(port, "/readyz", buf, 65536);
	assert_non_null(strstr(buf, " 503 "));
	assert_non_null(strstr(buf, "not ready: the policy in force was not applied yet"));
	metrics_set(&metrics_counters(m)->policy_applied, 1);
	get(port, "/readyz", buf, 65536);
	assert_non_null(strstr(buf, " 200 "));
	get(port, "/nowhere", buf, 65536);
	assert_non_null(strstr(buf, " 404 "));
	/* The same port twice: the second cannot listen. */
	{
		struct metrics_http *h2 = NULL;
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		assert_int_equal(metrics_http_start(m, addr, &h2, NULL, why, sizeof(why)),
				 -EADDRINUSE);
	}
	metrics_http_stop(h);
	metrics_free(m);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_and_histogram),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_parse_address),
		cmocka_unit_test(test_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
