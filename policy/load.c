/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A policy set: every *.policy file of a directory (or the files named), each parsed on
 * its own, then checked as a whole (workload names unique, classes defined).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/macro.h"
#include "policy/internal.h"
#include "policy/parallel.h"

static const char *const ns_names[] = {"pid", "net", "ipc", "mnt", "uts", "user", "cgroup"};

unsigned pol_ns_from_string(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
        if (strcmp(s, ns_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *pol_ns_to_string(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
        if (bit == 1u << i)
            return ns_names[i];
    return NULL;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void pol_fs_free(struct pol_fs *fs)
{
    if (!fs)
        return;
    free(fs->root_directory);
    strv_free(fs->layers);
    free(fs->writable);
    strv_free(fs->read_only_paths);
    strv_free(fs->bind_paths);
    strv_free(fs->bind_ro_paths);
    *fs = (struct pol_fs){0};
}

void pol_policy_done(struct pol_policy *p)
{
    if (p)
        pol_fs_free(&p->fs);
}

unsigned pol_fs_key_line(const struct pol_policy *p, const char *key)
{
    const struct pol_fs_lines *l = &p->fs_lines;
    const struct {
        const char *key;
        unsigned line;
    } map[] = {
        {"RootDirectory", l->root_directory},
        {"Layers", l->layers},
        {"Writable", l->writable},
        {"PrivateTmp", l->private_tmp},
        {"ReadOnlyPaths", l->read_only_paths},
        {"BindPaths", l->bind_paths},
        {"BindReadOnlyPaths", l->bind_ro_paths},
    };

    for (size_t i = 0; key && i < ARRAY_SIZE(map); i++)
        if (strcmp(map[i].key, key) == 0)
            return map[i].line;
    return 0;
}

void pol_set_free(struct pol_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        pol_policy_done(&s->p[i]);
    free(s->p);
    s->p = NULL;
    s->n = 0;
}

const struct pol_policy *pol_set_find(const struct pol_set *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->n; i++)
        if (strcmp(s->p[i].name, name) == 0)
            return &s->p[i];
    return NULL;
}

/* Reads and parses one policy file (name, relative to dirfd; path for messages) into *ret;
 * *ret_keep tells whether it goes into the set (it is kept even when invalid, so that the
 * set-wide checks still see its name). */
static int load_file(int dirfd, const char *name, const char *path, struct pol_policy *ret,
                     bool *ret_keep, struct pol_diags *diags)
{
    _cleanup_free_ char *text = NULL;
    struct pol_policy p;
    size_t len = 0;
    int r;

    *ret_keep = false;
    r = pol_read_trusted_at(dirfd, name, path, &text, &len, diags);
    if (r == -ENOMEM)
        return r;
    if (r == -EPERM || r == -ENXIO || r == -EFBIG)
        return 0; /* reported */
    if (r < 0)
        return pol_diag_add(diags, path, 0, "cannot read: %s", strerror(-r));
    r = pol_policy_parse_text(path, text, len, &p, diags);
    if (r < 0)
        return r;
    if (p.name[0]) {
        *ret = p;
        *ret_keep = true;
        return 0;
    }
    pol_policy_done(&p);
    return 0;
}

/* One file's outcome; its policy goes straight into the set's array at the file's index. */
struct file_result {
    struct pol_diags diags;   /* its own problems, merged in file order afterwards */
    struct pol_diags skipped; /* diags.skipped when the caller's diags have one */
    int r;
    bool keep;
};

struct load_job {
    int dirfd;       /* what the paths are opened relative to */
    size_t name_off; /* paths[i] + name_off: the name relative to dirfd */
    char *const *paths;
    struct pol_policy *p;
    struct file_result *res;
};

static void load_one(void *arg, size_t i, unsigned worker)
{
    struct load_job *job = arg;
    const char *path = job->paths[i];

    (void)worker;
    job->res[i].r = load_file(job->dirfd, path + job->name_off, path, &job->p[i], &job->res[i].keep,
                              &job->res[i].diags);
}

static int diags_append(struct pol_diags *dst, const struct pol_diags *src)
{
    if (src->n == 0)
        return 0;
    if (dst->n + src->n > dst->cap) {
        size_t nc = dst->cap ? dst->cap : 16;
        struct pol_diag *nd;

        while (nc < dst->n + src->n)
            nc *= 2;
        nd = realloc(dst->d, nc * sizeof(*nd));
        if (!nd)
            return -ENOMEM;
        dst->d = nd;
        dst->cap = nc;
    }
    memcpy(dst->d + dst->n, src->d, src->n * sizeof(*src->d));
    dst->n += src->n;
    return 0;
}

/*
 * Loads the files in the order given, adding their policies to s and their problems to
 * diags, and stops at the first file that fails (out of memory). The files are read and
 * parsed on a few threads (each into its own slot, with its own problem list), then taken
 * in file order, so the set and the problems are exactly those of loading them one after
 * another. Each paths[i] is opened as paths[i] + name_off relative to dirfd.
 */
static int load_files(int dirfd, size_t name_off, char *const *paths, size_t n, struct pol_set *s,
                      struct pol_diags *diags)
{
    _cleanup_free_ struct file_result *res = NULL;
    struct load_job job = {.dirfd = dirfd, .name_off = name_off, .paths = paths};
    struct pol_policy *np;
    size_t i, k = s->n;
    int r = 0;

    if (n == 0)
        return 0;
    np = realloc(s->p, (s->n + n) * sizeof(*np));
    res = calloc(n, sizeof(*res));
    if (np)
        s->p = np;
    if (!np || !res)
        return -ENOMEM;
    job.p = s->p + s->n;
    job.res = res;
    for (i = 0; diags->skipped && i < n; i++)
        res[i].diags.skipped = &res[i].skipped;
    (void)pol_parallel_for(n, pol_parallel_threads(n, 0, 32), 16, load_one, &job);
    for (i = 0; i < n && r == 0; i++) {
        r = diags_append(diags, &res[i].diags);
        if (r == 0 && diags->skipped)
            r = diags_append(diags->skipped, &res[i].skipped);
        if (r == 0)
            r = res[i].r;
        if (res[i].keep) {
            if (r == 0)
                s->p[k++] = job.p[i]; /* k <= s->n + i: never ahead of the slot it reads */
            else
                pol_policy_done(&job.p[i]);
        }
        pol_diags_free(&res[i].diags);
        pol_diags_free(&res[i].skipped);
    }
    /* After a failure, what the later files gave is dropped, as if never read. */
    for (; i < n; i++) {
        if (res[i].keep)
            pol_policy_done(&job.p[i]);
        pol_diags_free(&res[i].diags);
        pol_diags_free(&res[i].skipped);
    }
    s->n = k;
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_policy_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && l > 7 && strcmp(n + l - 7, ".policy") == 0;
}

/* Opens the policy directory and checks that it is trusted: 1 with *ret_fd, 0 when refused
 * (said in diags), negative errno otherwise. */
static int open_dir(const char *dir, int *ret_fd, struct pol_diags *diags)
{
    _cleanup_close_ int fd = -1;
    int r;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        r = pol_diag_add(diags, dir, 0, "cannot open policy directory: %s", strerror(errno));
        return r < 0 ? r : 0;
    }
    r = pol_check_trusted_fd(fd, dir, true, diags);
    if (r == -EPERM)
        return 0;
    if (r < 0)
        return r;
    *ret_fd = TAKE_FD(fd);
    return 1;
}

static const char *dir_sep(const char *dir)
{
    return dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
}

static int load_dir(const char *dir, struct pol_set *s, struct pol_diags *diags)
{
    const char *sep = dir_sep(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd = -1, r;

    r = open_dir(dir, &fd, diags);
    if (r <= 0)
        return r;
    d = fdopendir(fd);
    if (!d) {
        r = negative_errno();
        (void)close(fd);
        return r;
    }
    r = 0;
    while ((de = readdir(d))) {
        if (!is_policy_name(de->d_name))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = realloc(names, nc * sizeof(char *));
            if (!nn) {
                r = -ENOMEM;
                break;
            }
            names = nn;
            cap = nc;
        }
        if (asprintf(&names[n], "%s%s%s", dir, sep, de->d_name) < 0) {
            r = -ENOMEM;
            break;
        }
        n++;
    }
    if (r == 0 && n > 0)
        qsort(names, n, sizeof(char *), cmp_str);
    /* The files are opened relative to the directory just checked and listed. */
    if (r == 0)
        r = load_files(dirfd(d), strlen(dir) + strlen(sep), names, n, s, diags);
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}

/* NAME.policy of the directory, read as load_dir reads its files; 0 with nothing loaded
 * (and *ret_found false) when there is no such file. */
static int load_named(const char *dir, const char *name, struct pol_set *s, bool *ret_found,
                      struct pol_diags *diags)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *path = NULL;
    const char *sep = dir_sep(dir);
    char *paths[1];
    struct stat st;
    int r;

    *ret_found = true;
    r = open_dir(dir, &fd, diags);
    if (r <= 0)
        return r;
    if (asprintf(&path, "%s%s%s.policy", dir, sep, name) < 0)
        return -ENOMEM;
    /* A name with a '/' is no file of the directory (and no workload name either). */
    if (strchr(name, '/') ||
        fstatat(fd, path + strlen(dir) + strlen(sep), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        *ret_found = false;
        return 0;
    }
    paths[0] = path;
    return load_files(fd, strlen(dir) + strlen(sep), paths, 1, s, diags);
}

static int class_list(const struct pol_config *cfg, char *buf, size_t size)
{
    size_t k = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < cfg->n_classes && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", cfg->classes[i].name);
    return 0;
}

static int cmp_policy_idx(const void *a, const void *b, void *arg)
{
    const struct pol_set *s = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(s->p[x].name, s->p[y].name);

    return c ? c : (x > y) - (x < y);
}

/* first[i]: the earliest policy with p[i]'s name (i itself when it is the first), found by
 * sorting, so that thousands of policies are not compared pairwise. */
static int first_of_name(const struct pol_set *s, size_t **ret)
{
    _cleanup_free_ size_t *idx = NULL;
    size_t *first;

    first = calloc(s->n + 1, sizeof(*first));
    idx = calloc(s->n + 1, sizeof(*idx));
    if (!first || !idx) {
        free(first);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->n; i++)
        idx[i] = i;
    qsort_r(idx, s->n, sizeof(*idx), cmp_policy_idx, (void *)s);
    for (size_t k = 0; k < s->n; k++)
        first[idx[k]] = k > 0 && strcmp(s->p[idx[k]].name, s->p[idx[k - 1]].name) == 0
                            ? first[idx[k - 1]]
                            : idx[k];
    *ret = first;
    return 0;
}

static int validate_set(const struct pol_set *s, const struct pol_config *cfg,
                        struct pol_diags *diags)
{
    _cleanup_free_ size_t *first = NULL;
    int r;

    r = first_of_name(s, &first);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s->n; i++) {
        const struct pol_policy *p = &s->p[i];
        size_t j = first[i];

        r = 0;
        if (j != i)
            r = pol_diag_add(diags, p->file, p->name_line,
                             "duplicate workload name '%s': %s:%u already defines it%s", p->name,
                             s->p[j].file, s->p[j].name_line,
                             p->name_line ? "" : " (this name comes from the file name)");
        if (r < 0)
            return r;
        if (p->class_name[0] && cfg && !pol_config_class(cfg, p->class_name)) {
            char known[512];
            class_list(cfg, known, sizeof(known));
            r = pol_diag_add(diags, p->file, p->class_line,
                             "unknown class '%s' (defined: %s; add [Class %s] to corral.conf)",
                             p->class_name, known, p->class_name);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

int pol_set_load(const char *dir, char *const *files, size_t n_files, const struct pol_config *cfg,
                 struct pol_set *ret, struct pol_diags *diags)
{
    struct pol_set s = {0};
    int r = 0;

    if (n_files > 0)
        r = load_files(AT_FDCWD, 0, files, n_files, &s, diags);
    else if (dir)
        r = load_dir(dir, &s, diags);
    if (r == 0)
        r = validate_set(&s, cfg, diags);
    if (r < 0) {
        pol_set_free(&s);
        return r;
    }
    *ret = s;
    return 0;
}

int pol_load_workload(const char *config, bool config_required, const char *dir, const char *name,
                      struct pol_config *ret_cfg, struct pol_set *ret_set, struct pol_diags *diags)
{
    struct pol_config cfg;
    struct pol_set set = {0};
    bool found = false;
    int r;

    r = pol_config_load(config, config_required, &cfg, diags);
    if (r < 0)
        return r;
    r = load_named(dir, name, &set, &found, diags);
    if (r == 0 && !found)
        r = load_dir(dir, &set, diags);
    if (r == 0)
        r = validate_set(&set, &cfg, diags);
    if (r < 0) {
        pol_set_free(&set);
        pol_config_free(&cfg);
        return r;
    }
    pol_diags_sort(diags);
    *ret_cfg = cfg;
    *ret_set = set;
    return 0;
}

int pol_load_all(const char *config, bool config_required, const char *dir, char *const *files,
                 size_t n_files, struct pol_config *ret_cfg, struct pol_set *ret_set,
                 struct pol_diags *diags)
{
    struct pol_config cfg;
    struct pol_set set;
    int r;

    r = pol_config_load(config, config_required, &cfg, diags);
    if (r < 0)
        return r;
    r = pol_set_load(dir, files, n_files, &cfg, &set, diags);
    if (r < 0) {
        pol_config_free(&cfg);
        return r;
    }
    pol_diags_sort(diags);
    *ret_cfg = cfg;
    *ret_set = set;
    return 0;
}

bool pol_policy_warning_relevant(const struct pol_policy *p, ctl_key key)
{
    return (p->keys & POL_KEY(key)) != 0;
}

bool pol_class_warning_relevant(const struct pol_class *c, ctl_key key)
{
    if (key == CTL_KEY_MEM_LOW)
        return c->mem_low_given;
    /* A class writes only its weight and memory protection. */
    return key == CTL_KEY_CPU_WEIGHT;
}
