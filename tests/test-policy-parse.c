/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of policy and corral.conf parsing and validation: every invalid input is
 * reported as FILE:LINE: message, all problems are collected, valid input gives exact
 * values. Files live in a private temporary directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/parallel.h"
#include "policy/policy.h"
#include "tests/parse-helpers.h"

TestSuite(parse, .init = parse_setup, .fini = parse_teardown);

Test(parse, full_policy_exact_values)
{
    static const char text[] = "# web.policy\n"
                               "[Workload]\n"
                               "Name=web\n"
                               "Class=high\n"
                               "Account=team-frontend\n"
                               "\n"
                               "[CPU]\n"
                               "Weight=200\n"
                               "Max=150%\n"
                               "Period=100ms\n"
                               "; a comment\n"
                               "[Memory]\n"
                               "  Max=2G\n"
                               "High=1536M\n"
                               "Low=512M\n"
                               "SwapMax=0\n"
                               "[Pids]\n"
                               "Max=512\n"
                               "[Namespaces]\n"
                               "Isolate=pid net ipc mnt uts\n"
                               "Hostname=web\n"
                               "[Process]\n"
                               "User=nobody\n"
                               "Group=nogroup\n"
                               "WorkingDirectory=/srv\n"
                               "NoNewPrivileges=no\n"
                               "Environment=clear\n";
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("x/web.policy", text, &p, &d), 1);
    dump(&d);
    cr_assert_eq(d.n, 0);
    cr_assert_str_eq(p.name, "web");
    cr_assert_str_eq(p.class_name, "high");
    cr_assert_str_eq(p.account, "team-frontend");
    cr_assert_eq(p.limits.cpu_weight, 200);
    cr_assert_eq(p.limits.cpu_max_usec, 150000);
    cr_assert_eq(p.limits.cpu_period_usec, 100000);
    cr_assert_eq(p.limits.mem_max, 2147483648ull);
    cr_assert_eq(p.limits.mem_high, 1610612736ull);
    cr_assert_eq(p.limits.mem_low, 536870912ull);
    cr_assert_eq(p.limits.mem_swap_max, 0);
    cr_assert_eq(p.limits.pids_max, 512);
    cr_assert_eq(p.namespaces, POL_NS_PID | POL_NS_NET | POL_NS_IPC | POL_NS_MNT | POL_NS_UTS);
    cr_assert_str_eq(p.hostname, "web");
    cr_assert_str_eq(p.user, "nobody");
    cr_assert_str_eq(p.group, "nogroup");
    cr_assert_str_eq(p.workdir, "/srv");
    cr_assert(!p.no_new_privs);
    cr_assert(p.clear_env);
    pol_diags_free(&d);
}

Test(parse, defaults)
{
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("/etc/corral/policies.d/api-2.policy", "[CPU]\nPeriod=50ms\n", &p, &d), 1);
    cr_assert_str_eq(p.name, "api-2", "name comes from the file name");
    cr_assert_str_eq(p.class_name, "normal");
    cr_assert_str_eq(p.account, "api-2");
    cr_assert_eq(p.limits.cpu_weight, 100);
    cr_assert_eq(p.limits.cpu_max_usec, CTL_MAX);
    cr_assert_eq(p.limits.cpu_period_usec, 50000);
    cr_assert_eq(p.limits.mem_max, CTL_MAX);
    cr_assert_eq(p.limits.mem_high, CTL_MAX);
    cr_assert_eq(p.limits.mem_low, 0);
    cr_assert_eq(p.limits.pids_max, CTL_MAX);
    cr_assert(p.no_new_privs, "NoNewPrivileges defaults to yes");
    cr_assert(!p.clear_env);
    cr_assert_eq(p.keys, POL_KEY_CPU_PERIOD);
    pol_diags_free(&d);
}

