/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/cli.h"

int cmd_apply(struct cli *cli, int argc, char **argv)
{
    cli_error(cli, "'apply' is not available in this build yet");
    return EXIT_SYSTEM;
}
