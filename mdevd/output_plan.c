/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The plan as stable JSON (mdevd plan -o json):
 *   {"actions": [{"action": "create"|"remove"|"keep", "parent", "type", "uuid", "slot",
 *                 "iommu_group" (null when none), "reason", "reason_code"}],
 *    "shortfalls": [{"parent", "type", "wanted", "planned"}],
 *    "summary": {"create": N, "remove": N, "keep": N}}
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "mdevd/macro.h"
#include "output_plan.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

static const char *reason_code(enum plan_reason r)
{
	switch (r) {
	case PLAN_REASON_WANTED:
		return "wanted";
	case PLAN_REASON_NOT_WANTED:
		return "not_wanted";
	case PLAN_REASON_FOREIGN:
		return "foreign";
	case PLAN_REASON_FOREIGN_REMOVE:
		return "foreign_remove";
	case PLAN_REASON_IN_USE:
		return "in_use";
	case PLAN_REASON_UNMANAGED:
		return "unmanaged";
	}
	return "unknown";
}

int output_plan_json(const struct plan *plan, FILE *f)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	cJSON *actions, *shortfalls, *summary;
	_cleanup_free_ char *text = NULL;
	size_t n_keep = 0;

	if (!root)
		return -ENOMEM;
	actions = cJSON_AddArrayToObject(root, "actions");
	shortfalls = cJSON_AddArrayToObject(root, "shortfalls");
	summary = cJSON_AddObjectToObject(root, "summary");
	if (!actions || !shortfalls || !summary)
		return -ENOMEM;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct plan_action *a = &plan->actions[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(actions, o);
		if (a->kind == PLAN_KEEP)
			n_keep++;
		if (!cJSON_AddStringToObject(o, "action", plan_action_kind_str(a->kind)) ||
		    !cJSON_AddStringToObject(o, "parent", a->parent) ||
		    !cJSON_AddStringToObject(o, "type", a->type_id) ||
		    !cJSON_AddStringToObject(o, "uuid", a->uuid) ||
		    !cJSON_AddNumberToObject(o, "slot", a->slot) ||
		    !(a->iommu_group >= 0 ? cJSON_AddNumberToObject(o, "iommu_group", a->iommu_group)
					  : cJSON_AddNullToObject(o, "iommu_group")) ||
		    !cJSON_AddStringToObject(o, "reason", plan_reason_str(a->reason)) ||
		    !cJSON_AddStringToObject(o, "reason_code", reason_code(a->reason)))
			return -ENOMEM;
	}
	for (size_t i = 0; i < plan->n_shortfalls; i++) {
		const struct plan_shortfall *s = &plan->shortfalls[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(shortfalls, o);
		if (!cJSON_AddStringToObject(o, "parent", s->parent) ||
		    !cJSON_AddStringToObject(o, "type", s->type_id) ||
		    !cJSON_AddNumberToObject(o, "wanted", s->wanted) ||
		    !cJSON_AddNumberToObject(o, "planned", s->planned))
			return -ENOMEM;
	}
	if (!cJSON_AddNumberToObject(summary, "create", (double)plan->n_create) ||
	    !cJSON_AddNumberToObject(summary, "remove", (double)plan->n_remove) ||
	    !cJSON_AddNumberToObject(summary, "keep", (double)n_keep))
		return -ENOMEM;
	text = cJSON_Print(root);
	if (!text)
		return -ENOMEM;
	fprintf(f, "%s\n", text);
	return 0;
}
