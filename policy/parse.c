/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One policy file -> struct pol_policy. The cgroup settings ([CPU], [Memory], [Pids]) are
 * their controllers' descriptors, parsed by unit (desc.c); every other key has a parser in
 * the table below ([Filesystem]'s in parse-fs.c). The checks that involve several keys
 * (High above Max, a quota below the kernel's 1 ms minimum, Hostname without a UTS
 * namespace) run once the whole file is read.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macro.h"
#include "core/name.h"
#include "policy/internal.h"
#include "policy/units.h"

#define QUOTA_MIN_USEC 1000u /* kernel: min_cfs_quota_period, 1 ms */

void pol_bad(struct pol_pstate *st, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (pol_diag_addv(st->d, st->file, line, fmt, ap) < 0)
        st->error = -ENOMEM;
    va_end(ap);
}

/* [Workload] */

static void set_name(struct pol_pstate *st, const char *what, char *dst, size_t size, const char *v,
                     unsigned line)
{
    if (!cg_name_valid(v)) {
        pol_bad(st, line,
                "invalid %s '%s': names are 1 to 64 of [a-z0-9_-] (no '/', '.' or empty), since "
                "they become group names",
                what, POL_X(v));
        return;
    }
    snprintf(dst, size, "%s", v);
}

static void k_name(struct pol_pstate *st, const char *v, unsigned line)
{
    set_name(st, "workload name", st->p->name, sizeof(st->p->name), v, line);
    st->p->name_line = line;
}

static void k_class(struct pol_pstate *st, const char *v, unsigned line)
{
    set_name(st, "class name", st->p->class_name, sizeof(st->p->class_name), v, line);
    st->p->class_line = line;
}

static void k_account(struct pol_pstate *st, const char *v, unsigned line)
{
    set_name(st, "account name", st->p->account, sizeof(st->p->account), v, line);
}

/* [CPU], [Memory], [Pids]: the cgroup settings, parsed as their descriptors say. */
static void k_setting(struct pol_pstate *st, const struct ctl_key_desc *d, const char *v,
                      unsigned line)
{
    char msg[256];
    uint64_t x = 0;
    int r = d->unit == CTL_UNIT_CPU_LIST
                ? pol_setting_parse_list(d, v, ctl_key_list(d, &st->p->limits), msg, sizeof(msg))
                : pol_setting_parse(d, v, &x, msg, sizeof(msg));

    if (r < 0) {
        pol_bad(st, line, "%s", msg);
        return;
    }
    if (d->unit == CTL_UNIT_CPU_SHARE)
        st->cpu_ppm = x;
    else if (d->unit != CTL_UNIT_CPU_LIST) /* a list is parsed in place */
        *ctl_key_field(d, &st->p->limits) = x;
    st->line[d->id] = line;
    st->p->keys |= POL_KEY(d->id);
}

static const struct ctl_key_desc *setting_find(const char *section, const char *key)
{
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        if (strcmp(d->section, section) == 0 && (!key || strcmp(d->key, key) == 0))
            return d;
    return NULL;
}

/* [Namespaces] */

static void k_isolate(struct pol_pstate *st, const char *v, unsigned line)
{
    _cleanup_free_ char *copy = strdup(v);
    char *save = NULL;
    unsigned mask = 0;
    bool ok = true;

    if (!copy) {
        st->error = -ENOMEM;
        return;
    }
    for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
        unsigned bit = pol_ns_from_string(w);
        if (!bit) {
            pol_bad(st, line,
                    "Namespaces.Isolate: unknown namespace '%s' (known: pid net ipc mnt uts user "
                    "cgroup)",
                    POL_X(w));
            ok = false;
        } else if (mask & bit) {
            pol_bad(st, line, "Namespaces.Isolate: '%s' is listed twice", POL_X(w));
            ok = false;
        }
        mask |= bit;
    }
    if (ok)
        st->p->namespaces = mask;
}

static bool hostname_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return false;
        if (c == '.' && s[i + 1] == '.')
            return false;
    }
    return true;
}

static void k_hostname(struct pol_pstate *st, const char *v, unsigned line)
{
    if (!hostname_valid(v)) {
        pol_bad(st, line,
                "Namespaces.Hostname='%s': expected 1 to 64 of [A-Za-z0-9.-], not starting with "
                "'-' or '.'",
                POL_X(v));
        return;
    }
    snprintf(st->p->hostname, sizeof(st->p->hostname), "%s", v);
    st->line_hostname = line;
}

/* [Process] */

/* User= and Group=: a name the system knows, or a numeric id in range (which needs no
 * entry: the launcher runs as that id, as container runtimes do). Resolved now, so that a
 * typo fails `corral check` and not the launch. */
