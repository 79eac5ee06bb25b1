/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt adapter; see libvirt_client.h for what mdevd asks of libvirt and why. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/stat.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "util/dlopen.h"
#include "mdevd/macro.h"
#include "libvirt/libvirt_client.h"
#include "libvirt/xml_reader.h"

struct virt {
	virConnectPtr conn;
	char *uri;
	char err[512];
};

/*
 * libvirt is loaded on first use (dlopen.h): one table, filled once under pthread_once()
 * by virt_open(), read-only afterwards. Every other call gets a struct virt, so the table
 * is there.
 */
struct virt_symbols {
	DLSYM_TYPE(virGetLastErrorMessage) virGetLastErrorMessage;
	DLSYM_TYPE(virGetLastErrorCode) virGetLastErrorCode;
	DLSYM_TYPE(virSetErrorFunc) virSetErrorFunc;
	DLSYM_TYPE(virConnectOpen) virConnectOpen;
	DLSYM_TYPE(virConnectOpenReadOnly) virConnectOpenReadOnly;
	DLSYM_TYPE(virConnectClose) virConnectClose;
	DLSYM_TYPE(virDomainGetName) virDomainGetName;
	DLSYM_TYPE(virDomainIsActive) virDomainIsActive;
	DLSYM_TYPE(virDomainIsPersistent) virDomainIsPersistent;
	DLSYM_TYPE(virDomainGetXMLDesc) virDomainGetXMLDesc;
	DLSYM_TYPE(virConnectListAllDomains) virConnectListAllDomains;
	DLSYM_TYPE(virDomainFree) virDomainFree;
	DLSYM_TYPE(virNodeDeviceGetXMLDesc) virNodeDeviceGetXMLDesc;
	DLSYM_TYPE(virNodeDeviceFree) virNodeDeviceFree;
	DLSYM_TYPE(virConnectListAllNodeDevices) virConnectListAllNodeDevices;
	DLSYM_TYPE(virNodeDeviceGetName) virNodeDeviceGetName;
	DLSYM_TYPE(virNodeDeviceCreateXML) virNodeDeviceCreateXML;
	DLSYM_TYPE(virNodeDeviceDefineXML) virNodeDeviceDefineXML;
	DLSYM_TYPE(virNodeDeviceSetAutostart) virNodeDeviceSetAutostart;
	DLSYM_TYPE(virNodeDeviceIsActive) virNodeDeviceIsActive;
	DLSYM_TYPE(virNodeDeviceCreate) virNodeDeviceCreate;
	DLSYM_TYPE(virNodeDeviceDestroy) virNodeDeviceDestroy;
	DLSYM_TYPE(virNodeDeviceLookupByName) virNodeDeviceLookupByName;
	DLSYM_TYPE(virNodeDeviceIsPersistent) virNodeDeviceIsPersistent;
	DLSYM_TYPE(virNodeDeviceUndefine) virNodeDeviceUndefine;
};

static struct virt_symbols sym;
static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static int sym_err;
static char sym_errmsg[256];

static void load_symbols(void)
{
	void *handle;

	sym_err = dlopen_symbols(
		&handle, SONAME_LIBVIRT, DLSYM_ARG(sym, virGetLastErrorMessage),
		DLSYM_ARG(sym, virGetLastErrorCode), DLSYM_ARG(sym, virSetErrorFunc),
		DLSYM_ARG(sym, virConnectOpen), DLSYM_ARG(sym, virConnectOpenReadOnly),
		DLSYM_ARG(sym, virConnectClose), DLSYM_ARG(sym, virDomainGetName),
		DLSYM_ARG(sym, virDomainIsActive), DLSYM_ARG(sym, virDomainIsPersistent),
		DLSYM_ARG(sym, virDomainGetXMLDesc), DLSYM_ARG(sym, virConnectListAllDomains),
		DLSYM_ARG(sym, virDomainFree), DLSYM_ARG(sym, virNodeDeviceGetXMLDesc),
		DLSYM_ARG(sym, virNodeDeviceFree), DLSYM_ARG(sym, virConnectListAllNodeDevices),
		DLSYM_ARG(sym, virNodeDeviceGetName), DLSYM_ARG(sym, virNodeDeviceCreateXML),
		DLSYM_ARG(sym, virNodeDeviceDefineXML), DLSYM_ARG(sym, virNodeDeviceSetAutostart),
		DLSYM_ARG(sym, virNodeDeviceIsActive), DLSYM_ARG(sym, virNodeDeviceCreate),
		DLSYM_ARG(sym, virNodeDeviceDestroy), DLSYM_ARG(sym, virNodeDeviceLookupByName),
		DLSYM_ARG(sym, virNodeDeviceIsPersistent), DLSYM_ARG(sym, virNodeDeviceUndefine),
		NULL);
	if (sym_err < 0)
		snprintf(sym_errmsg, sizeof(sym_errmsg), "cannot load " SONAME_LIBVIRT ": %s",
			 dlopen_error());
}

