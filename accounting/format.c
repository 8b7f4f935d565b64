/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A report as a table (libsmartcols), CSV (RFC 4180) or JSON (jansson): report.h. */
#include <errno.h>
#include <libsmartcols/libsmartcols.h>
#include <string.h>

#include "accounting/format-private.h"
#include "accounting/money.h"

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

/* The columns of the table and of the CSV, in order. */
enum col {
    COL_BUCKET,
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
    COL_START,
    COL_END,
    COL_EXIT,
    COL_POLICY,
    _COL_MAX,
};

static const struct {
    const char *head, *csv;
    bool right;
} cols[_COL_MAX] = {
    [COL_BUCKET] = {"", "from"},
    [COL_KEY] = {"", "key"},
    [COL_INST] = {"INST", "instances", true},
    [COL_CPU_USER] = {"CPU USER s", "cpu_user_s", true},
    [COL_CPU_SYS] = {"CPU SYS s", "cpu_system_s", true},
    [COL_CPU_BILLED] = {"CPU BILLED s", "cpu_billed_s", true},
    [COL_MEM] = {"MEM GiB-h", "mem_gib_h", true},
    [COL_MEM_BILLED] = {"MEM BILLED GiB-h", "mem_billed_gib_h", true},
    [COL_PEAK] = {"PEAK MEM", "mem_peak_bytes", true},
    [COL_OOM] = {"OOM", "oom_kills", true},
    [COL_WALL] = {"WALL s", "wall_s", true},
    [COL_FROZEN] = {"FROZEN s", "frozen_s", true},
    [COL_COST] = {"COST", "cost", true},
    [COL_START] = {"START", "start"},
    [COL_END] = {"END", "end"},
    [COL_EXIT] = {"EXIT", "exit_status", true},
    [COL_POLICY] = {"POLICY", "policy"},
};

/* csv: CSV always has the billed columns when it bills (a fixed set for scripts). */
static bool col_shown(const struct acct_report *r, enum col c, bool csv)
{
    switch (c) {
    case COL_BUCKET:
        return r->opts.per != ACCT_PER_NONE;
    case COL_CPU_BILLED:
    case COL_MEM_BILLED:
        /* in a table they only differ from usage when billing on reservation */
        return csv ? r->opts.billing != ACCT_BILL_NONE : r->opts.billing == ACCT_BILL_RESERVATION;
    case COL_COST:
        return r->opts.billing != ACCT_BILL_NONE;
    case COL_START:
    case COL_END:
    case COL_EXIT:
    case COL_POLICY:
        return r->opts.by == ACCT_BY_INSTANCE;
    default:
        return true;
    }
}

/* The text of one cell: a string of the row, or a number formatted into buf (64 bytes
 * hold any of them). exact: every digit (CSV), else rounded for reading. */
static const char *cell(const struct acct_report *r, const struct acct_report_row *row, bool total,
                        enum col c, bool exact, char *buf, size_t size)
{
    unsigned sdec = exact ? 9 : 3, gdec = exact ? 9 : 6;
    bool local = r->opts.local;

    if (total && (c == COL_BUCKET || c >= COL_START))
        return "";
    switch (c) {
    case COL_BUCKET:
        return exact ? acct_fmt_time(buf, size, row->from_ns, local)
                     : acct_fmt_bucket(buf, size, row->from_ns, r->opts.per, local);
    case COL_KEY:
        return total ? (exact ? "" : "TOTAL") : row->key;
    case COL_INST:
        snprintf(buf, size, "%llu", (unsigned long long)row->instances);
        return buf;
    case COL_CPU_USER:
        return acct_fmt_fixed(buf, size, row->cpu_user_ns, 9, sdec);
    case COL_CPU_SYS:
        return acct_fmt_fixed(buf, size, row->cpu_system_ns, 9, sdec);
    case COL_CPU_BILLED:
        return acct_fmt_fixed(buf, size, row->cpu_billed_ns, 9, sdec);
    case COL_MEM:
        return acct_fmt_ratio(buf, size, row->mem_bs, GIB_HOUR_BS, gdec);
    case COL_MEM_BILLED:
        return acct_fmt_ratio(buf, size, row->mem_billed_bs, GIB_HOUR_BS, gdec);
    case COL_PEAK:
        if (exact)
            snprintf(buf, size, "%llu", (unsigned long long)row->mem_peak);
        else
            strcat(acct_fmt_ratio(buf, size - 4, row->mem_peak, 1u << 20, 1), " MiB");
        return buf;
    case COL_OOM:
        snprintf(buf, size, "%llu", (unsigned long long)row->oom_kills);
        return buf;
    case COL_WALL:
        return acct_fmt_fixed(buf, size, row->wall_ns, 9, exact ? 9 : 1);
    case COL_FROZEN:
        return acct_fmt_fixed(buf, size, row->frozen_ns, 9, exact ? 9 : 1);
    case COL_COST:
        /* Money is shown to the micro-unit everywhere, so the table's TOTAL is visibly the
         * sum of its rows (a per-row rounding to cents would break that). */
        return acct_fmt_fixed(buf, size, row->cost_micro, 6, 6);
    case COL_START:
        return acct_fmt_time(buf, size, row->start_ns, local);
    case COL_END:
        return row->running ? "running" : acct_fmt_time(buf, size, row->end_ns, local);
    case COL_EXIT:
        if (row->exit_status == ACCT_EXIT_UNKNOWN)
            return "";
        snprintf(buf, size, "%d", row->exit_status);
        return buf;
    case COL_POLICY:
        return row->policy ? row->policy : "";
    default:
        return "";
    }
}

