/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sd_notify(3) adapter: libsystemd stays behind this file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "sdnotify.h"

int sdnotify_send(const char *state)
{
	/* unset_environment = 0: a later call must still find NOTIFY_SOCKET. */
	int r = sd_notify(0, state);

	return r < 0 ? r : 0;
}

int sdnotify_sendf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* A STATUS= line cut short is still worth sending. */
	return sdnotify_send(buf);
}

int sdnotify_watchdog_usec(uint64_t *usec)
{
	uint64_t u = 0;
	int r = sd_watchdog_enabled(0, &u);

	if (r < 0)
		return r;
	if (r == 0 || u == 0)
		return -ENODATA;
	*usec = u;
	return 0;
}
