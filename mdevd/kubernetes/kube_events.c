/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Node's Events, pure half: the correlator and the Event's JSON; see kube_events.h. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kubernetes/kube_events.h"
#include "mdevd/macro.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

#define TOKEN_MS (KUBE_EVENTS_REFILL_SEC * 1000ull)

static const char *type_str(enum kube_events_type t)
{
	switch (t) {
	case KUBE_EVENTS_NORMAL:
		return "Normal";
	case KUBE_EVENTS_WARNING:
		return "Warning";
	}
	return "Normal";
}

/* The bucket at @now_ms: refilled by the time since the last refill, capped at the burst. */
static void refill(struct kube_events_correlator *c, uint64_t now_ms)
{
	const uint64_t cap = KUBE_EVENTS_BURST * TOKEN_MS;

	if (!c->started) {
		c->credit_ms = cap;
		c->refilled_ms = now_ms;
		c->started = true;
		return;
	}
	if (now_ms <= c->refilled_ms)
		return;
	c->credit_ms += now_ms - c->refilled_ms;
	if (c->credit_ms > cap)
		c->credit_ms = cap;
	c->refilled_ms = now_ms;
}

static struct kube_events_entry *find(struct kube_events_correlator *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->entries[i].key, key))
			return &c->entries[i];
	return NULL;
}

/* A slot for a new entry: a free one, or the least recently seen one, emptied. */
static struct kube_events_entry *slot(struct kube_events_correlator *c)
{
	struct kube_events_entry *e;

	if (c->n < KUBE_EVENTS_CACHE)
		return &c->entries[c->n++];
	e = &c->entries[0];
	for (size_t i = 1; i < c->n; i++)
		if (c->entries[i].last_seen_ms < e->last_seen_ms)
			e = &c->entries[i];
	free(e->key);
	*e = (struct kube_events_entry){};
	return e;
}

int kube_events_correlate(struct kube_events_correlator *c, const char *node, uint64_t now_ms,
			  enum kube_events_type type, const char *reason, const char *message,
			  struct kube_events_decision *out)
{
	_cleanup_free_ char *key = NULL;
	struct kube_events_entry *e;

	refill(c, now_ms);
	if (asprintf(&key, "%s\t%s\t%.*s", type_str(type), reason, KUBE_EVENTS_MESSAGE_MAX,
		     message) < 0)
		key = NULL;
	e = key ? find(c, key) : NULL;
	if (e)
		e->last_seen_ms = now_ms;
	if (c->credit_ms < TOKEN_MS) {
		*out = (struct kube_events_decision){.verdict = KUBE_EVENTS_RATE_LIMITED};
		return 0;
	}
	c->credit_ms -= TOKEN_MS;
	if (e && now_ms < e->last_ms + KUBE_EVENTS_AGGREGATE_SEC * 1000ull) {
		e->count++;
		e->last_ms = now_ms;
		*out = (struct kube_events_decision){
			.verdict = KUBE_EVENTS_AGGREGATE,
			.count = e->count,
			.first_ms = e->first_ms,
			.last_ms = now_ms,
		};
		snprintf(out->name, sizeof(out->name), "%s", e->name);
		return 0;
	}
	*out = (struct kube_events_decision){
		.verdict = KUBE_EVENTS_CREATE,
		.count = 1,
		.first_ms = now_ms,
		.last_ms = now_ms,
	};
	/* client-go: "%v.%x" of the object's name and the time in nanoseconds. */
	snprintf(out->name, sizeof(out->name), "%.100s.%" PRIx64, node,
		 now_ms * 1000000u + c->seq++ % 1000000u);
	if (!key)
		return -ENOMEM;
	if (!e) {
		e = slot(c);
		e->key = steal_ptr(key);
	}
	snprintf(e->name, sizeof(e->name), "%s", out->name);
	e->first_ms = e->last_ms = e->last_seen_ms = now_ms;
	e->count = 1;
	return 0;
}

void kube_events_forget(struct kube_events_correlator *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->entries[i].name, name)) {
			/* Out of the window: the next occurrence creates. */
			c->entries[i].last_ms = 0;
			c->entries[i].first_ms = 0;
			c->entries[i].name[0] = '\0';
		}
}

void kube_events_correlator_release(struct kube_events_correlator *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->entries[i].key);
	*c = (struct kube_events_correlator){};
}

void kube_events_time(uint64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* @message cut to KUBE_EVENTS_MESSAGE_MAX bytes (at a UTF-8 character's start). */
static cJSON *message_item(const char *message)
{
	size_t len = strlen(message);
	_cleanup_free_ char *cut = NULL;

	if (len <= KUBE_EVENTS_MESSAGE_MAX)
		return cJSON_CreateString(message);
	len = KUBE_EVENTS_MESSAGE_MAX;
	while (len > 0 && ((unsigned char)message[len] & 0xc0) == 0x80)
		len--;
	cut = strndup(message, len);
	return cut ? cJSON_CreateString(cut) : NULL;
}

static bool add_str(cJSON *o, const char *key, const char *v)
{
	return cJSON_AddStringToObject(o, key, v) != NULL;
}

static int print(cJSON *root, char **out)
{
	*out = cJSON_PrintUnformatted(root);
	return *out ? 0 : -ENOMEM;
}

int kube_events_json(const struct kube_events_node *node, enum kube_events_type type,
		     const char *reason, const char *message, const struct kube_events_decision *d,
		     char **out)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	cJSON *meta, *obj, *src, *msg;
	char first[32], last[32];

	kube_events_time(d->first_ms, first, sizeof(first));
	kube_events_time(d->last_ms, last, sizeof(last));
	if (!root || !add_str(root, "apiVersion", "v1") || !add_str(root, "kind", "Event") ||
	    !(meta = cJSON_AddObjectToObject(root, "metadata")) ||
	    !add_str(meta, "name", d->name) || !add_str(meta, "namespace", KUBE_EVENTS_NAMESPACE) ||
	    !(obj = cJSON_AddObjectToObject(root, "involvedObject")) ||
	    !add_str(obj, "apiVersion", "v1") || !add_str(obj, "kind", "Node") ||
	    !add_str(obj, "name", node->name) ||
	    !add_str(obj, "uid", node->uid && node->uid[0] ? node->uid : node->name) ||
	    !add_str(root, "reason", reason) || !(msg = message_item(message)))
		return -ENOMEM;
	cJSON_AddItemToObject(root, "message", msg);
	if (!add_str(root, "type", type_str(type)) ||
	    !(src = cJSON_AddObjectToObject(root, "source")) ||
	    !add_str(src, "component", "mdevd") || !add_str(src, "host", node->name) ||
	    !add_str(root, "firstTimestamp", first) || !add_str(root, "lastTimestamp", last) ||
	    !cJSON_AddNumberToObject(root, "count", d->count))
		return -ENOMEM;
	return print(root, out);
}

int kube_events_patch_json(const char *message, const struct kube_events_decision *d, char **out)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	char last[32];
	cJSON *msg;

	kube_events_time(d->last_ms, last, sizeof(last));
	if (!root || !cJSON_AddNumberToObject(root, "count", d->count) ||
	    !add_str(root, "lastTimestamp", last) || !(msg = message_item(message)))
		return -ENOMEM;
	cJSON_AddItemToObject(root, "message", msg);
	return print(root, out);
}
