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

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/corral-parse-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    (void)chmod(dir, 0755);
}

/* Paths handed out by put(), freed at teardown (LeakSanitizer runs the suite too). */
static char *made[64];
static size_t n_made;

static void teardown(void)
{
    char cmd[128];
    while (n_made > 0)
        free(made[--n_made]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
}

TestSuite(parse, .init = setup, .fini = teardown);

static char *put(const char *name, const char *text)
{
    char *path;
    FILE *f;

    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0644);
    cr_assert_lt(n_made, sizeof(made) / sizeof(made[0]));
    made[n_made++] = path;
    return path;
}

/* Finds a diagnostic for file at line whose message contains needle. */
static bool has(const struct pol_diags *d, const char *file, unsigned line, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->d[i].file, file) && d->d[i].line == line && strstr(d->d[i].msg, needle))
            return true;
    return false;
}

static void dump(const struct pol_diags *d)
{
    char buf[1024];
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  %s\n", pol_diag_format(&d->d[i], buf, sizeof(buf)));
}

#define EXPECT_DIAG(d, file, line, needle)                                                         \
    do {                                                                                           \
        if (!has(d, file, line, needle))                                                           \
            dump(d);                                                                               \
        cr_expect(has(d, file, line, needle), "no diagnostic %s:%u containing '%s'", file,         \
                  (unsigned)(line), needle);                                                       \
    } while (0)

static int parse(const char *file, const char *text, struct pol_policy *p, struct pol_diags *d)
{
    return pol_policy_parse_text(file, text, strlen(text), p, d);
}

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

static void load_set(struct pol_config *cfg, struct pol_set *set, struct pol_diags *d)
{
    cr_assert_eq(pol_config_builtin(cfg), 0);
    cr_assert_eq(pol_set_load(dir, NULL, 0, cfg, set, d), 0);
    pol_diags_sort(d);
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

Test(parse, filesystem_exact_values)
{
    static const char text[] = "[Namespaces]\n"
                               "Isolate=pid mnt\n"
                               "[Filesystem]\n"
                               "Layers=/srv/app:/srv/base\n"
                               "Writable=tmpfs\n"
                               "PrivateTmp=yes\n"
                               "ReadOnlyPaths=/etc   /var/lib\n"
                               "BindPaths=/srv/data:/data /srv/log\n"
                               "BindReadOnlyPaths=/usr\n";
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("x/fs.policy", text, &p, &d), 1);
    dump(&d);
    cr_assert_eq(d.n, 0);
    cr_assert_null(p.fs.root_directory);
    cr_assert_str_eq(p.fs.layers[0], "/srv/app");
    cr_assert_str_eq(p.fs.layers[1], "/srv/base");
    cr_assert_null(p.fs.layers[2]);
    cr_assert_str_eq(p.fs.writable, "tmpfs");
    cr_assert(p.fs.private_tmp);
    cr_assert_str_eq(p.fs.read_only_paths[0], "/etc");
    cr_assert_str_eq(p.fs.read_only_paths[1], "/var/lib");
    cr_assert_null(p.fs.read_only_paths[2]);
    cr_assert_str_eq(p.fs.bind_paths[0], "/srv/data:/data");
    cr_assert_str_eq(p.fs.bind_paths[1], "/srv/log");
    cr_assert_null(p.fs.bind_paths[2]);
    cr_assert_str_eq(p.fs.bind_ro_paths[0], "/usr");
    cr_assert_null(p.fs.bind_ro_paths[1]);
    /* Lines of each key, for the check-time messages. */
    cr_assert_eq(pol_fs_key_line(&p, "Layers"), 4);
    cr_assert_eq(pol_fs_key_line(&p, "Writable"), 5);
    cr_assert_eq(pol_fs_key_line(&p, "BindReadOnlyPaths"), 9);
    cr_assert_eq(pol_fs_key_line(&p, "RootDirectory"), 0);
    cr_assert_eq(pol_fs_key_line(&p, "Nope"), 0);
    pol_policy_done(&p);
    cr_assert_null(p.fs.layers);
    pol_policy_done(&p); /* twice is fine */
    pol_diags_free(&d);

    /* RootDirectory alone, and the defaults: nothing set, the host's tree. */
    cr_assert_eq(parse("x/root.policy",
                       "[Namespaces]\nIsolate=pid\n[Filesystem]\nRootDirectory=/srv/root\n"
                       "PrivateTmp=no\n",
                       &p, &d),
                 1);
    cr_assert_eq(d.n, 0);
    cr_assert_str_eq(p.fs.root_directory, "/srv/root");
    cr_assert_not(p.fs.private_tmp);
    cr_assert_null(p.fs.layers);
    pol_policy_done(&p);
    cr_assert_eq(parse("x/none.policy", "[Pids]\nMax=1\n", &p, &d), 1);
    cr_assert_null(p.fs.root_directory);
    cr_assert_null(p.fs.bind_paths);
    cr_assert_not(p.fs.private_tmp);
    pol_policy_done(&p);
    pol_diags_free(&d);
}

