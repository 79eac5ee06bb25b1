/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kube_events: the Node's Event document (core/v1, what `kubectl describe node` reads) and
 * the correlator's limits with an injected clock: aggregation of repeats within the window,
 * the node's token bucket, forgetting an Event that was not stored, the cache's bound.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "kubernetes/kube_events.h"
#include "mdevd/macro.h"

/* 2024-05-01T12:00:00Z */
#define T0  1714564800000ull
#define SEC 1000ull

static struct kube_events_decision decide(struct kube_events_correlator *c, uint64_t at,
					  const char *reason, const char *message)
{
	struct kube_events_decision d;

	assert_int_equal(
		kube_events_correlate(c, "gpu-1", at, KUBE_EVENTS_WARNING, reason, message, &d), 0);
	return d;
}

static void test_event_json(void **state)
{
	struct kube_events_correlator c = {};
	struct kube_events_decision d = decide(&c, T0, "PolicyRejected", "bad \"policy\"");
	char *doc = NULL;

	assert_int_equal(d.verdict, KUBE_EVENTS_CREATE);
	assert_int_equal(d.count, 1);
	/* client-go's name: the object's name, a dot, the time in nanoseconds in hex. */
	assert_string_equal(d.name, "gpu-1.17cb5b99f8638000");
	assert_int_equal(kube_events_json(&(struct kube_events_node){.name = "gpu-1", .uid = "u-1"},
					  KUBE_EVENTS_WARNING, "PolicyRejected", "bad \"policy\"",
					  &d, &doc),
			 0);
	assert_string_equal(
		doc,
		"{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"gpu-1."
		"17cb5b99f8638000\",\"namespace\":\"default\"},\"involvedObject\":{"
		"\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"gpu-1\",\"uid\":\"u-1\"},"
		"\"reason\":\"PolicyRejected\",\"message\":\"bad \\\"policy\\\"\",\"type\":"
		"\"Warning\",\"source\":{\"component\":\"mdevd\",\"host\":\"gpu-1\"},"
		"\"firstTimestamp\":\"2024-05-01T12:00:00Z\",\"lastTimestamp\":\"2024-05-01T12:"
		"00:00Z\",\"count\":1}");
	free(doc);
	/* The uid unknown: the node's name, as kubelet writes it (kubectl describe asks both). */
	assert_int_equal(kube_events_json(&(struct kube_events_node){.name = "gpu-1"},
					  KUBE_EVENTS_NORMAL, "X", "m", &d, &doc),
			 0);
	assert_non_null(strstr(doc, "\"uid\":\"gpu-1\""));
	assert_non_null(strstr(doc, "\"type\":\"Normal\""));
	free(doc);
	d = decide(&c, T0 + 90 * SEC, "PolicyRejected", "bad \"policy\"");
	assert_int_equal(kube_events_patch_json("bad", &d, &doc), 0);
	assert_string_equal(doc, "{\"count\":2,\"lastTimestamp\":\"2024-05-01T12:01:30Z\","
				 "\"message\":\"bad\"}");
	free(doc);
	kube_events_correlator_release(&c);
}

static void test_message_cut(void **state)
{
	struct kube_events_decision d = {.name = "n", .count = 1, .first_ms = T0, .last_ms = T0};
	char msg[KUBE_EVENTS_MESSAGE_MAX + 64];
	cJSON *root;
	char *doc;

	/* 1023 ASCII bytes, then a two-byte character across the limit: cut before it. */
	memset(msg, 'a', KUBE_EVENTS_MESSAGE_MAX - 1);
	strcpy(msg + KUBE_EVENTS_MESSAGE_MAX - 1, "\xc3\xa9tail");
	assert_int_equal(kube_events_json(&(struct kube_events_node){.name = "gpu-1"},
					  KUBE_EVENTS_WARNING, "R", msg, &d, &doc),
			 0);
	root = cJSON_Parse(doc);
	assert_non_null(root);
	assert_int_equal(strlen(cJSON_GetObjectItem(root, "message")->valuestring),
			 KUBE_EVENTS_MESSAGE_MAX - 1);
	cJSON_Delete(root);
	free(doc);
}

