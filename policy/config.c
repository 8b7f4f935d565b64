/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * corral.conf: [Accounting], [Class NAME] (redefines a built-in class or adds one) and
 * [Rates] (the rate card). Every section and key is optional.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macro.h"
#include "core/name.h"
#include "policy/internal.h"
#include "policy/units.h"

/* Neighbouring classes are ~4x apart: with both busy, the upper one gets ~80% of the CPU. */
static const struct {
    const char *name;
    uint64_t weight;
} builtin_classes[] = {
    {"critical", 1000}, {"high", 400}, {"normal", 100}, {"batch", 25}, {"idle", 1},
};

#define INTERVAL_MIN_USEC  1000000ull
#define INTERVAL_MAX_USEC  (24ull * 3600 * 1000000)
#define MULTIPLIER_MAX_PPM (1000ull * ACCT_PPM_ONE)

struct cstate {
    const char *file;
    struct pol_config *c;
    struct pol_diags *d;
    bool rates_only;
    int error;
    /* Lines of [Class X] keys seen, to tell a redefinition from a built-in. */
};

static void bad(struct cstate *st, unsigned line, const char *fmt, ...) _printf_(3, 4);

static void bad(struct cstate *st, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (pol_diag_addv(st->d, st->file, line, fmt, ap) < 0)
        st->error = -ENOMEM;
    va_end(ap);
}

static struct pol_class *class_get(struct cstate *st, const char *name, bool create)
{
    struct pol_config *c = st->c;
    struct pol_class *nc;

    for (size_t i = 0; i < c->n_classes; i++)
        if (strcmp(c->classes[i].name, name) == 0)
            return &c->classes[i];
    if (!create)
        return NULL;
    nc = realloc(c->classes, (c->n_classes + 1) * sizeof(*nc));
    if (!nc) {
        st->error = -ENOMEM;
        return NULL;
    }
    c->classes = nc;
    nc = &c->classes[c->n_classes++];
    memset(nc, 0, sizeof(*nc));
    snprintf(nc->name, sizeof(nc->name), "%s", name);
    nc->cpu_weight = CTL_WEIGHT_DEFAULT;
    return nc;
}

/* "Class NAME" -> NAME, or NULL if the section is not a class section. */
static const char *class_section(const char *section)
{
    if (strncmp(section, "Class", 5) != 0 || (section[5] != ' ' && section[5] != '\0'))
        return NULL;
    section += 5;
    while (*section == ' ')
        section++;
    return section;
}

static bool on_section(void *user, const char *section, unsigned line)
{
    struct cstate *st = user;
    const char *cls = class_section(section);

    if (strcmp(section, "Rates") == 0)
        return true;
    if (!st->rates_only && strcmp(section, "Accounting") == 0)
        return true;
    if (!st->rates_only && cls) {
        struct pol_class *c;
        if (!cg_name_valid(cls)) {
            bad(st, line,
                "invalid class name '%s' in [Class NAME]: names are 1 to 64 of [a-z0-9_-]",
                POL_X(cls));
            return false;
        }
        c = class_get(st, cls, true);
        if (c) {
            snprintf(c->file, sizeof(c->file), "%s", st->file);
            c->line = line;
        }
        return true;
    }
    if (st->rates_only)
        return true; /* a whole corral.conf given as the rate card: other sections ignored */
    bad(st, line, "unknown section [%s] (known: Accounting, Class NAME, Rates)", POL_X(section));
    return false;
}

static void rate(struct cstate *st, const char *key, const char *v, unsigned line, uint64_t *dst)
{
    if (pol_parse_decimal(v, 6, dst) < 0)
        bad(st, line,
            "Rates.%s='%s': expected a non-negative decimal price with at most 6 decimals "
            "(e.g. 0.04)",
            POL_X(key), POL_X(v));
}

