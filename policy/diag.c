/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macro.h"
#include "policy/policy.h"

int pol_diag_addv(struct pol_diags *d, const char *file, unsigned line, const char *fmt, va_list ap)
{
    struct pol_diag *g;

    if (d->limit && d->n >= d->limit) {
        d->dropped++;
        return 0;
    }
    if (GROW(d->d, d->cap, d->n, 16) < 0)
        return -ENOMEM;
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

static bool diag_before(const struct pol_diag *a, const struct pol_diag *b)
{
    int c = strcmp(a->file, b->file);
    return c < 0 || (c == 0 && a->line < b->line);
}

/* Stable merge sort of v[0..n) through tmp (n entries): diagnostics can be many (a hostile
 * file gives one per line), so no quadratic sort. */
static void merge_sort(struct pol_diag *v, struct pol_diag *tmp, size_t n)
{
    size_t h = n / 2, i = 0, j = h, k = 0;

    if (n < 2)
        return;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    if (!diag_before(&v[h], &v[h - 1]))
        return; /* already in order */
    while (i < h && j < n)
        tmp[k++] = diag_before(&v[j], &v[i]) ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    memcpy(v, tmp, k * sizeof(*v)); /* v[j..n) is in place already */
}

void pol_diags_sort(struct pol_diags *d)
{
    struct pol_diag *tmp;
    size_t i;

    for (i = 1; i < d->n && !diag_before(&d->d[i], &d->d[i - 1]); i++)
        ;
    if (i >= d->n)
        return; /* the common case: already sorted */
    tmp = malloc(d->n * sizeof(*tmp));
    if (!tmp) {
        /* Out of memory: an in-place insertion sort, slow but correct. */
        for (i = 1; i < d->n; i++) {
            struct pol_diag x = d->d[i];
            size_t j = i;
            for (; j > 0 && diag_before(&x, &d->d[j - 1]); j--)
                d->d[j] = d->d[j - 1];
            d->d[j] = x;
        }
        return;
    }
    merge_sort(d->d, tmp, d->n);
    free(tmp);
}

const char *pol_excerpt(const char *s, char buf[POL_EXCERPT_SIZE])
{
    size_t k = 0, i;

    for (i = 0; s[i] && i < POL_EXCERPT_CHARS; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
            k += (size_t)snprintf(buf + k, POL_EXCERPT_SIZE - k, "\\x%02x", c);
        else
            buf[k++] = (char)c;
    }
    buf[k] = '\0';
    if (s[i])
        memcpy(buf + k, "...", 4);
    return buf;
}

const char *pol_diag_format(const struct pol_diag *g, char *buf, size_t size)
{
    if (g->line)
        snprintf(buf, size, "%s:%u: %s", g->file, g->line, g->msg);
    else
        snprintf(buf, size, "%s: %s", g->file, g->msg);
    return buf;
}
