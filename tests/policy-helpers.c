/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the policy engine's integration suites (test-policy, test-policy-threads) share. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/txn.h"
#include "policy/apply.h"
#include "policy/policy.h"
#include "policy/remove.h"
#include "policy/status.h"
#include "tests/helpers.h"
#include "tests/policy-helpers.h"

char pdir[64];

void policy_setup(void)
{
    th_setup();
    snprintf(pdir, sizeof(pdir), "/tmp/corral-pol-XXXXXX");
    cr_assert_not_null(mkdtemp(pdir));
    (void)chmod(pdir, 0755);
}

void policy_teardown(void)
{
    char cmd[128];

    th_teardown();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pdir);
    (void)system(cmd);
}

bool v2(void)
{
    return cg_ctx_is_v2(th_ctx());
}

void put(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", pdir, name);
    if (!text) {
        (void)unlink(path);
        return;
    }
    f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0644);
}

void load(struct loaded *l, const char *conf)
{
    char path[256];

    memset(l, 0, sizeof(*l));
    if (conf) {
        snprintf(path, sizeof(path), "%s/corral.conf", pdir);
        put("corral.conf", conf);
    }
    cr_assert_eq(
        pol_load_all(conf ? path : NULL, conf != NULL, pdir, NULL, 0, &l->cfg, &l->set, &l->diags),
        0);
}

void unload(struct loaded *l)
{
    pol_set_free(&l->set);
    pol_config_free(&l->cfg);
    pol_diags_free(&l->diags);
}

/* Loads and applies the policy dir; returns the writes made; asserts success. */
unsigned apply_ok(const char *conf, struct pol_apply_result *res)
{
    struct loaded l;
    struct cg_txn t;
    struct cg_err e = {0};
    char buf[1024];
    unsigned w;
    int r;

    load(&l, conf);
    for (size_t i = 0; i < l.diags.n; i++)
        fprintf(stderr, "%s\n", pol_diag_format(&l.diags.d[i], buf, sizeof(buf)));
    cr_assert_eq(l.diags.n, 0);
    cg_txn_init(&t, false);
    r = pol_apply(th_ctx(), &l.cfg, &l.set, true, &t, res, &e);
    cr_assert_eq(r, 0, "apply: %s", cg_err_format(&e, buf, sizeof(buf)));
    w = t.writes;
    cg_txn_done(&t);
    unload(&l);
    return w;
}

bool group_exists(const char *grp)
{
    char *dir = th_group_dir(v2() ? CG_H_CPU : CG_H_PIDS, grp);
    struct stat st;

    return stat(dir, &st) == 0;
}

bool root_exists(void)
{
    return group_exists("");
}

const char web_policy[] = "[Workload]\n"
                          "Name=web\n"
                          "Class=high\n"
                          "[CPU]\n"
                          "Weight=200\n"
                          "Max=150%\n"
                          "Period=100ms\n"
                          "[Memory]\n"
                          "Max=2G\n"
                          "High=1536M\n"
                          "Low=512M\n"
                          "SwapMax=0\n"
                          "[Pids]\n"
                          "Max=512\n";

const char config[] = "[Class critical]\n"
                      "CPUWeight=1000\n"
                      "MemoryLow=256M\n"
                      "[Class gold]\n"
                      "CPUWeight=600\n";

/* Writes value the way a program does (open O_WRONLY, one write, no O_TRUNC), which on
 * kernfs leaves the file's mtime as it was: apply must not trust timestamps. */
void kwrite_behind(enum cg_hier h, const char *grp, const char *file, const char *value)
{
    char *dir = th_group_dir(h, grp);
    char path[512];
    int fd;

    cr_assert_not_null(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %m", path);
    cr_assert_eq(write(fd, value, strlen(value)), (ssize_t)strlen(value), "write %s: %m", path);
    close(fd);
}

/* A process holding `arg` MiB of memory it cannot give back (locked, and there may be
 * no swap): the kernel cannot reclaim below it. */
static int hog(void *arg)
{
    size_t len = (size_t)(uintptr_t)arg << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return 1;
    memset(p, 1, len);
    (void)mlock(p, len);
    (void)write(STDERR_FILENO, "", 0);
    for (;;)
        pause();
    return 0;
}

/* Starts hog in group path (created), waits until its memory is charged. */
pid_t start_hog(const char *path, unsigned mib)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int rel;
    pid_t pid;

    cr_assert_eq(cg_group_open(th_ctx(), path, true, &g, NULL, &e), 0, "%s", e.detail);
    pid = th_fork_held(hog, (void *)(uintptr_t)mib, &rel);
    cr_assert_eq(cg_group_attach(g, pid, &e), 0, "%s", e.detail);
    th_release(rel);
    for (int i = 0; i < 500; i++) {
        struct ctl_usage u;
        cr_assert_eq(ctl_read_usage_all(g, &u), 0);
        if (u.mem_current != CTL_UNSET && u.mem_current >= (uint64_t)mib << 20)
            break;
        usleep(10000);
    }
    cg_group_free(g);
    return pid;
}
