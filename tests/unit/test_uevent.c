/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uevent: parse kernel messages as the kernel lays them out (header, then KEY=value
 * pairs, each NUL-terminated) and classify them. The messages below are the ones a
 * 6.1 kernel sends for the sample drivers, an NVIDIA GPU and vfio-pci.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "mdevd/macro.h"
#include "node/uevent.h"

/* A message literal: sizeof - 1 drops the literal's own closing NUL, keeping the last pair's. */
#define MSG(s) s, sizeof(s) - 1

#define UUID "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"

static const char mdev_add[] = "add@/devices/virtual/mtty/mtty/" UUID "\0"
			       "ACTION=add\0"
			       "DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0"
			       "SUBSYSTEM=mdev\0"
			       "MDEV_TYPE=mtty-2\0"
			       "SEQNUM=4711\0";

static void parse_mdev_add(void **state)
{
	struct uevent ev;

	assert_int_equal(uevent_parse(MSG(mdev_add), &ev), 0);
	assert_int_equal(ev.action, UEVENT_ACTION_ADD);
	assert_string_equal(ev.action_str, "add");
	assert_string_equal(ev.devpath, "/devices/virtual/mtty/mtty/" UUID);
	assert_string_equal(ev.subsystem, "mdev");
	assert_string_equal(ev.mdev_type, "mtty-2");
	assert_null(ev.driver);
	assert_null(ev.mdev_state);
	assert_int_equal(ev.seqnum, 4711);
	assert_string_equal(ev.name, UUID);
	assert_int_equal(ev.kind, UEVENT_MDEV_ADD);
	assert_string_equal(uevent_kind_str(ev.kind), "mdev add");
}

