/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * corrald-bench CORRALD [CPU_GROUPS] [RSS_GROUPS] [SECONDS]
 *
 * 1. CPU: corrald managing CPU_GROUPS groups (default 1000) at a 1 s interval; its
 *    utime+stime from /proc/PID/stat over SECONDS (default 30) after READY=1, as a share
 *    of one core (target < 0.5%).
 * 2. RSS: VmRSS and VmHWM of corrald managing RSS_GROUPS groups (default 10000) after a
 *    few passes (target < 16 MiB). The sampler keeps as many counter files open as
 *    RLIMIT_NOFILE allows and reads the other groups by path (accounting/sample.h), so
 *    the real count is measured whatever the limit; the output says how many groups
 *    were read by path, and what a pass cost there.
 *
 * Groups: class "normal", 10 workloads (policies), instances spread over them, all under
 * ./corral-bench-PID (nested in our own cgroup), removed at the end. Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/fileio.h"

#define WORKLOADS 10

static char dir[] = "/tmp/corrald-bench-XXXXXX";
static char root[64];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fputs(text, f);
    fclose(f);
    return chmod(path, 0644) < 0 ? -errno : 0;
}

/* Instances under normal/wl-K; the daemon's apply makes the class and workload groups. */
static int make_groups(struct cg_ctx *ctx, int n)
{
    struct cg_err e = {0};
    char path[128];

    for (int i = 0; i < n; i++) {
        struct cg_group *g = NULL;
        snprintf(path, sizeof(path), "normal/wl-%d/run-%d", i % WORKLOADS, i);
        if (cg_group_open(ctx, path, true, &g, NULL, &e) < 0) {
            fprintf(stderr, "create %s: %s\n", path, e.detail);
            return -1;
        }
        cg_group_free(g);
    }
    return 0;
}

static unsigned long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
        return 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

static long status_kib(pid_t pid, const char *key)
{
    char path[64], *text = NULL, *p;
    long v = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (cg_read_all_at(AT_FDCWD, path, &text) < 0)
        return -1;
    p = strstr(text, key);
    if (p)
        v = strtol(p + strlen(key) + 1, NULL, 10);
    free(text);
    return v;
}

/* Starts corrald; waits for READY=1. */
static pid_t start(const char *bin, int *ret_fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char conf[128], pol[128], led[128], sock[108], logp[128];
    struct pollfd p;
    char buf[256];
    pid_t pid;
    int fd;

    snprintf(conf, sizeof(conf), "%s/corral.conf", dir);
    snprintf(pol, sizeof(pol), "%s/policies.d", dir);
    snprintf(led, sizeof(led), "%s/ledger.db", dir);
    snprintf(logp, sizeof(logp), "%s/corrald.log", dir);
    snprintf(sock, sizeof(sock), "%s/n.sock", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    (void)unlink(sock);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (lfd < 0 || dup2(lfd, 2) < 0)
            _exit(127);
        setenv("NOTIFY_SOCKET", sock, 1);
        execl(bin, bin, "--root", root, "--config", conf, "--policy-dir", pol, "--ledger", led,
              "--foreground", "--verbose", (char *)NULL);
        _exit(127);
    }
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 600000) == 1) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            break;
        buf[n] = '\0';
        if (strstr(buf, "READY=1")) {
            *ret_fd = fd;
            return pid;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop(pid_t pid, int fd)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(fd);
}

