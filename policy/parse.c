/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One policy file -> struct pol_policy. Each key has a parser in the table below; the
 * checks that involve several keys (High above Max, a quota below the kernel's 1 ms
 * minimum, Hostname without a UTS namespace) run once the whole file is read.
 * [Filesystem] keys are checked for their syntax here (absolute paths, SRC[:DST]); what
 * only the running system can tell (exists, is a directory, no symlink on the way, overlayfs
 * available) is launch_fs_check()'s, called by the command line at check, apply and run.
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

#define PIDS_MAX_LIMIT 4194304u               /* PID_MAX_LIMIT on 64-bit */
#define CPU_PPM_MAX    (100000ull * 10000ull) /* 100000% = 1000 CPUs */
#define QUOTA_MIN_USEC 1000u                  /* kernel: min_cfs_quota_period, 1 ms */

struct pstate {
    const char *file;
    struct pol_policy *p;
    struct pol_diags *d;
    int error;
    uint64_t cpu_ppm;
    unsigned line_cpu_max, line_period, line_mem_max, line_mem_high, line_mem_low;
    unsigned line_hostname;
};

static void bad(struct pstate *st, unsigned line, const char *fmt, ...) _printf_(3, 4);

static void bad(struct pstate *st, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (pol_diag_addv(st->d, st->file, line, fmt, ap) < 0)
        st->error = -ENOMEM;
    va_end(ap);
}

static const char *unit_error(int r, const char *what)
{
    return r == -ERANGE ? "out of range" : what;
}

/* [Workload] */

static void set_name(struct pstate *st, const char *what, char *dst, size_t size, const char *v,
                     unsigned line)
{
    if (!cg_name_valid(v)) {
        bad(st, line,
            "invalid %s '%s': names are 1 to 64 of [a-z0-9_-] (no '/', '.' or empty), since "
            "they become group names",
            what, POL_X(v));
        return;
    }
    snprintf(dst, size, "%s", v);
}

static void k_name(struct pstate *st, const char *v, unsigned line)
{
    set_name(st, "workload name", st->p->name, sizeof(st->p->name), v, line);
    st->p->name_line = line;
}

static void k_class(struct pstate *st, const char *v, unsigned line)
{
    set_name(st, "class name", st->p->class_name, sizeof(st->p->class_name), v, line);
    st->p->class_line = line;
}

static void k_account(struct pstate *st, const char *v, unsigned line)
{
    set_name(st, "account name", st->p->account, sizeof(st->p->account), v, line);
}

/* [CPU] */

static void k_cpu_weight(struct pstate *st, const char *v, unsigned line)
{
    uint64_t w;

    if (pol_parse_uint(v, &w) < 0 || w < CTL_WEIGHT_MIN || w > CTL_WEIGHT_MAX) {
        bad(st, line, "CPU.Weight='%s': expected an integer from %d to %d", POL_X(v),
            CTL_WEIGHT_MIN, CTL_WEIGHT_MAX);
        return;
    }
    st->p->limits.cpu_weight = w;
    st->p->keys |= POL_KEY_CPU_WEIGHT;
}

static void k_cpu_max(struct pstate *st, const char *v, unsigned line)
{
    uint64_t ppm;
    int r = pol_parse_cpu_ppm(v, &ppm);

    if (r < 0 || ppm == 0 || (ppm != UINT64_MAX && ppm > CPU_PPM_MAX)) {
        bad(st, line,
            "CPU.Max='%s': %s: expected a share of one CPU above 0%% and up to 100000%% "
            "(e.g. 150%%, 12.5%%) or max",
            v, r < 0 ? unit_error(r, "bad value or unit") : "out of range");
        return;
    }
    st->cpu_ppm = ppm;
    st->line_cpu_max = line;
    st->p->keys |= POL_KEY_CPU_MAX;
}

