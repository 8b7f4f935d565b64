/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "core/cgroup.h"

int cli_exit_code(int r)
{
    switch (r) {
    case 0:
        return EXIT_OK;
    case -EINVAL:
    case -ENAMETOOLONG:
    case -ERANGE:
    case -ENOENT:
    case -ESRCH:
        return EXIT_INVALID;
    case -ETIMEDOUT:
        return EXIT_TIMEOUT;
    default:
        return EXIT_SYSTEM;
    }
}

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

int cli_open_target(const struct cli *cli, const char *verb, const char *target,
                    struct cg_ctx **ret_ctx, char **ret_path)
{
    struct cg_err e = {0};
    int r;

    r = cg_ctx_new(cli->root, ret_ctx, &e);
    if (r < 0) {
        cli_error_ctx(cli, verb, &e, r);
        /* a malformed --root is the caller's input; anything else is the system's */
        return r == -EINVAL || r == -ENAMETOOLONG ? EXIT_INVALID : EXIT_SYSTEM;
    }
    if (!target)
        return EXIT_OK;
    r = cg_resolve_target(*ret_ctx, target, ret_path, &e);
    if (r < 0) {
        cli_error_ctx(cli, verb, &e, r);
        return cli_exit_code(r);
    }
    return EXIT_OK;
}