static void k_id(struct pol_pstate *st, const char *key, char *dst, size_t size, const char *v,
                 unsigned line)
{
    char buf[4096];
    struct passwd pw, *pres = NULL;
    struct group gr, *gres = NULL;
    bool user = strcmp(key, "User") == 0;
    uint32_t id;
    int r;

    if (strlen(v) >= size) {
        pol_bad(st, line, "Process.%s='%s': too long", key, POL_X(v));
        return;
    }
    r = pol_parse_id(v, &id);
    if (r == -ERANGE) {
        pol_bad(st, line, "Process.%s='%s': a numeric id must be from 0 to %u", key, POL_X(v),
                POL_ID_MAX);
        return;
    }
    if (r < 0 && (user ? getpwnam_r(v, &pw, buf, sizeof(buf), &pres) != 0 || !pres
                       : getgrnam_r(v, &gr, buf, sizeof(buf), &gres) != 0 || !gres)) {
        pol_bad(st, line,
                "Process.%s='%s': no such %s on this system (give a name or a numeric id)", key,
                POL_X(v), user ? "user" : "group");
        return;
    }
    snprintf(dst, size, "%s", v);
}

static void k_user(struct pol_pstate *st, const char *v, unsigned line)
{
    k_id(st, "User", st->p->user, sizeof(st->p->user), v, line);
}

static void k_group(struct pol_pstate *st, const char *v, unsigned line)
{
    k_id(st, "Group", st->p->group, sizeof(st->p->group), v, line);
}

static void k_workdir(struct pol_pstate *st, const char *v, unsigned line)
{
    if (v[0] != '/' || strlen(v) >= sizeof(st->p->workdir)) {
        pol_bad(st, line,
                "Process.WorkingDirectory='%s': expected an absolute path (at most %zu "
                "characters)",
                POL_X(v), sizeof(st->p->workdir) - 1);
        return;
    }
    snprintf(st->p->workdir, sizeof(st->p->workdir), "%s", v);
    st->p->workdir_line = line;
}

static void k_nnp(struct pol_pstate *st, const char *v, unsigned line)
{
    if (pol_parse_bool(v, &st->p->no_new_privs) < 0)
        pol_bad(st, line, "Process.NoNewPrivileges='%s': expected yes or no", POL_X(v));
}

static void k_env(struct pol_pstate *st, const char *v, unsigned line)
{
    if (strcmp(v, "inherit") == 0)
        st->p->clear_env = false;
    else if (strcmp(v, "clear") == 0)
        st->p->clear_env = true;
    else
        pol_bad(st, line, "Process.Environment='%s': expected inherit or clear", POL_X(v));
}

static const struct {
    const char *section, *key;
    void (*fn)(struct pol_pstate *st, const char *v, unsigned line);
} keys[] = {
    {"Workload", "Name", k_name},
    {"Workload", "Class", k_class},
    {"Workload", "Account", k_account},
    {"Namespaces", "Isolate", k_isolate},
    {"Namespaces", "Hostname", k_hostname},
    {"Process", "User", k_user},
    {"Process", "Group", k_group},
    {"Process", "WorkingDirectory", k_workdir},
    {"Process", "NoNewPrivileges", k_nnp},
    {"Process", "Environment", k_env},
    {"Filesystem", "RootDirectory", pol_k_root_directory},
    {"Filesystem", "Layers", pol_k_layers},
    {"Filesystem", "Writable", pol_k_writable},
    {"Filesystem", "PrivateTmp", pol_k_private_tmp},
    {"Filesystem", "ReadOnlyPaths", pol_k_read_only_paths},
    {"Filesystem", "BindPaths", pol_k_bind_paths},
    {"Filesystem", "BindReadOnlyPaths", pol_k_bind_ro_paths},
};

static bool section_known(const char *section)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].section, section) == 0)
            return true;
    return setting_find(section, NULL) != NULL;
}

/* Appends word to list (", "-separated) unless it is there already. */
static void list_add(char *list, size_t size, const char *word)
{
    size_t n = strlen(list), w = strlen(word);

    for (const char *p = list; (p = strstr(p, word)); p += w)
        if ((p == list || p[-1] == ' ') && (p[w] == ',' || p[w] == '\0'))
            return;
    snprintf(list + n, size - n, "%s%s", n ? ", " : "", word);
}

/* [Workload] first, then the cgroup settings' sections, then the others. */
static void known_sections(char *list, size_t size)
{
    list[0] = '\0';
    list_add(list, size, keys[0].section);
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        list_add(list, size, d->section);
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        list_add(list, size, keys[i].section);
}

static bool on_section(void *user, const char *section, unsigned line)
{
    struct pol_pstate *st = user;
    char known[200];

    if (section_known(section))
        return true;
    known_sections(known, sizeof(known));
    pol_bad(st, line, "unknown section [%s] (known: %s)", POL_X(section), known);
    return false;
}

static int local_find(const char *section, const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return (int)i;
    return -1;
}

static void unknown_key(struct pol_pstate *st, const char *section, const char *key, unsigned line)
{
    char known[200] = "";

    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        if (strcmp(d->section, section) == 0)
            list_add(known, sizeof(known), d->key);
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].section, section) == 0)
            list_add(known, sizeof(known), keys[i].key);
    pol_bad(st, line, "unknown key '%s' in [%s] (known: %s)", POL_X(key), POL_X(section), known);
}

