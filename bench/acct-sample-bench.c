/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * acct-sample-bench [GROUPS] [PASSES]: a sample pass over GROUPS groups (default 10000)
 * against the raw floor (a minimal loop pread-ing the same files through kept-open fds),
 * then ledger write throughput with durability on (WAL, synchronous=FULL).
 * Groups live under ./corral-bench-PID (nested under our own cgroup), removed at the end.
 * Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "accounting/sample.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The files the sampler reads, per version (accounting/sample.c). */
static const struct {
    enum cg_hier h;
    const char *v1, *v2;
} files[] = {
    {CG_H_CPUACCT, "cpuacct.usage_user", NULL},
    {CG_H_CPUACCT, "cpuacct.usage_sys", NULL},
    {CG_H_CPUACCT, "cpuacct.usage", NULL},
    {CG_H_CPU, "cpu.stat", "cpu.stat"},
    {CG_H_MEMORY, "memory.usage_in_bytes", "memory.current"},
    {CG_H_MEMORY, "memory.max_usage_in_bytes", "memory.peak"},
    {CG_H_MEMORY, "memory.oom_control", "memory.events"},
    {CG_H_PIDS, "pids.current", "pids.current"},
    {CG_H_PIDS, "pids.peak", "pids.peak"},
    {CG_H_FREEZER, "freezer.state", "cgroup.events"},
};

/* Creates `count` groups under a fresh root, measures the floor and the sampler (median
 * of passes) and adds them to *floor_s / *sampler_s. Leaves the last sampler in *ret_s. */
static int batch(int id, int count, int passes, double *floor_s, double *sampler_s,
                 size_t *ret_files, struct cg_ctx **ret_ctx, struct acct_sampler **ret_s);

/* The idle pass (the read rule of sample.h) beside the full one, summed over batches. */
static double idle_s;

int main(int argc, char **argv)
{
    int ngroups = argc > 1 ? atoi(argv[1]) : 10000, passes = argc > 2 ? atoi(argv[2]) : 15;
    struct rlimit rl;
    struct cg_ctx *ctx = NULL;
    struct acct_sampler *s = NULL;
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    const struct acct_sample *smp;
    char lpath[128], dir[] = "/tmp/corral-bench-XXXXXX";
    double tf = 0, ts = 0, t0;
    size_t n, nfiles = 0;
    int per, done = 0, id = 0;

    (void)getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    /* floor + sampler keep ~10 files per group open each: batch to fit RLIMIT_NOFILE */
    per = (int)((rl.rlim_cur - 256) / 21);
    if (per > ngroups)
        per = ngroups;
    while (done < ngroups) {
        int c = ngroups - done < per ? ngroups - done : per;
        size_t f = 0;
        if (ctx) {
            acct_sampler_free(s);
            (void)cg_root_destroy(ctx, NULL);
            cg_ctx_free(ctx);
        }
        if (batch(id++, c, passes, &tf, &ts, &f, &ctx, &s) < 0)
            return 3;
        nfiles += f;
        done += c;
    }
    printf("sample pass: %d groups, %zu files (%d batch%s of <= %d groups: RLIMIT_NOFILE %llu);"
           " median of %d passes, summed over batches\n",
           ngroups, nfiles, id, id > 1 ? "es" : "", per, (unsigned long long)rl.rlim_cur, passes);
    printf("  raw pread floor  %8.2f ms\n", tf * 1e3);
    printf("  corral sampler   %8.2f ms\n", ts * 1e3);
    printf("  ratio            %8.3fx (target <= 1.3x; every file read, as the floor)\n", ts / tf);
    printf("  idle pass        %8.2f ms (read rule: idle groups read 3-4 files; %.3fx the "
           "floor)\n",
           idle_s * 1e3, idle_s / tf);

    /* ledger write throughput, durability on */
    if (!mkdtemp(dir))
        goto out;
    snprintf(lpath, sizeof(lpath), "%s/ledger.db", dir);
    if (acct_ledger_open(lpath, 0, &l, &e) < 0) {
        fprintf(stderr, "ledger: %s\n", e.detail);
        goto out;
    }
    {
        size_t total = 0, w;
        t0 = now();
        for (int p = 0; p < 10; p++) {
            (void)acct_sampler_read(s, &smp, &n);
            if (acct_ledger_write(l, smp, n, &w, &e) < 0) {
                fprintf(stderr, "write: %s\n", e.detail);
                goto out;
            }
            total += w;
        }
        double dt = now() - t0;
        printf("ledger write: %zu samples in 10 passes (one transaction each), %.2f s: %.0f "
               "samples/s (WAL, synchronous=FULL)\n",
               total, dt, (double)total / dt);
        t0 = now();
        for (int i = 0; i < 200; i++) {
            struct acct_sample one = smp[(size_t)i % n];
            one.t_ns = acct_now_ns();
            if (acct_ledger_write(l, &one, 1, NULL, &e) < 0)
                break;
        }
        dt = now() - t0;
        printf("ledger write: 200 single-sample transactions (like final records): %.0f/s\n",
               200 / dt);
    }
out:
    acct_ledger_close(l);
    acct_sampler_free(s);
    if (ctx && cg_root_destroy(ctx, &e) < 0)
        fprintf(stderr, "cleanup: %s\n", e.detail);
    cg_ctx_free(ctx);
    if (dir[strlen(dir) - 1] != 'X') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)system(cmd);
    }
    return 0;
}

