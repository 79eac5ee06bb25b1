/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt: the libvirt adapter, the only file that includes <libvirt/libvirt.h>.
 *
 * What mdevd asks of libvirt:
 *   - which devices its domains name in <hostdev> (and <interface type='hostdev'>):
 *     an mdev UUID or a PCI address named by a running domain is *in use*, by a
 *     defined, inactive one (or only by a running domain's persistent config)
 *     *reserved*. Read from every domain's XML (virConnectListAllDomains,
 *     virDomainGetXMLDesc, with VIR_DOMAIN_XML_INACTIVE for the persistent config).
 *   - the mdev parents libvirt knows (node devices with the mdev_types capability)
 *     and their types, for `mdevd types --source libvirt`;
 *   - creating and removing mdevs through the node-device API, transient
 *     (virNodeDeviceCreateXML / virNodeDeviceDestroy) or persistent, kept by libvirt
 *     through mdevctl (virNodeDeviceDefineXML + virNodeDeviceSetAutostart +
 *     virNodeDeviceCreate / virNodeDeviceDestroy + virNodeDeviceUndefine).
 *
 * Parent names. mdevd names parents as sysfs does (class/mdev_bus: "0000:65:00.0",
 * "mtty"); libvirt names node devices by its own scheme ("pci_0000_65_00_0"). A
 * parent is found as the node device with mdev types whose sysfs <path> ends in the
 * parent's name: "pci_0000_65_00_0" for a PCI function, "<class>_<name>" for a virtual
 * parent (libvirt 9 on Debian 12 lists the kernel's sample parent mtty as "mtty_mtty",
 * but not mdpy and mbochs).
 * A parent libvirt does not list is reported as such (-ENODEV).
 *
 * Errors. libvirt's default error handler (which prints to stderr) is replaced by a
 * silent one while a connection is open; each failing call keeps libvirt's message,
 * which virt_last_error() returns, so the caller logs it once with its context.
 * Every call returns 0 or a negative errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/plan.h"

#define VIRT_DEFAULT_URI "qemu:///system"

struct virt;

/*
 * virt_open - connect to @uri (read-only when @read_only). On success *out is a new
 * connection (virt_close()). On failure *out is untouched and, when @err is not
 * NULL, libvirt's message is written to @err (@size bytes, NUL-terminated).
 * Returns 0, -ECONNREFUSED (libvirt could not connect), -EOPNOTSUPP or -ENXIO (libvirt.so.0
 * cannot be loaded, or lacks a call: it is loaded on first use, dlopen.h), -ENOMEM.
 */
int virt_open(const char *uri, bool read_only, struct virt **out, char *err, size_t size);

/* virt_close - close the connection. NULL is a no-op. */
void virt_close(struct virt *v);
DEFINE_CLEANUP(struct virt, virt_close) /* virt_closep() */

/* virt_uri - the URI @v was opened with (borrowed). */
const char *virt_uri(const struct virt *v);

/* virt_last_error - libvirt's message for the last failed call on @v ("" if none). */
const char *virt_last_error(const struct virt *v);

/*
 * virt_system_socket_exists - does a socket of the system libvirt daemon exist under
 * @run_dir (normally "/run"): libvirt/libvirt-sock(-ro) or libvirt/virtqemud-sock(-ro)?
 * Used to try qemu:///system by default without waiting on a daemon that is not there.
 */
bool virt_system_socket_exists(const char *run_dir);

/* What the domains name. */
struct virt_refs {
	struct plan_domain_ref *refs; /* id and domain strings owned here */
	size_t n;
	unsigned int n_domains; /* domains read */
};

/*
 * virt_domain_refs - read every domain (running and defined) and collect the mdev
 * UUIDs and PCI addresses they name, in domain-name order. On success fills @out
 * (virt_refs_release()). A domain that vanishes while it is read is skipped.
 * Returns 0, -EIO (libvirt failed: virt_last_error()), -ENOMEM.
 */
int virt_domain_refs(struct virt *v, struct virt_refs *out);
void virt_refs_release(struct virt_refs *r);

/*
 * virt_refs_find - the reference to @id (mdev UUID or PCI address), a running domain's
 * before a defined one's; NULL when no domain names it. Borrowed.
 */
const struct plan_domain_ref *virt_refs_find(const struct virt_refs *r, const char *id);

/*
 * virt_domain_refs_parse - add what one domain's XML @xml names to @out, as
 * domain @name (running or not). Exposed for the unit tests.
 * Returns 0, -EINVAL (not a domain XML), -ENOMEM.
 */
int virt_domain_refs_parse(const char *xml, const char *name, bool running, struct virt_refs *out);