static void k_cpu_period(struct pstate *st, const char *v, unsigned line)
{
    uint64_t us;
    int r = pol_parse_duration(v, &us);

    if (r < 0 || us < CTL_PERIOD_MIN_USEC || us > CTL_PERIOD_MAX_USEC) {
        bad(st, line, "CPU.Period='%s': %s: expected a duration from 1ms to 1s (units us, ms, s)",
            v, r < 0 ? unit_error(r, "bad value or unit") : "out of range");
        return;
    }
    st->p->limits.cpu_period_usec = us;
    st->line_period = line;
    st->p->keys |= POL_KEY_CPU_PERIOD;
}

/* [Memory] */

static void k_size(struct pstate *st, const char *key, uint64_t *dst, unsigned bit, unsigned *lp,
                   const char *v, unsigned line)
{
    /* Low and SwapMax may be 0 ("none"); a Max or High of 0 would let nothing run. */
    bool zero_ok = strcmp(key, "Low") == 0 || strcmp(key, "SwapMax") == 0;
    uint64_t b;
    int r = pol_parse_size(v, &b);

    if (r < 0) {
        bad(st, line,
            "Memory.%s='%s': %s: expected bytes with an optional K, M, G or T suffix (powers "
            "of 1024), or max",
            key, POL_X(v), unit_error(r, "bad value or unit"));
        return;
    }
    if (pol_mem_pages(b, zero_ok, &b) < 0) {
        bad(st, line,
            "Memory.%s='%s': below one page (%llu bytes), which the kernel would hold as 0%s: "
            "give at least %lluK",
            key, POL_X(v), (unsigned long long)pol_page_size(),
            zero_ok ? " (write 0 for none)" : " and nothing could run",
            (unsigned long long)pol_page_size() / 1024);
        return;
    }
    *dst = b;
    st->p->keys |= bit;
    if (lp)
        *lp = line;
}

static void k_mem_max(struct pstate *st, const char *v, unsigned line)
{
    k_size(st, "Max", &st->p->limits.mem_max, POL_KEY_MEM_MAX, &st->line_mem_max, v, line);
}

static void k_mem_high(struct pstate *st, const char *v, unsigned line)
{
    k_size(st, "High", &st->p->limits.mem_high, POL_KEY_MEM_HIGH, &st->line_mem_high, v, line);
}

static void k_mem_low(struct pstate *st, const char *v, unsigned line)
{
    k_size(st, "Low", &st->p->limits.mem_low, POL_KEY_MEM_LOW, &st->line_mem_low, v, line);
}

static void k_mem_swap(struct pstate *st, const char *v, unsigned line)
{
    k_size(st, "SwapMax", &st->p->limits.mem_swap_max, POL_KEY_MEM_SWAP_MAX, NULL, v, line);
}

/* [Pids] */

static void k_pids_max(struct pstate *st, const char *v, unsigned line)
{
    uint64_t n;

    if (strcmp(v, "max") == 0)
        n = CTL_MAX;
    else if (pol_parse_uint(v, &n) < 0 || n < 1 || n > PIDS_MAX_LIMIT) {
        bad(st, line, "Pids.Max='%s': expected an integer from 1 to %u, or max", POL_X(v),
            PIDS_MAX_LIMIT);
        return;
    }
    st->p->limits.pids_max = n;
    st->p->keys |= POL_KEY_PIDS_MAX;
}

/* [Namespaces] */

