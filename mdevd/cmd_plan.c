/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stub: replaced by plan and apply. */
#include "cli.h"
#include "log.h"
int cmd_plan(const struct cli_globals *g, int argc, char **argv) { log_warnx("not yet"); return EXIT_ERROR; }
int cmd_apply(const struct cli_globals *g, int argc, char **argv) { log_warnx("not yet"); return EXIT_ERROR; }
