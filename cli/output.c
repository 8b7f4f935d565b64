/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the commands print as data: JSON through jansson, tables through libsmartcols. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libsmartcols/libsmartcols.h>

#include "cli/cli.h"
#include "controllers/controller.h"

int cli_json_print(const struct cli *cli, json_t *doc)
{
    int r = 0;

    if (!doc) {
        cli_error(cli, "cannot build the JSON output: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    /* One line, keys in the order they were added, UTF-8 kept (cg_json_str made it valid). */
    if (json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 || fputc('\n', stdout) < 0)
        r = -EIO;
    json_decref(doc);
    if (r < 0)
        cli_error(cli, "cannot write the JSON output: %s", strerror(-r));
    return r;
}

json_t *cli_json_u64(uint64_t v, bool max_ok)
{
    if (v == CTL_UNSET)
        return json_null();
    if (v == CTL_MAX && max_ok)
        return json_string("max");
    /* json_int_t is signed; no counter or limit the kernel reports comes near 2^63. */
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

void cli_json_push(json_t **array, json_t *value)
{
    if (!*array) {
        json_decref(value);
        return;
    }
    if (!value || json_array_append_new(*array, value) < 0) {
        json_decref(*array);
        *array = NULL;
    }
}

struct libscols_table *cli_table_new(const struct cli_column *cols, size_t n)
{
    struct libscols_table *tb = scols_new_table();

    if (!tb)
        return NULL;
    /* Laid out as if for a pipe even on a terminal: libsmartcols then sizes each column to
     * its widest cell and never shrinks or cuts one to fit the terminal's width. */
    if (scols_table_set_termforce(tb, SCOLS_TERMFORCE_NEVER) < 0 ||
        scols_table_set_column_separator(tb, "  ") < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!scols_table_new_column(tb, cols[i].name, 1, cols[i].right ? SCOLS_FL_RIGHT : 0))
            goto fail;
    return tb;
fail:
    scols_unref_table(tb);
    return NULL;
}

int cli_table_add_row(struct libscols_table *tb, const char *const *cells, size_t n)
{
    struct libscols_line *ln = scols_table_new_line(tb, NULL);

    if (!ln)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = scols_line_set_data(ln, i, cells[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

int cli_table_print(const struct cli *cli, struct libscols_table *tb)
{
    int r;

    if (!tb) {
        cli_error(cli, "cannot build the table: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    r = scols_print_table(tb);
    scols_unref_table(tb);
    if (r < 0)
        cli_error(cli, "cannot write the table: %s", strerror(-r));
    return r < 0 ? r : 0;
}