static void parse_mdev_remove_and_bind(void **state)
{
	static const char rm[] = "remove@/devices/pci0000:00/0000:00:02.0/" UUID "\0"
				 "ACTION=remove\0"
				 "DEVPATH=/devices/pci0000:00/0000:00:02.0/" UUID "\0"
				 "SUBSYSTEM=mdev\0"
				 "SEQNUM=12\0";
	static const char bind[] = "bind@/devices/virtual/mtty/mtty/" UUID "\0"
				   "ACTION=bind\0"
				   "DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0"
				   "SUBSYSTEM=mdev\0"
				   "DRIVER=vfio_mdev\0"
				   "SEQNUM=13\0";
	struct uevent ev;

	assert_int_equal(uevent_parse(MSG(rm), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_MDEV_REMOVE);
	assert_string_equal(ev.name, UUID);
	assert_int_equal(uevent_parse(MSG(bind), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_MDEV_CHANGE);
	assert_string_equal(ev.driver, "vfio_mdev");
}

/* mdev_register_parent(): change@ on the parent, in its own subsystem. */
static void parse_parent_registered(void **state)
{
	static const char mtty[] = "change@/devices/virtual/mtty/mtty\0"
				   "ACTION=change\0"
				   "DEVPATH=/devices/virtual/mtty/mtty\0"
				   "SUBSYSTEM=mtty\0"
				   "MDEV_STATE=registered\0"
				   "SEQNUM=2000\0";
	static const char gpu_gone[] = "change@/devices/pci0000:64/0000:64:00.0/0000:65:00.0\0"
				       "ACTION=change\0"
				       "DEVPATH=/devices/pci0000:64/0000:64:00.0/0000:65:00.0\0"
				       "SUBSYSTEM=pci\0"
				       "MDEV_STATE=unregistered\0"
				       "DRIVER=nvidia\0"
				       "PCI_SLOT_NAME=0000:65:00.0\0"
				       "SEQNUM=2001\0";
	static const char odd_state[] = "change@/devices/virtual/mtty/mtty\0"
					"ACTION=change\0"
					"DEVPATH=/devices/virtual/mtty/mtty\0"
					"SUBSYSTEM=mtty\0"
					"MDEV_STATE=sleepy\0";
	static const char old_class[] = "add@/devices/virtual/mdev_bus/mtty\0"
					"ACTION=add\0"
					"DEVPATH=/devices/virtual/mdev_bus/mtty\0"
					"SUBSYSTEM=mdev_bus\0";
	struct uevent ev;

	assert_int_equal(uevent_parse(MSG(mtty), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_PARENT_ADD);
	assert_string_equal(ev.name, "mtty");
	assert_string_equal(ev.mdev_state, "registered");
	assert_int_equal(uevent_parse(MSG(gpu_gone), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_PARENT_REMOVE);
	assert_string_equal(ev.name, "0000:65:00.0");
	assert_int_equal(uevent_parse(MSG(odd_state), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
	assert_int_equal(uevent_parse(MSG(old_class), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_PARENT_ADD);
}

static void parse_pci(void **state)
{
	static const struct {
		const char *action;
		enum uevent_kind kind;
	} cases[] = {
		{"add", UEVENT_PCI_ADD},   {"remove", UEVENT_PCI_REMOVE},
		{"bind", UEVENT_PCI_BIND}, {"unbind", UEVENT_PCI_UNBIND},
		{"change", UEVENT_IGNORE}, {"online", UEVENT_IGNORE},
	};
	const char *path = "/devices/pci0000:00/0000:00:03.0";

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[512];
		struct uevent ev;
		int n;

		n = snprintf(buf, sizeof(buf),
			     "%s@%s%cACTION=%s%cDEVPATH=%s%cSUBSYSTEM=pci%c"
			     "DRIVER=vfio-pci%cPCI_CLASS=FF00%cPCI_ID=1234:11E8%c"
			     "PCI_SLOT_NAME=0000:00:03.0%cSEQNUM=%zu%c",
			     cases[i].action, path, 0, cases[i].action, 0, path, 0, 0, 0, 0, 0, 0,
			     100 + i, 0);
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		assert_int_equal(uevent_parse(buf, (size_t)n, &ev), 0);
		assert_int_equal(ev.kind, cases[i].kind);
		assert_string_equal(ev.name, "0000:00:03.0");
		assert_string_equal(ev.driver, "vfio-pci");
		assert_int_equal(ev.seqnum, 100 + i);
	}
}

static void classify_others(void **state)
{
	static const char vfio[] = "add@/devices/virtual/vfio/12\0"
				   "ACTION=add\0DEVPATH=/devices/virtual/vfio/12\0"
				   "SUBSYSTEM=vfio\0DEVNAME=vfio/12\0";
	static const char veth[] = "add@/devices/virtual/net/veth1a2b\0"
				   "ACTION=add\0DEVPATH=/devices/virtual/net/veth1a2b\0"
				   "SUBSYSTEM=net\0INTERFACE=veth1a2b\0IFINDEX=42\0";
	static const char mtty_dev[] = "add@/devices/virtual/mtty/mtty\0"
				       "ACTION=add\0DEVPATH=/devices/virtual/mtty/mtty\0"
				       "SUBSYSTEM=mtty\0";
	static const char mtty_change[] = "change@/devices/virtual/mtty/mtty\0"
					  "ACTION=change\0DEVPATH=/devices/virtual/mtty/mtty\0"
					  "SUBSYSTEM=mtty\0";
	static const char module[] = "add@/module/mtty\0"
				     "ACTION=add\0DEVPATH=/module/mtty\0SUBSYSTEM=module\0";
	static const char no_subsystem[] = "add@/kernel/slab/x\0"
					   "ACTION=add\0DEVPATH=/kernel/slab/x\0";
	struct uevent ev;

	assert_int_equal(uevent_parse(MSG(vfio), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_VFIO);
	assert_int_equal(uevent_parse(MSG(veth), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
	assert_int_equal(uevent_parse(MSG(mtty_dev), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_DEVICE);
	assert_int_equal(uevent_parse(MSG(mtty_change), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
	assert_int_equal(uevent_parse(MSG(module), &ev), 0);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
	assert_int_equal(uevent_parse(MSG(no_subsystem), &ev), 0);
	assert_null(ev.subsystem);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
}

/*
 * What one mdev create and one remove send on 6.1 (mtty, recorded in the test VM), in order:
 * all of it refreshes only the mdevs, and only the last message of each ends the change.
 */
static void scope_and_end_of_change(void **state)
{
	static const char *const create[] = {
		"add@/devices/virtual/mtty/mtty/" UUID "\0ACTION=add\0"
		"DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0SUBSYSTEM=mdev\0",
		"add@/devices/virtual/vfio/6\0ACTION=add\0DEVPATH=/devices/virtual/vfio/6\0"
		"SUBSYSTEM=vfio\0",
		"add@/devices/virtual/mtty/mtty/" UUID "/vfio-dev/vfio1\0ACTION=add\0"
		"DEVPATH=/devices/virtual/mtty/mtty/" UUID "/vfio-dev/vfio1\0SUBSYSTEM=vfio-dev\0",
		"bind@/devices/virtual/mtty/mtty/" UUID "\0ACTION=bind\0"
		"DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0SUBSYSTEM=mdev\0DRIVER=mtty\0",
	};
	static const char *const remove[] = {
		"remove@/devices/virtual/mtty/mtty/" UUID "/vfio-dev/vfio1\0ACTION=remove\0"
		"DEVPATH=/devices/virtual/mtty/mtty/" UUID "/vfio-dev/vfio1\0SUBSYSTEM=vfio-dev\0",
		"remove@/devices/virtual/vfio/6\0ACTION=remove\0DEVPATH=/devices/virtual/vfio/6\0"
		"SUBSYSTEM=vfio\0",
		"unbind@/devices/virtual/mtty/mtty/" UUID "\0ACTION=unbind\0"
		"DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0SUBSYSTEM=mdev\0",
		"remove@/devices/virtual/mtty/mtty/" UUID "\0ACTION=remove\0"
		"DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0SUBSYSTEM=mdev\0",
	};
	static const char parent[] = "change@/devices/virtual/mtty/mtty\0ACTION=change\0"
				     "DEVPATH=/devices/virtual/mtty/mtty\0SUBSYSTEM=mtty\0"
				     "MDEV_STATE=registered\0";
	static const char pci_bind[] = "bind@/devices/pci0000:00/0000:00:03.0\0ACTION=bind\0"
				       "DEVPATH=/devices/pci0000:00/0000:00:03.0\0SUBSYSTEM=pci\0"
				       "DRIVER=vfio-pci\0";
	static const char veth[] = "add@/devices/virtual/net/veth1\0ACTION=add\0"
				   "DEVPATH=/devices/virtual/net/veth1\0SUBSYSTEM=net\0";
	static const char mtty_dev[] = "add@/devices/virtual/mtty/mtty\0ACTION=add\0"
				       "DEVPATH=/devices/virtual/mtty/mtty\0SUBSYSTEM=mtty\0";
	const char *const *seqs[] = {create, remove};
	struct uevent ev;

	for (size_t s = 0; s < ARRAY_SIZE(seqs); s++) {
		for (size_t i = 0; i < 4; i++) {
			const char *m = seqs[s][i];
			size_t len = 0;

			/* The literals hold NULs: the message ends at the first empty pair. */
			while (m[len])
				len += strlen(m + len) + 1;
			assert_int_equal(uevent_parse(m, len, &ev), 0);
			assert_int_equal(uevent_scope(&ev), UEVENT_SCOPE_MDEVS);
			assert_int_equal(uevent_ends_change(&ev), i == 3);
		}
	}
	assert_int_equal(uevent_parse(MSG(parent), &ev), 0);
	assert_int_equal(uevent_scope(&ev), UEVENT_SCOPE_ALL);
	assert_false(uevent_ends_change(&ev));
	assert_int_equal(uevent_parse(MSG(pci_bind), &ev), 0);
	assert_int_equal(uevent_scope(&ev), UEVENT_SCOPE_ALL);
	assert_false(uevent_ends_change(&ev));
	assert_int_equal(uevent_parse(MSG(mtty_dev), &ev), 0);
	assert_int_equal(uevent_scope(&ev), UEVENT_SCOPE_ALL);
	assert_int_equal(uevent_parse(MSG(veth), &ev), 0);
	assert_int_equal(uevent_scope(&ev), UEVENT_SCOPE_NONE);
	assert_false(uevent_ends_change(&ev));
}

static void parse_rejects(void **state)
{
	/* udev's re-broadcast on group 2: binary header, not ours. */
	static const char udev[] = "libudev\0\xfe\xed\xca\xfe"
				   "ACTION=add\0DEVPATH=/devices/x\0";
	static const char no_at[] = "add /devices/x\0ACTION=add\0DEVPATH=/devices/x\0";
	static const char mismatch_action[] = "add@/devices/x\0ACTION=remove\0DEVPATH=/devices/x\0";
	static const char mismatch_path[] = "add@/devices/x\0ACTION=add\0DEVPATH=/devices/xy\0";
	static const char prefix_path[] = "add@/devices/xy\0ACTION=add\0DEVPATH=/devices/x\0";
	static const char no_devpath[] = "add@/devices/x\0ACTION=add\0SUBSYSTEM=pci\0";
	static const char no_pairs[] = "add@/devices/x"; /* header not terminated */
	static const char empty_name[] = "add@/devices/\0ACTION=add\0DEVPATH=/devices/\0";
	struct uevent ev = {.seqnum = 99};

	assert_int_equal(uevent_parse(MSG(udev), &ev), -EINVAL);
	assert_int_equal(uevent_parse(MSG(no_at), &ev), -EINVAL);
	assert_int_equal(uevent_parse(MSG(mismatch_action), &ev), -EINVAL);
	assert_int_equal(uevent_parse(MSG(mismatch_path), &ev), -EINVAL);
	assert_int_equal(uevent_parse(MSG(prefix_path), &ev), -EINVAL);
	assert_int_equal(uevent_parse(MSG(no_devpath), &ev), -EINVAL);
	assert_int_equal(uevent_parse(no_pairs, sizeof(no_pairs) - 1, &ev), -EINVAL);
	assert_int_equal(uevent_parse(MSG(empty_name), &ev), -EINVAL);
	assert_int_equal(uevent_parse("", 0, &ev), -EINVAL);
	/* Untouched on error. */
	assert_int_equal(ev.seqnum, 99);
}

/* The last pair cut off without its NUL (a truncated read) is dropped, not overrun. */
static void parse_truncated_tail(void **state)
{
	static const char msg[] = "add@/devices/virtual/mtty/mtty/" UUID "\0"
				  "ACTION=add\0"
				  "DEVPATH=/devices/virtual/mtty/mtty/" UUID "\0"
				  "SUBSYSTEM=mdev\0"
				  "SEQNUM=47";
	const char *cut;
	struct uevent ev;

	assert_int_equal(uevent_parse(msg, sizeof(msg) - 1, &ev), 0);
	assert_int_equal(ev.kind, UEVENT_MDEV_ADD);
	assert_int_equal(ev.seqnum, 0);
	/* Cut inside SUBSYSTEM: still parses, but without a subsystem it is nothing to us. */
	cut = memmem(msg, sizeof(msg), "SUBSYSTEM", 9);
	assert_non_null(cut);
	assert_int_equal(uevent_parse(msg, (size_t)(cut - msg) + 6, &ev), 0);
	assert_null(ev.subsystem);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
}

/* Unknown actions parse and are ignored; a name longer than the buffer is refused. */
static void parse_unknown_action_and_long_name(void **state)
{
	static const char odd[] = "frobnicate@/devices/x\0ACTION=frobnicate\0DEVPATH=/devices/x\0"
				  "SUBSYSTEM=mdev\0";
	char buf[1024], name[300];
	struct uevent ev;
	int n;

	assert_int_equal(uevent_parse(MSG(odd), &ev), 0);
	assert_int_equal(ev.action, UEVENT_ACTION_UNKNOWN);
	assert_int_equal(ev.kind, UEVENT_IGNORE);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	n = snprintf(buf, sizeof(buf), "add@/devices/%s%cACTION=add%cDEVPATH=/devices/%s%c", name,
		     0, 0, name, 0);
	assert_int_equal(uevent_parse(buf, (size_t)n, &ev), -EINVAL);
}

/* A message not from the kernel (another process on a socketpair) is refused. */
static void receive_refuses_non_kernel(void **state)
{
	char buf[UEVENT_MSG_MAX];
	struct uevent ev;
	int sv[2], one = 1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	assert_int_equal(uevent_receive(sv[1], buf, sizeof(buf), &ev), -EAGAIN);
	assert_int_equal(write(sv[0], mdev_add, sizeof(mdev_add) - 1),
			 (ssize_t)sizeof(mdev_add) - 1);
	/* Not a netlink sender address (and not the kernel's port 0): skipped. */
	assert_int_equal(uevent_receive(sv[1], buf, sizeof(buf), &ev), -EBADMSG);
	close(sv[0]);
	close(sv[1]);
}

/* The real socket opens (root, or any user: the kernel group allows receiving). */
static void open_netlink(void **state)
{
	char buf[UEVENT_MSG_MAX];
	struct uevent ev;
	int fd = -1, r;

	/* Needs root (CI has it): a kernel uevent socket is a privileged bind. */
	r = uevent_open(&fd);
	if (geteuid() != 0 && (r == -EPERM || r == -EACCES)) {
		print_message("open_netlink: skipped: binding a kernel uevent socket needs root\n");
		skip();
	}
	assert_int_equal(r, 0);
	assert_true(fd >= 0);
	/* Non-blocking: with nothing queued (or something), it never blocks. */
	r = uevent_receive(fd, buf, sizeof(buf), &ev);
	assert_true(r == -EAGAIN || r == 0 || r == -EBADMSG);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_mdev_add),
		cmocka_unit_test(parse_mdev_remove_and_bind),
		cmocka_unit_test(parse_parent_registered),
		cmocka_unit_test(parse_pci),
		cmocka_unit_test(classify_others),
		cmocka_unit_test(scope_and_end_of_change),
		cmocka_unit_test(parse_rejects),
		cmocka_unit_test(parse_truncated_tail),
		cmocka_unit_test(parse_unknown_action_and_long_name),
		cmocka_unit_test(receive_refuses_non_kernel),
		cmocka_unit_test(open_netlink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