static void node_device_freep(virNodeDevicePtr *p)
{
	if (*p)
		sym.virNodeDeviceFree(*p);
}

/* libvirt prints every error to stderr unless a handler is set; mdevd logs them itself. */
static void silent_error(void *userdata, virErrorPtr err)
{
}

/* Keep libvirt's message of the call that just failed. */
static void keep_error(struct virt *v, const char *fallback)
{
	const char *msg = sym.virGetLastErrorMessage();

	snprintf(v->err, sizeof(v->err), "%s", msg && *msg ? msg : fallback);
}

/* libvirt's error code of the call that just failed, as an errno. */
static int last_errno(struct virt *v, const char *fallback)
{
	int code = sym.virGetLastErrorCode();

	keep_error(v, fallback);
	switch (code) {
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_NO_NODE_DEVICE:
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_NO_MEMORY:
		return -ENOMEM;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
		return -EACCES;
	default:
		return -EIO;
	}
}

int virt_open(const char *uri, bool read_only, struct virt **out, char *err, size_t size)
{
	_cleanup_free_ struct virt *v = NULL;

	pthread_once(&sym_once, load_symbols);
	if (sym_err < 0) {
		if (err && size)
			snprintf(err, size, "%s", sym_errmsg);
		return sym_err;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->uri = strdup(uri);
	if (!v->uri)
		return -ENOMEM;
	sym.virSetErrorFunc(NULL, silent_error);
	v->conn = read_only ? sym.virConnectOpenReadOnly(uri) : sym.virConnectOpen(uri);
	if (!v->conn) {
		const char *msg = sym.virGetLastErrorMessage();

		if (err && size)
			snprintf(err, size, "%s", msg && *msg ? msg : "cannot connect");
		free(v->uri);
		return -ECONNREFUSED;
	}
	*out = steal_ptr(v);
	return 0;
}

void virt_close(struct virt *v)
{
	if (!v)
		return;
	if (v->conn)
		sym.virConnectClose(v->conn);
	free(v->uri);
	free(v);
}

const char *virt_uri(const struct virt *v)
{
	return v->uri;
}

const char *virt_last_error(const struct virt *v)
{
	return v->err;
}

bool virt_system_socket_exists(const char *run_dir)
{
	static const char *const socks[] = {
		"libvirt/libvirt-sock",
		"libvirt/libvirt-sock-ro",
		"libvirt/virtqemud-sock",
		"libvirt/virtqemud-sock-ro",
	};
	char path[512];
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(socks); i++) {
		snprintf(path, sizeof(path), "%s/%s", run_dir, socks[i]);
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return true;
	}
	return false;
}

/* --- what domains name --- */

void virt_refs_release(struct virt_refs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->refs[i].id);
		free((char *)r->refs[i].domain);
	}
	free(r->refs);
	*r = (struct virt_refs){};
}

