/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdnotify: the service manager's notification protocol, through libsystemd's
 * sd_notify(3) (the only file that includes <systemd/sd-daemon.h>). Outside systemd
 * (no NOTIFY_SOCKET) every call is a no-op that returns 0.
 *
 * What mdevd sends (systemd.service(5) Type=notify, sd_notify(3)):
 *   READY=1                 after the first reconcile, and after each reload
 *   RELOADING=1             when a reload starts (SIGHUP, policy file changed)
 *   STOPPING=1              when shutdown starts
 *   WATCHDOG=1              every half WATCHDOG_USEC, when the unit sets WatchdogSec=
 *   STATUS=...              one line saying what is served, or what failed
 * None of these calls logs.
 */
#pragma once

#include <stdint.h>

#include "mdevd/macro.h"

/*
 * sdnotify_send - send @state ("READY=1", "STATUS=...", several joined by '\n').
 * Returns 0 (sent, or not running under a service manager) or -errno.
 */
int sdnotify_send(const char *state);

/* sdnotify_sendf - sdnotify_send() with a printf format. Returns 0 or -errno. */
int sdnotify_sendf(const char *fmt, ...) _printf_(1, 2);

/*
 * sdnotify_watchdog_usec - the watchdog period the service manager expects (WATCHDOG_USEC,
 * for this process when WATCHDOG_PID is set). Sets *usec on success.
 * Returns 0, -ENODATA when no watchdog is asked for, or -errno for a malformed setting.
 */
int sdnotify_watchdog_usec(uint64_t *usec);
