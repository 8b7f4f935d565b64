/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Filesystem isolation (launcher/rootfs.h) on the real kernel, as root. Each run forks a
 * child that unshares a mount and a PID namespace and forks again, so that what calls
 * launch_fs_enter is PID 1 of the new PID namespace, as in `corral run`. The checks run
 * in there (in C, or in a /bin/sh exec'd from the new root) and report by exit code; the
 * test process compares its own /proc/self/mountinfo before and after every run.
 *
 * The root is small and built from the host: DIR/root holds etc/, marker files and the
 * usual bin -> usr/bin links, and /usr is the host's, bound read-only with
 * BindReadOnlyPaths=/usr. Nothing is downloaded; everything lives under one mkdtemp dir
 * in /tmp, removed by .fini.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/rootfs-internal.h"
#include "launcher/rootfs.h"

/* The fixture: one temp dir per test. */
static struct {
    char dir[64];      /* /tmp/corral-rootfs-XXXXXX */
    char *mountinfo;   /* the test process's mount table before the test */
    char *usr_bind[2]; /* {"/usr", NULL}: BindReadOnlyPaths= of every root */
    char *paths[128];  /* what P() returned */
    size_t n_paths;
} fx;

/* The whole file, malloc'ed, or NULL. No assertion: also used in forked children. */
static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = fopen(path, "re"), *m;
    int c;

    if (!f)
        return NULL;
    m = open_memstream(&buf, &size);
    while (m && (c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    if (m)
        fclose(m);
    return buf;
}

static char *read_text(const char *path)
{
    char *t = slurp(path);

    cr_assert(t, "read %s: %s", path, strerror(errno));
    return t;
}

/* fx.dir + "/" + rel, malloc'ed and kept until teardown (so arrays of paths stay valid). */
static const char *P(const char *rel)
{
    char *p = NULL;

    cr_assert_lt(fx.n_paths, ARRAY_SIZE(fx.paths));
    cr_assert_gt(asprintf(&p, "%s/%s", fx.dir, rel), 0);
    return fx.paths[fx.n_paths++] = p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    cr_assert(f, "create %s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void mkdirs(const char *path, mode_t mode)
{
    char b[PATH_MAX];

    snprintf(b, sizeof(b), "%s", path);
    for (char *s = strchr(b + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        cr_assert(mkdir(b, mode) == 0 || errno == EEXIST, "mkdir %s: %s", b, strerror(errno));
        if (!s)
            return;
        *s = '/';
    }
}

/* A minimal root at DIR/NAME: what a distribution tree has, minus /usr (bound from the host). */
static void make_root(const char *name)
{
    static const char *const links[][2] = {
        {"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}};
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", fx.dir, name);
    mkdirs(p, 0755);
    cr_assert_eq(chmod(p, 0755), 0);
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        char l[PATH_MAX + 16];

        snprintf(l, sizeof(l), "%s/%s", p, links[i][0]);
        cr_assert_eq(symlink(links[i][1], l), 0);
    }
    mkdirs(P("root/usr"), 0755);
    mkdirs(P("root/etc"), 0755);
    write_file(P("root/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    write_file(P("root/etc/group"), "root:x:0:\n");
    write_file(P("root/I-am-the-root"), "yes\n");
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    /* Go on past a failure: leave as little as possible; teardown checks the dir is gone. */
    (void)(type == FTW_DP ? rmdir(path) : unlink(path));
    return 0;
}

static void setup(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (mount namespaces, mounts, pivot_root)");
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/corral-rootfs-XXXXXX");
    cr_assert(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
    cr_assert_eq(chmod(fx.dir, 0755), 0);
    fx.mountinfo = read_text("/proc/self/mountinfo");
    fx.usr_bind[0] = "/usr";
    make_root("root");
    /* A host file outside the root, that no path from inside may reach. */
    write_file(P("host-marker"), "host\n");
}

static void teardown(void)
{
    char *now;

    if (!fx.dir[0])
        return;
    now = read_text("/proc/self/mountinfo");
    (void)nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    cr_expect_eq(access(fx.dir, F_OK), -1, "%s left behind", fx.dir);
    cr_expect_str_eq(now, fx.mountinfo, "the host's mount table changed");
    free(now);
    free(fx.mountinfo);
    fx.mountinfo = NULL;
    for (size_t i = 0; i < fx.n_paths; i++)
        free(fx.paths[i]);
    fx.n_paths = 0;
    fx.dir[0] = '\0';
}

TestSuite(rootfs, .init = setup, .fini = teardown, .timeout = 120);

/* --- running something inside ---------------------------------------------------------- */

typedef int (*inside_fn)(void *arg);

enum { RUN_NO_PIDNS = 1 };

/*
 * Runs fn(arg) after launch_fs_enter, as PID 1 of a new PID namespace. Returns fn's exit
 * code (128+signal if killed), or -1 with *ret_err filled when launch_fs_enter failed.
 * Asserts that the test process's mount table is unchanged afterwards, pass or fail.
 */
/* The fork/unshare/fork/enter/fn sequence, without assertions (used in forked children
 * too): fn's exit code, -1 with *ret_err when launch_fs_enter failed, -2 when the test
 * machinery did (fork, unshare). */
static int spawn_inside(const struct pol_fs *fs, inside_fn fn, void *arg, unsigned flags,
                        struct cg_err *ret_err)
{
    struct cg_err e = {0};
    int pfd[2], status;
    pid_t pid;
    ssize_t n;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -2;
    pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        pid_t inner;

        (void)close(pfd[0]);
        if (unshare(CLONE_NEWNS | (flags & RUN_NO_PIDNS ? 0 : CLONE_NEWPID)) < 0)
            _exit(90);
        inner = fork();
        if (inner < 0)
            _exit(90);
        if (inner == 0) {
            struct cg_err ie = {0};

            if (launch_fs_enter(fs, &ie) < 0) {
                (void)!write(pfd[1], &ie, sizeof(ie));
                _exit(92);
            }
            (void)close(pfd[1]);
            _exit(fn(arg) & 0xff);
        }
        (void)close(pfd[1]);
        if (waitpid(inner, &status, 0) < 0)
            _exit(90);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    (void)close(pfd[1]);
    n = read(pfd[0], &e, sizeof(e));
    (void)close(pfd[0]);
    if (waitpid(pid, &status, 0) != pid)
        return -2;
    if (n == (ssize_t)sizeof(e)) {
        if (ret_err)
            *ret_err = e;
        return -1;
    }
    status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status == 90 ? -2 : status;
}

/*
 * Runs fn(arg) after launch_fs_enter, as PID 1 of a new PID namespace. Returns fn's exit
 * code (128+signal if killed), or -1 with *ret_err filled when launch_fs_enter failed.
 * Asserts that the test process's mount table is unchanged afterwards, pass or fail.
 */
static int run_inside_flags(const struct pol_fs *fs, inside_fn fn, void *arg, unsigned flags,
                            struct cg_err *ret_err)
{
    char *before = read_text("/proc/self/mountinfo"), *after;
    int r = spawn_inside(fs, fn, arg, flags, ret_err);

    after = read_text("/proc/self/mountinfo");
    cr_assert_str_eq(after, before, "the host's mount table changed during a run");
    free(before);
    free(after);
    cr_assert_neq(r, -2, "fork or unshare failed in the test child");
    return r;
}

static int run_inside(const struct pol_fs *fs, inside_fn fn, void *arg)
{
    struct cg_err e = {0};
    char buf[1024];
    int r = run_inside_flags(fs, fn, arg, 0, &e);

    cr_assert_neq(r, -1, "launch_fs_enter: %s", cg_err_format(&e, buf, sizeof(buf)));
    return r;
}

static int exec_sh(void *script)
{
    execl("/bin/sh", "sh", "-c", (const char *)script, (char *)NULL);
    return 127;
}

/* Runs a shell script inside; asserts it exits 0 (scripts `exit N` to say which check). */
static void sh_inside(const struct pol_fs *fs, const char *script)
{
    int r = run_inside(fs, exec_sh, (void *)script);

    cr_assert_eq(r, 0, "script exited %d:\n%s", r, script);
}

static struct pol_fs root_fs(void)
{
    return (struct pol_fs){.root_directory = (char *)P("root"), .bind_ro_paths = fx.usr_bind};
}

/* --- a tree's fingerprint: every entry's path, type, mode, owner, size, mtime, ctime and
 * content (or link target), sorted ---------------------------------------------------------- */

static FILE *fp_out;
static size_t fp_skip;

static uint64_t fnv1a(const char *path)
{
    uint64_t h = 1469598103934665603ULL;
    FILE *f = fopen(path, "re");
    int c;

    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (unsigned char)c) * 1099511628211ULL;
    fclose(f);
    return h;
}

static int fp_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    char target[PATH_MAX] = "";
    uint64_t h = 0;

    (void)type;
    (void)f;
    if (S_ISLNK(st->st_mode))
        (void)!readlink(path, target, sizeof(target) - 1);
    else if (S_ISREG(st->st_mode))
        h = fnv1a(path);
    fprintf(fp_out, "%s %o %u:%u %lld %lld.%09ld %lld.%09ld %s %016llx\n", path + fp_skip,
            (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
            (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
            (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, target, (unsigned long long)h);
    return 0;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *fingerprint(const char *dir)
{
    char *raw = NULL, *out = NULL, *lines[4096];
    size_t size = 0, n = 0;
    FILE *m;

    fp_out = open_memstream(&raw, &size);
    fp_skip = strlen(dir);
    cr_assert_eq(nftw(dir, fp_one, 16, FTW_PHYS), 0);
    fclose(fp_out);
    for (char *s = strtok(raw, "\n"); s && n < ARRAY_SIZE(lines); s = strtok(NULL, "\n"))
        lines[n++] = s;
    qsort(lines, n, sizeof(lines[0]), cmp_lines);
    m = open_memstream(&out, &size);
    for (size_t i = 0; i < n; i++)
        fprintf(m, "%s\n", lines[i]);
    fclose(m);
    free(raw);
    return out;
}

/* --- RootDirectory ------------------------------------------------------------------------ */

Test(rootfs, root_directory_sees_only_its_tree_with_proc_and_dev)
{
    struct pol_fs fs = root_fs();

    sh_inside(
        &fs,
        "test -e /I-am-the-root || exit 1\n"
        "test \"$(ls / | tr '\\n' ' ')\" = "
        "'I-am-the-root bin dev etc lib lib64 proc sbin sys usr ' || exit 2\n"
        "test $$ = 1 && grep -q '^Pid:' /proc/self/status || exit 3\n"
        "echo discard > /dev/null || exit 4\n"
        "test \"$(head -c1 /dev/urandom | wc -c)\" = 1 || exit 5\n"
        "test \"$(head -c3 /dev/zero | wc -c)\" = 3 || exit 6\n"
        "! (echo x > /dev/full) 2>/dev/null || exit 7\n"
        "test -c /dev/random && test -c /dev/tty && test -L /dev/ptmx || exit 8\n"
        "test -c /dev/pts/ptmx && echo x > /dev/shm/x || exit 9\n"
        "test \"$(ls /dev | tr '\\n' ' ')\" = "
        "'fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ' "
        "|| exit 10\n"
        "test -d /sys/kernel || exit 11\n"
        "grep -q ' /sys ro,' /proc/self/mountinfo || exit 12\n"
        "grep -q ' /proc/sys ro,' /proc/self/mountinfo || exit 12\n"
        "ls /proc > /dev/shm/procs && test \"$(grep -c '^[0-9]' /dev/shm/procs)\" = 2 || exit 13\n"
        "! touch /usr/corral-test 2>/dev/null || exit 14\n");
}

struct escape_arg {
    int leaked_fd; /* an fd on the fixture dir, opened without O_CLOEXEC before entering */
    char marker[PATH_MAX];
};

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int escape_checks(void *p)
{
    struct escape_arg *a = p;
    char link[PATH_MAX] = "", via_proc[PATH_MAX + 32];
    struct dirent *d;
    DIR *dir;

    if (!same_file("/", "/..") || !same_file("/", "/../../.."))
        return 1;
    if (chdir("/../..") < 0 || !same_file(".", "/"))
        return 2;
    if (access(a->marker, F_OK) == 0 || access("/I-am-the-root", F_OK) < 0)
        return 3;
    if (readlink("/proc/1/root", link, sizeof(link) - 1) < 0 || strcmp(link, "/") != 0)
        return 4;
    snprintf(via_proc, sizeof(via_proc), "/proc/1/root%s", a->marker);
    if (access(via_proc, F_OK) == 0 || !same_file("/proc/1/root/..", "/"))
        return 5;
    /* Only the namespace's own processes are in /proc: no host PID to take a root from. */
    if (access("/proc/2", F_OK) == 0)
        return 6;
    /* An inherited fd is a way out by itself -- the guarantee rests on the launcher
     * closing every fd above 2, as it does before exec (launch_fds_cloexec_from(3)). */
    if (faccessat(a->leaked_fd, "host-marker", F_OK, 0) < 0)
        return 7;
    if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
        return 8;
    dir = opendir("/proc/self/fd");
    if (!dir)
        return 9;
    while ((d = readdir(dir)))
        if (d->d_name[0] != '.' && atoi(d->d_name) > 2 && atoi(d->d_name) != dirfd(dir))
            return 10;
    closedir(dir);
    /* The classic chroot escape (chroot deeper, climb, chroot "." again) works against a
     * chroot, not against pivot_root with the old root detached: there is nothing above. */
    if (mkdir("/escape", 0700) < 0)
        return 11;
    switch (fork()) {
    case -1:
        return 12;
    case 0:
        if (chroot("/escape") < 0 || chdir("../../../../..") < 0 || chroot(".") < 0)
            _exit(1);
        _exit(access(a->marker, F_OK) == 0 || access("/I-am-the-root", F_OK) < 0 ? 2 : 0);
    default: {
        int st;

        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 13;
    }
    }
    (void)rmdir("/escape");
    /* Nothing named like the marker anywhere in the tree (but /usr, the host's own). */
    return exec_sh("test -z \"$(find / -path /proc -prune -o -path /sys -prune -o -path /usr "
                   "-prune -o -name host-marker -print)\" || exit 14");
}

Test(rootfs, host_paths_unreachable)
{
    struct pol_fs fs = root_fs();
    struct escape_arg a;
    int r;

    snprintf(a.marker, sizeof(a.marker), "%s", P("host-marker"));
    a.leaked_fd = open(fx.dir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(a.leaked_fd, 0);
    r = run_inside(&fs, escape_checks, &a);
    (void)close(a.leaked_fd);
    cr_assert_eq(r, 0, "escape check %d failed", r);
}

/* The "host" of the propagation test: a mount namespace of its own (so that other tests
 * running meanwhile never see its mounts) in which fx.dir is a shared mount, as systemd
 * makes "/" shared. A mount made without MS_PRIVATE in the workload's namespace would
 * propagate back here. Exit code: 0, or which step failed. */
static int shared_host(void *p)
{
    struct pol_fs *configs = p;
    char *before, *after;

    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(fx.dir, fx.dir, NULL, MS_BIND, NULL) < 0 ||
        mount(NULL, fx.dir, NULL, MS_SHARED, NULL) < 0)
        return 1;
    before = slurp("/proc/self/mountinfo");
    if (!before || !strstr(before, " shared:"))
        return 2;
    for (int i = 0; i < 2; i++)
        if (spawn_inside(&configs[i], exec_sh, "test -e /I-am-the-root", 0, NULL) != 0)
            return 3 + i;
    after = slurp("/proc/self/mountinfo");
    return after && strcmp(before, after) == 0 ? 0 : 5;
}

Test(rootfs, no_propagation_from_a_shared_host_mount)
{
    char *layers[] = {(char *)P("root"), NULL};
    struct pol_fs configs[2] = {
        root_fs(), {.layers = layers, .writable = "tmpfs", .bind_ro_paths = fx.usr_bind}};
    int status;
    pid_t pid;

    configs[0].private_tmp = true;
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(shared_host(configs));
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "shared-host step %d failed (5: a mount propagated back)", WEXITSTATUS(status));
}

Test(rootfs, root_needs_its_own_pid_namespace)
{
    struct pol_fs fs = root_fs();
    struct cg_err e = {0};

    cr_assert_eq(run_inside_flags(&fs, exec_sh, "true", RUN_NO_PIDNS, &e), -1);
    cr_assert_eq(e.error, -EPERM);
    cr_assert(strstr(e.detail, "PID namespace"), "%s", e.detail);
}

/* --- Layers and Writable ------------------------------------------------------------------ */

static void make_app_layer(void)
{
    mkdirs(P("app/etc"), 0755);
    cr_assert_eq(chmod(P("app"), 0755), 0);
    write_file(P("app/hello"), "hi\n");
    write_file(P("app/etc/app.conf"), "x=1\n");
}

Test(rootfs, layers_writable_tmpfs_vanishes_and_lower_unchanged)
{
    char *layers[] = {(char *)P("app"), (char *)P("root"), NULL};
    struct pol_fs fs = {.layers = layers, .writable = "tmpfs", .bind_ro_paths = fx.usr_bind};
    char *before_app, *before_root, *after;

    make_app_layer();
    before_app = fingerprint(P("app"));
    before_root = fingerprint(P("root"));
    sh_inside(&fs, "test \"$(cat /hello)\" = hi && test -e /I-am-the-root || exit 1\n"
                   "echo new > /newfile && mkdir /newdir && echo more >> /etc/passwd || exit 2\n"
                   "echo changed > /hello && rm /I-am-the-root /etc/app.conf || exit 3\n"
                   "test \"$(cat /newfile)\" = new && test ! -e /I-am-the-root || exit 4\n");
    /* Gone after the run: the next one starts from the layers again. */
    sh_inside(&fs, "test ! -e /newfile && test ! -e /newdir || exit 1\n"
                   "test \"$(cat /hello)\" = hi && test -e /I-am-the-root || exit 2\n"
                   "test \"$(wc -l < /etc/passwd)\" = 1 || exit 3\n");
    after = fingerprint(P("app"));
    cr_assert_str_eq(after, before_app, "the top layer changed");
    free(after);
    after = fingerprint(P("root"));
    cr_assert_str_eq(after, before_root, "the bottom layer changed");
    free(after);
    free(before_app);
    free(before_root);
}

Test(rootfs, layers_without_writable_are_read_only)
{
    char *layers[] = {(char *)P("root"), NULL};
    struct pol_fs fs = {.layers = layers, .private_tmp = true, .bind_ro_paths = fx.usr_bind};

    sh_inside(&fs, "test -e /I-am-the-root || exit 1\n"
                   "! touch /newfile 2>/dev/null || exit 2\n"
                   "touch /tmp/ok /var/tmp/ok /dev/shm/ok || exit 3\n");
    cr_assert_eq(access(P("root/newfile"), F_OK), -1);
}

Test(rootfs, writable_dir_persists_to_next_run)
{
    char *layers[] = {(char *)P("root"), NULL};
    struct pol_fs fs = {
        .layers = layers, .writable = (char *)P("state"), .bind_ro_paths = fx.usr_bind};
    char *before = fingerprint(P("root")), *after;

    mkdirs(P("state"), 0755);
    sh_inside(&fs, "test ! -e /persist && echo kept > /persist && rm /I-am-the-root");
    sh_inside(&fs, "test \"$(cat /persist)\" = kept && test ! -e /I-am-the-root");
    cr_assert_eq(access(P("state/upper/persist"), F_OK), 0, "not in Writable=DIR/upper");
    after = fingerprint(P("root"));
    cr_assert_str_eq(after, before, "the lower layer changed");
    free(after);
    free(before);
}

/* --- PrivateTmp, binds, read-only -------------------------------------------------------- */

Test(rootfs, private_tmp_hides_host_tmp)
{
    struct pol_fs fs = {.private_tmp = true};
    char script[PATH_MAX * 2];

    /* Host mode (no root): the host's tree, with a fresh /tmp and /var/tmp. fx.dir is in
     * the host's /tmp, and so is its marker. */
    snprintf(script, sizeof(script),
             "test -e /etc/passwd || exit 1\n"
             "test ! -e %s && test -z \"$(ls -A /tmp)\" && test -z \"$(ls -A /var/tmp)\" || "
             "exit 2\n"
             "echo x > /tmp/corral-inside-%d || exit 3\n",
             P("host-marker"), (int)getpid());
    sh_inside(&fs, script);
    snprintf(script, sizeof(script), "/tmp/corral-inside-%d", (int)getpid());
    cr_assert_eq(access(script, F_OK), -1, "a file written in the private /tmp reached the host");
}

Test(rootfs, private_tmp_in_a_root)
{
    struct pol_fs fs = root_fs();

    mkdirs(P("root/tmp"), 01777);
    write_file(P("root/tmp/tree-tmp-file"), "x");
    fs.private_tmp = true;
    sh_inside(&fs, "test -z \"$(ls -A /tmp)\" && touch /tmp/a /var/tmp/b");
    cr_assert_eq(access(P("root/tmp/a"), F_OK), -1);
    cr_assert_eq(access(P("root/var/tmp/b"), F_OK), -1);
}

static int bind_checks(void *p)
{
    int fd;

    (void)p;
    fd = open("/data/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EROFS)
        return 1;
    fd = open("/data/in", O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0 || errno != EROFS)
        return 2;
    fd = open("/data/sub/deep", O_RDONLY | O_CLOEXEC); /* recursive: under a submount too */
    if (fd < 0)
        return 3;
    (void)close(fd);
    fd = open("/etc/passwd", O_WRONLY | O_APPEND | O_CLOEXEC); /* ReadOnlyPaths=/etc */
    if (fd >= 0 || errno != EROFS)
        return 4;
    fd = open("/etc/hostname", O_WRONLY | O_APPEND | O_CLOEXEC); /* a file bind, under it */
    if (fd >= 0 || errno != EROFS)
        return 5;
    fd = open("/srv/rw/written", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return 6;
    (void)close(fd);
    /* Its target went through a symlink of the tree to an absolute path: resolved inside. */
    fd = open("/escape-link/box/in", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 8;
    (void)close(fd);
    if (access("/I-am-the-root", W_OK) < 0) /* the rest of the root stays writable */
        return 7;
    return 0;
}

Test(rootfs, binds_and_read_only_paths)
{
    char ro_spec[PATH_MAX], rw_spec[PATH_MAX], file_spec[PATH_MAX];
    char link_spec[PATH_MAX];
    char *ro[] = {"/usr", ro_spec, NULL}, *rw[] = {rw_spec, file_spec, link_spec, NULL};
    char *read_only[] = {"/etc", NULL};
    struct pol_fs fs = root_fs();
    int r;

    mkdirs(P("data/sub"), 0755);
    write_file(P("data/in"), "in\n");
    write_file(P("data/sub/deep"), "deep\n");
    mkdirs(P("rw"), 0755);
    write_file(P("hostname"), "box\n");
    snprintf(ro_spec, sizeof(ro_spec), "%s:/data", P("data"));
    snprintf(rw_spec, sizeof(rw_spec), "%s:/srv/rw", P("rw")); /* /srv created in the tree */
    snprintf(file_spec, sizeof(file_spec), "%s:/etc/hostname", P("hostname"));
    /* A symlink in the tree naming a host path: the bind must land inside the tree, in
     * <root><host path>, and nothing be created at the host path itself. */
    cr_assert_eq(symlink(P("outside"), P("root/escape-link")), 0);
    mkdirs(P("outside"), 0755);
    snprintf(link_spec, sizeof(link_spec), "%s%s", P("root"), P("outside"));
    mkdirs(link_spec, 0755);
    snprintf(link_spec, sizeof(link_spec), "%s:/escape-link/box", P("data"));
    fs.bind_ro_paths = ro;
    fs.bind_paths = rw;
    fs.read_only_paths = read_only;
    r = run_inside(&fs, bind_checks, NULL);
    cr_assert_eq(r, 0, "bind check %d failed", r);
    cr_assert_eq(access(P("rw/written"), F_OK), 0, "a write through BindPaths= is not on the host");
    cr_assert_eq(access(P("data/new"), F_OK), -1);
    cr_assert_eq(access(P("outside/box"), F_OK), -1, "a bind target resolved outside the tree");
}

Test(rootfs, bind_into_private_tmp_in_host_mode)
{
    char spec[PATH_MAX], script[PATH_MAX + 64];
    char *ro[] = {spec, NULL};
    struct pol_fs fs = {.private_tmp = true, .bind_ro_paths = ro};

    mkdirs(P("data"), 0755);
    write_file(P("data/in"), "in\n");
    snprintf(spec, sizeof(spec), "%s:/tmp/data", P("data"));
    snprintf(script, sizeof(script),
             "test \"$(cat /tmp/data/in)\" = in && ! touch /tmp/data/x 2>/dev/null && "
             "test ! -e %s",
             P("host-marker"));
    sh_inside(&fs, script);
}

/* --- bad input --------------------------------------------------------------------------- */

struct problems {
    size_t n;
    struct {
        char key[32], value[PATH_MAX], reason[PATH_MAX];
        int error;
    } p[16];
};

static void collect(const struct launch_fs_problem *p, void *userdata)
{
    struct problems *ps = userdata;

    cr_assert_lt(ps->n, ARRAY_SIZE(ps->p));
    snprintf(ps->p[ps->n].key, sizeof(ps->p[0].key), "%s", p->key);
    snprintf(ps->p[ps->n].value, sizeof(ps->p[0].value), "%s", p->value);
    snprintf(ps->p[ps->n].reason, sizeof(ps->p[0].reason), "%s", p->reason);
    ps->p[ps->n].error = p->error;
    ps->n++;
}

/* Checks fs and asserts exactly one problem, of that key and error. */
static void expect_one_problem(const struct pol_fs *fs, const char *key, int error)
{
    struct problems ps = {0};
    int r = launch_fs_check(fs, collect, &ps);

    cr_assert_eq(ps.n, 1, "%zu problems for %s (first: %s %s: %s)", ps.n, key,
                 ps.n ? ps.p[0].key : "", ps.n ? ps.p[0].value : "", ps.n ? ps.p[0].reason : "");
    cr_assert_str_eq(ps.p[0].key, key);
    cr_assert_eq(ps.p[0].error, error, "%s %s: %s (%d)", ps.p[0].key, ps.p[0].value, ps.p[0].reason,
                 ps.p[0].error);
    cr_assert_eq(r, error);
    cr_assert_neq(ps.p[0].reason[0], '\0');
}

Test(rootfs, check_accepts_good_configs)
{
    char *layers[] = {(char *)P("app"), (char *)P("root"), NULL};
    char *rw[] = {"/usr:/opt/usr", NULL};
    struct pol_fs fs = root_fs();
    struct problems ps = {0};

    make_app_layer();
    fs.bind_paths = rw;
    fs.private_tmp = true;
    cr_assert_eq(launch_fs_check(&fs, collect, &ps), 0, "%s: %s", ps.p[0].key, ps.p[0].reason);
    fs = (struct pol_fs){.layers = layers, .writable = (char *)P("state")};
    mkdirs(P("state"), 0755);
    cr_assert_eq(launch_fs_check(&fs, collect, &ps), 0, "%s: %s", ps.p[0].key, ps.p[0].reason);
    fs.writable = "tmpfs";
    cr_assert_eq(launch_fs_check(&fs, NULL, NULL), 0);
}

Test(rootfs, check_reports_bad_input)
{
    char *layers[] = {(char *)P("link"), NULL}, *good_layers[] = {(char *)P("root"), NULL};
    char missing[PATH_MAX], *binds[] = {missing, NULL}, *bad_spec[] = {"usr:/x", NULL};
    struct pol_fs fs;

    fs = (struct pol_fs){.root_directory = (char *)P("nope")};
    expect_one_problem(&fs, "RootDirectory", -ENOENT);
    fs = (struct pol_fs){.root_directory = (char *)P("host-marker")};
    expect_one_problem(&fs, "RootDirectory", -ENOTDIR);
    cr_assert_eq(chmod(P("root"), 0777), 0);
    fs = (struct pol_fs){.root_directory = (char *)P("root")};
    expect_one_problem(&fs, "RootDirectory", -EPERM);
    cr_assert_eq(chmod(P("root"), 0755), 0);
    fs = (struct pol_fs){.root_directory = "relative/root"};
    expect_one_problem(&fs, "RootDirectory", -EINVAL);

    /* A layer through a symlink: what it points at may change under the workload. */
    cr_assert_eq(symlink(P("root"), P("link")), 0);
    fs = (struct pol_fs){.layers = layers};
    expect_one_problem(&fs, "Layers", -ELOOP);
    fs = (struct pol_fs){.layers = good_layers, .root_directory = (char *)P("root")};
    expect_one_problem(&fs, "Layers", -EINVAL);
    fs = (struct pol_fs){.writable = "tmpfs"};
    expect_one_problem(&fs, "Writable", -EINVAL);
    fs = (struct pol_fs){.layers = good_layers, .writable = (char *)P("host-marker")};
    expect_one_problem(&fs, "Writable", -ENOTDIR);

    snprintf(missing, sizeof(missing), "%s:/data", P("no-such-source"));
    fs = (struct pol_fs){.root_directory = (char *)P("root"), .bind_paths = binds};
    expect_one_problem(&fs, "BindPaths", -ENOENT);
    fs = (struct pol_fs){.bind_ro_paths = bad_spec};
    expect_one_problem(&fs, "BindReadOnlyPaths", -EINVAL);
    /* Without a root, no mount point is made on the host. */
    snprintf(missing, sizeof(missing), "/usr:%s", P("no-such-target"));
    fs = (struct pol_fs){.bind_paths = binds};
    expect_one_problem(&fs, "BindPaths", -ENOENT);
}

Test(rootfs, overlay_support_probe)
{
    write_file(P("fs-with"), "nodev\tsysfs\nnodev\toverlay\n");
    write_file(P("fs-without"), "nodev\tsysfs\n\text4\n");
    write_file(P("dep-with"), "kernel/fs/overlayfs/overlay.ko:\n");
    cr_assert(rootfs_overlay_supported(P("fs-with"), NULL));
    cr_assert_not(rootfs_overlay_supported(P("fs-without"), NULL));
    cr_assert_not(rootfs_overlay_supported(P("fs-without"), P("fs-without")));
    cr_assert(rootfs_overlay_supported(P("fs-without"), P("dep-with")));
}

Test(rootfs, enter_failures_leave_nothing_mounted)
{
    char *layers[] = {(char *)P("link"), NULL}, spec[PATH_MAX], *binds[] = {spec, NULL};
    struct pol_fs fs = {.root_directory = (char *)P("nope")};
    struct cg_err e = {0};

    /* run_inside_flags asserts the mount table after each of these. */
    cr_assert_eq(run_inside_flags(&fs, exec_sh, "true", 0, &e), -1);
    cr_assert_eq(e.error, -ENOENT);
    cr_assert(strstr(e.detail, "RootDirectory="), "%s", e.detail);

    cr_assert_eq(symlink(P("root"), P("link")), 0);
    fs = (struct pol_fs){.layers = layers, .writable = "tmpfs"};
    cr_assert_eq(run_inside_flags(&fs, exec_sh, "true", 0, &e), -1);
    cr_assert_eq(e.error, -ELOOP, "%d %s", e.error, e.detail);

    /* Failing late, with the root, /proc, /dev and /sys mounted already: a directory
     * bound onto a file of the tree. */
    mkdirs(P("data"), 0755);
    snprintf(spec, sizeof(spec), "%s:/I-am-the-root", P("data"));
    fs = root_fs();
    fs.bind_paths = binds;
    cr_assert_eq(run_inside_flags(&fs, exec_sh, "true", 0, &e), -1);
    cr_assert_eq(e.error, -ENOTDIR, "%d %s", e.error, e.detail);
    cr_assert(strstr(e.detail, "/I-am-the-root"), "%s", e.detail);
}

Test(rootfs, free_and_wanted)
{
    struct pol_fs fs = {0};

    cr_assert_not(launch_fs_wanted(&fs));
    cr_assert_not(launch_fs_wanted(NULL));
    fs.private_tmp = true;
    cr_assert(launch_fs_wanted(&fs));
    fs.root_directory = strdup("/x");
    fs.layers = calloc(2, sizeof(char *));
    fs.layers[0] = strdup("/l");
    pol_fs_free(&fs);
    cr_assert_null(fs.root_directory);
    cr_assert_null(fs.layers);
    cr_assert_not(fs.private_tmp);
    pol_fs_free(NULL);
}

Test(rootfs, check_refuses_writable_on_overlayfs)
{
    char *layers[] = {(char *)P("root"), NULL};
    struct pol_fs fs = {.layers = layers};
    char state[] = "/var/tmp/corral-rootfs-state-XXXXXX";
    struct statfs sf;

    /* In the v2 guest (tests/vm) the root is an overlay of the host's; here it usually
     * is not, and an overlay cannot be made without a real one to test against. */
    if (statfs("/var/tmp", &sf) < 0 || (unsigned long)sf.f_type != OVERLAYFS_SUPER_MAGIC)
        cr_skip_test("/var/tmp is not on overlayfs here: nothing to refuse");
    cr_assert(mkdtemp(state), "mkdtemp: %s", strerror(errno));
    cr_assert_eq(chmod(state, 0755), 0);
    fs.writable = state;
    expect_one_problem(&fs, "Writable", -EOPNOTSUPP);
    cr_assert_eq(rmdir(state), 0);
}
