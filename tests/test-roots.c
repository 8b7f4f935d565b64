/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Roots are explicit: an empty root is refused; a root inside or around another corral
 * root is refused; a root that exists with groups corral did not make is refused; apply's
 * prune and remove leave another root alone. The real binary runs against the test root,
 * with the runtime directory of the suite ($CORRAL_RUNTIME_DIR, set by meson), whose
 * registry the test reads and writes as corral(1) documents it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/lock.h"
#include "core/roots.h"
#include "tests/helpers.h"

static struct th_env env;

#define corral_sh(...) TH_ENV_CORRAL(&env, __VA_ARGS__)
#define err_text()     th_env_read(&env, "err")

static const char *const web_names[] = {"web"};
static const char *const web_texts[] = {"[Workload]\nClass=high\n[Pids]\nMax=64\n"};

/* Groups and registry entries a test plants by hand, removed before the root goes. */
static char planted[4][128];

/* The hierarchies with a directory of their own (v2: the one). */
static bool slot(int h)
{
    struct cg_ctx *c = th_ctx();

    return c->sys.mount[h] && c->sys.alias[h] < 0 && (!cg_ctx_is_v2(c) || h == 0);
}

/* mkdir (or rmdir) of group `path` of the test root in every hierarchy. */
static void mkdir_all(const char *path, bool make)
{
    for (int h = 0; h < _CG_H_MAX; h++) {
        const char *d = slot(h) ? th_group_dir((enum cg_hier)h, path) : NULL;

        if (d && make)
            cr_assert(mkdir(d, 0755) == 0 || errno == EEXIST, "%s: %s", d, strerror(errno));
        else if (d)
            (void)rmdir(d);
    }
}

static char *planted_entry(size_t slot_no)
{
    const char *rt = getenv("CORRAL_RUNTIME_DIR");
    char *p = NULL;

    cr_assert(asprintf(&p, "%s/roots/planted-%d-%zu", rt && *rt ? rt : CG_RUNTIME_DIR_DEFAULT,
                       (int)getpid(), slot_no) > 0);
    return p;
}

static void unplant(void)
{
    for (size_t i = 0; i < 4; i++) {
        char *entry;

        if (!planted[i][0])
            continue;
        mkdir_all(planted[i], false);
        entry = planted_entry(i);
        (void)unlink(entry);
        free(entry);
        planted[i][0] = '\0';
    }
}

static void setup(void)
{
    th_env_setup(&env, "roots");
    memset(planted, 0, sizeof(planted));
}

static void teardown(void)
{
    if (env.tmpdir[0] && env.corral[0])
        unplant();
    th_env_teardown(&env);
}

TestSuite(roots, .init = setup, .fini = teardown, .timeout = 300);

/* ---- roots are explicit ---- */

Test(roots, empty_root_is_refused)
{
    struct cg_ctx *ctx = NULL;
    struct cg_err e = {0};
    char *err;
    int st;

    th_require_binary(env.corral);
    cr_assert_eq(cg_ctx_new("", &ctx, &e), -EINVAL);
    cr_assert(strstr(e.detail, "empty root"), "%s", e.detail);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    /* --root '' and CORRAL_ROOT='' alike: exit 1, and the rule in the message */
    cr_assert_eq(corral_sh("", "p", "apply 2>%s/err", env.tmpdir), 1);
    err = err_text();
    cr_assert(strstr(err, "empty root (--root '' or CORRAL_ROOT='')"), "%s", err);
    free(err);
    cr_assert_eq(setenv("CORRAL_ROOT", "", 1), 0);
    st = th_sh("%s --policy-dir %s/p --config %s/none.conf --ledger %s/l.db status 2>%s/err",
               env.corral, env.tmpdir, env.tmpdir, env.tmpdir, env.tmpdir);
    (void)unsetenv("CORRAL_ROOT");
    cr_assert_eq(st, 1);
    err = err_text();
    cr_assert(strstr(err, "empty root"), "%s", err);
    free(err);
}

Test(roots, root_inside_another_is_refused)
{
    char inner[128], *err, *dir;

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply >/dev/null"), 0);
    /* A class group of the root, and a path below one that does not exist yet. */
    snprintf(inner, sizeof(inner), "%s/high", th_root_arg());
    cr_assert_eq(corral_sh(inner, "p", "apply 2>%s/err", env.tmpdir), 1);
    err = err_text();
    dir = th_group_dir(cg_ctx_is_v2(th_ctx()) ? CG_H_CPU : CG_H_PIDS, "");
    cr_assert(strstr(err, "lies inside another corral root"), "%s", err);
    cr_assert(strstr(err, th_root_arg()), "the other root is not named: %s", err);
    free(err);
    snprintf(inner, sizeof(inner), "%s/new/deeper", th_root_arg());
    cr_assert_eq(corral_sh(inner, "p", "status 2>%s/err", env.tmpdir), 1);
    cr_assert_eq(corral_sh(inner, "p", "run --policy web -- /bin/true 2>%s/err", env.tmpdir), 1);
    /* Nothing was made for the refused roots. */
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "high/high")));
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "new")));
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "high/web/high")));
    cr_assert(th_dir_exists(dir));
}

