/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Apply at scale: `corral apply` of 10,000 workloads under RLIMIT_NOFILE 4096 (soft and
 * hard, so corral cannot raise it) succeeds, every group exists in every hierarchy, and
 * a second apply writes nothing. Apply must hold descriptors independent of the number
 * of workloads. Runs the built binary against the test's own nested root; th_teardown
 * removes the root and everything below it, pass or fail.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/macro.h"
#include "tests/helpers.h"

#define N_WORKLOADS 10000
#define NOFILE      4096

static struct th_env env;

static void setup(void)
{
    th_env_setup(&env, "scale");
}

static void teardown(void)
{
    th_env_teardown(&env);
}

/* Creating and removing 10,000 groups per hierarchy takes a while on a loaded machine. */
TestSuite(scale, .init = setup, .fini = teardown, .timeout = 500);

static const char *const classes[] = {"normal", "batch"};

static void write_policies(void)
{
    char p[512], text[256];

    snprintf(p, sizeof(p), "%s/policies", env.tmpdir);
    cr_assert_eq(mkdir(p, 0755), 0);
    for (unsigned i = 0; i < N_WORKLOADS; i++) {
        snprintf(p, sizeof(p), "%s/policies/w%05u.policy", env.tmpdir, i);
        snprintf(text, sizeof(text),
                 "[Workload]\nName=w%05u\nClass=%s\n[CPU]\nWeight=200\nMax=50%%\n"
                 "[Memory]\nMax=256M\n[Pids]\nMax=100\n",
                 i, classes[i % 2]);
        th_write_file(p, text, 0644);
    }
}

/* Runs corral with args under RLIMIT_NOFILE NOFILE (soft and hard), stdout to out;
 * returns its exit status. */
static int corral_limited(const char *args, const char *out)
{
    const struct rlimit lim = {NOFILE, NOFILE};
    char cmd[2048];
    int st;
    pid_t pid;

    snprintf(cmd, sizeof(cmd),
             "exec '%s' --root '%s' --policy-dir %s/policies --config %s/none.conf "
             "--ledger %s/ledger.db %s >'%s/%s'",
             env.corral, th_root_arg(), env.tmpdir, env.tmpdir, env.tmpdir, args, env.tmpdir, out);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "corral %s: status %#x", args, st);
    return WEXITSTATUS(st);
}

/* The workload groups of class cls in hierarchy h. */
static size_t count_groups(enum cg_hier h, const char *cls)
{
    _cleanup_(cg_strv_freep) char **names = NULL;
    _cleanup_close_ int dfd = open(th_group_dir(h, cls), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    size_t n = 0;

    cr_assert_geq(dfd, 0, "%s: %s", th_group_dir(h, cls), strerror(errno));
    cr_assert_eq(cg_children_at(dfd, &names, &n), 0);
    return n;
}

Test(scale, apply_10000_workloads_under_4096_fds)
{
    char *json;
    size_t total;

    th_require_binary(env.corral);
    write_policies();
    cr_assert_eq(corral_limited("apply", "first"), 0, "first apply failed");
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!cg_ctx_has(th_ctx(), (enum cg_hier)h) || !th_group_dir((enum cg_hier)h, ""))
            continue;
        total = 0;
        for (size_t c = 0; c < ARRAY_SIZE(classes); c++)
            total += count_groups((enum cg_hier)h, classes[c]);
        cr_assert_eq(total, N_WORKLOADS, "%s hierarchy: %zu workload groups",
                     cg_hier_to_string((enum cg_hier)h), total);
        if (cg_ctx_is_v2(th_ctx()))
            break;
    }
    th_assert_file(CG_H_PIDS, "batch/w09999", "pids.max", "100");
    cr_assert_eq(corral_limited("--json apply", "second"), 0, "no-op apply failed");
    json = th_env_read(&env, "second");
    cr_assert(strstr(json, "\"created\":0,\"set\":0,\"removed\":0,\"writes\":0,") != NULL,
              "the no-op apply wrote: %.300s", json);
    free(json);
}
