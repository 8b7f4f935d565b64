/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "accounting/money.h"
#include "accounting/report.h"

#define GIB_HOUR_BS ((unsigned __int128)3600 << 30) /* byte-seconds in one GiB-hour */

void acct_csv_field(FILE *f, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void acct_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Text cells of one row, shared by table and CSV. */
enum {
    COL_KEY,
    COL_INST,
    COL_CPU_USER,
    COL_CPU_SYS,
    COL_CPU_BILLED,
    COL_MEM,
    COL_MEM_BILLED,
    COL_PEAK,
    COL_OOM,
    COL_WALL,
    COL_FROZEN,
    COL_COST,
    _COL_MAX,
};

struct cells {
    char c[_COL_MAX][48];
};

static void cells_fill(struct cells *x, const struct acct_report_row *r, const char *key,
                       bool exact)
{
    unsigned sdec = exact ? 9 : 3, gdec = exact ? 9 : 6;

    snprintf(x->c[COL_KEY], sizeof(x->c[0]), "%s", key);
    snprintf(x->c[COL_INST], sizeof(x->c[0]), "%llu", (unsigned long long)r->instances);
    acct_fmt_fixed(x->c[COL_CPU_USER], sizeof(x->c[0]), r->cpu_user_ns, 9, sdec);
    acct_fmt_fixed(x->c[COL_CPU_SYS], sizeof(x->c[0]), r->cpu_system_ns, 9, sdec);
    acct_fmt_fixed(x->c[COL_CPU_BILLED], sizeof(x->c[0]), r->cpu_billed_ns, 9, sdec);
    acct_fmt_ratio(x->c[COL_MEM], sizeof(x->c[0]), r->mem_bs, GIB_HOUR_BS, gdec);
    acct_fmt_ratio(x->c[COL_MEM_BILLED], sizeof(x->c[0]), r->mem_billed_bs, GIB_HOUR_BS, gdec);
    if (exact)
        snprintf(x->c[COL_PEAK], sizeof(x->c[0]), "%llu", (unsigned long long)r->mem_peak);
    else
        snprintf(x->c[COL_PEAK], sizeof(x->c[0]), "%s MiB",
                 acct_fmt_ratio((char[40]){0}, 40, r->mem_peak, 1u << 20, 1));
    snprintf(x->c[COL_OOM], sizeof(x->c[0]), "%llu", (unsigned long long)r->oom_kills);
    acct_fmt_fixed(x->c[COL_WALL], sizeof(x->c[0]), r->wall_ns, 9, exact ? 9 : 1);
    acct_fmt_fixed(x->c[COL_FROZEN], sizeof(x->c[0]), r->frozen_ns, 9, exact ? 9 : 1);
    /* Money is shown to the micro-unit everywhere, so the table's TOTAL is visibly the sum
     * of its rows (a per-row rounding to cents would break that). */
    acct_fmt_fixed(x->c[COL_COST], sizeof(x->c[0]), r->cost_micro, 6, 6);
}

static const char *const table_head[_COL_MAX] = {
    "",         "INST", "CPU USER s", "CPU SYS s", "CPU BILLED s", "MEM GiB-h", "MEM BILLED GiB-h",
    "PEAK MEM", "OOM",  "WALL s",     "FROZEN s",  "COST",
};

static const char *const csv_head[_COL_MAX] = {
    "key",          "instances", "cpu_user_s",       "cpu_system_s",
    "cpu_billed_s", "mem_gib_h", "mem_billed_gib_h", "mem_peak_bytes",
    "oom_kills",    "wall_s",    "frozen_s",         "cost",
};

static bool col_shown(const struct acct_report *r, int c)
{
    /* The billed columns only differ from usage when billing on reservation. */
    return r->opts.billing == ACCT_BILL_RESERVATION || (c != COL_CPU_BILLED && c != COL_MEM_BILLED);
}

static void print_table(FILE *f, const struct acct_report *r)
{
    struct cells tot;
    size_t w[_COL_MAX];
    char from[40], to[40], cost_head[32], key_head[16];

    snprintf(key_head, sizeof(key_head), "%s", acct_by_to_string(r->opts.by));
    for (char *p = key_head; *p; p++)
        *p = (char)(*p - 'a' + 'A');
    snprintf(cost_head, sizeof(cost_head), "COST %s", r->currency);
    for (int c = 0; c < _COL_MAX; c++)
        w[c] = strlen(c == COL_KEY ? key_head : c == COL_COST ? cost_head : table_head[c]);
    cells_fill(&tot, &r->total, "TOTAL", false);
    for (size_t i = 0; i <= r->n; i++) {
        struct cells x;
        if (i < r->n)
            cells_fill(&x, &r->rows[i], r->rows[i].key, false);
        else
            x = tot;
        for (int c = 0; c < _COL_MAX; c++)
            if (strlen(x.c[c]) > w[c])
                w[c] = strlen(x.c[c]);
    }
    fprintf(f, "Chargeback %s .. %s by %s, billed on %s\n",
            acct_fmt_time(from, sizeof(from), r->opts.from_ns),
            acct_fmt_time(to, sizeof(to), r->opts.to_ns), acct_by_to_string(r->opts.by),
            acct_billing_to_string(r->opts.billing));
    for (int c = 0; c < _COL_MAX; c++)
        if (col_shown(r, c))
            fprintf(f, c == COL_KEY ? "%-*s" : "  %*s", (int)w[c],
                    c == COL_KEY    ? key_head
                    : c == COL_COST ? cost_head
                                    : table_head[c]);
    fputc('\n', f);
    for (size_t i = 0; i <= r->n; i++) {
        struct cells x;
        if (i < r->n) {
            cells_fill(&x, &r->rows[i], r->rows[i].key, false);
        } else {
            x = tot;
            for (int c = 0; c < _COL_MAX; c++)
                if (col_shown(r, c))
                    for (size_t k = 0; k < w[c] + (c ? 2 : 0); k++)
                        fputc('-', f);
            fputc('\n', f);
        }
        for (int c = 0; c < _COL_MAX; c++)
            if (col_shown(r, c))
                fprintf(f, c == COL_KEY ? "%-*s" : "  %*s", (int)w[c], x.c[c]);
        fputc('\n', f);
    }
}

static void print_csv(FILE *f, const struct acct_report *r)
{
    fputs("by", f);
    for (int c = 0; c < _COL_MAX; c++)
        fprintf(f, ",%s", csv_head[c]);
    fputs(",currency\r\n", f);
    for (size_t i = 0; i <= r->n; i++) {
        const struct acct_report_row *row = i < r->n ? &r->rows[i] : &r->total;
        struct cells x;

        cells_fill(&x, row, i < r->n ? row->key : "", true);
        acct_csv_field(f, i < r->n ? acct_by_to_string(r->opts.by) : "total");
        for (int c = 0; c < _COL_MAX; c++) {
            fputc(',', f);
            acct_csv_field(f, x.c[c]);
        }
        fputc(',', f);
        acct_csv_field(f, r->currency);
        fputs("\r\n", f);
    }
}

static void json_row(FILE *f, const struct acct_report_row *row, const char *key)
{
    char cost[40];

    fputc('{', f);
    if (key) {
        fputs("\"key\":", f);
        acct_json_string(f, key);
        fputc(',', f);
    }
    fprintf(f,
            "\"instances\":%llu,\"cpu_user_ns\":%llu,\"cpu_system_ns\":%llu,"
            "\"cpu_billed_ns\":%llu,\"mem_byte_seconds\":%llu,\"mem_billed_byte_seconds\":%llu,"
            "\"mem_peak_bytes\":%llu,\"oom_kills\":%llu,\"throttled_ns\":%llu,\"wall_ns\":%llu,"
            "\"frozen_ns\":%llu,\"cost_micro\":%llu,\"cost\":\"%s\"}",
            (unsigned long long)row->instances, (unsigned long long)row->cpu_user_ns,
            (unsigned long long)row->cpu_system_ns, (unsigned long long)row->cpu_billed_ns,
            (unsigned long long)row->mem_bs, (unsigned long long)row->mem_billed_bs,
            (unsigned long long)row->mem_peak, (unsigned long long)row->oom_kills,
            (unsigned long long)row->throttled_ns, (unsigned long long)row->wall_ns,
            (unsigned long long)row->frozen_ns, (unsigned long long)row->cost_micro,
            acct_fmt_fixed(cost, sizeof(cost), row->cost_micro, 6, 6));
}

static void print_json(FILE *f, const struct acct_report *r)
{
    char from[40], to[40];

    fprintf(f, "{\"version\":1,\"from\":\"%s\",\"to\":\"%s\",\"by\":\"%s\",\"billing\":\"%s\",",
            acct_fmt_time(from, sizeof(from), r->opts.from_ns),
            acct_fmt_time(to, sizeof(to), r->opts.to_ns), acct_by_to_string(r->opts.by),
            acct_billing_to_string(r->opts.billing));
    fputs("\"currency\":", f);
    acct_json_string(f, r->currency);
    fprintf(f, ",\"rates\":{\"cpu_core_hour_micro\":%llu,\"mem_gib_hour_micro\":%llu},\"rows\":[",
            (unsigned long long)r->cpu_core_hour_micro, (unsigned long long)r->mem_gib_hour_micro);
    for (size_t i = 0; i < r->n; i++) {
        if (i)
            fputc(',', f);
        json_row(f, &r->rows[i], r->rows[i].key);
    }
    fputs("],\"total\":", f);
    json_row(f, &r->total, NULL);
    fputs("}\n", f);
}

int acct_report_print(FILE *f, const struct acct_report *r, enum acct_format fmt)
{
    switch (fmt) {
    case ACCT_FMT_TABLE:
        print_table(f, r);
        break;
    case ACCT_FMT_CSV:
        print_csv(f, r);
        break;
    case ACCT_FMT_JSON:
        print_json(f, r);
        break;
    default:
        return -EINVAL;
    }
    return ferror(f) ? -EIO : 0;
}
