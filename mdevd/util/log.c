/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* The only process-wide state: set once from the command line before any work. */
static enum log_level level = LOG_LEVEL_INFO;
static enum log_style style = LOG_STYLE_PLAIN;
static bool journal_on;
static bool journal_checked;

void log_set_level(enum log_level l)
{
	level = l;
}

void log_set_style(enum log_style s)
{
	style = s;
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERROR] = "error",
		[LOG_LEVEL_WARNING] = "warning",
		[LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_DEBUG] = "debug",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

void log_set_verbose(bool verbose)
{
	if (verbose)
		level = LOG_LEVEL_DEBUG;
	else if (level == LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_INFO;
}

void log_set_quiet(bool quiet)
{
	if (quiet && level > LOG_LEVEL_WARNING)
		level = LOG_LEVEL_WARNING;
	else if (!quiet && level == LOG_LEVEL_WARNING)
		level = LOG_LEVEL_INFO;
}

bool log_is_journal(void)
{
	if (!journal_checked)
		log_detect_journal();
	return journal_on;
}

void log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal_checked = true;
	journal_on = false;
	/* systemd.exec(5): "<device>:<inode>" of the stream stdout/stderr are connected to. */
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return;
	journal_on = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* "2026-12-03T08:00:00.123Z" into @buf (at least 32 bytes). */
static void timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static const char *level_word(int priority)
{
	switch (priority) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Append @s to @buf at *n as JSON string content (no quotes), within @len - 1. */
static void json_escape(char *buf, size_t len, size_t *n, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c && *n + 7 < len; c++) {
		if (*c == '"' || *c == '\\') {
			buf[(*n)++] = '\\';
			buf[(*n)++] = (char)*c;
		} else if (*c < 0x20) {
			*n += (size_t)snprintf(buf + *n, len - *n, "\\u%04x", *c);
		} else {
			buf[(*n)++] = (char)*c;
		}
	}
	buf[*n] = '\0';
}

/* The JSON style: one object, always complete (a long message is cut, never the braces). */
static size_t format_json(char *buf, size_t len, int priority, int err, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], ts[40];
	size_t n = 0;
	int r;

	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r < 0)
		msg[0] = '\0';
	timestamp(ts, sizeof(ts));
	if (journal_on && priority >= 0)
		n = (size_t)snprintf(buf, len, "<%d>", priority);
	n += (size_t)snprintf(buf + n, len - n, "{\"time\":\"%s\",\"level\":\"%s\",\"message\":\"",
			      ts, level_word(priority));
	/* Room for the message's end, the error and the closing: 24 + 2 * errno text. */
	json_escape(buf, len - (err ? 320 : 24), &n, msg);
	if (err) {
		n += (size_t)snprintf(buf + n, len - n, ": ");
		json_escape(buf, len - 300, &n, strerror(-err));
		n += (size_t)snprintf(buf + n, len - n, "\",\"error\":\"");
		json_escape(buf, len - 8, &n, strerror(-err));
	}
	n += (size_t)snprintf(buf + n, len - n, "\"}\n");
	return n;
}

size_t log_format(char *buf, size_t len, int priority, int err, const char *fmt, va_list ap)
{
	size_t n = 0;
	int r;

	if (style == LOG_STYLE_JSON && len >= 1024)
		return format_json(buf, len, priority, err, fmt, ap);
	if (priority >= 0)
		n = (size_t)snprintf(buf, len, "<%d>", priority);
	if (style == LOG_STYLE_TIMESTAMPS && !journal_on && len >= 64) {
		char ts[40];

		timestamp(ts, sizeof(ts));
		n += (size_t)snprintf(buf + n, len - n, "%s ", ts);
	}
	n += (size_t)snprintf(buf + n, len - n, "mdevd: ");
	r = vsnprintf(buf + n, len - n, fmt, ap);
	n = r < 0 ? n : n + (size_t)r;
	if (err && n < len)
		n += (size_t)snprintf(buf + n, len - n, ": %s", strerror(-err));
	if (n >= len - 1) {
		/* Cut: keep room for "...\n" and the NUL. */
		n = len - 5;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	/* A message never spans records: embedded newlines become spaces. */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

static void vlog(int priority, int err, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX + 1];
	int saved = errno;
	size_t n, off = 0;

	if (!journal_checked)
		log_detect_journal();
	if (style == LOG_STYLE_JSON) /* the level is a field; the prefix only under the journal */
		n = log_format(buf, sizeof(buf), priority, err, fmt, ap);
	else
		n = log_format(buf, sizeof(buf), journal_on ? priority : -1, err, fmt, ap);
	/* One write(2) per record; a short write to a pipe is only possible when full. */
	while (off < n) {
		ssize_t w = write(STDERR_FILENO, buf + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void log_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, err, fmt, ap);
	va_end(ap);
}

void log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void log_warn(int err, const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_LEVEL_WARNING)
		return;
	va_start(ap, fmt);
	vlog(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_LEVEL_WARNING)
		return;
	va_start(ap, fmt);
	vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}