Test(parse, filesystem_every_problem_with_file_and_line)
{
    static const char text[] = "[Namespaces]\n"             /* 1 */
                               "Isolate=pid\n"              /* 2 */
                               "[Filesystem]\n"             /* 3 */
                               "RootDirectory=srv/root\n"   /* 4 */
                               "Layers=/a::/b\n"            /* 5 */
                               "Writable=memory\n"          /* 6 */
                               "PrivateTmp=perhaps\n"       /* 7 */
                               "ReadOnlyPaths=/etc etc\n"   /* 8 */
                               "BindPaths=/srv/data:data\n" /* 9 */
                               "BindReadOnlyPaths=usr\n"    /* 10 */
                               "RootDir=/x\n"               /* 11 */
                               "PrivateTmp=yes\n"           /* 12 */
                               "Layers=\n";                 /* 13 */
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("x/bad.policy", text, &p, &d), 0);
    EXPECT_DIAG(&d, "bad.policy", 4, "RootDirectory='srv/root': expected an absolute path");
    EXPECT_DIAG(&d, "bad.policy", 5, "Filesystem.Layers: layer 2 ''");
    EXPECT_DIAG(&d, "bad.policy", 6, "Writable='memory': expected tmpfs or an absolute");
    EXPECT_DIAG(&d, "bad.policy", 7, "PrivateTmp='perhaps': expected yes or no");
    EXPECT_DIAG(&d, "bad.policy", 8, "ReadOnlyPaths: 'etc': expected absolute paths");
    EXPECT_DIAG(&d, "bad.policy", 9, "BindPaths: '/srv/data:data': expected SRC or SRC:DST");
    EXPECT_DIAG(&d, "bad.policy", 10, "BindReadOnlyPaths: 'usr'");
    EXPECT_DIAG(&d, "bad.policy", 11, "unknown key 'RootDir' in [Filesystem]");
    EXPECT_DIAG(&d, "bad.policy", 12, "duplicate key 'PrivateTmp' in [Filesystem]");
    EXPECT_DIAG(&d, "bad.policy", 13, "duplicate key 'Layers' in [Filesystem]");
    cr_expect_eq(d.n, 10);
    /* Nothing refused is kept: launch_fs_check must not see it and report it again. */
    cr_assert_null(p.fs.root_directory);
    cr_assert_null(p.fs.layers);
    cr_assert_null(p.fs.writable);
    cr_assert_null(p.fs.read_only_paths);
    cr_assert_null(p.fs.bind_paths);
    pol_policy_done(&p);
    pol_diags_free(&d);
}

