/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * YAML policies through libyaml: the only file of mdevd that sees <yaml.h>. It turns one
 * YAML document into the same cJSON tree that cJSON's parser gives parse.c for JSON, so
 * both formats are checked by the same code with the same JSON paths.
 *
 * Scalars are resolved as Kubernetes reads a manifest (sigs.k8s.io/yaml, YAML 1.1 core
 * rules): a quoted scalar is a string; a plain one is null (~, null, empty), a boolean
 * (true/false, yes/no, on/off in their three spellings), a number (decimal, with an
 * optional fraction or exponent), or else a string. Anchors and aliases are expanded,
 * within a node budget (no "billion laughs"). A stream with more than one document is
 * rejected: a policy is one document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "pol_private.h"

/* Nodes a document may expand to, aliases included. */
#define YAML_MAX_NODES	 (1u << 20)
#define YAML_MAX_DEPTH	 64
#define YAML_MAX_ANCHORS 256

DEFINE_CLEANUP(cJSON, cJSON_Delete)

struct anchor {
	char *name;
	cJSON *node; /* borrowed: a node of the tree under construction */
};

struct builder {
	yaml_parser_t parser;
	struct pol_error *err;
	struct pol_yaml_marks *marks; /* where each node starts; NULL: not asked */
	struct anchor anchors[YAML_MAX_ANCHORS];
	size_t n_anchors;
	size_t n_nodes;
};

static int fail_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...) _printf_(3, 4);

static int fail_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
{
	char msg[POL_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pol_fail(b->err, "$", "%s at column %zu: %s", "invalid YAML", mark->column + 1, msg);
	if (b->err) {
		b->err->line = (int)mark->line + 1;
		b->err->column = (int)mark->column + 1;
	}
	return -EINVAL;
}

/* The parser's own error, with its line and column. */
static int parser_error(struct builder *b)
{
	const yaml_parser_t *p = &b->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->context)
		return fail_at(b, &p->problem_mark, "%s %s", p->problem ? p->problem : "error",
			       p->context);
	return fail_at(b, &p->problem_mark, "%s", p->problem ? p->problem : "cannot parse");
}

static bool in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (streq(s, *set))
			return true;
	return false;
}

/* Is @s a decimal number as YAML 1.1 and JSON agree on? */
static bool is_number(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* A scalar event as a cJSON value. */
static cJSON *scalar(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes",
					    "YES",  "on",   "On",   "ON",  NULL};
	static const char *const falses[] = {"false", "False", "FALSE", "no",  "No",
					     "NO",    "off",   "Off",	"OFF", NULL};
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;

	if (tag && streq(tag, YAML_STR_TAG))
		return cJSON_CreateString(s);
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(s);
	if (in(s, nulls))
		return cJSON_CreateNull();
	if (in(s, trues))
		return cJSON_CreateTrue();
	if (in(s, falses))
		return cJSON_CreateFalse();
	if (is_number(s))
		return cJSON_CreateNumber(strtod(s, NULL));
	return cJSON_CreateString(s);
}

