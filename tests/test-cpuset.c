/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cpuset controller on the real cgroupfs: [CPU] AllowedCPUs= and AllowedMemoryNodes=
 * land in cpuset.cpus and cpuset.mems as the kernel prints them, a list the parent does
 * not offer is refused naming what is missing, a second apply writes nothing, and a
 * process that `corral run` starts under the policy may use exactly the CPUs listed.
 * The machine is assumed to have CPUs 0-1 and memory node 0 (skips otherwise).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controllers/controller.h"
#include "core/txn.h"
#include "policy/policy.h"
#include "tests/controller-helpers.h"
#include "tests/helpers.h"

static struct th_env env;

static void setup(void)
{
    th_env_setup(&env, "cpuset");
}

static void teardown(void)
{
    th_env_teardown(&env);
}

TestSuite(cpuset, .init = setup, .fini = teardown, .timeout = 120);

static struct ctl_cpu_list *cpus(struct ctl_settings *s)
{
    return ctl_key_list(ctl_key_desc(CTL_KEY_CPUSET_CPUS), s);
}

static struct ctl_cpu_list *mems(struct ctl_settings *s)
{
    return ctl_key_list(ctl_key_desc(CTL_KEY_CPUSET_MEMS), s);
}

/* Group path under the test root, skipping without the cpuset hierarchy or controller,
 * or without CPUs 0-1 and node 0 offered to it. */
static struct cg_group *cpuset_group(const char *path)
{
    struct cg_group *g;
    char *c, *m;

    th_require_cgroups();
    if (!cg_ctx_has(th_ctx(), CG_H_CPUSET))
        cr_skip_test("no cpuset hierarchy on this machine");
    g = mkgroup(path);
    c = th_kread(CG_H_CPUSET, path, v2() ? "cpuset.cpus.effective" : "cpuset.cpus");
    m = th_kread(CG_H_CPUSET, path, v2() ? "cpuset.mems.effective" : "cpuset.mems");
    if (!c || !m) {
        cg_group_free(g);
        cr_skip_test("the cpuset controller is not enabled for the test's groups");
    }
    if (strcmp(c, "0-1") != 0 && strncmp(c, "0-", 2) != 0) {
        cg_group_free(g);
        cr_skip_test("the test's groups may use CPUs %s, not 0-1", c);
    }
    if (m[0] != '0') {
        cg_group_free(g);
        cr_skip_test("the test's groups may use memory nodes %s, not 0", m);
    }
    free(c);
    free(m);
    return g;
}

static void want_list(struct ctl_cpu_list *l, const char *text)
{
    cr_assert_eq(ctl_cpu_list_parse(text, l), 0, "%s", text);
}

Test(cpuset, each_key_lands_in_its_file_as_the_kernel_prints_it)
{
    _cleanup_(cg_group_freep) struct cg_group *g = cpuset_group("w");
    struct ctl_settings s, back;

    ctl_settings_init(&s);
    want_list(cpus(&s), "0");
    want_list(mems(&s), "0");
    cr_assert_geq(apply_ok(&ctl_cpuset, g, &s), 1);
    th_assert_file(CG_H_CPUSET, "w", "cpuset.cpus", "0");
    th_assert_file(CG_H_CPUSET, "w", "cpuset.mems", "0");
    /* Spelled otherwise, normalised: "1,0" is what the kernel prints as 0-1. */
    want_list(cpus(&s), "1,0");
    cr_assert_eq(apply_ok(&ctl_cpuset, g, &s), 1);
    th_assert_file(CG_H_CPUSET, "w", "cpuset.cpus", "0-1");
    /* Read back as settings. */
    ctl_settings_init(&back);
    cr_assert_eq(ctl_cpuset.read_settings(g, &back), 0);
    cr_assert(ctl_cpu_list_eq(cpus(&back), cpus(&s)));
    cr_assert(ctl_cpu_list_eq(mems(&back), mems(&s)));
}

