/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "core/cgroup.h"
#include "core/lock.h"
#include "core/roots.h"

static void vmsg(const struct cli *cli, const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", cli && cli->prog ? cli->prog : "corral", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(cli, "", fmt, ap);
    va_end(ap);
}

void cli_warn(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(cli, "warning: ", fmt, ap);
    va_end(ap);
}

void cli_error_ctx(const struct cli *cli, const char *prefix, const struct cg_err *e, int r)
{
    char buf[1024];
    struct cg_err tmp = {0};

    if (!e || e->error == 0) {
        tmp.error = r;
        e = &tmp;
    }
    cli_error(cli, "%s%s%s", prefix ? prefix : "", prefix ? ": " : "",
              cg_err_format(e, buf, sizeof(buf)));
}

void cli_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A root the rules of core/roots.h refuse (exit 1: the input), or a system error. */
static int root_refused(const struct cli *cli, const char *verb, const struct cg_err *e, int r)
{
    if (r != -EEXIST && r != -ENOTEMPTY) {
        cli_error_ctx(cli, verb, e, r);
        return EXIT_SYSTEM;
    }
    cli_error(cli, "%s: %s", verb, e->detail);
    return EXIT_INVALID;
}

int cli_open_target(const struct cli *cli, const char *verb, const char *target,
                    struct cg_ctx **ret_ctx, char **ret_path)
{
    struct cg_err e = {0};
    int r;

    r = corral_ctx_open(&cli->p, ret_ctx, &e);
    if (r < 0) {
        cli_error_ctx(cli, verb, &e, r);
        /* a malformed --root is the caller's input; anything else is the system's */
        return r == -EINVAL || r == -ENAMETOOLONG ? EXIT_INVALID : EXIT_SYSTEM;
    }
    /* A root inside or around another is refused by every command (core/roots.h). */
    r = cg_root_check(*ret_ctx, &e);
    if (r < 0)
        return root_refused(cli, verb, &e, r);
    if (!target)
        return EXIT_OK;
    r = cg_resolve_target(*ret_ctx, target, ret_path, &e);
    if (r < 0) {
        cli_error_ctx(cli, verb, &e, r);
        return corral_exit_code(r);
    }
    return EXIT_OK;
}

static void say_holder(const struct cli *cli, const char *verb, const struct cg_ctx *ctx,
                       const struct cg_lock_holder *h, const char *how)
{
    cli_error(cli, "%s: %s the lock of root '%s', held by pid %d (%s)", verb, how, ctx->root_arg,
              (int)h->pid, h->what[0] ? h->what : "it did not say what it is");
}

int cli_lock_root(const struct cli *cli, struct cg_ctx *ctx, const char *verb, struct cg_lock **ret)
{
    _cleanup_(cg_lock_releasep) struct cg_lock *l = NULL;
    _cleanup_free_ char *who = NULL;
    struct cg_lock_holder h = {0};
    struct cg_err e = {0};
    char how[64];
    int r;

    if (asprintf(&who, "%s %s", cli->prog, verb) < 0)
        return EXIT_SYSTEM;
    /* One attempt first, so a wait is announced: the command is not hung. */
    r = cg_root_lock(ctx, who, 0, &l, &h, &e);
    if (r == -ETIMEDOUT && cli->p.lock_timeout_usec > 0) {
        snprintf(how, sizeof(how), "waiting up to %.3g s for",
                 (double)cli->p.lock_timeout_usec / 1e6);
        say_holder(cli, verb, ctx, &h, how);
        r = cg_root_lock(ctx, who, cli->p.lock_timeout_usec, &l, &h, &e);
    }
    if (r == -EBUSY) {
        /* Until corral can ask the daemon, a root it owns is not changed directly. */
        cli_error(cli,
                  "%s: root '%s' is owned by the daemon, %s (pid %d), which holds its lock for as "
                  "long as it runs and applies its own policy directory; stop it to change the "
                  "tree directly",
                  verb, ctx->root_arg, h.what, (int)h.pid);
        return EXIT_SYSTEM;
    }
    if (r == -ETIMEDOUT) {
        if (cli->p.lock_timeout_usec == 0)
            snprintf(how, sizeof(how), "--lock-timeout 0: cannot take");
        else
            snprintf(how, sizeof(how), "gave up after %.3g s waiting for",
                     (double)cli->p.lock_timeout_usec / 1e6);
        say_holder(cli, verb, ctx, &h, how);
        return EXIT_SYSTEM;
    }
    if (r < 0) {
        cli_error_ctx(cli, verb, &e, r);
        return EXIT_SYSTEM;
    }
    r = cg_root_claim(ctx, &e);
    if (r < 0)
        return root_refused(cli, verb, &e, r);
    *ret = TAKE_PTR(l);
    return EXIT_OK;
}
