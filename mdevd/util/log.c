/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* The only process-wide state: set once from the command line before any work. */
static bool verbose_on;
static bool quiet_on;
static bool journal_on;
static bool journal_checked;

void log_set_verbose(bool verbose)
{
	verbose_on = verbose;
}

void log_set_quiet(bool quiet)
{
	quiet_on = quiet;
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

size_t log_format(char *buf, size_t len, int priority, int err, const char *fmt, va_list ap)
{
	size_t n = 0;
	int r;

	if (priority >= 0)
		n = (size_t)snprintf(buf, len, "<%d>", priority);
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

void log_warn(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (quiet_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}