static void test_aggregate(void **state)
{
	struct kube_events_correlator c = {};
	struct kube_events_decision a, b;

	a = decide(&c, T0, "PolicyRejected", "m1");
	assert_int_equal(a.verdict, KUBE_EVENTS_CREATE);
	/* The same reason and message within the window: the count of the same Event. */
	b = decide(&c, T0 + 60 * SEC, "PolicyRejected", "m1");
	assert_int_equal(b.verdict, KUBE_EVENTS_AGGREGATE);
	assert_string_equal(b.name, a.name);
	assert_int_equal(b.count, 2);
	assert_true(b.first_ms == T0 && b.last_ms == T0 + 60 * SEC);
	b = decide(&c, T0 + 120 * SEC, "PolicyRejected", "m1");
	assert_int_equal(b.count, 3);
	/* Another message, another reason, another type: Events of their own. */
	b = decide(&c, T0 + 121 * SEC, "PolicyRejected", "m2");
	assert_int_equal(b.verdict, KUBE_EVENTS_CREATE);
	assert_string_not_equal(b.name, a.name);
	b = decide(&c, T0 + 122 * SEC, "DeviceUnhealthy", "m1");
	assert_int_equal(b.verdict, KUBE_EVENTS_CREATE);
	assert_int_equal(kube_events_correlate(&c, "gpu-1", T0 + 123 * SEC, KUBE_EVENTS_NORMAL,
					       "PolicyRejected", "m1", &b),
			 0);
	assert_int_equal(b.verdict, KUBE_EVENTS_CREATE);
	/* The window runs from the last occurrence sent: past it, a new Event. */
	b = decide(&c, T0 + 120 * SEC + KUBE_EVENTS_AGGREGATE_SEC * SEC - 1, "PolicyRejected",
		   "m1");
	assert_int_equal(b.verdict, KUBE_EVENTS_AGGREGATE);
	assert_int_equal(b.count, 4);
	b = decide(&c, T0 + 2 * KUBE_EVENTS_AGGREGATE_SEC * SEC + 120 * SEC, "PolicyRejected",
		   "m1");
	assert_int_equal(b.verdict, KUBE_EVENTS_CREATE);
	assert_int_equal(b.count, 1);
	assert_string_not_equal(b.name, a.name);
	/* Two Events made in the same millisecond have different names. */
	a = decide(&c, T0 + 5000 * SEC, "R", "x");
	b = decide(&c, T0 + 5000 * SEC, "R", "y");
	assert_string_not_equal(a.name, b.name);
	kube_events_correlator_release(&c);
}

static void test_rate_limit(void **state)
{
	struct kube_events_correlator c = {};
	struct kube_events_decision d;
	char msg[32];

	/* A burst of KUBE_EVENTS_BURST sends, Events or counts alike. */
	for (unsigned int i = 0; i < KUBE_EVENTS_BURST; i++) {
		snprintf(msg, sizeof(msg), "m%u", i % 5);
		d = decide(&c, T0 + i, "R", msg);
		assert_int_not_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	}
	d = decide(&c, T0 + 100, "R", "m0");
	assert_int_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	d = decide(&c, T0 + 200, "R", "new");
	assert_int_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	/* One token per KUBE_EVENTS_REFILL_SEC. */
	d = decide(&c, T0 + KUBE_EVENTS_REFILL_SEC * SEC / 2, "R", "m1");
	assert_int_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	d = decide(&c, T0 + KUBE_EVENTS_REFILL_SEC * SEC, "R", "m1");
	assert_int_equal(d.verdict, KUBE_EVENTS_AGGREGATE); /* m1 is still in its window */
	d = decide(&c, T0 + KUBE_EVENTS_REFILL_SEC * SEC + 1, "R", "m1");
	assert_int_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	/* A long quiet refills to the burst, no more. */
	for (unsigned int i = 0; i < KUBE_EVENTS_BURST; i++) {
		snprintf(msg, sizeof(msg), "q%u", i);
		d = decide(&c, T0 + 1000000 * SEC, "R", msg);
		assert_int_equal(d.verdict, KUBE_EVENTS_CREATE);
	}
	d = decide(&c, T0 + 1000000 * SEC, "R", "one more");
	assert_int_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	/* A clock that steps back refills nothing and breaks nothing. */
	d = decide(&c, T0, "R", "back");
	assert_int_equal(d.verdict, KUBE_EVENTS_RATE_LIMITED);
	kube_events_correlator_release(&c);
}

static void test_forget_and_cache(void **state)
{
	struct kube_events_correlator c = {};
	struct kube_events_decision a, b;
	char msg[32];

	a = decide(&c, T0, "R", "m");
	/* The post failed: the next occurrence creates instead of patching a missing Event. */
	kube_events_forget(&c, a.name);
	b = decide(&c, T0 + SEC, "R", "m");
	assert_int_equal(b.verdict, KUBE_EVENTS_CREATE);
	assert_int_equal(b.count, 1);
	/* The cache keeps KUBE_EVENTS_CACHE messages; the least recently seen goes first. */
	for (unsigned int i = 0; i < KUBE_EVENTS_CACHE + 4; i++) {
		snprintf(msg, sizeof(msg), "c%u", i);
		c.credit_ms = KUBE_EVENTS_BURST * KUBE_EVENTS_REFILL_SEC *
			      SEC; /* not what this test is about */
		(void)decide(&c, T0 + 10 * SEC + i, "R", msg);
	}
	assert_int_equal(c.n, KUBE_EVENTS_CACHE);
	c.credit_ms = KUBE_EVENTS_BURST * KUBE_EVENTS_REFILL_SEC * SEC;
	b = decide(&c, T0 + 20 * SEC, "R", "c0");
	assert_int_equal(b.verdict, KUBE_EVENTS_CREATE); /* evicted */
	b = decide(&c, T0 + 21 * SEC, "R", "c67");
	assert_int_equal(b.verdict, KUBE_EVENTS_AGGREGATE);
	kube_events_correlator_release(&c);
	assert_int_equal(c.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_json),	 cmocka_unit_test(test_message_cut),
		cmocka_unit_test(test_aggregate),	 cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_forget_and_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
