/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stub: replaced by the policy command. */
#include "cli.h"
#include "log.h"
int cmd_policy(const struct cli_globals *g, int argc, char **argv) { log_warnx("not yet"); return EXIT_ERROR; }
