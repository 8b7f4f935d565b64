/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/hierarchy.h"
#include "tests/helpers.h"

static struct cg_ctx *test_ctx;
static char test_root[96];

/* Strings th_group_dir() hands out, freed by th_teardown() (the sanitizer build checks
 * tests for leaks too, and callers use them inline). */
static char *kept[256];
static size_t n_kept;

static char *keep(char *p)
{
    if (p && n_kept < sizeof(kept) / sizeof(kept[0]))
        kept[n_kept++] = p;
    return p;
}

/* Inside the v2 guest (CORRAL_TEST_VM=1) a missing prerequisite is a broken test bed,
 * not a reason to skip: fail loudly instead. */
static bool in_vm(void)
{
    const char *v = getenv("CORRAL_TEST_VM");
    return v && strcmp(v, "1") == 0;
}

void th_require_cgroups(void)
{
    struct cg_sysinfo s;

    if (in_vm()) {
        cr_assert_eq(geteuid(), 0, "the v2 guest must run tests as root");
        cr_assert_eq(cg_sysinfo_discover(&s), 0, "the v2 guest has no usable cgroupfs");
        cr_assert_eq(s.mode, CG_MODE_V2, "the v2 guest is not on cgroup v2");
        cg_sysinfo_done(&s);
        return;
    }
    if (geteuid() != 0)
        cr_skip_test("integration test: needs root to create cgroups (run as root)");
    if (cg_sysinfo_discover(&s) < 0)
        cr_skip_test("integration test: no usable cgroup hierarchy on this system");
    cg_sysinfo_done(&s);
}

void th_require_v2(void)
{
    th_require_cgroups();
    if (!cg_ctx_is_v2(th_ctx()))
        cr_skip_test("needs cgroup v2; this system is %s (run `meson test --suite v2`)",
                     cg_mode_to_string(th_ctx()->sys.mode));
}

void th_require_v1(void)
{
    th_require_cgroups();
    if (cg_ctx_is_v2(th_ctx()))
        cr_skip_test("needs cgroup v1/hybrid; this system is v2");
}

const char *th_root_arg(void)
{
    if (!test_root[0])
        snprintf(test_root, sizeof(test_root), "./corral-test-%d-%d", (int)getppid(),
                 (int)getpid());
    return test_root;
}

struct cg_ctx *th_ctx(void)
{
    struct cg_err e = {0};
    int r;

    if (test_ctx)
        return test_ctx;
    r = cg_ctx_new(th_root_arg(), &test_ctx, &e);
    cr_assert_eq(r, 0, "cg_ctx_new(%s): %d %s", th_root_arg(), r, e.detail);
    return test_ctx;
}

void th_setup(void)
{
    test_root[0] = '\0';
    test_ctx = NULL;
}

void th_teardown(void)
{
    struct cg_err e = {0};
    char buf[512];

    while (n_kept > 0)
        free(kept[--n_kept]);
    if (!test_ctx)
        return;
    if (cg_root_destroy(test_ctx, &e) < 0)
        fprintf(stderr, "teardown: cannot remove %s: %s\n", test_root,
                cg_err_format(&e, buf, sizeof(buf)));
    cg_ctx_free(test_ctx);
    test_ctx = NULL;
}

/* Runner process, after all tests: remove roots of workers that died before .fini. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    struct cg_ctx *ctx = NULL;
    struct cg_group *base = NULL;
    char prefix[64], **kids = NULL;
    char arg[96];

    (void)stats;
    if (geteuid() != 0)
        return;
    snprintf(prefix, sizeof(prefix), "corral-test-%d-", (int)getpid());
    /* Any name resolves the base; list it for leftovers with our prefix. */
    snprintf(arg, sizeof(arg), "./%sscan", prefix);
    if (cg_ctx_new(arg, &ctx, NULL) < 0)
        return;
    if (cg_base_open(ctx, &base, NULL) == 0 && cg_group_children(base, &kids) == 0) {
        for (char **k = kids; *k; k++) {
            struct cg_ctx *c = NULL;
            if (strncmp(*k, prefix, strlen(prefix)) != 0)
                continue;
            snprintf(arg, sizeof(arg), "./%s", *k);
            if (cg_ctx_new(arg, &c, NULL) == 0) {
                fprintf(stderr, "cleanup: removing %s left by a crashed test\n", *k);
                (void)cg_root_destroy(c, NULL);
                cg_ctx_free(c);
            }
        }
        cg_strv_free(kids);
    }
    cg_group_free(base);
    cg_ctx_free(ctx);
}

pid_t th_fork_held(int (*fn)(void *), void *arg, int *ret_release_fd)
{
    int p[2];
    pid_t pid;

    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char c;
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(127);
        close(p[0]);
        _exit(fn ? fn(arg) : 0);
    }
    close(p[0]);
    *ret_release_fd = p[1];
    return pid;
}

void th_release(int release_fd)
{
    cr_assert_eq(write(release_fd, "x", 1), 1);
    close(release_fd);
}

void th_kill_wait(pid_t pid)
{
    if (pid <= 0)
        return;
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
}

char *th_proc_cgroup(pid_t pid, const char *controller)
{
    char path[64], *text = NULL, *line, *save = NULL, *res = NULL;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    if (cg_read_all_at(AT_FDCWD, path, &text) < 0)
        return NULL;
    for (line = strtok_r(text, "\n", &save); line && !res; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2;
        if (!c1 || !(c2 = strchr(c1 + 1, ':')))
            continue;
        *c2 = '\0';
        if (controller[0] == '\0' ? c1[1] == '\0' && line[0] == '0' : false) {
            res = strdup(c2 + 1);
            break;
        }
        /* the controller list may be "cpu,cpuacct" */
        for (char *tok = c1 + 1, *s2 = NULL, *w = strtok_r(tok, ",", &s2); w;
             w = strtok_r(NULL, ",", &s2))
            if (strcmp(w, controller) == 0) {
                res = strdup(c2 + 1);
                break;
            }
    }
    free(text);
    return res;
}

