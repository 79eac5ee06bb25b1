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
 *
 * Levels (`mdevd run --log-level`): error < warning < info < debug; a record prints when its
 * level is at or below the one set (default info; -v sets debug, log_set_quiet() warning).
 * log_err()/log_errx() are for what stops the service. Styles, for `mdevd run` only (the
 * CLI commands' stderr stays as it is): LOG_STYLE_TIMESTAMPS puts an RFC 3339 UTC time
 * with milliseconds before each record ("2026-12-03T08:00:00.123Z mdevd: ..."; not under
 * the journal, which stamps records itself); LOG_STYLE_JSON writes each record as one JSON
 * object: {"time":"...","level":"warning","message":"...","error":"<strerror>"} ("error"
 * only from log_warn()/log_err()), still one line and one write(2), still after the
 * priority prefix under the journal.
 */
#pragma once

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

#include "mdevd/macro.h"

/* The longest record written, newline included. */
#define LOG_LINE_MAX 4096

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_style {
	LOG_STYLE_PLAIN,      /* "mdevd: message" (the CLI commands) */
	LOG_STYLE_TIMESTAMPS, /* "TIME mdevd: message" */
	LOG_STYLE_JSON,	      /* one JSON object per record */
};

void log_set_level(enum log_level level);
/* "error", "warning", "info", "debug" into *out. Returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
void log_set_style(enum log_style style);
/* Is stderr the journal ($JOURNAL_STREAM)? Detects on first call. */
bool log_is_journal(void);
void log_err(int err, const char *fmt, ...) _printf_(2, 3);
void log_errx(const char *fmt, ...) _printf_(1, 2);
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