Test(cpuset, a_second_apply_writes_nothing)
{
    _cleanup_(cg_group_freep) struct cg_group *g = cpuset_group("w");
    struct ctl_settings s;

    ctl_settings_init(&s);
    want_list(cpus(&s), "0");
    want_list(mems(&s), "0");
    (void)apply_ok(&ctl_cpuset, g, &s);
    cr_assert_eq(apply_ok(&ctl_cpuset, g, &s), 0);
    want_list(cpus(&s), "0,0-0");
    cr_assert_eq(apply_ok(&ctl_cpuset, g, &s), 0);
}

Test(cpuset, keys_left_out_write_nothing)
{
    _cleanup_(cg_group_freep) struct cg_group *g = cpuset_group("w");
    char *before = th_kread(CG_H_CPUSET, "w", "cpuset.cpus");
    struct ctl_settings s;

    ctl_settings_init(&s);
    ctl_settings_fill_defaults(&s);
    cr_assert_eq(apply_ok(&ctl_cpuset, g, &s), 0);
    th_assert_file(CG_H_CPUSET, "w", "cpuset.cpus", before);
    free(before);
}

/* A list outside the parent's effective set: refused before anything is written. */
static void refused(const char *key, const char *list, const char *file, const char *what)
{
    _cleanup_(cg_group_freep) struct cg_group *g = cpuset_group("w");
    char *before = th_kread(CG_H_CPUSET, "w", file), buf[512];
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;
    int r;

    ctl_settings_init(&s);
    want_list(cpus(&s), "0");
    want_list(strcmp(key, "AllowedCPUs") == 0 ? cpus(&s) : mems(&s), list);
    r = apply(&ctl_cpuset, g, &s, &t, &w, &e);
    cr_assert_eq(r, -EINVAL, "got %d: %s", r, e.detail);
    cr_assert_eq(t.writes, 0);
    cg_txn_done(&t);
    cr_assert_str_eq(e.group, "w");
    cr_assert_str_eq(e.file, file);
    cg_err_format(&e, buf, sizeof(buf));
    cr_assert(strstr(buf, key), "message: %s", buf);
    cr_assert(strstr(buf, what), "message: %s", buf);
    th_assert_file(CG_H_CPUSET, "w", file, before);
    free(before);
}

Test(cpuset, cpus_the_parent_lacks_are_refused_naming_them)
{
    refused("AllowedCPUs", "5", "cpuset.cpus", "CPUs 5 not available");
    refused("AllowedCPUs", "0-1,5-6,9", "cpuset.cpus", "CPUs 5-6,9 not available");
}

Test(cpuset, nodes_the_parent_lacks_are_refused_naming_them)
{
    refused("AllowedMemoryNodes", "0,7", "cpuset.mems", "memory nodes 7 not available");
}

Test(cpuset, missing_hierarchy_is_an_error_naming_it)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;
    char buf[512], *mount;
    int r;

    th_require_v1();
    g = cpuset_group("w");
    /* As if the cpuset hierarchy were not mounted (the context says where it is). */
    mount = TAKE_PTR(th_ctx()->sys.mount[CG_H_CPUSET]);
    ctl_settings_init(&s);
    want_list(cpus(&s), "0");
    r = apply(&ctl_cpuset, g, &s, &t, &w, &e);
    th_ctx()->sys.mount[CG_H_CPUSET] = mount;
    cr_assert_eq(r, -ENODEV);
    cr_assert_eq(t.writes, 0);
    cg_txn_done(&t);
    cg_err_format(&e, buf, sizeof(buf));
    cr_assert(strstr(buf, "missing controller 'cpuset'"), "message: %s", buf);
}

