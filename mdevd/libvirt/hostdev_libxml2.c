/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt <hostdev> XML, built as a libxml2 tree and serialised by libxml2, so that
 * quoting and escaping are libxml2's business (loaded on first use). libxml2 has two
 * adapters: this one builds XML, xml_reader_libxml2.c reads libvirt's. Every input is checked
 * before a node is made: what is emitted is valid against libvirt's schema or nothing is emitted.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <pthread.h>

#include "util/dlopen.h"
#include "mdevd/hostdev.h"
#include "mdevd/macro.h"

/*
 * libxml2 is loaded when XML is first built (dlopen.h), so the commands that print no
 * XML do not pay for it and ICU at exec. Written once, read-only after.
 */
static struct {
	DLSYM_TYPE(xmlBufferContent) xmlBufferContent;
	DLSYM_TYPE(xmlBufferCreate) xmlBufferCreate;
	DLSYM_TYPE(xmlBufferFree) xmlBufferFree;
	DLSYM_TYPE(xmlBufferLength) xmlBufferLength;
	DLSYM_TYPE(xmlDocGetRootElement) xmlDocGetRootElement;
	DLSYM_TYPE(xmlDocSetRootElement) xmlDocSetRootElement;
	DLSYM_TYPE(xmlFreeDoc) xmlFreeDoc;
	DLSYM_TYPE(xmlNewChild) xmlNewChild;
	DLSYM_TYPE(xmlNewDoc) xmlNewDoc;
	DLSYM_TYPE(xmlNewDocNode) xmlNewDocNode;
	DLSYM_TYPE(xmlNewProp) xmlNewProp;
	DLSYM_TYPE(xmlNodeDump) xmlNodeDump;
} sym;

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static int sym_result;

static void sym_load(void)
{
	void *dl;

	sym_result = dlopen_symbols(&dl, SONAME_LIBXML2, DLSYM_ARG(sym, xmlBufferContent),
				    DLSYM_ARG(sym, xmlBufferCreate), DLSYM_ARG(sym, xmlBufferFree),
				    DLSYM_ARG(sym, xmlBufferLength),
				    DLSYM_ARG(sym, xmlDocGetRootElement),
				    DLSYM_ARG(sym, xmlDocSetRootElement),
				    DLSYM_ARG(sym, xmlFreeDoc), DLSYM_ARG(sym, xmlNewChild),
				    DLSYM_ARG(sym, xmlNewDoc), DLSYM_ARG(sym, xmlNewDocNode),
				    DLSYM_ARG(sym, xmlNewProp), DLSYM_ARG(sym, xmlNodeDump), NULL);
}

static void free_doc(xmlDoc *doc)
{
	sym.xmlFreeDoc(doc);
}

static void free_buffer(xmlBuffer *buf)
{
	sym.xmlBufferFree(buf);
}

DEFINE_CLEANUP(xmlDoc, free_doc)
DEFINE_CLEANUP(xmlBuffer, free_buffer)

static const char *const model_names[] = {
	[HOSTDEV_MODEL_VFIO_PCI] = "vfio-pci",
	[HOSTDEV_MODEL_VFIO_CCW] = "vfio-ccw",
	[HOSTDEV_MODEL_VFIO_AP] = "vfio-ap",
};

/* Parse 1 to 8 hexadecimal digits ending at @stop; advance *p past @stop. */
static int parse_hex_part(const char **p, char stop, unsigned long *v)
{
	const char *s = *p;
	unsigned long x = 0;
	int n = 0;

	for (; isxdigit((unsigned char)*s); s++) {
		if (++n > 8)
			return -EINVAL;
		x = x * 16 + (unsigned long)(isdigit((unsigned char)*s)
						     ? *s - '0'
						     : tolower((unsigned char)*s) - 'a' + 10);
	}
	if (n == 0 || *s != stop)
		return -EINVAL;
	*v = x;
	*p = stop ? s + 1 : s;
	return 0;
}

static bool pci_address_in_range(const struct hostdev_pci_address *a)
{
	return a->domain <= HOSTDEV_PCI_DOMAIN_MAX && a->bus <= HOSTDEV_PCI_BUS_MAX &&
	       a->slot <= HOSTDEV_PCI_SLOT_MAX && a->function <= HOSTDEV_PCI_FUNCTION_MAX;
}

int hostdev_parse_pci_address(const char *s, struct hostdev_pci_address *out)
{
	unsigned long dom = 0, bus, slot, fn;
	struct hostdev_pci_address a;
	size_t colons = 0;
	int r;

	if (!s)
		return -EINVAL;
	for (const char *c = s; *c; c++)
		colons += *c == ':';
	if (colons == 2) {
		r = parse_hex_part(&s, ':', &dom);
		if (r < 0)
			return r;
	} else if (colons != 1) {
		return -EINVAL;
	}
	if (parse_hex_part(&s, ':', &bus) < 0 || parse_hex_part(&s, '.', &slot) < 0 ||
	    parse_hex_part(&s, '\0', &fn) < 0)
		return -EINVAL;
	/* Each part has at most 8 hex digits, so it fits an unsigned int. */
	a = (struct hostdev_pci_address){
		.domain = (unsigned int)dom,
		.bus = (unsigned int)bus,
		.slot = (unsigned int)slot,
		.function = (unsigned int)fn,
	};
	if (!pci_address_in_range(&a))
		return -ERANGE;
	*out = a;
	return 0;
}

