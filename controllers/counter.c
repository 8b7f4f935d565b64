/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "controllers/controller.h"

const struct ctl_ctr_desc *ctl_ctr_desc(ctl_ctr id)
{
    for (int i = 0; id >= 0 && id < _CTL_CTR_MAX && i < _CTL_MAX; i++)
        for (size_t j = 0; j < ctl_table[i]->n_ctrs; j++)
            if (ctl_table[i]->ctrs[j].id == id)
                return &ctl_table[i]->ctrs[j];
    return NULL;
}

uint64_t ctl_ctr_num(const char *p)
{
    uint64_t v = 0;
    const char *q = p;

    if (p[0] == 'm' && p[1] == 'a' && p[2] == 'x')
        return CTL_MAX;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (UINT64_MAX - 9) / 10)
            return CTL_UNSET;
        v = v * 10 + (uint64_t)(*q - '0');
    }
    return q == p ? CTL_UNSET : v;
}

/* The value of "key value" in a flat keyed file, or CTL_UNSET. */
static uint64_t keyed(const char *text, const char *key)
{
    size_t klen = strlen(key);

    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return ctl_ctr_num(line + klen + 1);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return CTL_UNSET;
}

void ctl_ctr_parse(const struct ctl_ctr_desc *d, enum cg_vocab v, const char *text,
                   bool keep_missing, struct ctl_usage *u)
{
    const struct ctl_ctr_file *f = &d->file[v];

    for (int i = 0; i < CTL_CTR_FIELDS && (i == 0 || f->f[i].key); i++) {
        const struct ctl_ctr_field *x = &f->f[i];
        uint64_t *field = (uint64_t *)((char *)u + x->offset), val;

        switch (f->form) {
        case CTL_CTR_NUMBER:
            val = ctl_ctr_num(text);
            break;
        case CTL_CTR_KEYED:
            val = keyed(text, x->key);
            break;
        case CTL_CTR_STATE:
            val = strncmp(text, x->key, strlen(x->key)) == 0;
            break;
        default:
            return;
        }
        if (val == CTL_UNSET && keep_missing)
            continue;
        *field = val == CTL_UNSET || val == CTL_MAX || x->mult <= 1 ? val : val * x->mult;
    }
}
