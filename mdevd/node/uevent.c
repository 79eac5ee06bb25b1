/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel uevents: the netlink socket, the message parser and the classifier. */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "node/uevent.h"

/* Kernel multicast group of NETLINK_KOBJECT_UEVENT (udev re-sends on group 2). */
#define UEVENT_GROUP_KERNEL 1u
/* Receive buffer asked for: a driver load or SR-IOV enable sends hundreds of events. */
#define UEVENT_RCVBUF (4 << 20)

static const struct {
	const char *name;
	enum uevent_action action;
} actions[] = {
	{"add", UEVENT_ACTION_ADD},	  {"remove", UEVENT_ACTION_REMOVE},
	{"change", UEVENT_ACTION_CHANGE}, {"move", UEVENT_ACTION_MOVE},
	{"online", UEVENT_ACTION_ONLINE}, {"offline", UEVENT_ACTION_OFFLINE},
	{"bind", UEVENT_ACTION_BIND},	  {"unbind", UEVENT_ACTION_UNBIND},
};

/*
 * Subsystems whose devices are never mdev parents, PCI functions or VFIO groups, and
 * that are busy on a node (containers start and stop network devices, disks come and
 * go): their add/remove/bind/unbind do not trigger a re-read.
 */
static const char *const quiet_subsystems[] = {
	"backlight",	"bdi",		"block",     "bsg",	  "cpu",       "cpuid",
	"drm",		"firmware",	"hidraw",    "hwmon",	  "input",     "leds",
	"machinecheck", "mem",		"memory",    "module",	  "msr",       "net",
	"nvme",		"power_supply", "queues",    "rfkill",	  "scsi",      "scsi_device",
	"scsi_disk",	"scsi_generic", "scsi_host", "sound",	  "thermal",   "tty",
	"usb",		"usbmisc",	"vc",	     "vtconsole", "workqueue", "wakeup",
};

static enum uevent_action parse_action(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (streq(s, actions[i].name))
			return actions[i].action;
	return UEVENT_ACTION_UNKNOWN;
}

static bool is_quiet_subsystem(const char *subsystem)
{
	for (size_t i = 0; i < ARRAY_SIZE(quiet_subsystems); i++)
		if (streq(subsystem, quiet_subsystems[i]))
			return true;
	return false;
}

static bool is_add_remove_bind(enum uevent_action a)
{
	return a == UEVENT_ACTION_ADD || a == UEVENT_ACTION_REMOVE || a == UEVENT_ACTION_BIND ||
	       a == UEVENT_ACTION_UNBIND;
}

enum uevent_kind uevent_classify(const struct uevent *ev)
{
	const char *sub = ev->subsystem ? ev->subsystem : "";
	enum uevent_action a = ev->action;

	/* mdev_register_parent() announces itself on the parent, whatever its subsystem. */
	if (a == UEVENT_ACTION_CHANGE && ev->mdev_state) {
		if (streq(ev->mdev_state, "registered"))
			return UEVENT_PARENT_ADD;
		if (streq(ev->mdev_state, "unregistered"))
			return UEVENT_PARENT_REMOVE;
		return UEVENT_IGNORE;
	}
	if (streq(sub, "mdev")) {
		switch (a) {
		case UEVENT_ACTION_ADD:
			return UEVENT_MDEV_ADD;
		case UEVENT_ACTION_REMOVE:
			return UEVENT_MDEV_REMOVE;
		case UEVENT_ACTION_BIND:
		case UEVENT_ACTION_UNBIND:
			return UEVENT_MDEV_CHANGE;
		case UEVENT_ACTION_UNKNOWN:
		case UEVENT_ACTION_CHANGE:
		case UEVENT_ACTION_MOVE:
		case UEVENT_ACTION_ONLINE:
		case UEVENT_ACTION_OFFLINE:
			return UEVENT_IGNORE;
		}
		return UEVENT_IGNORE;
	}
	if (streq(sub, "mdev_bus")) {
		if (a == UEVENT_ACTION_ADD)
			return UEVENT_PARENT_ADD;
		if (a == UEVENT_ACTION_REMOVE)
			return UEVENT_PARENT_REMOVE;
		return UEVENT_IGNORE;
	}
	if (streq(sub, "pci")) {
		switch (a) {
		case UEVENT_ACTION_ADD:
			return UEVENT_PCI_ADD;
		case UEVENT_ACTION_REMOVE:
			return UEVENT_PCI_REMOVE;
		case UEVENT_ACTION_BIND:
			return UEVENT_PCI_BIND;
		case UEVENT_ACTION_UNBIND:
			return UEVENT_PCI_UNBIND;
		case UEVENT_ACTION_UNKNOWN:
		case UEVENT_ACTION_CHANGE:
		case UEVENT_ACTION_MOVE:
		case UEVENT_ACTION_ONLINE:
		case UEVENT_ACTION_OFFLINE:
			return UEVENT_IGNORE;
		}
		return UEVENT_IGNORE;
	}
	/* /dev/vfio/<group> (class vfio) and iommufd's /dev/vfio/devices/vfioN (vfio-dev). */
	if (streq(sub, "vfio") || streq(sub, "vfio-dev"))
		return a == UEVENT_ACTION_ADD || a == UEVENT_ACTION_REMOVE ? UEVENT_VFIO
									   : UEVENT_IGNORE;
	if (!*sub || is_quiet_subsystem(sub) || !is_add_remove_bind(a))
		return UEVENT_IGNORE;
	return UEVENT_DEVICE;
}