Test(parse, every_problem_with_file_and_line)
{
    static const char text[] = "[Workload]\n"              /* 1 */
                               "Name=../etc\n"             /* 2: leaves the tree */
                               "Class=Hi/gh\n"             /* 3 */
                               "[CPU]\n"                   /* 4 */
                               "Weight=0\n"                /* 5: out of range */
                               "Max=150\n"                 /* 6: no % */
                               "Period=100\n"              /* 7: no unit */
                               "Weight=20000\n"            /* 8: duplicate key */
                               "Quota=5\n"                 /* 9: unknown key */
                               "[Memory]\n"                /* 10 */
                               "Max=2X\n"                  /* 11: bad unit */
                               "High=\n"                   /* 12: empty */
                               "[Bogus]\n"                 /* 13: unknown section */
                               "Foo=1\n"                   /* 14: (in unknown section) */
                               "this is not ini\n"         /* 15: syntax */
                               "[Pids]\n"                  /* 16 */
                               "Max=-1\n"                  /* 17 */
                               "[Namespaces]\n"            /* 18 */
                               "Isolate=pid time\n"        /* 19 */
                               "Hostname=-bad\n"           /* 20 */
                               "[Process]\n"               /* 21 */
                               "User=no-such-user-xyz\n"   /* 22 */
                               "WorkingDirectory=rel\n"    /* 23 */
                               "NoNewPrivileges=perhaps\n" /* 24 */
                               "Environment=keep\n"        /* 25 */
                               "also bad\n"                /* 26: syntax */
                               "[Workload\n";              /* 27: syntax */
    struct pol_diags d = {0};
    struct pol_policy p;
    const char *f = "bad.policy";

    cr_assert_eq(parse(f, text, &p, &d), 0);
    EXPECT_DIAG(&d, f, 2, "invalid workload name '../etc'");
    EXPECT_DIAG(&d, f, 3, "invalid class name");
    EXPECT_DIAG(&d, f, 5, "CPU.Weight='0'");
    EXPECT_DIAG(&d, f, 6, "CPU.Max='150'");
    EXPECT_DIAG(&d, f, 7, "CPU.Period='100'");
    EXPECT_DIAG(&d, f, 8, "duplicate key 'Weight' in [CPU] (first set on line 5)");
    EXPECT_DIAG(&d, f, 9, "unknown key 'Quota' in [CPU]");
    EXPECT_DIAG(&d, f, 11, "Memory.Max='2X'");
    EXPECT_DIAG(&d, f, 12, "empty value");
    EXPECT_DIAG(&d, f, 13, "unknown section [Bogus]");
    EXPECT_DIAG(&d, f, 15, "syntax error");
    EXPECT_DIAG(&d, f, 17, "Pids.Max='-1'");
    EXPECT_DIAG(&d, f, 19, "unknown namespace 'time'");
    EXPECT_DIAG(&d, f, 20, "Namespaces.Hostname='-bad'");
    EXPECT_DIAG(&d, f, 22, "no such user");
    EXPECT_DIAG(&d, f, 23, "absolute path");
    EXPECT_DIAG(&d, f, 24, "NoNewPrivileges");
    EXPECT_DIAG(&d, f, 25, "Environment");
    EXPECT_DIAG(&d, f, 26, "syntax error");
    EXPECT_DIAG(&d, f, 27, "syntax error");
    cr_expect(!has(&d, f, 14, ""), "keys of an unknown section are not reported again");
    cr_expect_eq(d.n, 20, "exactly one diagnostic per problem (got %zu)", d.n);
    pol_diags_free(&d);
}

Test(parse, names_that_leave_the_tree)
{
    static const char *const names[] = {
        "..",
        "a/b",
        "/abs",
        ".",
        "UPPER",
        "a b",
        "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct pol_diags d = {0};
        struct pol_policy p;
        char text[200];
        snprintf(text, sizeof(text), "[Workload]\nName=%s\n", names[i]);
        cr_expect_eq(parse("n.policy", text, &p, &d), 0, "Name=%s accepted", names[i]);
        cr_expect(has(&d, "n.policy", 2, "invalid workload name"), "Name=%s", names[i]);
        pol_diags_free(&d);
    }
    /* A file name that is not a valid group name, and no Name=. */
    struct pol_diags d = {0};
    struct pol_policy p;
    cr_expect_eq(parse("dir/My Web.policy", "[CPU]\nWeight=5\n", &p, &d), 0);
    cr_expect(has(&d, "My Web.policy", 0, "rename the file or set [Workload] Name="));
    pol_diags_free(&d);
}

