/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log: messages to stderr, prefixed "mdevd: ". The OpenBSD pair:
 *   log_warn(err, fmt, ...)  appends ": <strerror(-err)>" (err is a negative errno)
 *   log_warnx(fmt, ...)      says only what it is given
 * log_info() is for progress a user asked for; log_debug() only prints with --verbose.
 * Log an error once, where its meaning is known (STYLE.md rule 3).
 */
#pragma once

#include <stdbool.h>

#include "mdevd/macro.h"

void log_set_verbose(bool verbose);
void log_set_quiet(bool quiet);
void log_warn(int err, const char *fmt, ...) _printf_(2, 3);
void log_warnx(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
void log_debug(const char *fmt, ...) _printf_(1, 2);
