/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uevent: the kernel's device events from a NETLINK_KOBJECT_UEVENT socket, parsed and
 * sorted into what mdevd cares about.
 *
 * Source of truth: lib/kobject_uevent.c and drivers/base/core.c (Linux 6.1). A kernel
 * message is "<action>@<devpath>\0" followed by "KEY=value\0" pairs: ACTION, DEVPATH,
 * SUBSYSTEM, SEQNUM, and as the device has them DRIVER (bind), DEVNAME, MDEV_TYPE,
 * MDEV_STATE (parent registration), PCI_SLOT_NAME. Messages from udev (multicast
 * group 2) start with "libudev\0"; mdevd listens to the kernel's group 1 only, and only
 * to the kernel (sender port 0, credentials of uid 0).
 *
 * What creates which event:
 *   - mdev create/remove: add@ / remove@ with SUBSYSTEM=mdev, DEVPATH ending in the UUID;
 *     bind@ / unbind@ when vfio_mdev (or another mdev driver) binds it.
 *   - parent registration: mdev_register_parent() / mdev_unregister_parent() send a
 *     change@ on the parent device itself (a PCI function, /devices/virtual/mtty/mtty)
 *     with MDEV_STATE=registered / unregistered; the parent keeps its own SUBSYSTEM.
 *     class/mdev_bus is a class_compat link and sends nothing. Kernels that had a real
 *     "mdev_bus" class sent add@ / remove@ with SUBSYSTEM=mdev_bus: also parent events.
 *   - PCI: add@ / remove@ (hot-plug, SR-IOV VFs appearing), bind@ / unbind@ (driver
 *     changes, vfio-pci binding), SUBSYSTEM=pci.
 * None of these calls logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest message the kernel sends (UEVENT_BUFFER_SIZE is 2048), with room. */
#define UEVENT_MSG_MAX 8192

enum uevent_action {
	UEVENT_ACTION_UNKNOWN,
	UEVENT_ACTION_ADD,
	UEVENT_ACTION_REMOVE,
	UEVENT_ACTION_CHANGE,
	UEVENT_ACTION_MOVE,
	UEVENT_ACTION_ONLINE,
	UEVENT_ACTION_OFFLINE,
	UEVENT_ACTION_BIND,
	UEVENT_ACTION_UNBIND,
};

/* What an event means to mdevd. */
enum uevent_kind {
	UEVENT_IGNORE,	      /* nothing mdevd serves or manages can have changed */
	UEVENT_MDEV_ADD,      /* an mdev was created (name = UUID) */
	UEVENT_MDEV_REMOVE,   /* an mdev was removed (name = UUID) */
	UEVENT_MDEV_CHANGE,   /* an mdev's driver was bound or unbound */
	UEVENT_PARENT_ADD,    /* a device registered as an mdev parent (name = parent) */
	UEVENT_PARENT_REMOVE, /* a parent unregistered: its mdevs are going or gone */
	UEVENT_PCI_ADD,	      /* a PCI function appeared (name = BDF) */
	UEVENT_PCI_REMOVE,    /* a PCI function went away */
	UEVENT_PCI_BIND,      /* a driver bound to a PCI function (driver set) */
	UEVENT_PCI_UNBIND,    /* a driver let go of a PCI function */
	UEVENT_VFIO,	      /* a VFIO group device node came or went (health) */
	UEVENT_DEVICE,	      /* another device came, went, bound or unbound: maybe a parent */
};

/*
 * One parsed message. The strings point into the buffer given to uevent_parse()
 * (borrowed; valid while it is), except name, which is a copy.
 */
struct uevent {
	enum uevent_action action;
	const char *action_str; /* "add", ... as sent */
	const char *devpath;	/* "/devices/virtual/mtty/mtty/<uuid>" */
	const char *subsystem;	/* "mdev", "pci", ...; NULL when the message has none */
	const char *driver;	/* DRIVER= (bind); NULL when absent */
	const char *mdev_type;	/* MDEV_TYPE= (mdev events); NULL when absent */
	const char *mdev_state; /* MDEV_STATE= ("registered", "unregistered"); NULL when absent */
	uint64_t seqnum;	/* SEQNUM=; 0 when absent */
	char name[256];		/* last component of devpath */
	enum uevent_kind kind;	/* uevent_classify() of the above */
};

/*
 * uevent_parse - parse one kernel message of @len bytes (need not end in NUL; a
 * trailing partial pair is ignored). Fills @out, also its kind, only on success.
 * Returns 0, or -EINVAL when the message is not a kernel uevent: a udev message
 * ("libudev" header), no "@" header, or a header that disagrees with ACTION/DEVPATH.
 */
int uevent_parse(const char *buf, size_t len, struct uevent *out);

/* uevent_classify - what @ev means to mdevd (from action, subsystem, devpath, driver). */
enum uevent_kind uevent_classify(const struct uevent *ev);

/* What has to be read again after an event; a larger scope covers the smaller ones. */
enum uevent_scope {
	UEVENT_SCOPE_NONE,  /* nothing (UEVENT_IGNORE) */
	UEVENT_SCOPE_MDEVS, /* the parents' types and the mdev instances; no PCI function changed */
	UEVENT_SCOPE_ALL,   /* the whole node, the PCI functions (libpci) too */
};

/*
 * uevent_scope - what a refresh after @ev must read again. Events on mdevs (add, remove,
 * driver bind and unbind) and on VFIO group nodes change no PCI function: UEVENT_SCOPE_MDEVS.
 * (A vfio-pci bind that creates a group node also sends a PCI bind.) Parents registering or
 * unregistering, PCI functions and other devices: UEVENT_SCOPE_ALL.
 */
enum uevent_scope uevent_scope(const struct uevent *ev);

/*
 * uevent_ends_change - whether @ev is the last message the kernel sends for one change, so
 * that nothing more of it is to be waited for. mdev create (mdev_device_create(), 6.1) sends
 * add@ of the mdev, add@ of its VFIO group and vfio-dev nodes, then bind@ of the mdev when its
 * driver probed; an mdev remove sends remove@ of the vfio-dev and group nodes, unbind@, then
 * remove@ of the mdev. True for that bind@ and that remove@ of an mdev.
 * Note: the mdev's mdev_type link is made just after its bind@ is sent, so a scan right after
 * it may find the mdev half-made (inventory reports it as vanished, -ENOENT).
 */
bool uevent_ends_change(const struct uevent *ev);

/* uevent_kind_str - "mdev add", "pci bind", ... for log lines; static storage. */
const char *uevent_kind_str(enum uevent_kind kind);

/*
 * uevent_open - a non-blocking NETLINK_KOBJECT_UEVENT socket bound to the kernel's
 * multicast group, with SO_PASSCRED on and a large receive buffer (bursts of events
 * from SR-IOV or a driver load). Sets *fd (owned by the caller). Returns 0 or -errno
 * (-EPROTONOSUPPORT, -EPERM in a sandbox without AF_NETLINK).
 */
int uevent_open(int *fd);

/*
 * uevent_receive - read one message from @fd into @buf (of @size >= UEVENT_MSG_MAX)
 * and parse it into @out, only on success.
 * Returns 0, -EAGAIN when nothing is queued, -ENOBUFS when the kernel dropped events
 * (the socket overflowed: re-read everything), -EBADMSG for a message to skip (not from
 * the kernel: sender port not 0 or not uid 0; or one that does not parse), or another
 * -errno from recvmsg(2).
 */
int uevent_receive(int fd, char *buf, size_t size, struct uevent *out);
