/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/cli.h"

int cmd_report(struct cli *cli, int argc, char **argv)
{
    cli_error(cli, "'report' is not available in this build yet");
    return EXIT_SYSTEM;
}
