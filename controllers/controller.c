/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "controllers/controller.h"

#define CTL_ENTRY_(ID, name) [CTL_##ID] = &ctl_##name,
const struct ctl_controller *const ctl_table[_CTL_MAX] = {
    CTL_CONTROLLERS(CTL_ENTRY_, CTL_NONE_, CTL_NONE_)};

const char *ctl_id_to_string(ctl_id id)
{
    return (id >= 0 && id < _CTL_MAX) ? ctl_table[id]->name : NULL;
}

ctl_id ctl_id_from_string(const char *s)
{
    for (int i = 0; i < _CTL_MAX; i++)
        if (s && strcmp(s, ctl_table[i]->name) == 0)
            return (ctl_id)i;
    return _CTL_INVALID;
}

void ctl_warn(struct ctl_warnings *w, ctl_key key, const char *fmt, ...)
{
    va_list ap;

    if (!w || w->n >= sizeof(w->w) / sizeof(w->w[0]))
        return;
    w->w[w->n].key = key;
    va_start(ap, fmt);
    vsnprintf(w->w[w->n].msg, sizeof(w->w[w->n].msg), fmt, ap);
    va_end(ap);
    w->n++;
}

void ctl_settings_init(struct ctl_settings *s)
{
    memset(s, 0, sizeof(*s));
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        *ctl_key_field(d, s) = CTL_UNSET;
}

const struct ctl_key_desc *ctl_key_next(const struct ctl_key_desc *d)
{
    int c = d ? d->ctl : 0;
    size_t i = d ? (size_t)(d - ctl_table[c]->keys) + 1 : 0;

    for (; c < _CTL_MAX; c++, i = 0)
        if (i < ctl_table[c]->n_keys)
            return &ctl_table[c]->keys[i];
    return NULL;
}

const struct ctl_key_desc *ctl_key_desc(ctl_key id)
{
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        if (d->id == id)
            return d;
    return NULL;
}

uint64_t *ctl_key_field(const struct ctl_key_desc *d, struct ctl_settings *s)
{
    return (uint64_t *)((char *)s + d->offset);
}

uint64_t ctl_key_get(const struct ctl_key_desc *d, const struct ctl_settings *s)
{
    return *(const uint64_t *)((const char *)s + d->offset);
}

const char *ctl_key_name(ctl_key id, char *buf, size_t size)
{
    const struct ctl_key_desc *d = ctl_key_desc(id);

    snprintf(buf, size, "%s.%s", d ? d->section : "?", d ? d->key : "?");
    return buf;
}

void ctl_settings_defaults(struct ctl_settings *s)
{
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        *ctl_key_field(d, s) = d->def;
}

void ctl_settings_fill_defaults(struct ctl_settings *s)
{
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        if (ctl_key_get(d, s) == CTL_UNSET)
            *ctl_key_field(d, s) = d->def;
}

void ctl_usage_init(struct ctl_usage *u)
{
    u->cpu_usage_ns = u->cpu_user_ns = u->cpu_system_ns = CTL_UNSET;
    u->cpu_nr_periods = u->cpu_nr_throttled = u->cpu_throttled_ns = CTL_UNSET;
    u->mem_current = u->mem_peak = u->mem_oom_kills = CTL_UNSET;
    u->pids_current = u->pids_peak = CTL_UNSET;
    u->frozen = CTL_UNSET;
}

int ctl_apply_all(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                  struct ctl_warnings *w, struct cg_err *e)
{
    for (int i = 0; i < _CTL_MAX; i++) {
        int r;
        if (!ctl_table[i]->apply)
            continue;
        r = ctl_table[i]->apply(g, s, t, w, e);
        if (r < 0)
            return r;
    }
    return 0;
}

void ctl_plan_add(struct ctl_plan *p, enum cg_hier h, const char *file, const char *old_value,
                  const char *new_value)
{
    struct ctl_step *st;

    if (p->n >= sizeof(p->s) / sizeof(p->s[0]))
        return;
    st = &p->s[p->n++];
    st->hier = h;
    st->file = file;
    snprintf(st->old_value, sizeof(st->old_value), "%s", old_value);
    snprintf(st->new_value, sizeof(st->new_value), "%s", new_value);
}

void ctl_diff(const struct ctl_settings *cur, const struct ctl_settings *want, enum cg_vocab v,
              struct ctl_plan *ret)
{
    for (int i = 0; i < _CTL_MAX; i++)
        if (ctl_table[i]->diff)
            ctl_table[i]->diff(cur, want, v, ret);
}

int ctl_plan_write(struct cg_group *g, const struct ctl_plan *p, const struct ctl_raw *raw,
                   size_t n_raw, struct cg_txn *t, struct cg_err *e)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct ctl_step *st = &p->s[i];
        const char *old = st->old_value;
        int r;

        for (size_t k = 0; k < n_raw; k++)
            if (raw[k].file && strcmp(raw[k].file, st->file) == 0) {
                old = raw[k].value;
                break;
            }
        r = cg_txn_write(t, g, st->hier, st->file, old, st->new_value, e);
        if (r < 0)
            return r;
    }
    return 0;
}

unsigned ctl_probe(struct cg_group *g)
{
    unsigned f = 0;

    for (int i = 0; i < _CTL_MAX; i++)
        if (ctl_table[i]->probe)
            f |= ctl_table[i]->probe(g);
    return f;
}

void ctl_warn_new(const struct ctl_settings *s, enum cg_vocab v, unsigned features,
                  struct ctl_warnings *w)
{
    for (int i = 0; i < _CTL_MAX; i++)
        if (ctl_table[i]->warn)
            ctl_table[i]->warn(s, v, features, w);
}

int ctl_read_settings_all(struct cg_group *g, struct ctl_settings *ret)
{
    ctl_settings_init(ret);
    for (int i = 0; i < _CTL_MAX; i++) {
        int r;
        if (!ctl_table[i]->read_settings)
            continue;
        r = ctl_table[i]->read_settings(g, ret);
        if (r < 0)
            return r;
    }
    return 0;
}

int ctl_read_usage_all(struct cg_group *g, struct ctl_usage *ret)
{
    ctl_usage_init(ret);
    for (int i = 0; i < _CTL_MAX; i++) {
        int r;
        if (!ctl_table[i]->read_usage)
            continue;
        r = ctl_table[i]->read_usage(g, ret);
        if (r < 0)
            return r;
    }
    return 0;
}

uint64_t ctl_weight_to_shares(uint64_t weight)
{
    uint64_t s;

    if (weight == CTL_UNSET || weight == CTL_MAX)
        return weight;
    s = weight * 1024 / 100;
    if (s < CTL_SHARES_MIN)
        s = CTL_SHARES_MIN;
    if (s > CTL_SHARES_MAX)
        s = CTL_SHARES_MAX;
    return s;
}

uint64_t ctl_shares_to_weight(uint64_t shares)
{
    uint64_t w;

    if (shares == CTL_UNSET || shares == CTL_MAX)
        return shares;
    /* Rounded to nearest; weight*1024/100 truncates, so try the neighbours to find a
     * weight whose forward conversion gives exactly these shares. */
    w = (shares * 100 + 512) / 1024;
    for (uint64_t c = w > 0 ? w - 1 : 0; c <= w + 1; c++)
        if (c >= CTL_WEIGHT_MIN && c <= CTL_WEIGHT_MAX && ctl_weight_to_shares(c) == shares)
            return c;
    if (w < CTL_WEIGHT_MIN)
        w = CTL_WEIGHT_MIN;
    if (w > CTL_WEIGHT_MAX)
        w = CTL_WEIGHT_MAX;
    return w;
}
