/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sd_notify(3) adapter: libsystemd stays behind this file, and is loaded on first
 * use (dlopen.h), so commands that never notify do not pay for loading it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "util/dlopen.h"
#include "daemon/sdnotify.h"

static struct {
	DLSYM_TYPE(sd_notify) sd_notify;
	DLSYM_TYPE(sd_watchdog_enabled) sd_watchdog_enabled;
} sym;

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static int sym_result;

static void sym_load(void)
{
	void *dl;

	sym_result = dlopen_symbols(&dl, SONAME_LIBSYSTEMD, DLSYM_ARG(sym, sd_notify),
				    DLSYM_ARG(sym, sd_watchdog_enabled), NULL);
}

/* Returns 0, or -EOPNOTSUPP / -ENXIO when libsystemd cannot be loaded. */
static int load_libsystemd(void)
{
	pthread_once(&sym_once, sym_load);
	return sym_result;
}

int sdnotify_send(const char *state)
{
	int r;

	/* Not under a service manager: what sd_notify() would do, without loading it. */
	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	r = load_libsystemd();
	if (r < 0)
		return r;
	/* unset_environment = 0: a later call must still find NOTIFY_SOCKET. */
	r = sym.sd_notify(0, state);

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
	int r;

	if (!getenv("WATCHDOG_USEC"))
		return -ENODATA;
	r = load_libsystemd();
	if (r < 0)
		return r;
	r = sym.sd_watchdog_enabled(0, &u);

	if (r < 0)
		return r;
	if (r == 0 || u == 0)
		return -ENODATA;
	*usec = u;
	return 0;
}