static int refs_add(struct virt_refs *r, const char *id, const char *domain, bool running)
{
	struct plan_domain_ref *p;
	char *i, *d;

	/* A device named twice by one domain (live and persistent config) counts once. */
	for (size_t k = 0; k < r->n; k++)
		if (strcasecmp(r->refs[k].id, id) == 0 && streq(r->refs[k].domain, domain))
			return 0;
	p = reallocarray(r->refs, r->n + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r->refs = p;
	i = strdup(id);
	d = strdup(domain);
	if (!i || !d) {
		free(i);
		free(d);
		return -ENOMEM;
	}
	for (char *c = i; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	r->refs[r->n++] = (struct plan_domain_ref){.id = i, .domain = d, .running = running};
	return 0;
}

const struct plan_domain_ref *virt_refs_find(const struct virt_refs *r, const char *id)
{
	const struct plan_domain_ref *best = NULL;

	for (size_t i = 0; i < r->n; i++) {
		if (strcasecmp(r->refs[i].id, id) != 0)
			continue;
		if (!best || (r->refs[i].running && !best->running))
			best = &r->refs[i];
	}
	return best;
}

struct parse_ctx {
	struct virt_refs *out;
	const char *name;
	bool running;
};

static int add_mdev_ref(void *userdata, const char *const *v)
{
	const struct parse_ctx *c = userdata;

	if (!v[0] || strlen(v[0]) != MDEVD_UUID_STR_LEN - 1)
		return 0;
	return refs_add(c->out, v[0], c->name, c->running);
}

/* libvirt writes PCI addresses as domain='0x0000' bus='0x06' slot='0x00' function='0x0'. */
static int add_pci_ref(void *userdata, const char *const *v)
{
	const struct parse_ctx *c = userdata;
	unsigned long f[4];
	char bdf[MDEVD_BDF_STR_LEN];

	for (int i = 0; i < 4; i++) {
		char *end;

		if (!v[i])
			return 0;
		errno = 0;
		f[i] = strtoul(v[i], &end, 0);
		if (errno || *end)
			return 0;
	}
	if (f[0] > 0xffff || f[1] > 0xff || f[2] > 0x1f || f[3] > 7)
		return 0;
	snprintf(bdf, sizeof(bdf), "%04lx:%02lx:%02lx.%lx", f[0], f[1], f[2], f[3]);
	return refs_add(c->out, bdf, c->name, c->running);
}

int virt_domain_refs_parse(const char *xml, const char *name, bool running, struct virt_refs *out)
{
	static const char *const mdev_fields[] = {"@uuid"};
	static const char *const pci_fields[] = {"@domain", "@bus", "@slot", "@function"};
	struct parse_ctx c = {.out = out, .name = name, .running = running};
	int r;

	r = xml_each(xml, "/domain/devices/hostdev[@type='mdev']/source/address", mdev_fields,
		     ARRAY_SIZE(mdev_fields), add_mdev_ref, &c);
	if (r < 0)
		return r;
	r = xml_each(xml,
		     "/domain/devices/hostdev[@type='pci']/source/address"
		     " | /domain/devices/interface[@type='hostdev']/source/address[@type='pci']",
		     pci_fields, ARRAY_SIZE(pci_fields), add_pci_ref, &c);
	return r;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct plan_domain_ref *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c ? c : strcmp(x->id, y->id);
}

/* One domain: its live XML when running, and its persistent config (reserved). */
static int domain_refs(struct virt *v, virDomainPtr dom, struct virt_refs *out)
{
	const char *name = sym.virDomainGetName(dom);
	int active = sym.virDomainIsActive(dom);
	int persistent = sym.virDomainIsPersistent(dom);
	int r;

	if (!name || active < 0 || persistent < 0)
		return 0; /* it went away meanwhile */
	if (active) {
		_cleanup_free_ char *xml = sym.virDomainGetXMLDesc(dom, 0);

		if (!xml)
			return 0;
		r = virt_domain_refs_parse(xml, name, true, out);
		if (r < 0)
			return r;
	}
	if (persistent) {
		_cleanup_free_ char *xml = sym.virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);

		if (!xml)
			return 0;
		r = virt_domain_refs_parse(xml, name, false, out);
		if (r < 0)
			return r;
	}
	out->n_domains++;
	return 0;
}

int virt_domain_refs(struct virt *v, struct virt_refs *out)
{
	struct virt_refs refs = {};
	virDomainPtr *doms = NULL;
	int n, r = 0;

	n = sym.virConnectListAllDomains(v->conn, &doms, 0);
	if (n < 0)
		return last_errno(v, "cannot list domains");
	for (int i = 0; i < n; i++) {
		if (r == 0)
			r = domain_refs(v, doms[i], &refs);
		sym.virDomainFree(doms[i]);
	}
	free(doms);
	if (r < 0) {
		virt_refs_release(&refs);
		return r;
	}
	if (refs.n)
		qsort(refs.refs, refs.n, sizeof(*refs.refs), ref_cmp);
	*out = refs;
	return 0;
}

/* --- node devices --- */

struct nodedev_path {
	char *path;
};

static int take_path(void *userdata, const char *const *v)
{
	struct nodedev_path *p = userdata;

	if (v[0] && !p->path) {
		p->path = strdup(v[0]);
		if (!p->path)
			return -ENOMEM;
	}
	return 0;
}

int virt_nodedev_sysfs_name(const char *xml, char **out)
{
	static const char *const fields[] = {"string(.)"};
	struct nodedev_path p = {};
	char *slash;
	int r;

	r = xml_each(xml, "/device/path", fields, 1, take_path, &p);
	if (r < 0) {
		free(p.path);
		return r;
	}
	*out = NULL;
	if (!p.path)
		return 0;
	slash = strrchr(p.path, '/');
	if (slash) {
		memmove(p.path, slash + 1, strlen(slash + 1) + 1);
	}
	*out = p.path;
	return 0;
}

/* The basename of a node device's sysfs <path>; *out NULL when it has none. */
static int nodedev_sysfs_name(struct virt *v, virNodeDevicePtr dev, char **out)
{
	_cleanup_free_ char *xml = sym.virNodeDeviceGetXMLDesc(dev, 0);

	if (!xml)
		return last_errno(v, "cannot read a node device's XML");
	return virt_nodedev_sysfs_name(xml, out);
}

static void free_devices(virNodeDevicePtr *devs, int n)
{
	for (int i = 0; i < n; i++)
		sym.virNodeDeviceFree(devs[i]);
	free(devs);
}

int virt_parent_nodedev(struct virt *v, const char *parent, char **out)
{
	virNodeDevicePtr *devs = NULL;
	char *found = NULL;
	int n, r = 0;

	n = sym.virConnectListAllNodeDevices(v->conn, &devs,
					     VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV_TYPES);
	if (n < 0)
		return last_errno(v, "cannot list node devices");
	for (int i = 0; i < n && !found && r == 0; i++) {
		_cleanup_free_ char *name = NULL;

		r = nodedev_sysfs_name(v, devs[i], &name);
		if (r == 0 && name && streq(name, parent)) {
			found = strdup(sym.virNodeDeviceGetName(devs[i]));
			if (!found)
				r = -ENOMEM;
		}
	}
	free_devices(devs, n);
	if (r < 0)
		return r;
	if (!found) {
		snprintf(v->err, sizeof(v->err),
			 "libvirt lists no node device with mdev types for parent %s", parent);
		return -ENODEV;
	}
	*out = found;
	return 0;
}

/* Names that go into XML verbatim: sysfs names, type ids, UUIDs. */
static bool xml_safe(const char *s)
{
	return s && *s && !strpbrk(s, "<>&'\"");
}

int virt_mdev_xml(const char *parent_nodedev, const char *type_id, const char *uuid, char **out)
{
	char *xml;

	if (!xml_safe(parent_nodedev) || !xml_safe(type_id) || !xml_safe(uuid))
		return -EINVAL;
	if (asprintf(&xml,
		     "<device>\n"
		     "  <parent>%s</parent>\n"
		     "  <capability type='mdev'>\n"
		     "    <type id='%s'/>\n"
		     "    <uuid>%s</uuid>\n"
		     "  </capability>\n"
		     "</device>\n",
		     parent_nodedev, type_id, uuid) < 0)
		return -ENOMEM;
	*out = xml;
	return 0;
}

int virt_mdev_create(struct virt *v, const char *parent, const char *type_id, const char *uuid,
		     bool persist)
{
	_cleanup_free_ char *nodedev = NULL, *xml = NULL;
	_cleanup_(node_device_freep) virNodeDevicePtr dev = NULL;
	int r;

	v->err[0] = '\0';
	r = virt_parent_nodedev(v, parent, &nodedev);
	if (r < 0)
		return r;
	r = virt_mdev_xml(nodedev, type_id, uuid, &xml);
	if (r < 0)
		return r;
	if (!persist) {
		dev = sym.virNodeDeviceCreateXML(v->conn, xml, 0);
		return dev ? 0 : last_errno(v, "cannot create the mdev");
	}
	dev = sym.virNodeDeviceDefineXML(v->conn, xml, 0);
	if (!dev)
		return last_errno(v, "cannot define the mdev");
	if (sym.virNodeDeviceSetAutostart(dev, 1) < 0)
		return last_errno(v, "cannot mark the mdev autostart");
	if (sym.virNodeDeviceIsActive(dev) == 1)
		return 0;
	if (sym.virNodeDeviceCreate(dev, 0) < 0)
		return last_errno(v, "cannot start the defined mdev");
	return 0;
}

struct uuid_match {
	const char *uuid;
	bool match;
};

static int match_uuid(void *userdata, const char *const *v)
{
	struct uuid_match *m = userdata;

	if (v[0] && strcasecmp(v[0], m->uuid) == 0)
		m->match = true;
	return 0;
}

int virt_nodedev_has_uuid(const char *xml, const char *uuid, bool *match)
{
	static const char *const fields[] = {"string(.)"};
	struct uuid_match m = {.uuid = uuid};
	int r;

	r = xml_each(xml, "/device/capability[@type='mdev']/uuid", fields, 1, match_uuid, &m);
	if (r < 0)
		return r;
	*match = m.match;
	return 0;
}

/* The node device of the mdev @uuid, live or only defined; NULL when none. */
static int find_mdev(struct virt *v, const char *uuid, virNodeDevicePtr *out)
{
	virNodeDevicePtr *devs = NULL, found = NULL;
	int n, r = 0;

	n = sym.virConnectListAllNodeDevices(v->conn, &devs,
					     VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV);
	if (n < 0)
		return last_errno(v, "cannot list mdev node devices");
	for (int i = 0; i < n && !found && r == 0; i++) {
		_cleanup_free_ char *xml = sym.virNodeDeviceGetXMLDesc(devs[i], 0);
		bool match = false;

		if (!xml)
			continue; /* it went away meanwhile */
		r = virt_nodedev_has_uuid(xml, uuid, &match);
		if (r == 0 && match) {
			found = devs[i];
			devs[i] = NULL;
		}
	}
	for (int i = 0; i < n; i++)
		if (devs[i])
			sym.virNodeDeviceFree(devs[i]);
	free(devs);
	if (r < 0) {
		if (found)
			sym.virNodeDeviceFree(found);
		return r;
	}
	*out = found;
	return 0;
}

int virt_mdev_remove(struct virt *v, const char *uuid, bool persist)
{
	_cleanup_(node_device_freep) virNodeDevicePtr dev = NULL;
	_cleanup_free_ char *name = NULL;
	int active, r;

	v->err[0] = '\0';
	r = find_mdev(v, uuid, &dev);
	if (r < 0)
		return r;
	if (!dev) {
		snprintf(v->err, sizeof(v->err), "libvirt knows no mdev %s", uuid);
		return -ENOENT;
	}
	name = strdup(sym.virNodeDeviceGetName(dev));
	if (!name)
		return -ENOMEM;
	active = sym.virNodeDeviceIsActive(dev);
	if (active != 0 && sym.virNodeDeviceDestroy(dev) < 0)
		return last_errno(v, "cannot stop the mdev");
	if (!persist) {
		if (active == 0) {
			snprintf(v->err, sizeof(v->err), "the mdev %s is not started", uuid);
			return -ENOENT; /* only defined: as far as the node goes, it is gone */
		}
		return 0;
	}
	/* A defined device outlives its destroy; look it up again by name. */
	sym.virNodeDeviceFree(steal_ptr(dev));
	dev = sym.virNodeDeviceLookupByName(v->conn, name);
	if (!dev)
		return 0; /* it was transient */
	if (sym.virNodeDeviceIsPersistent(dev) == 1 && sym.virNodeDeviceUndefine(dev, 0) < 0)
		return last_errno(v, "cannot undefine the mdev");
	return 0;
}

/* --- what libvirt offers, as an inventory --- */

struct type_acc {
	struct mdev_parent *p;
	int err;
};

static int add_type(void *userdata, const char *const *v)
{
	struct type_acc *a = userdata;
	struct mdev_type *t, *types;
	char *end;
	unsigned long avail;

	if (!v[0])
		return 0;
	types = reallocarray(a->p->types, a->p->n_types + 1, sizeof(*types));
	if (!types)
		return -ENOMEM;
	a->p->types = types;
	t = &types[a->p->n_types];
	*t = (struct mdev_type){};
	errno = 0;
	avail = v[3] ? strtoul(v[3], &end, 10) : 0;
	if (errno || (v[3] && *end) || avail > 1000000)
		avail = 0;
	t->available_instances = (unsigned int)avail;
	t->id = strdup(v[0]);
	t->name = strdup(v[1] ? v[1] : v[0]);
	t->device_api = strdup(v[2] ? v[2] : "");
	t->description = v[4] ? strdup(v[4]) : NULL;
	a->p->n_types++;
	if (!t->id || !t->name || !t->device_api || (v[4] && !t->description))
		return -ENOMEM;
	return 0;
}

static int parent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mdev_parent *)a)->name, ((const struct mdev_parent *)b)->name);
}