Test(parse, cross_key_checks)
{
    static const char text[] = "[Memory]\n"
                               "Max=1G\n"
                               "High=2G\n" /* 3: above Max */
                               "Low=3G\n"  /* 4: above High and Max */
                               "[CPU]\n"
                               "Max=0.5%\n" /* 6: 500us quota < 1ms */
                               "[Namespaces]\n"
                               "Hostname=x\n"; /* 8: no uts */
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("c.policy", text, &p, &d), 0);
    EXPECT_DIAG(&d, "c.policy", 3, "Memory.High (2G) is above Memory.Max (1G)");
    EXPECT_DIAG(&d, "c.policy", 4, "Memory.Low (3G) is above Memory.High (2G)");
    EXPECT_DIAG(&d, "c.policy", 4, "Memory.Low (3G) is above Memory.Max (1G)");
    EXPECT_DIAG(&d, "c.policy", 6, "quota of 500 us");
    EXPECT_DIAG(&d, "c.policy", 8, "add uts");
    pol_diags_free(&d);
}

Test(parse, comments_are_whole_lines)
{
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("i.policy", "# ok\n; ok\n[CPU]\nWeight=5 ; not a comment\n", &p, &d), 0);
    EXPECT_DIAG(&d, "i.policy", 4, "comments must be whole lines");
    pol_diags_free(&d);
}

Test(parse, long_line)
{
    struct pol_diags d = {0};
    struct pol_policy p;
    char text[1200] = "[Process]\nWorkingDirectory=/";

    memset(text + strlen(text), 'a', 900);
    strcat(text, "\n[CPU]\nWeight=x\n");
    cr_assert_eq(parse("l.policy", text, &p, &d), 0);
    EXPECT_DIAG(&d, "l.policy", 2, "line too long");
    EXPECT_DIAG(&d, "l.policy", 4, "CPU.Weight='x'");
    pol_diags_free(&d);
}

Test(parse, set_duplicate_names_and_unknown_class)
{
    struct pol_config cfg;
    struct pol_set set;
    struct pol_diags d = {0};

    put("a.policy", "[Workload]\nName=web\nClass=high\n");
    put("b.policy", "# same name\n[Workload]\nName=web\n");
    put("web.policy", "[Workload]\nClass=gold\n");
    put("README", "not a policy: ignored\n");
    put(".hidden.policy", "ignored\n");
    load_set(&cfg, &set, &d);
    EXPECT_DIAG(&d, "/b.policy", 3, "duplicate workload name 'web'");
    EXPECT_DIAG(&d, "/web.policy", 0, "duplicate workload name 'web'");
    EXPECT_DIAG(&d, "/web.policy", 2, "unknown class 'gold'");
    cr_expect_eq(d.n, 3);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&d);
}

Test(parse, set_valid)
{
    struct pol_config cfg;
    struct pol_set set;
    struct pol_diags d = {0};

    put("web.policy", "[Workload]\nClass=high\n[CPU]\nMax=150%\n");
    put("db.policy", "[Workload]\nClass=critical\n");
    load_set(&cfg, &set, &d);
    dump(&d);
    cr_assert_eq(d.n, 0);
    cr_assert_eq(set.n, 2);
    cr_assert_str_eq(set.p[0].name, "db", "sorted by file name");
    cr_assert_not_null(pol_set_find(&set, "web"));
    pol_set_free(&set);
    pol_config_free(&cfg);
}

