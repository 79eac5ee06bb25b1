/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stub: replaced by the inventory commands. */
#include "cli.h"
#include "log.h"
int cmd_types(const struct cli_globals *g, int argc, char **argv) { log_warnx("not yet"); return EXIT_ERROR; }
int cmd_list(const struct cli_globals *g, int argc, char **argv) { log_warnx("not yet"); return EXIT_ERROR; }
int cmd_pci(const struct cli_globals *g, int argc, char **argv) { log_warnx("not yet"); return EXIT_ERROR; }