/* Note where @n starts (1-based line and column), for messages about it. */
static int mark(struct builder *b, const cJSON *n, const yaml_mark_t *m)
{
	struct pol_yaml_marks *mk = b->marks;

	if (!mk)
		return 0;
	if (mk->n == mk->cap) {
		size_t cap = mk->cap ? mk->cap * 2 : 64;
		struct pol_yaml_mark *v = realloc(mk->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		mk->v = v;
		mk->cap = cap;
	}
	mk->v[mk->n++] = (struct pol_yaml_mark){
		.node = n, .line = (int)m->line + 1, .column = (int)m->column + 1};
	return 0;
}

static int remember(struct builder *b, const yaml_char_t *anchor, cJSON *node,
		    const yaml_mark_t *mark)
{
	char *name;

	if (!anchor)
		return 0;
	if (b->n_anchors == YAML_MAX_ANCHORS)
		return fail_at(b, mark, "more than %d anchors", YAML_MAX_ANCHORS);
	name = strdup((const char *)anchor);
	if (!name)
		return -ENOMEM;
	b->anchors[b->n_anchors++] = (struct anchor){.name = name, .node = node};
	return 0;
}

static size_t count_nodes(const cJSON *n)
{
	size_t c = 1;

	for (const cJSON *it = n->child; it; it = it->next)
		c += count_nodes(it);
	return c;
}

/* A copy of the node an alias names. */
static int alias(struct builder *b, const yaml_event_t *ev, cJSON **out)
{
	const char *name = (const char *)ev->data.alias.anchor;

	for (size_t i = b->n_anchors; i-- > 0;) {
		if (!streq(b->anchors[i].name, name))
			continue;
		b->n_nodes += count_nodes(b->anchors[i].node);
		if (b->n_nodes > YAML_MAX_NODES)
			return fail_at(b, &ev->start_mark, "aliases expand to more than %u nodes",
				       YAML_MAX_NODES);
		*out = cJSON_Duplicate(b->anchors[i].node, true);
		return *out ? 0 : -ENOMEM;
	}
	return fail_at(b, &ev->start_mark, "alias *%s names no anchor before it", name);
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return parser_error(b);
	return 0;
}

static int node(struct builder *b, yaml_event_t *ev, unsigned int depth, cJSON **out);

/* The members of a mapping or the items of a sequence, up to its end event. */
static int children(struct builder *b, cJSON *parent, bool mapping, unsigned int depth)
{
	for (;;) {
		_cleanup_(cJSON_Deletep) cJSON *child = NULL;
		_cleanup_free_ char *key = NULL;
		yaml_event_t ev;
		int r;

		r = next_event(b, &ev);
		if (r < 0)
			return r;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (mapping) {
			if (ev.type != YAML_SCALAR_EVENT) {
				r = fail_at(b, &ev.start_mark,
					    "a mapping key must be a plain string");
				yaml_event_delete(&ev);
				return r;
			}
			key = strdup((const char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			if (!key)
				return -ENOMEM;
			r = next_event(b, &ev);
			if (r < 0)
				return r;
		}
		r = node(b, &ev, depth + 1, &child);
		yaml_event_delete(&ev);
		if (r < 0)
			return r;
		if (mapping ? !cJSON_AddItemToObject(parent, key, child)
			    : !cJSON_AddItemToArray(parent, child))
			return -ENOMEM;
		child = NULL; /* the parent owns it now */
	}
}

/* The node that starts with @ev (borrowed; the caller deletes it). */
static int node(struct builder *b, yaml_event_t *ev, unsigned int depth, cJSON **out)
{
	_cleanup_(cJSON_Deletep) cJSON *n = NULL;
	const yaml_char_t *anchor = NULL;
	int r;

	if (depth > YAML_MAX_DEPTH)
		return fail_at(b, &ev->start_mark, "nested deeper than %d levels", YAML_MAX_DEPTH);
	if (++b->n_nodes > YAML_MAX_NODES)
		return fail_at(b, &ev->start_mark, "more than %u nodes", YAML_MAX_NODES);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return alias(b, ev, out);
	case YAML_SCALAR_EVENT:
		n = scalar(ev);
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool mapping = ev->type == YAML_MAPPING_START_EVENT;

		n = mapping ? cJSON_CreateObject() : cJSON_CreateArray();
		if (!n)
			return -ENOMEM;
		anchor = mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		r = remember(b, anchor, n, &ev->start_mark);
		if (r < 0)
			return r;
		anchor = NULL;
		r = children(b, n, mapping, depth);
		if (r < 0)
			return r;
		break;
	}
	default:
		return fail_at(b, &ev->start_mark, "unexpected YAML event");
	}
	if (!n)
		return -ENOMEM;
	r = remember(b, anchor, n, &ev->start_mark);
	if (r == 0)
		r = mark(b, n, &ev->start_mark);
	if (r < 0)
		return r;
	*out = steal_ptr(n);
	return 0;
}

/* Skip events up to the first document's root node; the root's event is left in @ev. */
static int document_start(struct builder *b, yaml_event_t *ev)
{
	for (;;) {
		int r = next_event(b, ev);

		if (r < 0)
			return r;
		switch (ev->type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			yaml_event_delete(ev);
			continue;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(ev);
			return pol_fail(b->err, "$", "the document is empty: expected a mapping");
		default:
			return 0;
		}
	}
}

/* After the root node: the end of the document, and no second one. */
static int document_end(struct builder *b)
{
	yaml_event_t ev;
	int r;

	for (;;) {
		r = next_event(b, &ev);
		if (r < 0)
			return r;
		if (ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		r = fail_at(b, &ev.start_mark,
			    "a second document (after '---'): a policy is one document");
		yaml_event_delete(&ev);
		return r;
	}
}

void pol_yaml_marks_clear(struct pol_yaml_marks *m)
{
	free(m->v);
	*m = (struct pol_yaml_marks){};
}

const struct pol_yaml_mark *pol_yaml_mark_of(const struct pol_yaml_marks *m, const cJSON *node)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (m->v[i].node == node)
			return &m->v[i];
	return NULL;
}

int pol_yaml_parse(const char *text, size_t len, cJSON **out, struct pol_yaml_marks *marks,
		   struct pol_error *err)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	struct builder *b = calloc(1, sizeof(*b));
	yaml_event_t ev;
	int r;

	if (!b)
		return -ENOMEM;
	b->err = err;
	b->marks = marks;
	if (!yaml_parser_initialize(&b->parser)) {
		free(b);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&b->parser, (const unsigned char *)text, len);
	r = document_start(b, &ev);
	if (r == 0) {
		r = node(b, &ev, 0, &root);
		yaml_event_delete(&ev);
	}
	if (r == 0)
		r = document_end(b);
	yaml_parser_delete(&b->parser);
	for (size_t i = 0; i < b->n_anchors; i++)
		free(b->anchors[i].name);
	free(b);
	if (r == -ENOMEM)
		pol_fail(err, "$", "out of memory");
	if (r < 0)
		return r;
	*out = steal_ptr(root);
	return 0;
}
