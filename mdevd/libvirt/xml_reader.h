/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xml: the libxml2 adapter for *reading* XML (libvirt's domain and node-device
 * descriptions). mdevd/libvirt/hostdev_libxml2.c is the other libxml2 file: it *builds* <hostdev>
 * elements. What an element means (libvirt's schema) stays with the caller; this
 * module only runs XPath queries. Nothing here logs.
 */
#pragma once

#include <stddef.h>

/*
 * Called once per matched node with the string value of each field expression
 * (@values[i], NULL when it is empty). The strings are valid during the call only.
 * Return 0 to go on, or a negative errno to stop: xml_each() returns it.
 */
typedef int (*xml_each_fn)(void *userdata, const char *const *values);

/*
 * xml_each - parse @text (no network, no DTD, no entities but XML's five), select the
 * nodes matching the XPath @xpath and, for each one in document order, evaluate
 * the @n_fields XPath expressions @fields with that node as the context (e.g. "@uuid",
 * "string(name)") and hand their string values to @fn. At most 16 fields.
 * Returns 0, -EINVAL (@text is not well-formed, has a DOCTYPE (libvirt writes none; its
 * entities would be expanded by every field), an expression is invalid or too many fields),
 * -EOPNOTSUPP or -ENXIO (libxml2.so.2 cannot be loaded: it is loaded on first use, dlopen.h),
 * -ENOMEM, or the first negative value @fn returned.
 */
int xml_each(const char *text, const char *xpath, const char *const *fields, size_t n_fields,
	     xml_each_fn fn, void *userdata);
