/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libxml2 reading adapter: XPath queries over a document in memory; see xml_reader.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <pthread.h>

#include "util/dlopen.h"
#include "mdevd/macro.h"
#include "libvirt/xml_reader.h"

#define XML_FIELDS_MAX 16

/*
 * libxml2 is loaded on first use (dlopen.h), like in hostdev_libxml2.c: written once under
 * pthread_once(), read-only after. Strings are copied out of libxml2's objects with
 * strdup() and the objects freed by libxml2, so xmlFree (a variable, not a function,
 * in libxml2 2.9) is never needed.
 */
static struct {
	DLSYM_TYPE(xmlReadMemory) xmlReadMemory;
	DLSYM_TYPE(xmlFreeDoc) xmlFreeDoc;
	DLSYM_TYPE(xmlXPathNewContext) xmlXPathNewContext;
	DLSYM_TYPE(xmlXPathFreeContext) xmlXPathFreeContext;
	DLSYM_TYPE(xmlXPathEvalExpression) xmlXPathEvalExpression;
	DLSYM_TYPE(xmlXPathFreeObject) xmlXPathFreeObject;
} sym;

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static int sym_result;

static void sym_load(void)
{
	void *dl;

	sym_result = dlopen_symbols(
		&dl, SONAME_LIBXML2, DLSYM_ARG(sym, xmlReadMemory), DLSYM_ARG(sym, xmlFreeDoc),
		DLSYM_ARG(sym, xmlXPathNewContext), DLSYM_ARG(sym, xmlXPathFreeContext),
		DLSYM_ARG(sym, xmlXPathEvalExpression), DLSYM_ARG(sym, xmlXPathFreeObject), NULL);
}

static void free_doc(xmlDoc *doc)
{
	sym.xmlFreeDoc(doc);
}

static void free_context(xmlXPathContext *ctx)
{
	sym.xmlXPathFreeContext(ctx);
}

static void free_object(xmlXPathObject *obj)
{
	sym.xmlXPathFreeObject(obj);
}

DEFINE_CLEANUP(xmlDoc, free_doc)
DEFINE_CLEANUP(xmlXPathContext, free_context)
DEFINE_CLEANUP(xmlXPathObject, free_object)

/* Evaluate string(@expr) at @node. *out: a copy (free()), NULL when empty. 0 or -errno. */
static int eval_string(xmlXPathContext *ctx, xmlNode *node, const char *expr, char **out)
{
	_cleanup_(free_objectp) xmlXPathObject *obj = NULL;
	_cleanup_free_ char *wrapped = NULL;
	const char *s;

	if (asprintf(&wrapped, "string(%s)", expr) < 0)
		return -ENOMEM;
	ctx->node = node;
	obj = sym.xmlXPathEvalExpression((const xmlChar *)wrapped, ctx);
	if (!obj || obj->type != XPATH_STRING)
		return -EINVAL;
	s = (const char *)obj->stringval;
	*out = NULL;
	if (s && *s) {
		*out = strdup(s);
		if (!*out)
			return -ENOMEM;
	}
	return 0;
}

int xml_each(const char *text, const char *xpath, const char *const *fields, size_t n_fields,
	     xml_each_fn fn, void *userdata)
{
	_cleanup_(free_docp) xmlDoc *doc = NULL;
	_cleanup_(free_contextp) xmlXPathContext *ctx = NULL;
	_cleanup_(free_objectp) xmlXPathObject *set = NULL;
	size_t len;

	if (!text || !xpath || !fn || n_fields > XML_FIELDS_MAX)
		return -EINVAL;
	pthread_once(&sym_once, sym_load);
	if (sym_result < 0)
		return sym_result;
	len = strlen(text);
	if (len > INT32_MAX)
		return -EINVAL;
	doc = sym.xmlReadMemory(text, (int)len, "libvirt.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	/*
	 * libvirt never writes a DOCTYPE. One could declare entities, which string() expands
	 * on every use: 56 KB of references to one 50 KB entity make 100 MB for each field.
	 */
	if (doc->intSubset)
		return -EINVAL;
	ctx = sym.xmlXPathNewContext(doc);
	if (!ctx)
		return -ENOMEM;
	set = sym.xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
	if (!set || set->type != XPATH_NODESET)
		return -EINVAL;
	if (!set->nodesetval)
		return 0;
	for (int i = 0; i < set->nodesetval->nodeNr; i++) {
		char *vals[XML_FIELDS_MAX] = {};
		const char *cvals[XML_FIELDS_MAX] = {};
		int r = 0;

		for (size_t f = 0; f < n_fields && r == 0; f++) {
			r = eval_string(ctx, set->nodesetval->nodeTab[i], fields[f], &vals[f]);
			cvals[f] = (const char *)vals[f];
		}
		if (r == 0)
			r = fn(userdata, cvals);
		for (size_t f = 0; f < n_fields; f++)
			free(vals[f]);
		if (r < 0)
			return r;
	}
	return 0;
}