static void on_key(void *user, const char *section, const char *key, const char *value,
                   unsigned line)
{
    struct pol_pstate *st = user;
    const struct ctl_key_desc *d = setting_find(section, key);
    int i = d ? -1 : local_find(section, key);

    if (!section_known(section))
        return; /* reported once, at the section header */
    if (!d && i < 0) {
        unknown_key(st, section, key, line);
        return;
    }
    if (!value[0])
        pol_bad(st, line, "%s.%s: empty value", POL_X(section), key);
    else if (d)
        k_setting(st, d, value, line);
    else
        keys[i].fn(st, value, line);
}

static void default_name(struct pol_pstate *st)
{
    const char *base = strrchr(st->file, '/');
    char name[256];
    size_t n;

    base = base ? base + 1 : st->file;
    snprintf(name, sizeof(name), "%s", base);
    n = strlen(name);
    if (n > 7 && strcmp(name + n - 7, ".policy") == 0)
        name[n - 7] = '\0';
    if (!cg_name_valid(name)) {
        pol_bad(st, 0,
                "the file name gives the workload name '%s', which is not a valid name "
                "([a-z0-9_-]{1,64}); rename the file or set [Workload] Name=",
                POL_X(name));
        return;
    }
    snprintf(st->p->name, sizeof(st->p->name), "%s", name);
}

static void finish(struct pol_pstate *st)
{
    struct pol_policy *p = st->p;
    struct ctl_settings *l = &p->limits;
    char a[32], b[32];

    if (!p->name[0] && !p->name_line)
        default_name(st);
    if (!p->class_name[0] && !p->class_line)
        snprintf(p->class_name, sizeof(p->class_name), "%s", POL_CLASS_DEFAULT);
    if (!p->account[0])
        snprintf(p->account, sizeof(p->account), "%s", p->name);

    if (l->cpu_period_usec == CTL_UNSET)
        l->cpu_period_usec = ctl_key_desc(CTL_KEY_CPU_PERIOD)->def;
    if (st->line[CTL_KEY_CPU_MAX]) {
        l->cpu_max_usec = pol_cpu_quota_usec(st->cpu_ppm, l->cpu_period_usec);
        if (l->cpu_max_usec < QUOTA_MIN_USEC)
            pol_bad(st, st->line[CTL_KEY_CPU_MAX],
                    "CPU.Max with a period of %llu us gives a quota of %llu us, below the "
                    "kernel's minimum of 1ms (raise Max or Period)",
                    (unsigned long long)l->cpu_period_usec, (unsigned long long)l->cpu_max_usec);
    }

    if ((p->keys & POL_KEY_MEM_HIGH) && (p->keys & POL_KEY_MEM_MAX) && l->mem_high != CTL_MAX &&
        l->mem_high > l->mem_max)
        pol_bad(st, st->line[CTL_KEY_MEM_HIGH], "Memory.High (%s) is above Memory.Max (%s)",
                pol_format_size(l->mem_high, a, sizeof(a)),
                pol_format_size(l->mem_max, b, sizeof(b)));
    if ((p->keys & POL_KEY_MEM_LOW) && (p->keys & POL_KEY_MEM_HIGH) && l->mem_low > l->mem_high)
        pol_bad(st, st->line[CTL_KEY_MEM_LOW], "Memory.Low (%s) is above Memory.High (%s)",
                pol_format_size(l->mem_low, a, sizeof(a)),
                pol_format_size(l->mem_high, b, sizeof(b)));
    if ((p->keys & POL_KEY_MEM_LOW) && (p->keys & POL_KEY_MEM_MAX) && l->mem_low > l->mem_max)
        pol_bad(st, st->line[CTL_KEY_MEM_LOW], "Memory.Low (%s) is above Memory.Max (%s)",
                pol_format_size(l->mem_low, a, sizeof(a)),
                pol_format_size(l->mem_max, b, sizeof(b)));
    if (p->hostname[0] && !(p->namespaces & POL_NS_UTS))
        pol_bad(st, st->line_hostname,
                "Namespaces.Hostname needs its own UTS namespace: add uts to Namespaces.Isolate");

    pol_finish_fs(st);

    /* Keys not written get the kernel's defaults, so a removed key is put back. */
    ctl_settings_fill_defaults(l);
}

int pol_policy_parse_text(const char *file, const char *text, size_t len, struct pol_policy *ret,
                          struct pol_diags *diags)
{
    struct pol_policy p = {
        .no_new_privs = true,
    };
    struct pol_pstate st = {
        .file = file,
        .p = &p,
        .d = diags,
    };
    size_t before = diags->n;
    int r;

    snprintf(p.file, sizeof(p.file), "%s", file);
    ctl_settings_init(&p.limits);
    r = pol_ini_parse(file, text, len, on_section, on_key, &st, diags);
    if (r >= 0 && st.error < 0)
        r = st.error;
    if (r >= 0)
        finish(&st);
    if (r >= 0 && st.error < 0)
        r = st.error;
    if (r < 0) {
        pol_policy_done(&p);
        return r;
    }
    *ret = p;
    return diags->n == before;
}