static int batch(int id, int ngroups, int passes, double *floor_s, double *sampler_s,
                 size_t *ret_files, struct cg_ctx **ret_ctx, struct acct_sampler **ret_s)
{
    char root[64];
    struct cg_ctx *ctx = NULL;
    struct acct_sampler *s = NULL;
    struct cg_err e = {0};
    const struct acct_sample *smp;
    size_t n, nfd = 0;
    int *fds;
    double t0, *ts = calloc((size_t)passes, sizeof(double)),
               *tf = calloc((size_t)passes, sizeof(double));
    int per_wl = 100, r;

    snprintf(root, sizeof(root), "./corral-bench-%d-%d", (int)getpid(), id);
    if (cg_ctx_new(root, &ctx, &e) < 0) {
        fprintf(stderr, "ctx: %s\n", e.detail);
        return 3;
    }
    /* class bench / workloads w0..wK / instances: ngroups groups in all */
    t0 = now();
    {
        int made = 0, w = 0;
        while (made < ngroups) {
            char p[96];
            struct cg_group *g;
            snprintf(p, sizeof(p), "bench/w%d", w);
            for (int i = 0; i < per_wl && made < ngroups; i++, made++) {
                if (i == 0 && w == 0)
                    snprintf(p, sizeof(p), "bench");
                else if (i == 0)
                    snprintf(p, sizeof(p), "bench/w%d", w);
                else
                    snprintf(p, sizeof(p), "bench/w%d/run-%d", w, i);
                if ((r = cg_group_open(ctx, p, true, &g, NULL, &e)) < 0) {
                    fprintf(stderr, "create %s: %s (%s)\n", p, strerror(-r), e.detail);
                    goto out;
                }
                cg_group_free(g);
            }
            w++;
        }
    }
    fprintf(stderr, "created %d groups in %.1f s\n", ngroups, now() - t0);

    if (acct_sampler_new(ctx, NULL, NULL, &s) < 0 || acct_sampler_scan(s, &e) < 0) {
        fprintf(stderr, "scan: %s\n", e.detail);
        goto out;
    }
    (void)acct_sampler_read(s, &smp, &n);
    /* the floor: the same files, kept open, one pread each, no parsing */
    fds = calloc(n * (sizeof(files) / sizeof(files[0])), sizeof(int));
    for (size_t i = 0; i < n; i++) {
        struct cg_group *g;
        if (cg_group_open(ctx, smp[i].group.path, false, &g, NULL, NULL) < 0)
            continue;
        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
            const char *name = cg_ctx_is_v2(ctx) ? files[f].v2 : files[f].v1;
            int dfd = cg_group_fd(g, files[f].h), fd;
            if (!name || dfd < 0)
                continue;
            fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                fds[nfd++] = fd;
        }
        cg_group_free(g);
    }
    for (int p = 0; p < passes; p++) {
        char buf[1024];
        volatile size_t sink = 0;
        t0 = now();
        for (size_t i = 0; i < nfd; i++)
            sink += (size_t)pread(fds[i], buf, sizeof(buf) - 1, 0);
        tf[p] = now() - t0;
        acct_sampler_set_full_every(s, 1);
        t0 = now();
        (void)acct_sampler_read(s, &smp, &n);
        ts[p] = now() - t0;
    }
    {
        /* idle passes: the same groups (nothing runs in them) under the read rule */
        double *ti = calloc((size_t)passes, sizeof(double));
        acct_sampler_set_full_every(s, ACCT_SAMPLER_FULL_EVERY);
        (void)acct_sampler_pass(s, 0, NULL);
        for (int p = 0; p < passes; p++) {
            t0 = now();
            (void)acct_sampler_pass(s, 0, NULL);
            ti[p] = now() - t0;
        }
        qsort(ti, (size_t)passes, sizeof(double), cmp_d);
        idle_s += ti[passes / 2];
        free(ti);
    }
    qsort(tf, (size_t)passes, sizeof(double), cmp_d);
    qsort(ts, (size_t)passes, sizeof(double), cmp_d);
    *floor_s += tf[passes / 2];
    *sampler_s += ts[passes / 2];
    *ret_files = nfd;
    for (size_t i = 0; i < nfd; i++)
        (void)close(fds[i]);
    free(fds);
    free(tf);
    free(ts);
    *ret_ctx = ctx;
    *ret_s = s;
    return 0;
out:
    acct_sampler_free(s);
    (void)cg_root_destroy(ctx, NULL);
    cg_ctx_free(ctx);
    return -1;
}