static int type_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mdev_type *)a)->id, ((const struct mdev_type *)b)->id);
}

int virt_nodedev_types_parse(const char *xml, struct mdev_parent *p)
{
	static const char *const fields[] = {"@id", "string(name)", "string(deviceAPI)",
					     "string(availableInstances)", "string(description)"};
	struct type_acc acc = {.p = p};
	int r;

	/* PCI parents nest mdev_types in the pci capability; css/ap ones too. */
	r = xml_each(xml, "/device/capability//capability[@type='mdev_types']/type", fields,
		     ARRAY_SIZE(fields), add_type, &acc);
	if (r == 0 && p->n_types)
		qsort(p->types, p->n_types, sizeof(*p->types), type_cmp);
	return r;
}

int virt_inventory(struct virt *v, struct inventory **out)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	virNodeDevicePtr *devs = NULL;
	int n, r = 0;

	inv = calloc(1, sizeof(*inv));
	if (!inv)
		return -ENOMEM;
	n = sym.virConnectListAllNodeDevices(v->conn, &devs,
					     VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV_TYPES);
	if (n < 0)
		return last_errno(v, "cannot list node devices");
	inv->parents = calloc(n ? (size_t)n : 1, sizeof(*inv->parents));
	if (!inv->parents)
		r = -ENOMEM;
	for (int i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *xml = sym.virNodeDeviceGetXMLDesc(devs[i], 0);
		struct mdev_parent *p = &inv->parents[inv->n_parents];
		char *name = NULL;

		if (!xml)
			continue;
		r = nodedev_sysfs_name(v, devs[i], &name);
		if (r < 0 || !name)
			continue;
		*p = (struct mdev_parent){.name = name, .numa_node = -1};
		inv->n_parents++;
		r = virt_nodedev_types_parse(xml, p);
	}
	free_devices(devs, n);
	if (r < 0)
		return r;
	if (inv->n_parents)
		qsort(inv->parents, inv->n_parents, sizeof(*inv->parents), parent_cmp);
	*out = steal_ptr(inv);
	return 0;
}

int virt_open_optional(const char *uri, bool try_default, bool read_only, struct virt **out,
		       char *err, size_t size)
{
	int r;

	*out = NULL;
	if (!uri) {
		if (!try_default || !virt_system_socket_exists("/run"))
			return 0;
		uri = VIRT_DEFAULT_URI;
	}
	r = virt_open(uri, read_only, out, err, size);
	return r < 0 ? r : 1;
}
