/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log: one record per message on stderr, prefixed "mdevd: ". The OpenBSD pair:
 *   log_warn(err, fmt, ...)  appends ": <strerror(-err)>" (err is a negative errno)
 *   log_warnx(fmt, ...)      says only what it is given
 * log_info() is for progress a user asked for; log_debug() only prints with --verbose.
 * Log an error once, where its meaning is known (STYLE.md rule 3).
 *
 * Every record is formatted into one buffer and written with a single write(2), so lines
 * from several threads (the main loop, gRPC's) never interleave; a record longer than
 * LOG_LINE_MAX bytes is cut and ends in "...". When stderr is the journal
 * ($JOURNAL_STREAM names stderr's device:inode, systemd.exec(5)) each record starts with
 * its sd-daemon(3) priority: "<4>" for warnings, "<6>" for info, "<7>" for debug, so
 * `journalctl -p warning` selects them.
 */
#pragma once

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

#include "mdevd/macro.h"

/* The longest record written, newline included. */
#define LOG_LINE_MAX 4096

void log_set_verbose(bool verbose);
void log_set_quiet(bool quiet);
/* Re-reads $JOURNAL_STREAM against fd 2; called once at start, and by tests. */
void log_detect_journal(void);
void log_warn(int err, const char *fmt, ...) _printf_(2, 3);
void log_warnx(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
void log_debug(const char *fmt, ...) _printf_(1, 2);

/*
 * Formats one record (prefix, message, errno text, newline) into buf of size len (at least
 * 16) without writing it; exposed for the unit test. Returns the record's length in bytes,
 * never more than len - 1 (buf is NUL-terminated).
 */
size_t log_format(char *buf, size_t len, int priority, int err, const char *fmt, va_list ap)
	_printf_(5, 0);