enum uevent_scope uevent_scope(const struct uevent *ev)
{
	switch (ev->kind) {
	case UEVENT_IGNORE:
		return UEVENT_SCOPE_NONE;
	case UEVENT_MDEV_ADD:
	case UEVENT_MDEV_REMOVE:
	case UEVENT_MDEV_CHANGE:
	case UEVENT_VFIO:
		return UEVENT_SCOPE_MDEVS;
	case UEVENT_PARENT_ADD:
	case UEVENT_PARENT_REMOVE:
	case UEVENT_PCI_ADD:
	case UEVENT_PCI_REMOVE:
	case UEVENT_PCI_BIND:
	case UEVENT_PCI_UNBIND:
	case UEVENT_DEVICE:
		return UEVENT_SCOPE_ALL;
	}
	return UEVENT_SCOPE_ALL;
}

bool uevent_ends_change(const struct uevent *ev)
{
	return (ev->kind == UEVENT_MDEV_CHANGE && ev->action == UEVENT_ACTION_BIND) ||
	       ev->kind == UEVENT_MDEV_REMOVE;
}

const char *uevent_kind_str(enum uevent_kind kind)
{
	switch (kind) {
	case UEVENT_IGNORE:
		return "ignored";
	case UEVENT_MDEV_ADD:
		return "mdev add";
	case UEVENT_MDEV_REMOVE:
		return "mdev remove";
	case UEVENT_MDEV_CHANGE:
		return "mdev driver change";
	case UEVENT_PARENT_ADD:
		return "parent registered";
	case UEVENT_PARENT_REMOVE:
		return "parent unregistered";
	case UEVENT_PCI_ADD:
		return "pci add";
	case UEVENT_PCI_REMOVE:
		return "pci remove";
	case UEVENT_PCI_BIND:
		return "pci bind";
	case UEVENT_PCI_UNBIND:
		return "pci unbind";
	case UEVENT_VFIO:
		return "vfio group change";
	case UEVENT_DEVICE:
		return "device change";
	}
	return "?";
}

int uevent_parse(const char *buf, size_t len, struct uevent *out)
{
	struct uevent ev = {};
	const char *end = buf + len, *p, *at, *header_path, *slash;
	size_t hlen;

	/* The header is "<action>@<devpath>", NUL-terminated. */
	hlen = strnlen(buf, len);
	if (hlen == len || hlen == 0)
		return -EINVAL;
	if (hlen >= 8 && memcmp(buf, "libudev", 8) == 0)
		return -EINVAL;
	at = memchr(buf, '@', hlen);
	if (!at || at == buf || at[1] != '/')
		return -EINVAL;
	header_path = at + 1;

	for (p = buf + hlen + 1; p < end;) {
		size_t n = strnlen(p, (size_t)(end - p));
		const char *eq;

		if (p + n == end) /* no NUL before the end: a cut-off pair */
			break;
		eq = memchr(p, '=', n);
		if (eq) {
			const char *val = eq + 1;
			size_t klen = (size_t)(eq - p);

#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
			if (KEY_IS("ACTION"))
				ev.action_str = val;
			else if (KEY_IS("DEVPATH"))
				ev.devpath = val;
			else if (KEY_IS("SUBSYSTEM"))
				ev.subsystem = val;
			else if (KEY_IS("DRIVER"))
				ev.driver = val;
			else if (KEY_IS("MDEV_TYPE"))
				ev.mdev_type = val;
			else if (KEY_IS("MDEV_STATE"))
				ev.mdev_state = val;
			else if (KEY_IS("SEQNUM"))
				ev.seqnum = strtoull(val, NULL, 10);
#undef KEY_IS
		}
		p += n + 1;
	}
	if (!ev.action_str || !ev.devpath)
		return -EINVAL;
	/* The header must say the same as the pairs. */
	if ((size_t)(at - buf) != strlen(ev.action_str) ||
	    memcmp(buf, ev.action_str, (size_t)(at - buf)) != 0 ||
	    strncmp(header_path, ev.devpath, hlen - (size_t)(header_path - buf)) != 0 ||
	    ev.devpath[hlen - (size_t)(header_path - buf)] != '\0')
		return -EINVAL;
	ev.action = parse_action(ev.action_str);
	slash = strrchr(ev.devpath, '/');
	if (!slash || !slash[1] || strlen(slash + 1) >= sizeof(ev.name))
		return -EINVAL;
	strcpy(ev.name, slash + 1);
	ev.kind = uevent_classify(&ev);
	*out = ev;
	return 0;
}

int uevent_open(int *fd)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = UEVENT_GROUP_KERNEL,
	};
	_cleanup_close_ int s = -1;
	int one = 1, size = UEVENT_RCVBUF;

	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (s < 0)
		return -errno;
	/* SO_RCVBUFFORCE passes the rmem_max limit with CAP_NET_ADMIN; else take what we get. */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*fd = steal_fd(s);
	return 0;
}

int uevent_receive(int fd, char *buf, size_t size, struct uevent *out)
{
	char control[CMSG_SPACE(sizeof(struct ucred))];
	struct sockaddr_nl sa = {};
	struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
	struct msghdr msg = {
		.msg_name = &sa,
		.msg_namelen = sizeof(sa),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	const struct ucred *cred = NULL;
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EBADMSG;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
			cred = (const struct ucred *)(const void *)CMSG_DATA(c);
	/* Only the kernel: port 0 and uid 0 (anyone may send to the group otherwise). */
	if (msg.msg_namelen != sizeof(sa) || sa.nl_family != AF_NETLINK || sa.nl_pid != 0 ||
	    !cred || cred->uid != 0)
		return -EBADMSG;
	buf[n] = '\0';
	return uevent_parse(buf, (size_t)n, out) < 0 ? -EBADMSG : 0;
}