Test(parse, refuses_untrusted_files_as_root)
{
    struct pol_config cfg;
    struct pol_set set;
    struct pol_diags d = {0};
    char *p;

    if (geteuid() != 0)
        cr_skip_test("ownership checks apply only when running as root");
    p = put("w.policy", "[CPU]\nWeight=5\n");
    chmod(p, 0664);
    p = put("o.policy", "[CPU]\nWeight=5\n");
    chmod(p, 0646);
    p = put("u.policy", "[CPU]\nWeight=5\n");
    cr_assert_eq(chown(p, 1000, 1000), 0);
    load_set(&cfg, &set, &d);
    EXPECT_DIAG(&d, "/w.policy", 0, "writable by group");
    EXPECT_DIAG(&d, "/o.policy", 0, "writable by others");
    EXPECT_DIAG(&d, "/u.policy", 0, "owned by uid 1000");
    pol_set_free(&set);
    pol_diags_free(&d);

    /* The directory itself. */
    chmod(dir, 0777);
    cr_assert_eq(pol_set_load(dir, NULL, 0, &cfg, &set, &d), 0);
    EXPECT_DIAG(&d, dir, 0, "refusing a directory writable by group and others (mode 0777)");
    chmod(dir, 0755);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&d);
}

Test(parse, config_classes_and_rates)
{
    struct pol_config cfg;
    struct pol_diags d = {0};
    char *p = put("corral.conf", "[Accounting]\n"
                                 "Interval=30s\n"
                                 "[Class critical]\n"
                                 "CPUWeight=2000\n"
                                 "MemoryLow=1G\n"
                                 "[Class gold]\n"
                                 "CPUWeight=600\n"
                                 "[Rates]\n"
                                 "Currency=USD\n"
                                 "CPUCoreHour=0.04\n"
                                 "MemoryGiBHour=0.005\n"
                                 "Multiplier.team-x=1.5\n");

    cr_assert_eq(pol_config_load(p, true, &cfg, &d), 0);
    dump(&d);
    cr_assert_eq(d.n, 0);
    cr_assert_eq(cfg.interval_usec, 30000000);
    cr_assert_eq(pol_config_class(&cfg, "critical")->cpu_weight, 2000);
    cr_assert_eq(pol_config_class(&cfg, "critical")->mem_low, 1073741824ull);
    cr_assert_eq(pol_config_class(&cfg, "high")->cpu_weight, 400);
    cr_assert_eq(pol_config_class(&cfg, "normal")->cpu_weight, 100);
    cr_assert_eq(pol_config_class(&cfg, "batch")->cpu_weight, 25);
    cr_assert_eq(pol_config_class(&cfg, "idle")->cpu_weight, 1);
    cr_assert_eq(pol_config_class(&cfg, "gold")->cpu_weight, 600);
    cr_assert_str_eq(cfg.rates.currency, "USD");
    cr_assert_eq(cfg.rates.cpu_core_hour_micro, 40000);
    cr_assert_eq(cfg.rates.mem_gib_hour_micro, 5000);
    cr_assert_eq(pol_rates_multiplier(&cfg.rates, "team-x"), 1500000);
    cr_assert_eq(pol_rates_multiplier(&cfg.rates, "other"), 1000000);
    pol_config_free(&cfg);
}

Test(parse, config_errors)
{
    struct pol_config cfg;
    struct pol_diags d = {0};
    char *p = put("corral.conf", "[Accounting]\n"
                                 "Interval=10\n"         /* 2: no unit */
                                 "[Class Bad/Name]\n"    /* 3 */
                                 "CPUWeight=5\n"         /* 4 (not reported again) */
                                 "[Class batch]\n"       /* 5 */
                                 "CPUWeight=0\n"         /* 6 */
                                 "Shares=5\n"            /* 7 */
                                 "[Rates]\n"             /* 8 */
                                 "CPUCoreHour=-0.04\n"   /* 9 */
                                 "MemoryGiBHour=cheap\n" /* 10 */
                                 "Currency=euro\n"       /* 11 */
                                 "Multiplier.x=-1\n"     /* 12 */
                                 "[Extra]\n");           /* 13 */

    cr_assert_eq(pol_config_load(p, true, &cfg, &d), 0);
    EXPECT_DIAG(&d, "corral.conf", 2, "Accounting.Interval='10'");
    EXPECT_DIAG(&d, "corral.conf", 3, "invalid class name 'Bad/Name'");
    EXPECT_DIAG(&d, "corral.conf", 6, "CPUWeight='0'");
    EXPECT_DIAG(&d, "corral.conf", 7, "unknown key 'Shares'");
    EXPECT_DIAG(&d, "corral.conf", 9, "Rates.CPUCoreHour='-0.04'");
    EXPECT_DIAG(&d, "corral.conf", 10, "Rates.MemoryGiBHour='cheap'");
    EXPECT_DIAG(&d, "corral.conf", 11, "Rates.Currency='euro'");
    EXPECT_DIAG(&d, "corral.conf", 12, "Rates.Multiplier.x='-1'");
    EXPECT_DIAG(&d, "corral.conf", 13, "unknown section [Extra]");
    cr_expect_eq(d.n, 9);
    pol_config_free(&cfg);
    pol_diags_free(&d);
}