static void k_isolate(struct pstate *st, const char *v, unsigned line)
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
            bad(st, line,
                "Namespaces.Isolate: unknown namespace '%s' (known: pid net ipc mnt uts user "
                "cgroup)",
                POL_X(w));
            ok = false;
        } else if (mask & bit) {
            bad(st, line, "Namespaces.Isolate: '%s' is listed twice", POL_X(w));
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

static void k_hostname(struct pstate *st, const char *v, unsigned line)
{
    if (!hostname_valid(v)) {
        bad(st, line,
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
static void k_id(struct pstate *st, const char *key, char *dst, size_t size, const char *v,
                 unsigned line)
{
    char buf[4096];
    struct passwd pw, *pres = NULL;
    struct group gr, *gres = NULL;
    bool user = strcmp(key, "User") == 0;
    uint32_t id;
    int r;

    if (strlen(v) >= size) {
        bad(st, line, "Process.%s='%s': too long", key, POL_X(v));
        return;
    }
    r = pol_parse_id(v, &id);
    if (r == -ERANGE) {
        bad(st, line, "Process.%s='%s': a numeric id must be from 0 to %u", key, POL_X(v),
            POL_ID_MAX);
        return;
    }
    if (r < 0 && (user ? getpwnam_r(v, &pw, buf, sizeof(buf), &pres) != 0 || !pres
                       : getgrnam_r(v, &gr, buf, sizeof(buf), &gres) != 0 || !gres)) {
        bad(st, line, "Process.%s='%s': no such %s on this system (give a name or a numeric id)",
            key, POL_X(v), user ? "user" : "group");
        return;
    }
    snprintf(dst, size, "%s", v);
}

static void k_user(struct pstate *st, const char *v, unsigned line)
{
    k_id(st, "User", st->p->user, sizeof(st->p->user), v, line);
}

static void k_group(struct pstate *st, const char *v, unsigned line)
{
    k_id(st, "Group", st->p->group, sizeof(st->p->group), v, line);
}

static void k_workdir(struct pstate *st, const char *v, unsigned line)
{
    if (v[0] != '/' || strlen(v) >= sizeof(st->p->workdir)) {
        bad(st, line,
            "Process.WorkingDirectory='%s': expected an absolute path (at most %zu "
            "characters)",
            POL_X(v), sizeof(st->p->workdir) - 1);
        return;
    }
    snprintf(st->p->workdir, sizeof(st->p->workdir), "%s", v);
    st->p->workdir_line = line;
}

static void k_nnp(struct pstate *st, const char *v, unsigned line)
{
    if (pol_parse_bool(v, &st->p->no_new_privs) < 0)
        bad(st, line, "Process.NoNewPrivileges='%s': expected yes or no", POL_X(v));
}

static void k_env(struct pstate *st, const char *v, unsigned line)
{
    if (strcmp(v, "inherit") == 0)
        st->p->clear_env = false;
    else if (strcmp(v, "clear") == 0)
        st->p->clear_env = true;
    else
        bad(st, line, "Process.Environment='%s': expected inherit or clear", POL_X(v));
}

/* [Filesystem] */

static bool abs_path_ok(const char *v)
{
    return v[0] == '/' && strlen(v) < PATH_MAX;
}

/* Splits v at any of seps into a NULL-terminated vector. With keep_empty, an empty entry
 * ("a::b", a trailing ':') is kept as "" for the caller to refuse; otherwise runs of
 * separators count as one. NULL on allocation failure. */
static char **strv_split(const char *v, const char *seps, bool keep_empty, size_t *ret_n)
{
    char **strv = NULL;
    size_t n = 0;

    for (const char *p = v;;) {
        size_t len = strcspn(p, seps);
        char **nv;

        if (len > 0 || keep_empty) {
            nv = realloc(strv, (n + 2) * sizeof(char *));
            if (!nv)
                goto fail;
            strv = nv;
            strv[n] = strndup(p, len);
            if (!strv[n])
                goto fail;
            strv[++n] = NULL;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    if (!strv) /* only separators */
        strv = calloc(1, sizeof(char *));
    *ret_n = n;
    return strv;
fail:
    for (size_t i = 0; i < n; i++)
        free(strv[i]);
    free(strv);
    return NULL;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void set_fs_path(struct pstate *st, const char *key, char **dst, const char *v,
                        unsigned line)
{
    char *copy;

    if (!abs_path_ok(v) && !(strcmp(key, "Writable") == 0 && strcmp(v, "tmpfs") == 0)) {
        bad(st, line, "Filesystem.%s='%s': expected an absolute path (at most %d characters)", key,
            POL_X(v), PATH_MAX - 1);
        return;
    }
    copy = strdup(v);
    if (!copy) {
        st->error = -ENOMEM;
        return;
    }
    free(*dst);
    *dst = copy;
}

static void k_root_directory(struct pstate *st, const char *v, unsigned line)
{
    set_fs_path(st, "RootDirectory", &st->p->fs.root_directory, v, line);
    st->p->fs_lines.root_directory = line;
}

static void k_layers(struct pstate *st, const char *v, unsigned line)
{
    size_t n = 0;
    char **layers = strv_split(v, ":", true, &n);
    bool ok = true;

    if (!layers) {
        st->error = -ENOMEM;
        return;
    }
    st->p->fs_lines.layers = line;
    if (n > POL_FS_LAYERS_MAX) {
        bad(st, line, "Filesystem.Layers: %zu layers, at most %d", n, POL_FS_LAYERS_MAX);
        ok = false;
    }
    for (size_t i = 0; ok && i < n; i++)
        if (!abs_path_ok(layers[i])) {
            bad(st, line,
                "Filesystem.Layers: layer %zu '%s': expected DIR1:DIR2:... (top first), each an "
                "absolute path",
                i + 1, POL_X(layers[i]));
            ok = false;
        }
    if (!ok) {
        strv_free(layers);
        return;
    }
    strv_free(st->p->fs.layers);
    st->p->fs.layers = layers;
}

static void k_writable(struct pstate *st, const char *v, unsigned line)
{
    st->p->fs_lines.writable = line;
    if (strcmp(v, "tmpfs") != 0 && !abs_path_ok(v)) {
        bad(st, line, "Filesystem.Writable='%s': expected tmpfs or an absolute directory",
            POL_X(v));
        return;
    }
    set_fs_path(st, "Writable", &st->p->fs.writable, v, line);
}

static void k_private_tmp(struct pstate *st, const char *v, unsigned line)
{
    st->p->fs_lines.private_tmp = line;
    if (pol_parse_bool(v, &st->p->fs.private_tmp) < 0)
        bad(st, line, "Filesystem.PrivateTmp='%s': expected yes or no", POL_X(v));
}

/* A space-separated list of absolute paths, or of SRC[:DST] with both absolute. */
static void k_path_list(struct pstate *st, const char *key, char ***dst, unsigned *lp, bool bind,
                        const char *v, unsigned line)
{
    size_t n = 0;
    char **list = strv_split(v, " \t", false, &n);
    bool ok = true;

    if (!list) {
        st->error = -ENOMEM;
        return;
    }
    *lp = line;
    for (size_t i = 0; i < n; i++) {
        const char *colon = bind ? strchr(list[i], ':') : NULL;
        size_t src_len = colon ? (size_t)(colon - list[i]) : strlen(list[i]);

        if (list[i][0] == '/' && src_len < PATH_MAX &&
            (!colon || (colon[1] == '/' && strlen(colon + 1) < PATH_MAX)))
            continue;
        if (bind)
            bad(st, line,
                "Filesystem.%s: '%s': expected SRC or SRC:DST, both absolute paths (entries "
                "separated by spaces)",
                key, POL_X(list[i]));
        else
            bad(st, line, "Filesystem.%s: '%s': expected absolute paths separated by spaces", key,
                POL_X(list[i]));
        ok = false;
    }
    if (!ok) {
        strv_free(list);
        return;
    }
    strv_free(*dst);
    *dst = list;
}

static void k_read_only_paths(struct pstate *st, const char *v, unsigned line)
{
    k_path_list(st, "ReadOnlyPaths", &st->p->fs.read_only_paths, &st->p->fs_lines.read_only_paths,
                false, v, line);
}

static void k_bind_paths(struct pstate *st, const char *v, unsigned line)
{
    k_path_list(st, "BindPaths", &st->p->fs.bind_paths, &st->p->fs_lines.bind_paths, true, v, line);
}

static void k_bind_ro_paths(struct pstate *st, const char *v, unsigned line)
{
    k_path_list(st, "BindReadOnlyPaths", &st->p->fs.bind_ro_paths, &st->p->fs_lines.bind_ro_paths,
                true, v, line);
}

static const struct {
    const char *section, *key;
    void (*fn)(struct pstate *st, const char *v, unsigned line);
} keys[] = {
    {"Workload", "Name", k_name},
    {"Workload", "Class", k_class},
    {"Workload", "Account", k_account},
    {"CPU", "Weight", k_cpu_weight},
    {"CPU", "Max", k_cpu_max},
    {"CPU", "Period", k_cpu_period},
    {"Memory", "Max", k_mem_max},
    {"Memory", "High", k_mem_high},
    {"Memory", "Low", k_mem_low},
    {"Memory", "SwapMax", k_mem_swap},
    {"Pids", "Max", k_pids_max},
    {"Namespaces", "Isolate", k_isolate},
    {"Namespaces", "Hostname", k_hostname},
    {"Process", "User", k_user},
    {"Process", "Group", k_group},
    {"Process", "WorkingDirectory", k_workdir},
    {"Process", "NoNewPrivileges", k_nnp},
    {"Process", "Environment", k_env},
    {"Filesystem", "RootDirectory", k_root_directory},
    {"Filesystem", "Layers", k_layers},
    {"Filesystem", "Writable", k_writable},
    {"Filesystem", "PrivateTmp", k_private_tmp},
    {"Filesystem", "ReadOnlyPaths", k_read_only_paths},
    {"Filesystem", "BindPaths", k_bind_paths},
    {"Filesystem", "BindReadOnlyPaths", k_bind_ro_paths},
};

static bool section_known(const char *section)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].section, section) == 0)
            return true;
    return false;
}

static bool on_section(void *user, const char *section, unsigned line)
{
    struct pstate *st = user;

    if (section_known(section))
        return true;
    bad(st, line,
        "unknown section [%s] (known: Workload, CPU, Memory, Pids, Namespaces, Process, "
        "Filesystem)",
        POL_X(section));
    return false;
}

static void on_key(void *user, const char *section, const char *key, const char *value,
                   unsigned line)
{
    struct pstate *st = user;
    char known[200] = "";
    size_t n = 0;

    if (!section_known(section))
        return; /* reported once, at the section header */
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (strcmp(keys[i].section, section) != 0)
            continue;
        if (strcmp(keys[i].key, key) == 0) {
            if (!value[0]) {
                bad(st, line, "%s.%s: empty value", POL_X(section), key);
                return;
            }
            keys[i].fn(st, value, line);
            return;
        }
        if (n < sizeof(known))
            n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", n ? ", " : "", keys[i].key);
    }
    bad(st, line, "unknown key '%s' in [%s] (known: %s)", POL_X(key), POL_X(section), known);
}

static void default_name(struct pstate *st)
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
        bad(st, 0,
            "the file name gives the workload name '%s', which is not a valid name "
            "([a-z0-9_-]{1,64}); rename the file or set [Workload] Name=",
            POL_X(name));
        return;
    }
    snprintf(st->p->name, sizeof(st->p->name), "%s", name);
}