static int setup_files(void)
{
    char path[256], text[128];

    snprintf(path, sizeof(path), "%s/corral.conf", dir);
    if (write_file(path, "[Accounting]\nInterval=1s\n") < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/policies.d", dir);
    if (mkdir(path, 0755) < 0 || chmod(path, 0755) < 0)
        return -1;
    for (int w = 0; w < WORKLOADS; w++) {
        snprintf(path, sizeof(path), "%s/policies.d/wl-%d.policy", dir, w);
        snprintf(text, sizeof(text), "[Workload]\nClass=normal\nAccount=acct-%d\n", w % 3);
        if (write_file(path, text) < 0)
            return -1;
    }
    return 0;
}

/* Groups that fit in the hard RLIMIT_NOFILE at ~files_per_group each. */
static int fit(int want, int files_per_group)
{
    struct rlimit rl;
    int max;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
        return want;
    max = (int)((rl.rlim_max - 200) / (unsigned)files_per_group);
    return want < max ? want : max;
}

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : "build/cli/corrald";
    int cpu_groups = argc > 2 ? atoi(argv[2]) : 1000, rss_groups = argc > 3 ? atoi(argv[3]) : 10000;
    int secs = argc > 4 ? atoi(argv[4]) : 30, fpg, fd, made;
    struct cg_ctx *ctx = NULL;
    long hz = sysconf(_SC_CLK_TCK);
    char cmd[128];
    pid_t pid;
    int ret = 0;

    if (!mkdtemp(dir) || setup_files() < 0) {
        perror("setup");
        return 1;
    }
    snprintf(root, sizeof(root), "./corral-bench-%d", (int)getpid());
    if (cg_ctx_new(root, &ctx, NULL) < 0) {
        fprintf(stderr, "no usable cgroupfs\n");
        return 77;
    }
    fpg = cg_ctx_is_v2(ctx) ? 7 : 10;
    printf("corrald-bench: %s, cgroup %s, %d workloads\n", bin,
           cg_ctx_is_v2(ctx) ? "v2" : "v1/hybrid", WORKLOADS);

    /* 1. CPU at cpu_groups (all files kept open when they fit: the common case) */
    made = fit(cpu_groups, fpg);
    if (made < cpu_groups)
        printf("note: RLIMIT_NOFILE fits only %d groups at ~%d files each\n", made, fpg);
    if (make_groups(ctx, made) < 0) {
        ret = 1;
        goto out;
    }
    pid = start(bin, &fd);
    if (pid < 0) {
        fprintf(stderr, "corrald did not become ready (see %s/corrald.log)\n", dir);
        ret = 1;
        goto out;
    }
    {
        unsigned long long t0 = proc_cpu_ticks(pid), t1;
        double w0 = now(), w1;
        sleep((unsigned)secs);
        t1 = proc_cpu_ticks(pid);
        w1 = now();
        double share = (double)(t1 - t0) / (double)hz / (w1 - w0) * 100.0;
        printf("cpu: %d groups (+%d workload, 1 class), 1 s interval, %.1f s: %.3f%% of one "
               "core (%llu ticks) [target < 0.5%%] %s\n",
               made, WORKLOADS, w1 - w0, share, t1 - t0, share < 0.5 ? "PASS" : "MISS");
        printf("rss: at %d groups: VmRSS %ld KiB, VmHWM %ld KiB\n", made + WORKLOADS + 1,
               status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:"));
    }
    stop(pid, fd);
    {
        /* corrald --verbose logs what each pass cost; show the last one of the run */
        char logp[128], *text = NULL, *last = NULL, *p;
        snprintf(logp, sizeof(logp), "%s/corrald.log", dir);
        if (cg_read_all_at(AT_FDCWD, logp, &text) >= 0) {
            for (p = text; (p = strstr(p, "debug: pass ")); p++)
                last = p;
            if (last)
                printf("breakdown (last pass): %.*s\n", (int)strcspn(last, "\n"), last);
            free(text);
        }
        (void)truncate(logp, 0);
    }

    /* 2. RSS at rss_groups: what does not fit in RLIMIT_NOFILE is read by path */
    made = rss_groups;
    if (fit(rss_groups, fpg) < rss_groups)
        printf("note: RLIMIT_NOFILE (hard %llu) cannot keep ~%d files open for each of %d "
               "groups: corrald keeps the fast-path files of as many as fit and reads the rest "
               "by path\n",
               (unsigned long long)({
                   struct rlimit rl;
                   getrlimit(RLIMIT_NOFILE, &rl);
                   rl.rlim_max;
               }),
               fpg, made);
    if (make_groups(ctx, made) < 0) {
        ret = 1;
        goto out;
    }
    pid = start(bin, &fd);
    if (pid < 0) {
        fprintf(stderr, "corrald did not become ready (see %s/corrald.log)\n", dir);
        ret = 1;
        goto out;
    }
    sleep(5);
    {
        long rss = status_kib(pid, "VmRSS:"), hwm = status_kib(pid, "VmHWM:");
        char logp[128], *text = NULL, *last = NULL, *p;
        snprintf(logp, sizeof(logp), "%s/corrald.log", dir);
        if (cg_read_all_at(AT_FDCWD, logp, &text) >= 0) {
            for (p = text; (p = strstr(p, "debug: pass ")); p++)
                last = p;
            if (last)
                printf("breakdown (last pass at %d groups): %.*s\n", made + WORKLOADS + 1,
                       (int)strcspn(last, "\n"), last);
            free(text);
        }
        printf("rss: at %d groups: VmRSS %ld KiB (%.1f MiB), VmHWM %ld KiB [target < 16 MiB at "
               "10000] %s\n",
               made + WORKLOADS + 1, rss, (double)rss / 1024, hwm,
               made >= 10000 ? (rss < 16 * 1024 ? "PASS" : "MISS") : "(not at 10000)");
    }
    stop(pid, fd);
out:
    if (ctx)
        (void)cg_root_destroy(ctx, NULL);
    cg_ctx_free(ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
    return ret;
}