char *th_group_dir(enum cg_hier h, const char *path)
{
    struct cg_ctx *ctx = th_ctx();
    char *r = NULL;

    if (!ctx->sys.mount[h])
        return NULL;
    if (asprintf(&r, "%s%s%s%s", ctx->sys.mount[h],
                 strcmp(ctx->root_path[h], "/") == 0 ? "" : ctx->root_path[h],
                 path && *path ? "/" : "", path ? path : "") < 0)
        return NULL;
    return keep(r);
}

unsigned long long th_proc_cpu_ns(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return 0;
    p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (ut + st) * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

char *th_kread(enum cg_hier h, const char *grp, const char *file)
{
    char *dir = th_group_dir(h, grp);
    char path[512], buf[256];

    cr_assert_not_null(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return NULL;
    return strdup(buf);
}

void th_assert_file(enum cg_hier h, const char *grp, const char *file, const char *want)
{
    char *got = th_kread(h, grp, file);

    cr_assert_not_null(got, "%s/%s missing", grp, file);
    cr_assert_str_eq(got, want, "%s/%s: kernel reports '%s', expected '%s'", grp, file, got, want);
    free(got);
}

void th_require_binary(const char *path)
{
    th_require_cgroups();
    if (!path[0] || access(path, X_OK) != 0)
        cr_skip_test("%s not built (CORRAL_BUILD_ROOT unset?)", path[0] ? path : "corral");
    (void)th_ctx();
}

#define FORMAT_CMD(cmd, fmt)                                                                       \
    do {                                                                                           \
        va_list ap_;                                                                               \
        va_start(ap_, fmt);                                                                        \
        cr_assert(vasprintf(&(cmd), fmt, ap_) > 0);                                                \
        va_end(ap_);                                                                               \
    } while (0)

int th_sh(const char *fmt, ...)
{
    char *cmd = NULL;
    int st;

    FORMAT_CMD(cmd, fmt);
    st = system(cmd);
    cr_assert(WIFEXITED(st), "%s: status %#x", cmd, st);
    free(cmd);
    return WEXITSTATUS(st);
}

pid_t th_sh_bg(const char *fmt, ...)
{
    char *cmd = NULL;
    pid_t pid;

    FORMAT_CMD(cmd, fmt);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    return pid;
}

void th_env_setup(struct th_env *env, const char *tag)
{
    const char *b = getenv("CORRAL_BUILD_ROOT");
    char conf[128];

    th_setup();
    memset(env, 0, sizeof(*env));
    for (size_t i = 0; i < ARRAY_SIZE(env->kids); i++)
        env->kids[i] = -1;
    if (!b)
        return;
    snprintf(env->corral, sizeof(env->corral), "%s/cli/corral", b);
    snprintf(env->corrald, sizeof(env->corrald), "%s/cli/corrald", b);
    th_mkdtemp(env->tmpdir, sizeof(env->tmpdir), tag);
    snprintf(conf, sizeof(conf), "%s/none.conf", env->tmpdir);
    th_write_file(conf, "", 0644);
}

void th_env_teardown(struct th_env *env)
{
    for (size_t i = 0; i < ARRAY_SIZE(env->kids); i++) {
        th_kill_wait(env->kids[i]);
        env->kids[i] = -1;
    }
    th_teardown();
    th_rmtree(env->tmpdir);
}

void th_env_policies(const struct th_env *env, const char *dir, const char *const *names,
                     const char *const *texts, size_t n)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", env->tmpdir, dir);
    cr_assert(mkdir(p, 0755) == 0 || errno == EEXIST, "%s: %s", p, strerror(errno));
    cr_assert_eq(chmod(p, 0755), 0);
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/%s/%s.policy", env->tmpdir, dir, names[i]);
        th_write_file(p, texts[i], 0644);
    }
}

char *th_env_read(const struct th_env *env, const char *name)
{
    char p[256];

    snprintf(p, sizeof(p), "%s/%s", env->tmpdir, name);
    return th_slurp(p);
}

bool th_dir_exists(const char *path)
{
    struct stat st;

    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void th_mkdtemp(char *buf, size_t size, const char *tag)
{
    snprintf(buf, size, "/tmp/corral-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(buf), "mkdtemp %s: %s", buf, strerror(errno));
    cr_assert_eq(chmod(buf, 0755), 0);
}

void th_rmtree(const char *dir)
{
    char *cmd = NULL;

    if (!dir[0] || asprintf(&cmd, "rm -rf '%s'", dir) < 0)
        return;
    (void)system(cmd);
    free(cmd);
}

char *th_slurp(const char *path)
{
    char *t = NULL;

    if (cg_read_all_at(AT_FDCWD, path, &t) < 0)
        t = strdup("");
    cr_assert_not_null(t);
    return t;
}

void th_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "we");

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

bool th_wait_child(pid_t *pid, int *ret_status, int seconds)
{
    int st = 0;

    for (int i = 0; i < seconds * 20 && *pid > 0; i++) {
        if (waitpid(*pid, &st, WNOHANG) == *pid) {
            *pid = -1;
            if (ret_status)
                *ret_status = st;
            return true;
        }
        (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return false;
}
