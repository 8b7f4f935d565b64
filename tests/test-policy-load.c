/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the [Filesystem] keys (exact values, every problem with its file and line,
 * the rules between keys) and of loading sets of policy files (the parallel loop, many
 * files as one at a time). Files live in a private temporary directory.
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

/* The key table of corral(5): in the POLICY FILE part, each ".TP" followed by
 * ".BI Key=" or ".B Key=" under ".SS [Section]". For the sections that hold cgroup
 * settings it must list exactly the controllers' descriptors, in their order. */
