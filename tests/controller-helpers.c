/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the controllers' integration suites (test-controllers, test-controllers-usage)
 * share. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controllers/controller.h"
#include "core/fileio.h"
#include "core/txn.h"
#include "tests/controller-helpers.h"
#include "tests/helpers.h"

struct shared *shared_new(void)
{
    struct shared *s =
        mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(s, MAP_FAILED);
    memset((void *)s, 0, sizeof(*s));
    return s;
}

struct cg_group *mkgroup(const char *path)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int r = cg_group_open(th_ctx(), path, true, &g, NULL, &e);

    cr_assert_eq(r, 0, "create %s: %d %s", path, r, e.detail);
    return g;
}

void skip_unless_file(enum cg_hier h, const char *grp, const char *file)
{
    _cleanup_free_ char *got = th_kread(h, grp, file);

    if (!got)
        cr_skip_test("%s is not available on this kernel", file);
}

int apply(const struct ctl_controller *c, struct cg_group *g, const struct ctl_settings *s,
          struct cg_txn *t, struct ctl_warnings *w, struct cg_err *e)
{
    cg_txn_init(t, false);
    memset(w, 0, sizeof(*w));
    memset(e, 0, sizeof(*e));
    return c->apply(g, s, t, w, e);
}

/* Applies and commits (forgets the transaction); asserts success. */
unsigned apply_ok(const struct ctl_controller *c, struct cg_group *g, const struct ctl_settings *s)
{
    struct cg_txn t;
    struct ctl_warnings w;
    struct cg_err e;
    char buf[512];
    unsigned writes;
    int r = apply(c, g, s, &t, &w, &e);

    cr_assert_eq(r, 0, "%s apply: %s", c->name, cg_err_format(&e, buf, sizeof(buf)));
    writes = t.writes;
    cg_txn_done(&t);
    return writes;
}

bool v2(void)
{
    return cg_ctx_is_v2(th_ctx());
}

int busy(void *arg)
{
    struct shared *s = arg;
    for (;;)
        s->counter++;
    return 0;
}

int toucher(void *arg)
{
    struct shared *s = arg;
    size_t len = 32 * MiB;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return 1;
    /* Locked, so the kernel cannot reclaim it to make room for a lower limit. */
    (void)mlock(p, len);
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
    s->ready = 1;
    for (;;)
        pause();
    return 0;
}

void wait_ready(struct shared *s)
{
    for (int i = 0; i < 5000 && !s->ready && !s->counter; i++)
        usleep(1000);
    cr_assert(s->ready || s->counter, "child did not start");
}

/* Starts fn in group path and returns its pid once it runs there. */
pid_t start_in(const char *path, int (*fn)(void *), struct shared *s)
{
    _cleanup_(cg_group_freep) struct cg_group *g = mkgroup(path);
    struct cg_err e = {0};
    int rel, r;
    pid_t pid = th_fork_held(fn, s, &rel);

    r = cg_group_attach(g, pid, &e);
    if (r < 0)
        th_kill_wait(pid);
    cr_assert_eq(r, 0, "attach: %d %s", r, e.detail);
    th_release(rel);
    wait_ready(s);
    return pid;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
