/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * corrald as a library: samples every group into the ledger on the corral.conf interval,
 * records the final usage of instances that empty, and keeps the policy directory
 * applied. The main program parses the options and calls corrald_run(). See corrald(8).
 */

#include <stdbool.h>
#include <stdint.h>

#include "daemon/common.h"

#define CORRALD_BUFFER_DEFAULT (64u << 20) /* bytes of samples kept while the ledger is down */

struct corrald_opts {
    struct corral_paths p;
    bool foreground; /* log to stderr even when the journal is there */
    bool verbose;    /* debug messages too */
    uint64_t buffer_max;
};

/* Runs until SIGTERM or SIGINT; returns the exit status (EXIT_OK, or EXIT_SYSTEM when it
 * could not start or lost records at the stop). */
int corrald_run(const struct corrald_opts *o);
