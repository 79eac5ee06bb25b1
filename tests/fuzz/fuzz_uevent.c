/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the netlink uevent parser: any bytes into uevent_parse() as
 * uevent_receive() hands them over (one datagram of at most UEVENT_MSG_MAX - 1 bytes), then
 * the classifier, the refresh scope and the end-of-change test on what it accepts.
 * The message lies in a heap buffer of exactly its size, so that ASan sees any read past
 * it (uevent_receive() adds a NUL after the datagram; the parser must not need it).
 * Built and run by `make fuzz` (docs/fuzzing.md); seeds: tests/fuzz/make-seeds.py.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/uevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @s is a NUL-terminated string that starts and ends inside [@buf, @buf + @size). */
static void check_inside(const char *s, const char *buf, size_t size)
{
	if (!s)
		return;
	if (s < buf || s >= buf + size || !memchr(s, '\0', (size_t)(buf + size - s)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uevent ev;
	char *buf;
	int r;

	if (size == 0 || size > UEVENT_MSG_MAX - 1)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = uevent_parse(buf, size, &ev);
	if (r == 0) {
		size_t alen;

		/* Everything borrowed points into the message, and ends in it. */
		if (!ev.action_str || !ev.devpath)
			abort();
		check_inside(ev.action_str, buf, size);
		check_inside(ev.devpath, buf, size);
		check_inside(ev.subsystem, buf, size);
		check_inside(ev.driver, buf, size);
		check_inside(ev.mdev_type, buf, size);
		check_inside(ev.mdev_state, buf, size);
		/* The header says "<ACTION>@<DEVPATH>", and name is DEVPATH's last component. */
		alen = strlen(ev.action_str);
		if (memcmp(buf, ev.action_str, alen) != 0 || buf[alen] != '@' ||
		    strcmp(buf + alen + 1, ev.devpath) != 0)
			abort();
		if (!ev.name[0] || strchr(ev.name, '/') || strlen(ev.name) >= sizeof(ev.name))
			abort();
		if (strcmp(strrchr(ev.devpath, '/') + 1, ev.name) != 0)
			abort();
		/* The kind is the classifier's, and every kind has a scope and a name. */
		if (ev.kind != uevent_classify(&ev))
			abort();
		switch (uevent_scope(&ev)) {
		case UEVENT_SCOPE_NONE:
			if (ev.kind != UEVENT_IGNORE)
				abort();
			break;
		case UEVENT_SCOPE_MDEVS:
		case UEVENT_SCOPE_ALL:
			if (ev.kind == UEVENT_IGNORE)
				abort();
			break;
		}
		if (uevent_ends_change(&ev) && ev.kind != UEVENT_MDEV_CHANGE &&
		    ev.kind != UEVENT_MDEV_REMOVE)
			abort();
		if (!uevent_kind_str(ev.kind) || !strcmp(uevent_kind_str(ev.kind), "?"))
			abort();
	} else if (r != -EINVAL) {
		abort();
	}
	free(buf);
	return 0;
}