Test(parse, config_missing_file)
{
    struct pol_config cfg;
    struct pol_diags d = {0};
    char path[128];

    snprintf(path, sizeof(path), "%s/nope.conf", dir);
    cr_assert_eq(pol_config_load(path, false, &cfg, &d), 0);
    cr_assert_eq(d.n, 0, "a missing default config means the built-ins");
    cr_assert_eq(cfg.n_classes, 5);
    pol_config_free(&cfg);
    cr_assert_eq(pol_config_load(path, true, &cfg, &d), 0);
    cr_assert_eq(d.n, 1, "a missing config that was named is an error");
    EXPECT_DIAG(&d, "nope.conf", 0, "cannot read");
    pol_config_free(&cfg);
    pol_diags_free(&d);
}

Test(parse, rates_file_alone)
{
    struct acct_rates r;
    struct pol_diags d = {0};
    char *p = put("rates.conf", "[Rates]\nCPUCoreHour=0.1\nMultiplier.ops=0\n");

    cr_assert_eq(pol_rates_load(p, &r, &d), 0);
    cr_assert_eq(d.n, 0);
    cr_assert_eq(r.cpu_core_hour_micro, 100000);
    cr_assert_eq(r.mem_gib_hour_micro, 5000, "unset keys keep the defaults");
    cr_assert_str_eq(r.currency, "EUR");
    cr_assert_eq(pol_rates_multiplier(&r, "ops"), 0);
    pol_rates_done(&r);
}

/* ---- [Filesystem]: syntax here; existence and safety are launch_fs_check's (test-rootfs) */

Test(parse, man_page_lists_exactly_the_setting_descriptors)
{
    const char *src = getenv("CORRAL_SOURCE_ROOT");
    char path[512], line[512], section[64] = "", listed[2048] = "", want[2048] = "";
    bool in_policy = false, after_tp = false;
    size_t nl = 0, nw = 0;
    FILE *f;

    if (!src)
        cr_skip_test("CORRAL_SOURCE_ROOT unset");
    snprintf(path, sizeof(path), "%s/cli/corral.5", src);
    f = fopen(path, "re");
    cr_assert_not_null(f, "%s", path);
    while (fgets(line, sizeof(line), f)) {
        char key[64];
        bool setting_section = false;

        if (strncmp(line, ".SH ", 4) == 0)
            in_policy = strncmp(line, ".SH POLICY FILE", 15) == 0;
        if (!in_policy)
            continue;
        if (sscanf(line, ".SS [%63[^]]]", section) == 1)
            continue;
        for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
            setting_section |= strcmp(d->section, section) == 0;
        if (after_tp && setting_section &&
            (sscanf(line, ".BI %63[A-Za-z]=", key) == 1 ||
             sscanf(line, ".B %63[A-Za-z]=", key) == 1))
            nl += (size_t)snprintf(listed + nl, sizeof(listed) - nl, "%s.%s ", section, key);
        after_tp = strncmp(line, ".TP", 3) == 0;
    }
    fclose(f);
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));)
        nw += (size_t)snprintf(want + nw, sizeof(want) - nw, "%s.%s ", d->section, d->key);
    cr_assert_str_eq(listed, want, "corral(5) lists [%s], the descriptors are [%s]", listed, want);
}