Test(parse, filesystem_cross_key_checks)
{
    struct pol_diags d = {0};
    struct pol_policy p;
    char layers[POL_FS_LAYERS_MAX * 3 + 64] = "[Namespaces]\nIsolate=pid\n[Filesystem]\nLayers=";

    /* A root of its own needs its own /proc, so its own PID namespace. */
    cr_assert_eq(parse("x/nopid.policy",
                       "[Namespaces]\nIsolate=mnt\n[Filesystem]\nRootDirectory=/srv/root\n", &p,
                       &d),
                 0);
    EXPECT_DIAG(&d, "nopid.policy", 4,
                "Filesystem.RootDirectory needs a PID namespace of its own: add pid");
    pol_policy_done(&p);
    cr_assert_eq(parse("x/nopid2.policy", "[Filesystem]\nPrivateTmp=yes\nLayers=/a\n", &p, &d), 0);
    EXPECT_DIAG(&d, "nopid2.policy", 3, "Filesystem.Layers needs a PID namespace");
    pol_policy_done(&p);
    /* Host mode needs none. */
    cr_assert_eq(
        parse("x/host.policy", "[Filesystem]\nPrivateTmp=yes\nBindPaths=/a:/tmp/a\n", &p, &d), 1);
    pol_policy_done(&p);
    cr_assert_eq(d.n, 2);

    cr_assert_eq(parse("x/both.policy",
                       "[Namespaces]\nIsolate=pid\n[Filesystem]\nRootDirectory=/r\nLayers=/a:/b\n"
                       "Writable=tmpfs\n",
                       &p, &d),
                 0);
    EXPECT_DIAG(&d, "both.policy", 5, "RootDirectory= and Layers= are exclusive");
    cr_assert_str_eq(p.fs.root_directory, "/r");
    cr_assert_null(p.fs.layers);
    pol_policy_done(&p);
    cr_assert_eq(parse("x/wr.policy",
                       "[Namespaces]\nIsolate=pid\n[Filesystem]\nRootDirectory=/r\n"
                       "Writable=/state\n",
                       &p, &d),
                 0);
    EXPECT_DIAG(&d, "wr.policy", 5, "Filesystem.Writable needs Layers=");
    cr_assert_null(p.fs.writable);
    pol_policy_done(&p);
    cr_assert_eq(d.n, 4);

    /* At most POL_FS_LAYERS_MAX layers ("/" each: a line is at most 198 characters). */
    for (int i = 0; i <= POL_FS_LAYERS_MAX; i++)
        strcat(layers, i ? ":/" : "/");
    strcat(layers, "\n");
    cr_assert_eq(parse("x/many.policy", layers, &p, &d), 0);
    EXPECT_DIAG(&d, "many.policy", 4, "65 layers, at most 64");
    pol_policy_done(&p);
    pol_diags_free(&d);
}

Test(parse, filesystem_in_a_set_is_freed)
{
    struct pol_diags d = {0};
    struct pol_set set = {0};
    char *files[2];

    files[0] = put("a.policy", "[Namespaces]\nIsolate=pid\n[Filesystem]\nRootDirectory=/r\n"
                               "BindReadOnlyPaths=/usr /lib:/l\n");
    /* Invalid, but kept in the set for its name: freed with it (LeakSanitizer). */
    files[1] = put("b.policy", "[Filesystem]\nLayers=/a:/b\nReadOnlyPaths=/etc\n");
    cr_assert_eq(pol_set_load(NULL, files, 2, NULL, &set, &d), 0);
    cr_assert_eq(set.n, 2);
    EXPECT_DIAG(&d, "b.policy", 2, "needs a PID namespace");
    cr_assert_str_eq(pol_set_find(&set, "a")->fs.bind_ro_paths[1], "/lib:/l");
    pol_set_free(&set);
    pol_diags_free(&d);
}

struct loop_seen {
    size_t n;
    unsigned *count;
    unsigned *worker;
};

static void loop_visit(void *arg, size_t i, unsigned worker)
{
    struct loop_seen *s = arg;

    s->count[i]++;
    s->worker[i] = worker;
}

/* The loop behind threaded loading and checking: every item once, worker ids in range. */
Test(parse, parallel_loop_runs_every_item_once)
{
    static const unsigned threads[] = {0, 1, 2, 3, POL_THREADS_MAX, POL_THREADS_MAX + 5};
    static const size_t sizes[] = {0, 1, 7, 1000};

    for (size_t a = 0; a < sizeof(threads) / sizeof(threads[0]); a++)
        for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
            struct loop_seen s = {.n = sizes[b]};
            unsigned used;

            s.count = calloc(s.n + 1, sizeof(*s.count));
            s.worker = calloc(s.n + 1, sizeof(*s.worker));
            cr_assert(s.count && s.worker);
            used = pol_parallel_for(s.n, threads[a], 4, loop_visit, &s);
            cr_assert_geq(used, 1);
            cr_assert_leq(used, threads[a] > 1
                                    ? (threads[a] > POL_THREADS_MAX ? POL_THREADS_MAX : threads[a])
                                    : 1);
            for (size_t i = 0; i < s.n; i++) {
                cr_assert_eq(s.count[i], 1, "item %zu ran %u times", i, s.count[i]);
                cr_assert_lt(s.worker[i], used);
            }
            free(s.count);
            free(s.worker);
        }
    cr_assert_eq(pol_parallel_threads(1000, 3, 16), 3);
    cr_assert_eq(pol_parallel_threads(1000, 100, 16), POL_THREADS_MAX);
    cr_assert_eq(pol_parallel_threads(10, 0, 16), 1);
    cr_assert_geq(pol_parallel_threads(1000, 0, 16), 1);
}

