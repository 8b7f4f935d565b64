/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corrald and the root's one-writer lock: taken at start, held until it exits. */
#include <errno.h>
#include <syslog.h>

#include "daemon/daemon.h"
#include "core/lock.h"
#include "core/roots.h"

int corrald_lock_root(struct corrald *d)
{
    struct cg_lock_holder h = {0};
    struct cg_err e = {0};
    char buf[1024];
    int r;

    r = cg_root_lock(d->ctx, CG_LOCK_DAEMON, 0, &d->lock, &h, &e);
    if (r == -ETIMEDOUT && d->o.p.lock_timeout_usec > 0) {
        corrald_log(&d->log, LOG_INFO, NULL,
                    "waiting up to %.3g s for the lock of root '%s', held by pid %d (%s)",
                    (double)d->o.p.lock_timeout_usec / 1e6, d->ctx->root_arg, (int)h.pid, h.what);
        r = cg_root_lock(d->ctx, CG_LOCK_DAEMON, d->o.p.lock_timeout_usec, &d->lock, &h, &e);
    }
    if (r >= 0)
        r = cg_root_claim(d->ctx, &e);
    if (r < 0) {
        corrald_log(&d->log, LOG_ERR, NULL, "root '%s': %s", d->ctx->root_arg,
                    cg_err_format(&e, buf, sizeof(buf)));
        return r;
    }
    corrald_log(&d->log, LOG_DEBUG, NULL, "holding the lock of root '%s'", d->ctx->root_arg);
    return 0;
}