/* The [Filesystem] rules between keys. A key refused here is dropped, so that the
 * check-time validation (launch_fs_check) does not report the same conflict again. */
static void finish_fs(struct pstate *st)
{
    struct pol_fs *fs = &st->p->fs;
    const struct pol_fs_lines *l = &st->p->fs_lines;

    if (fs->writable && !fs->layers && !l->layers) {
        bad(st, l->writable,
            "Filesystem.Writable needs Layers= (it is the writable top of the overlay root)");
        free(fs->writable);
        fs->writable = NULL;
    }
    if (fs->root_directory && fs->layers) {
        bad(st, l->layers,
            "Filesystem.Layers: RootDirectory= and Layers= are exclusive (the root is one "
            "tree, or an overlay of layers)");
        strv_free(fs->layers);
        fs->layers = NULL;
        free(fs->writable);
        fs->writable = NULL;
    }
    /* A /proc of the host's PID namespace would list every host process, and
     * /proc/PID/root would lead back to the host's tree. */
    if ((l->root_directory || l->layers) && !(st->p->namespaces & POL_NS_PID))
        bad(st, l->root_directory ? l->root_directory : l->layers,
            "Filesystem.%s needs a PID namespace of its own: add pid to Namespaces.Isolate "
            "(the host's /proc would lead back to the host's tree)",
            l->root_directory ? "RootDirectory" : "Layers");
}