/*
 * The node-device XML readers (libvirt's nodedev schema, docs/schemas/nodedev.rng), pure:
 * they parse the XML given and do no libvirt call. The calls below use them on what
 * virNodeDeviceGetXMLDesc() returns; exposed for the unit tests and the fuzz target
 * tests/fuzz/fuzz_libvirt_xml.c. Each returns -EINVAL when @xml is not well-formed,
 * -EOPNOTSUPP or -ENXIO when libxml2 cannot be loaded (xml_reader.h), or -ENOMEM.
 *
 * virt_nodedev_sysfs_name - the basename of the device's sysfs <path> ("0000:3b:00.4" of
 * <path>/sys/devices/.../0000:3b:00.4</path>; the first <path> when there are several, the
 * whole text when it has no '/'). On success *out is a new string (free()), or NULL when
 * the XML has no non-empty /device/path. Returns 0 or an error above.
 */
int virt_nodedev_sysfs_name(const char *xml, char **out);

/*
 * virt_nodedev_types_parse - append to @p->types (growing @p->n_types) every mdev type of
 * the XML: each <type> of a capability[@type='mdev_types'] nested in a /device/capability
 * (PCI, css, ap parents), with a non-empty @id. Its <name> (else the id), <deviceAPI>
 * (else ""), <availableInstances> (a decimal number up to 1 000 000, else 0) and
 * <description> (else NULL). Sorts @p->types by id on success. The types appended stay in
 * @p on failure too (partly filled on -ENOMEM), for the caller to free with the parent.
 * Returns 0 or an error above.
 */
int virt_nodedev_types_parse(const char *xml, struct mdev_parent *p);

/*
 * virt_nodedev_has_uuid - whether the XML is that of the mdev @uuid: some
 * /device/capability[@type='mdev']/uuid equals @uuid, ignoring case. Sets *match on
 * success. Returns 0 or an error above.
 */
int virt_nodedev_has_uuid(const char *xml, const char *uuid, bool *match);

/*
 * virt_parent_nodedev - the name of libvirt's node device for the mdev parent
 * @parent (a class/mdev_bus name). On success *out is a new string (free()).
 * Returns 0, -ENODEV (libvirt lists no such parent with mdev types), -EIO, -ENOMEM.
 */
int virt_parent_nodedev(struct virt *v, const char *parent, char **out);

/*
 * virt_mdev_xml - the node-device XML that creates an mdev of @type_id named @uuid
 * on the node device @parent_nodedev. On success *out is a new string (free()).
 * Returns 0, -EINVAL (a name with characters XML cannot carry verbatim), -ENOMEM.
 */
int virt_mdev_xml(const char *parent_nodedev, const char *type_id, const char *uuid, char **out);

/*
 * virt_mdev_create - create the mdev @uuid of @type_id on the parent @parent (sysfs
 * name) through libvirt; with @persist, define it, mark it autostart and start it.
 * Returns 0, -ENODEV (parent unknown to libvirt), -EOPNOTSUPP (the driver cannot),
 * -EEXIST (libvirt already has a device with that UUID), -EIO (other libvirt failure;
 * virt_last_error()), -ENOMEM.
 */
int virt_mdev_create(struct virt *v, const char *parent, const char *type_id, const char *uuid,
		     bool persist);

/*
 * virt_mdev_remove - stop the mdev @uuid through libvirt and, with @persist, undefine
 * it too (also when libvirt kept it as a defined, inactive device).
 * Returns 0, -ENOENT (libvirt knows no such mdev), -EOPNOTSUPP, -EIO, -ENOMEM.
 */
int virt_mdev_remove(struct virt *v, const char *uuid, bool persist);

/*
 * virt_inventory - the mdev parents libvirt lists and their types, as an inventory
 * with parents and types only (parent names as sysfs names them: the basename of
 * each node device's sysfs path), for comparison with the sysfs inventory.
 * On success *out is a new inventory (inventory_free()). Returns 0, -EIO, -ENOMEM.
 */
int virt_inventory(struct virt *v, struct inventory **out);

/*
 * virt_open_optional - the connection commands use to learn what domains name.
 * @uri: the user's --connect, or NULL for the default: VIRT_DEFAULT_URI, tried only
 * when @try_default and its socket exists under /run (never wait on an absent daemon).
 * Returns 1 with *out set, 0 when nothing was tried (*out NULL), or virt_open()'s
 * error with libvirt's message in @err.
 */
int virt_open_optional(const char *uri, bool try_default, bool read_only, struct virt **out,
		       char *err, size_t size);
