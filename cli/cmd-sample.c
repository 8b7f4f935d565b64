/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/cli.h"

int cmd_sample(struct cli *cli, int argc, char **argv)
{
    cli_error(cli, "'sample' is not available in this build yet");
    return EXIT_SYSTEM;
}
