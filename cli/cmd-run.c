/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/cli.h"

int cmd_run(struct cli *cli, int argc, char **argv)
{
    cli_error(cli, "'run' is not available in this build yet");
    return EXIT_SYSTEM;
}