Test(cpuset, policy_values_are_checked_when_parsed)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[CPU]\nAllowedCPUs=\n", "empty value"},
        {"[CPU]\nAllowedCPUs=,\n", "an empty list"},
        {"[CPU]\nAllowedCPUs=1-0\n", "bad list"},
        {"[CPU]\nAllowedCPUs=two\n", "bad list"},
        {"[CPU]\nAllowedMemoryNodes=4096\n", "out of range"},
    };
    struct pol_policy p;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct pol_diags d = {0};

        cr_assert_eq(pol_policy_parse_text("x.policy", bad[i].text, strlen(bad[i].text), &p, &d), 0,
                     "%s", bad[i].text);
        cr_assert_eq(d.n, 1, "%s", bad[i].text);
        cr_assert(strstr(d.d[0].msg, bad[i].msg), "%s: %s", bad[i].text, d.d[0].msg);
        pol_diags_free(&d);
    }
}

/* `corral run` under a policy: the process may run on exactly the CPUs listed. */
static void run_on(const char *list, const char *want)
{
    char text[128], *out;
    const char *names[] = {"pin"}, *texts[] = {text};

    snprintf(text, sizeof(text), "[Workload]\nClass=normal\n[CPU]\nAllowedCPUs=%s\n", list);
    th_env_policies(&env, "p", names, texts, 1);
    cr_assert_eq(TH_ENV_CORRAL(&env, th_root_arg(), "p",
                               "run --policy pin -- sh -c 'grep Cpus_allowed_list: "
                               "/proc/self/status' >%s/out 2>%s/err",
                               env.tmpdir, env.tmpdir),
                 0, "%s", th_env_read(&env, "err"));
    out = th_env_read(&env, "out");
    cr_assert_not_null(out);
    cr_assert(strstr(out, want), "want '%s' in: %s", want, out);
    free(out);
    th_assert_file(CG_H_CPUSET, "normal/pin", "cpuset.cpus", list);
}

Test(cpuset, a_process_run_under_the_policy_has_the_cpus)
{
    th_require_binary(env.corral);
    cg_group_free(cpuset_group("w"));
    run_on("0", "Cpus_allowed_list:\t0\n");
    run_on("0-1", "Cpus_allowed_list:\t0-1\n");
}

/* The last command's output holds `want`. */
static void expect_out(const char *want)
{
    char *out = th_env_read(&env, "out");
    bool ok = out && strstr(out, want);

    cr_expect(ok, "want '%s' in: %s", want, out ? out : "(none)");
    free(out);
    cr_assert(ok);
}

/* v1: groups made before the cpuset hierarchy was there (an upgrade, or cpuset mounted
 * later) have no directory in it. status still reads them, and the next apply makes their
 * cpuset directories (with the parent's sets) and writes the keys; run then places in them. */
Test(cpuset, groups_made_before_the_hierarchy_are_completed_by_apply)
{
    const char *names[] = {"pin"}, *texts[] = {"[Workload]\nClass=normal\n[Pids]\nMax=50\n"};
    const char *levels[] = {"normal/pin", "normal", ""};

    th_require_binary(env.corral);
    th_require_cgroups();
    if (!cg_ctx_has(th_ctx(), CG_H_CPUSET))
        cr_skip_test("no cpuset hierarchy on this machine");
    if (v2())
        cr_skip_test("v2 has one tree: no group can lack a hierarchy");
    th_env_policies(&env, "p", names, texts, 1);
    cr_assert_eq(TH_ENV_CORRAL(&env, th_root_arg(), "p", "apply >/dev/null"), 0);
    for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
        cr_assert_eq(rmdir(th_group_dir(CG_H_CPUSET, levels[i])), 0, "%s: %m", levels[i]);
    cr_assert_eq(
        TH_ENV_CORRAL(&env, th_root_arg(), "p", "status >%s/out 2>%s/err", env.tmpdir, env.tmpdir),
        0, "%s", th_env_read(&env, "err"));
    expect_out("pin");
    run_on("0", "Cpus_allowed_list:\t0\n");
    cr_assert_eq(TH_ENV_CORRAL(&env, th_root_arg(), "p", "--json apply >%s/out", env.tmpdir), 0);
    expect_out("\"writes\":0");
}