int hostdev_format_pci_address(const struct hostdev_pci_address *a, char *buf, size_t size)
{
	char tmp[MDEVD_BDF_STR_LEN];
	int n;

	if (!pci_address_in_range(a))
		return -ERANGE;
	n = snprintf(tmp, sizeof(tmp), "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot,
		     a->function);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)n + 1);
	return 0;
}

int hostdev_parse_uuid(const char *s, char out[MDEVD_UUID_STR_LEN])
{
	char tmp[MDEVD_UUID_STR_LEN];

	if (!s || strlen(s) != MDEVD_UUID_STR_LEN - 1)
		return -EINVAL;
	for (size_t i = 0; i < MDEVD_UUID_STR_LEN - 1; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
		tmp[i] = (char)tolower((unsigned char)s[i]);
	}
	tmp[MDEVD_UUID_STR_LEN - 1] = '\0';
	memcpy(out, tmp, sizeof(tmp));
	return 0;
}

int hostdev_model_from_device_api(const char *device_api, enum hostdev_model *out)
{
	if (!device_api)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(model_names); i++) {
		if (streq(device_api, model_names[i])) {
			*out = (enum hostdev_model)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *hostdev_model_str(enum hostdev_model model)
{
	switch (model) {
	case HOSTDEV_MODEL_VFIO_PCI:
	case HOSTDEV_MODEL_VFIO_CCW:
	case HOSTDEV_MODEL_VFIO_AP:
		return model_names[model];
	}
	return "unknown";
}

/* One entry, checked and reduced to what goes into the XML. */
struct checked {
	enum hostdev_kind kind;
	bool unmanaged;
	struct hostdev_pci_address pci;
	char uuid[MDEVD_UUID_STR_LEN];
	enum hostdev_model model;
};

static int check_options(enum hostdev_model model, const struct hostdev_options *opts)
{
	if (!opts)
		return 0;
	if (opts->ramfb && !opts->display)
		return -EINVAL;
	if ((opts->display || opts->ramfb) && model != HOSTDEV_MODEL_VFIO_PCI)
		return -EINVAL;
	return 0;
}

static int check_device(const struct hostdev_device *d, const struct hostdev_options *opts,
			struct checked *c)
{
	int r;

	c->kind = d->kind;
	c->unmanaged = d->kind == HOSTDEV_PCI && d->unmanaged;
	switch (d->kind) {
	case HOSTDEV_PCI:
		if (!d->pci || d->mdev)
			return -EINVAL;
		/* display and ramfb are attributes of mdev hostdevs only. */
		if (opts && (opts->display || opts->ramfb))
			return -EINVAL;
		return hostdev_parse_pci_address(d->pci->address, &c->pci);
	case HOSTDEV_MDEV:
		if (!d->mdev || d->pci)
			return -EINVAL;
		r = hostdev_parse_uuid(d->mdev->uuid, c->uuid);
		if (r < 0)
			return r;
		r = hostdev_model_from_device_api(d->device_api, &c->model);
		if (r < 0)
			return r;
		return check_options(c->model, opts);
	}
	return -EINVAL;
}

static int set_prop(xmlNode *node, const char *name, const char *value)
{
	return sym.xmlNewProp(node, BAD_CAST name, BAD_CAST value) ? 0 : -ENOMEM;
}

/*
 * Add a <hostdev> for @c under @parent, or as the root element of @doc when @parent is
 * NULL. Whatever is added belongs to @doc, also on error.
 */
static int add_hostdev(xmlDoc *doc, xmlNode *parent, const struct checked *c,
		       const struct hostdev_options *opts)
{
	xmlNode *hostdev, *source, *address;
	char buf[16];
	int r;

	if (parent) {
		hostdev = sym.xmlNewChild(parent, NULL, BAD_CAST "hostdev", NULL);
		if (!hostdev)
			return -ENOMEM;
	} else {
		hostdev = sym.xmlNewDocNode(doc, NULL, BAD_CAST "hostdev", NULL);
		if (!hostdev)
			return -ENOMEM;
		sym.xmlDocSetRootElement(doc, hostdev);
	}
	r = set_prop(hostdev, "mode", "subsystem");
	if (r < 0)
		return r;
	switch (c->kind) {
	case HOSTDEV_PCI:
		if ((r = set_prop(hostdev, "type", "pci")) < 0 ||
		    (r = set_prop(hostdev, "managed", c->unmanaged ? "no" : "yes")) < 0)
			return r;
		break;
	case HOSTDEV_MDEV:
		if ((r = set_prop(hostdev, "type", "mdev")) < 0 ||
		    (r = set_prop(hostdev, "model", hostdev_model_str(c->model))) < 0 ||
		    (r = set_prop(hostdev, "display", opts && opts->display ? "on" : "off")) < 0)
			return r;
		if (opts && opts->ramfb && (r = set_prop(hostdev, "ramfb", "on")) < 0)
			return r;
		break;
	}
	source = sym.xmlNewChild(hostdev, NULL, BAD_CAST "source", NULL);
	if (!source)
		return -ENOMEM;
	address = sym.xmlNewChild(source, NULL, BAD_CAST "address", NULL);
	if (!address)
		return -ENOMEM;
	switch (c->kind) {
	case HOSTDEV_PCI:
		snprintf(buf, sizeof(buf), "0x%04x", c->pci.domain);
		if ((r = set_prop(address, "domain", buf)) < 0)
			return r;
		snprintf(buf, sizeof(buf), "0x%02x", c->pci.bus);
		if ((r = set_prop(address, "bus", buf)) < 0)
			return r;
		snprintf(buf, sizeof(buf), "0x%02x", c->pci.slot);
		if ((r = set_prop(address, "slot", buf)) < 0)
			return r;
		snprintf(buf, sizeof(buf), "0x%x", c->pci.function);
		return set_prop(address, "function", buf);
	case HOSTDEV_MDEV:
		return set_prop(address, "uuid", c->uuid);
	}
	return -EINVAL;
}

/* Serialise the root element of @doc, indented, without a declaration, plus a newline. */
static int dump_root(xmlDoc *doc, char **out)
{
	_cleanup_(free_bufferp) xmlBuffer *buf = NULL;
	const xmlChar *content;
	char *s;
	int len;

	buf = sym.xmlBufferCreate();
	if (!buf)
		return -ENOMEM;
	if (sym.xmlNodeDump(buf, doc, sym.xmlDocGetRootElement(doc), 0, 1) < 0)
		return -ENOMEM;
	content = sym.xmlBufferContent(buf);
	len = sym.xmlBufferLength(buf);
	if (!content || len <= 0)
		return -ENOMEM;
	s = malloc((size_t)len + 2);
	if (!s)
		return -ENOMEM;
	memcpy(s, content, (size_t)len);
	s[len] = '\n';
	s[len + 1] = '\0';
	*out = s;
	return 0;
}

static int build(const struct checked *cs, size_t n, bool block, const struct hostdev_options *opts,
		 char **out)
{
	_cleanup_(free_docp) xmlDoc *doc = NULL;
	xmlNode *devices = NULL;
	int r;

	pthread_once(&sym_once, sym_load);
	if (sym_result < 0)
		return sym_result;
	doc = sym.xmlNewDoc(BAD_CAST "1.0");
	if (!doc)
		return -ENOMEM;
	if (block) {
		devices = sym.xmlNewDocNode(doc, NULL, BAD_CAST "devices", NULL);
		if (!devices)
			return -ENOMEM;
		sym.xmlDocSetRootElement(doc, devices);
	}
	for (size_t i = 0; i < n; i++) {
		r = add_hostdev(doc, devices, &cs[i], opts);
		if (r < 0)
			return r;
	}
	return dump_root(doc, out);
}

static int pci_xml(const struct pci_function *fn, bool unmanaged, char **out)
{
	struct hostdev_device d = {.kind = HOSTDEV_PCI, .pci = fn, .unmanaged = unmanaged};
	struct checked c;
	int r;

	r = check_device(&d, NULL, &c);
	if (r < 0)
		return r;
	return build(&c, 1, false, NULL, out);
}

int hostdev_pci_xml(const struct pci_function *fn, char **out)
{
	return pci_xml(fn, false, out);
}

int hostdev_pci_xml_unmanaged(const struct pci_function *fn, char **out)
{
	return pci_xml(fn, true, out);
}

int hostdev_mdev_xml(const struct mdev_instance *m, const char *device_api,
		     const struct hostdev_options *opts, char **out)
{
	struct hostdev_device d = {.kind = HOSTDEV_MDEV, .mdev = m, .device_api = device_api};
	struct checked c;
	int r;

	r = check_device(&d, opts, &c);
	if (r < 0)
		return r;
	return build(&c, 1, false, opts, out);
}

int hostdev_devices_xml(const struct hostdev_device *devs, size_t n,
			const struct hostdev_options *opts, char **out)
{
	_cleanup_free_ struct checked *cs = NULL;
	int r;

	if (!devs || n == 0)
		return -EINVAL;
	cs = calloc(n, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = check_device(&devs[i], opts, &cs[i]);
		if (r < 0)
			return r;
	}
	return build(cs, n, true, opts, out);
}