static void finish(struct pstate *st)
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
        l->cpu_period_usec = CTL_PERIOD_DEFAULT_USEC;
    if (st->line_cpu_max) {
        l->cpu_max_usec = pol_cpu_quota_usec(st->cpu_ppm, l->cpu_period_usec);
        if (l->cpu_max_usec < QUOTA_MIN_USEC)
            bad(st, st->line_cpu_max,
                "CPU.Max with a period of %llu us gives a quota of %llu us, below the "
                "kernel's minimum of 1ms (raise Max or Period)",
                (unsigned long long)l->cpu_period_usec, (unsigned long long)l->cpu_max_usec);
    }

    if ((p->keys & POL_KEY_MEM_HIGH) && (p->keys & POL_KEY_MEM_MAX) && l->mem_high != CTL_MAX &&
        l->mem_high > l->mem_max)
        bad(st, st->line_mem_high, "Memory.High (%s) is above Memory.Max (%s)",
            pol_format_size(l->mem_high, a, sizeof(a)), pol_format_size(l->mem_max, b, sizeof(b)));
    if ((p->keys & POL_KEY_MEM_LOW) && (p->keys & POL_KEY_MEM_HIGH) && l->mem_low > l->mem_high)
        bad(st, st->line_mem_low, "Memory.Low (%s) is above Memory.High (%s)",
            pol_format_size(l->mem_low, a, sizeof(a)), pol_format_size(l->mem_high, b, sizeof(b)));
    if ((p->keys & POL_KEY_MEM_LOW) && (p->keys & POL_KEY_MEM_MAX) && l->mem_low > l->mem_max)
        bad(st, st->line_mem_low, "Memory.Low (%s) is above Memory.Max (%s)",
            pol_format_size(l->mem_low, a, sizeof(a)), pol_format_size(l->mem_max, b, sizeof(b)));
    if (p->hostname[0] && !(p->namespaces & POL_NS_UTS))
        bad(st, st->line_hostname,
            "Namespaces.Hostname needs its own UTS namespace: add uts to Namespaces.Isolate");

    finish_fs(st);

    /* Keys not written get the kernel's defaults, so a removed key is put back. */
    if (l->cpu_weight == CTL_UNSET)
        l->cpu_weight = CTL_WEIGHT_DEFAULT;
    if (l->cpu_max_usec == CTL_UNSET)
        l->cpu_max_usec = CTL_MAX;
    if (l->mem_max == CTL_UNSET)
        l->mem_max = CTL_MAX;
    if (l->mem_high == CTL_UNSET)
        l->mem_high = CTL_MAX;
    if (l->mem_low == CTL_UNSET)
        l->mem_low = 0;
    if (l->mem_swap_max == CTL_UNSET)
        l->mem_swap_max = CTL_MAX;
    if (l->pids_max == CTL_UNSET)
        l->pids_max = CTL_MAX;
}

int pol_policy_parse_text(const char *file, const char *text, size_t len, struct pol_policy *ret,
                          struct pol_diags *diags)
{
    struct pol_policy p = {
        .no_new_privs = true,
    };
    struct pstate st = {
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
