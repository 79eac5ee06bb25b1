/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libxml2 reading adapter: XPath queries over a document in memory; see xml.h. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "mdevd/macro.h"
#include "xml.h"

#define XML_FIELDS_MAX 16

DEFINE_CLEANUP(xmlDoc, xmlFreeDoc)
DEFINE_CLEANUP(xmlXPathContext, xmlXPathFreeContext)
DEFINE_CLEANUP(xmlXPathObject, xmlXPathFreeObject)

static void xml_char_freep(xmlChar **p)
{
	if (*p)
		xmlFree(*p);
}

/* Evaluate @expr at @node as a string. *out is NULL for an empty string. 0 or -errno. */
static int eval_string(xmlXPathContext *ctx, xmlNode *node, const char *expr, xmlChar **out)
{
	_cleanup_(xmlXPathFreeObjectp) xmlXPathObject *obj = NULL;
	xmlChar *s;

	ctx->node = node;
	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	if (!obj)
		return -EINVAL;
	s = xmlXPathCastToString(obj);
	if (!s)
		return -ENOMEM;
	if (!*s) {
		xmlFree(s);
		s = NULL;
	}
	*out = s;
	return 0;
}

int xml_each(const char *text, const char *xpath, const char *const *fields, size_t n_fields,
	     xml_each_fn fn, void *userdata)
{
	_cleanup_(xmlFreeDocp) xmlDoc *doc = NULL;
	_cleanup_(xmlXPathFreeContextp) xmlXPathContext *ctx = NULL;
	_cleanup_(xmlXPathFreeObjectp) xmlXPathObject *set = NULL;
	size_t len;

	if (!text || !xpath || !fn || n_fields > XML_FIELDS_MAX)
		return -EINVAL;
	len = strlen(text);
	if (len > INT32_MAX)
		return -EINVAL;
	doc = xmlReadMemory(text, (int)len, "libvirt.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	if (!ctx)
		return -ENOMEM;
	set = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
	if (!set || set->type != XPATH_NODESET)
		return -EINVAL;
	if (!set->nodesetval)
		return 0;
	for (int i = 0; i < set->nodesetval->nodeNr; i++) {
		xmlChar *vals[XML_FIELDS_MAX] = {};
		const char *cvals[XML_FIELDS_MAX] = {};
		int r = 0;

		for (size_t f = 0; f < n_fields && r == 0; f++) {
			r = eval_string(ctx, set->nodesetval->nodeTab[i], fields[f], &vals[f]);
			cvals[f] = (const char *)vals[f];
		}
		if (r == 0)
			r = fn(userdata, cvals);
		for (size_t f = 0; f < n_fields; f++)
			xml_char_freep(&vals[f]);
		if (r < 0)
			return r;
	}
	return 0;
}
