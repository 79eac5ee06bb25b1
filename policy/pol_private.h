/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private to the policy engine (parse.c, validate.c, policy.c): JSON paths for
 * messages and filling struct pol_error.
 */
#pragma once

#include <stddef.h>

#include "mdevd/macro.h"
#include "mdevd/policy.h"

/* A JSON path under construction: "$.mdevd.layouts[1].types[\"mtty-2\"]". */
struct pol_path {
	char buf[POL_PATH_MAX];
	size_t len;
};

/*
 * Each push returns the length before it, to hand to pol_path_pop(). A path that
 * does not fit is cut short (and stays short until popped).
 * pol_path_push_key - ".key" when key is a plain identifier, else "[\"key\"]".
 * pol_path_push_quoted - always "[\"key\"]" (for keys that are data, like type names).
 */
void pol_path_init(struct pol_path *p, const char *root);
size_t pol_path_push_key(struct pol_path *p, const char *key);
size_t pol_path_push_quoted(struct pol_path *p, const char *key);
size_t pol_path_push_index(struct pol_path *p, size_t i);
void pol_path_pop(struct pol_path *p, size_t len);

/* pol_fail - fill @err (may be NULL) with @path and the message; returns -EINVAL. */
int pol_fail(struct pol_error *err, const char *path, const char *fmt, ...) _printf_(3, 4);

/* pol_config_root - "$", "$.spec.configuration" or "$.spec". */
const char *pol_config_root(enum pol_shape shape);

/* pol_edit_distance - Levenshtein distance of two short strings; SIZE_MAX when either is
 * longer than 64 bytes. */
size_t pol_edit_distance(const char *a, const char *b);

struct cJSON;

/* Where a node of a YAML document starts. */
struct pol_yaml_mark {
	const struct cJSON *node; /* borrowed: a node of the tree pol_yaml_parse() built */
	int line, column;	  /* 1-based */
};

struct pol_yaml_marks {
	struct pol_yaml_mark *v;
	size_t n, cap;
};

/*
 * pol_yaml_parse - one YAML document (@text, @len bytes; borrowed) as the cJSON tree
 * cJSON's own parser would give for the same data (policy/yaml_libyaml.c says how
 * scalars are resolved). On success *out is a new tree (cJSON_Delete()) and, when
 * @marks is not NULL, @marks holds where each of its nodes starts (release with
 * pol_yaml_marks_clear(), after or with the tree). On -EINVAL @err (may be NULL) holds
 * the line (err->line), the column (err->column) and, in the message, libyaml's reason.
 * Returns 0, -EINVAL or -ENOMEM.
 */
int pol_yaml_parse(const char *text, size_t len, struct cJSON **out, struct pol_yaml_marks *marks,
		   struct pol_error *err);
void pol_yaml_marks_clear(struct pol_yaml_marks *m);
/* pol_yaml_mark_of - where @node starts, or NULL (not a node of that tree). */
const struct pol_yaml_mark *pol_yaml_mark_of(const struct pol_yaml_marks *m,
					     const struct cJSON *node);