/* ---- table ---- */

/* "ACCOUNT", "DAY", "COST EUR": a column's heading. */
static void heading(const struct acct_report *r, enum col c, char *buf, size_t size)
{
    const char *name = c == COL_KEY      ? acct_by_to_string(r->opts.by)
                       : c == COL_BUCKET ? acct_per_to_string(r->opts.per)
                                         : NULL;

    if (name) {
        snprintf(buf, size, "%s", name);
        for (char *p = buf; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
    } else if (c == COL_COST) {
        snprintf(buf, size, "COST %s", r->currency);
    } else {
        snprintf(buf, size, "%s", cols[c].head);
    }
}

#define TABLE_SEP "  "

/* The key column's width that fits the table in width columns (0: no limit), or 0 when
 * nothing needs to be cut. Truncated keys keep at least 4 characters and the ellipsis. */
static size_t key_budget(const struct acct_report *r, unsigned width)
{
    size_t rest = 0, key = 0, shown = 0, w[_COL_MAX] = {0};
    char buf[64];

    if (width == 0)
        return 0;
    for (int c = 0; c < _COL_MAX; c++) {
        if (!col_shown(r, (enum col)c, false))
            continue;
        heading(r, (enum col)c, buf, sizeof(buf));
        w[c] = strlen(buf);
        shown++;
        for (size_t i = 0; i <= r->n; i++) {
            const struct acct_report_row *row = i < r->n ? &r->rows[i] : &r->total;
            size_t len = strlen(cell(r, row, i == r->n, (enum col)c, false, buf, sizeof(buf)));
            if (len > w[c])
                w[c] = len;
        }
        if (c == COL_KEY)
            key = w[c];
        else
            rest += w[c];
    }
    rest += (shown - 1) * strlen(TABLE_SEP);
    if (rest + key <= width)
        return 0;
    return rest + 8 <= width ? width - rest : 8;
}

/* s cut to budget characters, the last three an ellipsis; NULL if it fits already. */
static char *cut(const char *s, size_t budget)
{
    char *t;

    if (budget == 0 || strlen(s) <= budget)
        return NULL;
    t = malloc(budget + 1);
    if (t) {
        memcpy(t, s, budget - 3);
        strcpy(t + budget - 3, "...");
    }
    return t;
}

static int table_line(struct libscols_table *tb, const struct acct_report *r,
                      const struct acct_report_row *row, bool total, size_t budget)
{
    struct libscols_line *ln = scols_table_new_line(tb, NULL);
    size_t k = 0;
    char buf[64];

    if (!ln)
        return -ENOMEM;
    for (int c = 0; c < _COL_MAX; c++) {
        const char *text;
        _cleanup_free_ char *short_key = NULL;
        if (!col_shown(r, (enum col)c, false))
            continue;
        text = cell(r, row, total, (enum col)c, false, buf, sizeof(buf));
        if (c == COL_KEY && (short_key = cut(text, budget)))
            text = short_key;
        if (scols_line_set_data(ln, k++, text) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int print_table(FILE *f, const struct acct_report *r, unsigned width)
{
    struct libscols_table *tb = scols_new_table();
    size_t budget = key_budget(r, width);
    char from[64], to[64], head[64];
    int res = 0;

    if (!tb)
        return -ENOMEM;
    fprintf(f, "%s %s .. %s (%s) by %s%s%s, %s%s\n",
            r->opts.billing == ACCT_BILL_NONE ? "Showback" : "Chargeback",
            acct_fmt_time(from, sizeof(from), r->opts.from_ns, r->opts.local),
            acct_fmt_time(to, sizeof(to), r->opts.to_ns, r->opts.local), r->zone,
            acct_by_to_string(r->opts.by), r->opts.per ? " per " : "",
            r->opts.per ? acct_per_to_string(r->opts.per) : "",
            r->opts.billing == ACCT_BILL_NONE ? "usage only" : "billed on ",
            r->opts.billing == ACCT_BILL_NONE ? "" : acct_billing_to_string(r->opts.billing));
    (void)scols_table_set_termforce(tb, SCOLS_TERMFORCE_NEVER); /* never cut to a terminal */
    (void)scols_table_set_column_separator(tb, TABLE_SEP);
    (void)scols_table_enable_minout(tb, 1); /* no padding after a line's last cell */
    (void)scols_table_set_stream(tb, f);
    for (int c = 0; c < _COL_MAX && res >= 0; c++) {
        if (!col_shown(r, (enum col)c, false))
            continue;
        heading(r, (enum col)c, head, sizeof(head));
        if (!scols_table_new_column(tb, head, 1, cols[c].right ? SCOLS_FL_RIGHT : 0))
            res = -ENOMEM;
    }
    for (size_t i = 0; i <= r->n && res >= 0; i++)
        res = table_line(tb, r, i < r->n ? &r->rows[i] : &r->total, i == r->n, budget);
    if (res >= 0 && scols_print_table(tb) < 0)
        res = -EIO;
    scols_unref_table(tb);
    return res;
}

/* ---- CSV ---- */

static void print_csv(FILE *f, const struct acct_report *r)
{
    char buf[64];

    fputs("by", f);
    for (int c = 0; c < _COL_MAX; c++)
        if (col_shown(r, (enum col)c, true) && c != COL_BUCKET && c < COL_START)
            fprintf(f, ",%s", cols[c].csv);
    if (r->opts.billing != ACCT_BILL_NONE)
        fputs(",currency", f);
    fputs(",from,to", f);
    for (int c = COL_START; c < _COL_MAX; c++)
        if (col_shown(r, (enum col)c, true))
            fprintf(f, ",%s", cols[c].csv);
    fputs("\r\n", f);
    for (size_t i = 0; i <= r->n; i++) {
        const struct acct_report_row *row = i < r->n ? &r->rows[i] : &r->total;
        bool total = i == r->n;

        acct_csv_field(f, total ? "total" : acct_by_to_string(r->opts.by));
        for (int c = 0; c < _COL_MAX; c++)
            if (col_shown(r, (enum col)c, true) && c != COL_BUCKET && c < COL_START) {
                fputc(',', f);
                acct_csv_field(f, cell(r, row, total, (enum col)c, true, buf, sizeof(buf)));
            }
        if (r->opts.billing != ACCT_BILL_NONE) {
            fputc(',', f);
            acct_csv_field(f, r->currency);
        }
        fprintf(f, ",%s", acct_fmt_time(buf, sizeof(buf), row->from_ns, r->opts.local));
        fprintf(f, ",%s", acct_fmt_time(buf, sizeof(buf), row->to_ns, r->opts.local));
        for (int c = COL_START; c < _COL_MAX; c++)
            if (col_shown(r, (enum col)c, true)) {
                fputc(',', f);
                acct_csv_field(f, cell(r, row, total, (enum col)c, true, buf, sizeof(buf)));
            }
        fputs("\r\n", f);
    }
}

int acct_report_print(FILE *f, const struct acct_report *r, enum acct_format fmt, unsigned width)
{
    int res = 0;

    switch (fmt) {
    case ACCT_FMT_TABLE:
        res = print_table(f, r, width);
        break;
    case ACCT_FMT_CSV:
        print_csv(f, r);
        break;
    case ACCT_FMT_JSON:
        res = acct_report_print_json(f, r);
        break;
    default:
        return -EINVAL;
    }
    if (res < 0)
        return res;
    return ferror(f) ? -EIO : 0;
}
