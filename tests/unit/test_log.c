/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log: records are whole lines. Threads log into a pipe at once (as the main loop and
 * gRPC's threads do); a reader checks that every line is one complete record. The journal
 * prefix follows $JOURNAL_STREAM only when it names stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util/log.h"

#define THREADS	   8
#define PER_THREAD 2000

static void *logger(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < PER_THREAD; i++) {
		if (i % 2)
			log_warnx("thread %ld record %d: %s", id, i,
				  "a message with some length to it");
		else
			log_warn(-ENOENT, "thread %ld record %d: %s", id, i, "with an errno");
	}
	return NULL;
}

struct reader {
	int fd;
	size_t lines, bad;
	char first_bad[256];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	FILE *f = fdopen(r->fd, "r");
	char line[LOG_LINE_MAX + 8];

	while (fgets(line, sizeof(line), f)) {
		long id;
		int i, n = 0;

		r->lines++;
		/* "mdevd: thread T record I: ..." and nothing before or after. */
		if (sscanf(line, "mdevd: thread %ld record %d: %n", &id, &i, &n) != 2 || n == 0 ||
		    id < 0 || id >= THREADS || i < 0 || i >= PER_THREAD ||
		    (strcmp(line + n, "a message with some length to it\n") &&
		     strcmp(line + n, "with an errno: No such file or directory\n"))) {
			if (!r->bad++)
				snprintf(r->first_bad, sizeof(r->first_bad), "%.200s", line);
		}
	}
	fclose(f);
	return NULL;
}

static void test_threads_write_whole_lines(void **state)
{
	pthread_t t[THREADS], rt;
	struct reader r = {0};
	int p[2], saved;

	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	unsetenv("JOURNAL_STREAM");
	log_detect_journal();
	assert_int_equal(pthread_create(&rt, NULL, reader_main, &r), 0);
	for (long i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, logger, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	pthread_join(rt, NULL);
	if (r.bad)
		fail_msg("%zu torn lines, first: %s", r.bad, r.first_bad);
	assert_int_equal(r.lines, THREADS * PER_THREAD);
}

static size_t fmt(char *buf, size_t len, int prio, int err, const char *f, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = log_format(buf, len, prio, err, f, ap);
	va_end(ap);
	return n;
}

static void test_format(void **state)
{
	char buf[64], big[5000];
	size_t n;

	n = fmt(buf, sizeof(buf), -1, 0, "plain %d", 7);
	assert_string_equal(buf, "mdevd: plain 7\n");
	assert_int_equal(n, strlen(buf));
	fmt(buf, sizeof(buf), 4, -EBUSY, "parent %s", "mtty");
	assert_string_equal(buf, "<4>mdevd: parent mtty: Device or resource busy\n");
	/* An embedded newline never starts a second record. */
	fmt(buf, sizeof(buf), -1, 0, "two\nlines");
	assert_string_equal(buf, "mdevd: two lines\n");
	/* Too long: cut, marked, still one line that fits. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = fmt(buf, sizeof(buf), 6, 0, "%s", big);
	assert_int_equal(n, sizeof(buf) - 1);
	assert_int_equal(strlen(buf), n);
	assert_memory_equal(buf + n - 4, "...\n", 4);
	assert_memory_equal(buf, "<6>mdevd: xxx", 13);
}

static void test_journal_prefix_only_for_the_journal(void **state)
{
	char path[] = "/tmp/mdevd-test-log-XXXXXX", env[64], line[256];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;
	FILE *f;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	dup2(fd, STDERR_FILENO);
	/* A JOURNAL_STREAM inherited from a parent whose stderr was elsewhere: no prefix. */
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_detect_journal();
	log_warnx("not the journal");
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_detect_journal();
	log_warnx("warning");
	log_set_verbose(true);
	log_debug("debug");
	log_set_verbose(false);
	log_info("info");
	unsetenv("JOURNAL_STREAM");
	log_detect_journal();
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "mdevd: not the journal\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "<4>mdevd: warning\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "<7>mdevd: debug\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "<6>mdevd: info\n");
	fclose(f);
	unlink(path);
}

/* Levels, timestamps and JSON: the record each style makes (log_format). */
static void test_styles_and_levels(void **state)
{
	char buf[LOG_LINE_MAX + 1], big[5000];
	enum log_level l;
	size_t n;

	assert_int_equal(log_parse_level("warning", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARNING);
	assert_int_equal(log_parse_level("loud", &l), -EINVAL);
	unsetenv("JOURNAL_STREAM");
	log_detect_journal();
	log_set_style(LOG_STYLE_TIMESTAMPS);
	fmt(buf, sizeof(buf), -1, 0, "ready %d", 1);
	/* 2026-12-03T08:00:00.123Z mdevd: ready 1 */
	assert_int_equal(strlen(buf), 25 + strlen("mdevd: ready 1\n"));
	assert_true(buf[4] == '-' && buf[10] == 'T' && buf[19] == '.' && buf[23] == 'Z');
	assert_string_equal(buf + 25, "mdevd: ready 1\n");
	log_set_style(LOG_STYLE_JSON);
	fmt(buf, sizeof(buf), 4, -ENOENT, "a \"quoted\"\tname\\");
	/* The level is a field: no "<4>" prefix unless stderr is the journal. */
	assert_memory_equal(buf, "{\"time\":\"", 9);
	assert_non_null(strstr(buf,
			       "\",\"level\":\"warning\",\"message\":\"a \\\"quoted\\\"\\u0009"
			       "name\\\\: No such file or directory\",\"error\":\"No such file "
			       "or directory\"}\n"));
	/* Too long: cut inside the message; the object stays whole. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = fmt(buf, sizeof(buf), 6, -EBUSY, "%s", big);
	assert_true(n <= LOG_LINE_MAX);
	assert_memory_equal(buf + n - 2, "}\n", 2);
	assert_non_null(strstr(buf, "\"error\":\"Device or resource busy\"}"));
	log_set_style(LOG_STYLE_PLAIN);
	fmt(buf, sizeof(buf), -1, 0, "plain");
	assert_string_equal(buf, "mdevd: plain\n");
}

static void test_level_filters(void **state)
{
	char path[] = "/tmp/mdevd-test-log-XXXXXX", line[256];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	FILE *f;

	assert_true(fd >= 0);
	dup2(fd, STDERR_FILENO);
	unsetenv("JOURNAL_STREAM");
	log_detect_journal();
	log_set_style(LOG_STYLE_PLAIN);
	log_set_level(LOG_LEVEL_ERROR);
	log_warnx("hidden warning");
	log_info("hidden info");
	log_errx("shown error");
	log_set_level(LOG_LEVEL_WARNING);
	log_info("hidden info");
	log_warn(-EIO, "shown warning");
	log_set_level(LOG_LEVEL_INFO);
	log_debug("hidden debug");
	log_info("shown info");
	log_set_verbose(true); /* -v */
	log_debug("shown debug");
	log_set_verbose(false);
	log_debug("hidden debug");
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "mdevd: shown error\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "mdevd: shown warning: Input/output error\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "mdevd: shown info\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "mdevd: shown debug\n");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_threads_write_whole_lines),
		cmocka_unit_test(test_journal_prefix_only_for_the_journal),
		cmocka_unit_test(test_styles_and_levels),
		cmocka_unit_test(test_level_filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
