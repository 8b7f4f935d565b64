/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int pol_diag_addv(struct pol_diags *d, const char *file, unsigned line, const char *fmt, va_list ap)
{
    struct pol_diag *g;

    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        struct pol_diag *nd = realloc(d->d, nc * sizeof(*nd));
        if (!nd)
            return -ENOMEM;
        d->d = nd;
        d->cap = nc;
    }
    g = &d->d[d->n++];
    snprintf(g->file, sizeof(g->file), "%s", file ? file : "");
    g->line = line;
    vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
    return 0;
}

int pol_diag_add(struct pol_diags *d, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = pol_diag_addv(d, file, line, fmt, ap);
    va_end(ap);
    return r;
}

void pol_diags_free(struct pol_diags *d)
{
    if (!d)
        return;
    free(d->d);
    d->d = NULL;
    d->n = d->cap = 0;
}

void pol_diags_sort(struct pol_diags *d)
{
    /* Insertion sort: stable, and diagnostics are few and nearly sorted already. */
    for (size_t i = 1; i < d->n; i++) {
        struct pol_diag x = d->d[i];
        size_t j = i;
        while (j > 0) {
            int c = strcmp(d->d[j - 1].file, x.file);
            if (c < 0 || (c == 0 && d->d[j - 1].line <= x.line))
                break;
            d->d[j] = d->d[j - 1];
            j--;
        }
        d->d[j] = x;
    }
}

const char *pol_diag_format(const struct pol_diag *g, char *buf, size_t size)
{
    if (g->line)
        snprintf(buf, size, "%s:%u: %s", g->file, g->line, g->msg);
    else
        snprintf(buf, size, "%s: %s", g->file, g->msg);
    return buf;
}