static void multiplier(struct cstate *st, const char *account, const char *v, unsigned line)
{
    struct acct_rates *r = &st->c->rates;
    uint64_t ppm;
    void *nm;

    if (!cg_name_valid(account)) {
        bad(st, line, "Rates.Multiplier.%s: invalid account name ([a-z0-9_-]{1,64})",
            POL_X(account));
        return;
    }
    if (pol_parse_decimal(v, 6, &ppm) < 0 || ppm > MULTIPLIER_MAX_PPM) {
        bad(st, line,
            "Rates.Multiplier.%s='%s': expected a decimal factor from 0 to 1000 with at most "
            "6 decimals (e.g. 1.5)",
            POL_X(account), POL_X(v));
        return;
    }
    nm = realloc(r->multipliers, (r->n_multipliers + 1) * sizeof(*r->multipliers));
    if (!nm) {
        st->error = -ENOMEM;
        return;
    }
    r->multipliers = nm;
    snprintf(r->multipliers[r->n_multipliers].account,
             sizeof(r->multipliers[r->n_multipliers].account), "%s", account);
    r->multipliers[r->n_multipliers].ppm = ppm;
    r->n_multipliers++;
}

static bool currency_valid(const char *v)
{
    size_t n = strlen(v);

    if (n < 1 || n > 7)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 'A' || v[i] > 'Z')
            return false;
    return true;
}

static void on_rates_key(struct cstate *st, const char *key, const char *v, unsigned line)
{
    struct acct_rates *r = &st->c->rates;

    if (strcmp(key, "Currency") == 0) {
        if (!currency_valid(v))
            bad(st, line,
                "Rates.Currency='%s': expected a currency code of 1 to 7 capital "
                "letters (ISO 4217, e.g. EUR)",
                POL_X(v));
        else
            snprintf(r->currency, sizeof(r->currency), "%s", v);
    } else if (strcmp(key, "CPUCoreHour") == 0)
        rate(st, key, v, line, &r->cpu_core_hour_micro);
    else if (strcmp(key, "MemoryGiBHour") == 0)
        rate(st, key, v, line, &r->mem_gib_hour_micro);
    else if (strncmp(key, "Multiplier.", 11) == 0)
        multiplier(st, key + 11, v, line);
    else
        bad(st, line,
            "unknown key '%s' in [Rates] (known: Currency, CPUCoreHour, MemoryGiBHour, "
            "Multiplier.ACCOUNT)",
            POL_X(key));
}

static void on_class_key(struct cstate *st, const char *name, const char *key, const char *v,
                         unsigned line)
{
    struct pol_class *c = class_get(st, name, false);
    uint64_t x;

    if (!c)
        return;
    if (strcmp(key, "CPUWeight") == 0) {
        if (pol_parse_uint(v, &x) < 0 || x < CTL_WEIGHT_MIN || x > CTL_WEIGHT_MAX)
            bad(st, line, "Class %s: CPUWeight='%s': expected an integer from %d to %d",
                POL_X(name), POL_X(v), CTL_WEIGHT_MIN, CTL_WEIGHT_MAX);
        else
            c->cpu_weight = x;
    } else if (strcmp(key, "MemoryLow") == 0) {
        int r = pol_parse_size(v, &x);
        if (r >= 0 && x != UINT64_MAX && pol_mem_pages(x, true, &x) < 0)
            bad(st, line,
                "Class %s: MemoryLow='%s': below one page (%llu bytes), which the kernel would "
                "hold as 0: write 0 for none, or at least %lluK",
                name, POL_X(v), (unsigned long long)pol_page_size(),
                (unsigned long long)pol_page_size() / 1024);
        else if (r < 0 || x == UINT64_MAX)
            bad(st, line,
                "Class %s: MemoryLow='%s': expected bytes with an optional K, M, G or T "
                "suffix (powers of 1024)",
                POL_X(name), POL_X(v));
        else {
            c->mem_low = x;
            c->mem_low_given = true;
        }
    } else
        bad(st, line, "unknown key '%s' in [Class %s] (known: CPUWeight, MemoryLow)", POL_X(key),
            POL_X(name));
}

