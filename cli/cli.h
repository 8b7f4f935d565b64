/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The corral command line: global options, exit codes and output helpers shared by the
 * subcommands. Each subcommand lives in cmd-<name>.c and is a thin layer over a library.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/utf8.h"
#include "daemon/common.h"

struct cli {
    const char *prog;
    struct corral_paths p; /* the global options shared with corrald */
    bool json;             /* --json */
    bool verbose;          /* --verbose */
};

typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    const char *args;
    const char *summary;
};

/* The subcommands (one file each). argv[0] is the subcommand name. */
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_apply(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_freeze(struct cli *cli, int argc, char **argv);
int cmd_thaw(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_sample(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);
int cmd_remove(struct cli *cli, int argc, char **argv);

/* "corral: " + message on stderr. */
void cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints an error context from the libraries: "corral: <prefix>: group 'x': file 'y': ..." */
void cli_error_ctx(const struct cli *cli, const char *prefix, const struct cg_err *e, int r);

/* Discovers the system and resolves --root (cg_ctx_new); with target (may be NULL) also
 * resolves it to a group path (cg_resolve_target) into *ret_path. On failure says why,
 * prefixed with verb, and returns the exit status: 1 for an invalid --root or TARGET
 * (input), 3 when the system fails; 0 on success. */
struct cg_ctx;
int cli_open_target(const struct cli *cli, const char *verb, const char *target,
                    struct cg_ctx **ret_ctx, char **ret_path);

/* The one-writer lock of the root (core/lock.h) for a command that changes the tree:
 * waits up to cli->lock_timeout_usec (saying so once on stderr), then checks that the
 * root is corral's to change (cg_root_claim). On failure says why, prefixed with verb,
 * and returns the exit status: 3 when the lock stays held (naming the holder) or the
 * system fails, 1 for a root corral may not change; 0 with *ret on success. */
struct cg_lock;
int cli_lock_root(const struct cli *cli, struct cg_ctx *ctx, const char *verb,
                  struct cg_lock **ret);

/* Lifts the soft RLIMIT_NOFILE to the hard one, for commands that keep an fd per group
 * or per change open. */
void cli_raise_nofile(void);

/*
 * Output (cli/output.c): every JSON document is built with jansson (text enters through
 * cg_json_str, core/utf8.h, so it is always valid UTF-8) and every table is laid out by
 * libsmartcols. cli_json_print and cli_table_print say on stderr why they failed.
 */

/* Writes doc to stdout on one line (compact, keys in the order added) and drops it. A
 * NULL doc is a document that ran out of memory while it was built: -ENOMEM. */
int cli_json_print(const struct cli *cli, json_t *doc);
/* A limit or counter: null when unknown (CTL_UNSET), "max" for no limit when max_ok. */
json_t *cli_json_u64(uint64_t v, bool max_ok);
/* Appends value (taken over) to *array. When value is NULL (it ran out of memory) or the
 * append fails, drops the array and sets *array to NULL, which then drops what comes. */
void cli_json_push(json_t **array, json_t *value);

struct cli_column {
    const char *name;
    bool right; /* numbers right-aligned, names left */
};
/* A table whose columns are as wide as their widest cell: nothing is ever cut, on a
 * terminal or not. NULL when out of memory. */
struct libscols_table;
struct libscols_table *cli_table_new(const struct cli_column *cols, size_t n);
int cli_table_add_row(struct libscols_table *tb, const char *const *cells, size_t n);
/* Prints tb on stdout and drops it; a NULL tb (building it failed) is -ENOMEM. */
int cli_table_print(const struct cli *cli, struct libscols_table *tb);
