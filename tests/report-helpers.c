/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accounting/ledger.h"
#include "tests/helpers.h"
#include "tests/report-helpers.h"

char rh_tmpdir[64], rh_ledger[128], rh_corral[512], rh_build[256];
static char pol_dir[128], conf[128];

int rh_put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    int r = f && fputs(text, f) >= 0 ? 0 : -1;

    if (f && fclose(f) != 0)
        r = -1;
    return r < 0 ? r : chmod(path, 0644);
}

void rh_setup(void)
{
    const char *b = getenv("CORRAL_BUILD_ROOT");

    th_setup();
    rh_tmpdir[0] = '\0';
    if (!b)
        return;
    snprintf(rh_build, sizeof(rh_build), "%s", b);
    snprintf(rh_corral, sizeof(rh_corral), "%s/cli/corral", b);
    snprintf(rh_tmpdir, sizeof(rh_tmpdir), "/tmp/corral-report-XXXXXX");
    cr_assert_not_null(mkdtemp(rh_tmpdir));
    cr_assert_eq(chmod(rh_tmpdir, 0755), 0);
    snprintf(pol_dir, sizeof(pol_dir), "%s/policies", rh_tmpdir);
    snprintf(rh_ledger, sizeof(rh_ledger), "%s/ledger.db", rh_tmpdir);
    snprintf(conf, sizeof(conf), "%s/corral.conf", rh_tmpdir);
    cr_assert_eq(mkdir(pol_dir, 0755), 0);
    cr_assert_eq(chmod(pol_dir, 0755), 0);
    cr_assert_eq(rh_put_file(conf, "[Rates]\nCPUCoreHour=0.04\n"), 0);
}

void rh_teardown(void)
{
    char cmd[160];

    th_teardown();
    if (rh_tmpdir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rh_tmpdir);
        (void)system(cmd);
    }
    rh_tmpdir[0] = '\0';
}

void rh_need_corral(void)
{
    if (!rh_tmpdir[0] || access(rh_corral, X_OK) != 0)
        cr_skip_test("corral not built (CORRAL_BUILD_ROOT unset)");
}

void rh_policy(const char *name, const char *text)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s.policy", pol_dir, name);
    cr_assert_eq(rh_put_file(path, text), 0);
}

pid_t rh_spawn(const char *const *args, const char *env, int *ret_fd, bool urgent)
{
    const char *argv[64] = {rh_corral,      "--root",   th_root_arg(),
                            "--policy-dir", pol_dir,    "--ledger",
                            rh_ledger,      "--config", conf};
    size_t n = 9;
    int p[2] = {-1, -1};
    pid_t pid;

    for (; *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    cr_assert(!ret_fd || pipe2(p, O_CLOEXEC) == 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (urgent)
            (void)setpriority(PRIO_PROCESS, 0, -20);
        if (ret_fd)
            dup2(p[1], 1);
        if (env)
            putenv((char *)env);
        execv(rh_corral, (char **)argv);
        _exit(127);
    }
    if (ret_fd) {
        close(p[1]);
        *ret_fd = p[0];
    }
    return pid;
}

int rh_run(char **out, const char *env, const char *const *args)
{
    char *buf = NULL, chunk[4096];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ssize_t k;
    int fd, st;
    pid_t pid = rh_spawn(args, env, &fd, false);

    while ((k = read(fd, chunk, sizeof(chunk))) > 0)
        fwrite(chunk, 1, (size_t)k, f);
    close(fd);
    fclose(f);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    if (out)
        *out = buf;
    else
        free(buf);
    return WEXITSTATUS(st);
}

json_t *rh_report(const char *env, const char *const *args)
{
    char *out = NULL;
    json_error_t err;
    json_t *j;

    cr_assert_eq(rh_run(&out, env, args), 0, "corral report failed");
    j = json_loads(out, 0, &err);
    cr_assert_not_null(j, "not JSON (%s): %s", err.text, out);
    free(out);
    return j;
}

json_t *rh_row(json_t *rep, const char *key)
{
    size_t i;
    json_t *row;

    json_array_foreach(json_object_get(rep, "rows"), i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "key")), key) == 0)
            return row;
    }
    return NULL;
}

uint64_t rh_num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    cr_assert(json_is_integer(v), "%s is not a number", k);
    return (uint64_t)json_integer_value(v);
}

void rh_instance(const char *path, const char *account, uint64_t start, uint64_t end, uint64_t step,
                 bool final)
{
    struct acct_ledger *l = NULL;
    struct acct_sample s = {0};
    struct cg_err e = {0};
    static uint64_t gen = 1000;

    cr_assert_eq(acct_ledger_open(rh_ledger, 0, &l, &e), 0, "%s", e.detail);
    cr_assert_eq(acct_group_from_path(path, &s.group), 0, "%s", path);
    s.group.generation = gen++;
    s.group.start_ns = start;
    snprintf(s.group.account, sizeof(s.group.account), "%s", account);
    ctl_usage_init(&s.usage);
    s.usage.cpu_user_ns = 0;
    s.usage.cpu_system_ns = 0;
    s.usage.mem_current = 1 << 20;
    for (uint64_t t = start + step; t < end; t += step) {
        s.t_ns = t;
        s.usage.cpu_user_ns += step / 10;
        cr_assert_eq(acct_ledger_write(l, &s, 1, NULL, &e), 0, "%s", e.detail);
    }
    if (final)
        cr_assert_eq(acct_record_final(l, &s.group, &s.usage, start, end, &e), 0, "%s", e.detail);
    acct_ledger_close(l);
}