static void put_many(unsigned i)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/p%03u.policy", dir, i);
    f = fopen(path, "we");
    cr_assert_not_null(f);
    if (i % 37 == 5)
        fprintf(f, "[Workload]\nName=p%03u\n[CPU]\nWeigth=3\nMax=x\n", i); /* lines 4, 5 */
    else if (i == 77)
        fprintf(f, "[Workload]\nName=p010\n"); /* duplicate of p010.policy */
    else if (i == 150)
        fprintf(f, "[Workload]\nClass=nosuch\n");
    else
        fprintf(f, "[Workload]\nName=p%03u\n[Pids]\nMax=%u\n", i, 10 + i);
    fclose(f);
    chmod(path, 0644);
}

/* Many files, loaded on threads, give exactly what loading them one at a time gives: the
 * same policies in file order and every problem, in order. */
Test(parse, many_files_load_as_one_at_a_time)
{
    enum { N = 300 };
    struct pol_config cfg;
    struct pol_set set, one, listed;
    struct pol_diags d = {0}, d1 = {0}, dl = {0};
    char *files[N];

    for (unsigned i = 0; i < N; i++) {
        put_many(i);
        cr_assert_geq(asprintf(&files[i], "%s/p%03u.policy", dir, i), 0);
    }
    cr_assert_eq(pol_config_builtin(&cfg), 0);
    cr_assert_eq(pol_set_load(dir, NULL, 0, &cfg, &set, &d), 0);
    cr_assert_eq(pol_set_load(NULL, files, N, &cfg, &listed, &dl), 0);
    pol_diags_sort(&d);
    pol_diags_sort(&dl);

    /* One file at a time, collected in order (pol_set_load of a single file cannot be
     * threaded). The set-wide checks (duplicates) are left out of this reference. */
    one = (struct pol_set){0};
    for (unsigned i = 0; i < N; i++) {
        struct pol_set s1;

        cr_assert_eq(pol_set_load(NULL, &files[i], 1, &cfg, &s1, &d1), 0);
        cr_assert_leq(s1.n, 1);
        if (s1.n == 1) {
            struct pol_policy *np = realloc(one.p, (one.n + 1) * sizeof(*np));
            cr_assert_not_null(np);
            one.p = np;
            one.p[one.n++] = s1.p[0];
            free(s1.p);
        }
    }
    cr_assert_eq(set.n, one.n);
    cr_assert_eq(listed.n, one.n);
    for (size_t i = 0; i < one.n; i++) {
        cr_assert_str_eq(set.p[i].file, one.p[i].file);
        cr_assert_str_eq(set.p[i].name, one.p[i].name);
        cr_assert_eq(set.p[i].limits.pids_max, one.p[i].limits.pids_max);
        cr_assert_str_eq(listed.p[i].file, one.p[i].file);
        cr_assert_eq(listed.p[i].limits.pids_max, one.p[i].limits.pids_max);
    }
    /* Every per-file problem, plus the duplicate name, in file:line order. */
    pol_diags_sort(&d1);
    cr_assert_eq(d.n, d1.n + 1, "%zu problems, %zu one at a time", d.n, d1.n);
    cr_assert_eq(dl.n, d.n);
    for (size_t i = 0, j = 0; i < d.n; i++) {
        cr_assert_str_eq(d.d[i].file, dl.d[i].file);
        cr_assert_eq(d.d[i].line, dl.d[i].line);
        cr_assert_str_eq(d.d[i].msg, dl.d[i].msg);
        if (strstr(d.d[i].msg, "duplicate workload name"))
            continue;
        cr_assert_lt(j, d1.n);
        cr_assert_str_eq(d.d[i].file, d1.d[j].file);
        cr_assert_eq(d.d[i].line, d1.d[j].line);
        cr_assert_str_eq(d.d[i].msg, d1.d[j].msg);
        j++;
    }
    for (unsigned i = 5; i < N; i += 37) {
        char f[128];

        snprintf(f, sizeof(f), "%s/p%03u.policy", dir, i);
        EXPECT_DIAG(&d, f, 4, "Weigth");
        EXPECT_DIAG(&d, f, 5, "CPU.Max");
    }
    for (unsigned i = 0; i < N; i++)
        free(files[i]);
    pol_set_free(&set);
    pol_set_free(&listed);
    pol_set_free(&one);
    pol_config_free(&cfg);
    pol_diags_free(&d);
    pol_diags_free(&d1);
    pol_diags_free(&dl);
}