static void on_key(void *user, const char *section, const char *key, const char *v, unsigned line)
{
    struct cstate *st = user;
    const char *cls = class_section(section);

    if (!v[0]) {
        bad(st, line, "%s: empty value for %s", POL_X(section), POL_X(key));
        return;
    }
    if (strcmp(section, "Rates") == 0)
        on_rates_key(st, key, v, line);
    else if (st->rates_only)
        return;
    else if (strcmp(section, "Accounting") == 0) {
        uint64_t us;
        int r;
        if (strcmp(key, "Interval") != 0) {
            bad(st, line, "unknown key '%s' in [Accounting] (known: Interval)", POL_X(key));
            return;
        }
        r = pol_parse_duration(v, &us);
        if (r < 0 || us < INTERVAL_MIN_USEC || us > INTERVAL_MAX_USEC)
            bad(st, line,
                "Accounting.Interval='%s': expected a duration from 1s to 24h (units "
                "us, ms, s, min, h)",
                POL_X(v));
        else
            st->c->interval_usec = us;
    } else if (cls && cg_name_valid(cls))
        on_class_key(st, cls, key, v, line);
}

int pol_config_builtin(struct pol_config *ret)
{
    struct pol_config c = {
        .interval_usec = POL_INTERVAL_DEFAULT_USEC,
    };

    c.classes = calloc(ARRAY_SIZE(builtin_classes), sizeof(*c.classes));
    if (!c.classes)
        return -ENOMEM;
    for (size_t i = 0; i < ARRAY_SIZE(builtin_classes); i++) {
        snprintf(c.classes[i].name, sizeof(c.classes[i].name), "%s", builtin_classes[i].name);
        c.classes[i].cpu_weight = builtin_classes[i].weight;
        c.classes[i].builtin = true;
    }
    c.n_classes = ARRAY_SIZE(builtin_classes);
    acct_rates_default(&c.rates);
    *ret = c;
    return 0;
}

static int load(const char *path, bool required, bool rates_only, struct pol_config *ret,
                struct pol_diags *diags)
{
    _cleanup_free_ char *text = NULL;
    struct pol_config c;
    struct cstate st = {
        .file = path,
        .c = &c,
        .d = diags,
        .rates_only = rates_only,
    };
    size_t len = 0;
    int r;

    r = pol_config_builtin(&c);
    if (r < 0)
        return r;
    if (path) {
        r = pol_read_trusted(path, &text, &len, diags);
        if (r == -ENOENT && !required)
            path = NULL;
        else if (r == -ENOENT ||
                 (r < 0 && r != -ENOMEM && r != -EPERM && r != -ENXIO && r != -EFBIG))
            r = pol_diag_add(diags, path, 0, "cannot read: %s", strerror(-r));
        if (r == -ENOMEM) {
            pol_config_free(&c);
            return r;
        }
    }
    if (text) {
        snprintf(c.file, sizeof(c.file), "%s", path);
        r = pol_ini_parse(path, text, len, on_section, on_key, &st, diags);
        if (r == 0)
            r = st.error;
        if (r < 0) {
            pol_config_free(&c);
            return r;
        }
    }
    *ret = c;
    return 0;
}

int pol_config_load(const char *path, bool required, struct pol_config *ret,
                    struct pol_diags *diags)
{
    return load(path, required, false, ret, diags);
}

int pol_rates_load(const char *path, struct acct_rates *ret, struct pol_diags *diags)
{
    struct pol_config c;
    int r = load(path, true, true, &c, diags);

    if (r < 0)
        return r;
    *ret = c.rates;
    c.rates.multipliers = NULL;
    c.rates.n_multipliers = 0;
    pol_config_free(&c);
    return 0;
}

void pol_rates_done(struct acct_rates *r)
{
    acct_rates_done(r);
}

uint64_t pol_rates_multiplier(const struct acct_rates *r, const char *account)
{
    return acct_rates_multiplier(r, account);
}

void pol_config_free(struct pol_config *c)
{
    if (!c)
        return;
    free(c->classes);
    c->classes = NULL;
    c->n_classes = 0;
    pol_rates_done(&c->rates);
}

const struct pol_class *pol_config_class(const struct pol_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n_classes; i++)
        if (strcmp(c->classes[i].name, name) == 0)
            return &c->classes[i];
    return NULL;
}

void pol_class_settings(const struct pol_class *c, struct ctl_settings *ret)
{
    ctl_settings_init(ret);
    ret->cpu_weight = c->cpu_weight;
    ret->mem_low = c->mem_low;
}