Test(roots, root_around_another_is_refused)
{
    char inner[128], *err;
    struct cg_ctx *ictx = NULL;
    struct cg_err e = {0};

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    snprintf(inner, sizeof(inner), "%s/x", th_root_arg());
    cr_assert_eq(corral_sh(inner, "p", "apply >/dev/null"), 0);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply 2>%s/err", env.tmpdir), 1);
    err = err_text();
    cr_assert(strstr(err, "holds another corral root"), "%s", err);
    cr_assert(strstr(err, inner), "the other root is not named: %s", err);
    free(err);
    /* The outer root got nothing: its only child is the inner root. */
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "high")));
    /* The inner root goes first, so the outer one's teardown finds nothing foreign. */
    cr_assert_eq(cg_ctx_new(inner, &ictx, &e), 0);
    cr_assert_eq(cg_root_destroy(ictx, &e), 0, "%s", e.detail);
    cg_ctx_free(ictx);
}

/* Plants the groups of a root at `path` under the test root, and its registry entry as
 * corral writes it (the format of corral(1)): what a foreign root inside ours looks like. */
static void plant_root(size_t slot_no, const char *path)
{
    char entry[4096], *reg;
    size_t n;

    n = (size_t)snprintf(entry, sizeof(entry), "root ./planted\n");
    mkdir_all(path, true);
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *d = slot(h) ? th_group_dir((enum cg_hier)h, path) : NULL;
        struct stat st;

        if (!d)
            continue;
        cr_assert_eq(stat(d, &st), 0);
        n += (size_t)snprintf(entry + n, sizeof(entry) - n, "dir %llu %s\n",
                              (unsigned long long)st.st_ino, d);
    }
    snprintf(planted[slot_no], sizeof(planted[slot_no]), "%s", path);
    reg = planted_entry(slot_no);
    th_write_file(reg, entry, 0644);
    free(reg);
}

Test(roots, prune_and_remove_leave_a_foreign_root_alone)
{
    char *out;

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply >/dev/null"), 0);
    /* A foreign root where apply would see a class no policy uses, and one where it would
     * see a workload of "high" no policy names. */
    plant_root(0, "batch");
    plant_root(1, "high/other");
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply >%s/out 2>%s/err", env.tmpdir, env.tmpdir),
                 0);
    out = err_text();
    cr_assert(strstr(out, "batch: Root: another corral root lies here: not removed"), "%s", out);
    cr_assert(strstr(out, "high/other: Root: another corral root lies here"), "%s", out);
    free(out);
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!slot(h))
            continue;
        cr_assert(th_dir_exists(th_group_dir((enum cg_hier)h, "batch")), "batch pruned");
        cr_assert(th_dir_exists(th_group_dir((enum cg_hier)h, "high/other")), "high/other pruned");
    }
    cr_assert(th_dir_exists(th_group_dir(CG_H_CPU, "high/web")), "apply itself failed");
    /* remove refuses it too, and removes nothing */
    cr_assert_eq(corral_sh(th_root_arg(), "p", "remove high/other 2>%s/err", env.tmpdir), 3);
    out = err_text();
    cr_assert(strstr(out, "another corral root lies in it"), "%s", out);
    free(out);
    cr_assert(th_dir_exists(th_group_dir(CG_H_CPU, "high/other")));
    /* A stale entry (its groups gone) protects nothing: once the planted groups go, the
     * next apply prunes what is left as before. */
    unplant();
    mkdir_all("batch", true);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply >/dev/null 2>&1"), 0);
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "batch")), "an unnamed class is kept");
}

Test(roots, existing_root_with_groups_not_made_by_corral_is_refused)
{
    char *err, *d;

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    /* The root's directories made by hand, with a group in them, as another tool would. */
    mkdir_all("", true);
    mkdir_all("theirs", true);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply 2>%s/err", env.tmpdir), 1);
    err = err_text();
    cr_assert(strstr(err, "holds groups but corral did not make it"), "%s", err);
    free(err);
    d = th_group_dir(CG_H_CPU, "theirs");
    cr_assert(th_dir_exists(d));
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "high")), "apply went on");
    /* Emptied, it is adopted. */
    mkdir_all("theirs", false);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply >/dev/null"), 0);
    cr_assert(th_dir_exists(th_group_dir(CG_H_CPU, "high/web")));
}
