/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corrald's messages: the journal with CORRAL_* fields, or stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "daemon/daemon.h"

void corrald_log_init(struct corrald_log *l, bool foreground, bool verbose)
{
    /* Without journald (a container, an early boot, a test bed) sd_journal_send fails
     * silently: check for its socket rather than lose the messages. */
    l->journal = !foreground && access("/run/systemd/journal/socket", W_OK) == 0;
    l->verbose = verbose;
}

static const char *prio_word(int prio)
{
    switch (prio) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error: ";
    case LOG_WARNING:
        return "warning: ";
    case LOG_DEBUG:
        return "debug: ";
    default:
        return "";
    }
}

/* Adds "KEY=value" to iov when value is set. */
static size_t field(struct iovec *iov, size_t n, char *buf, size_t size, const char *key,
                    const char *value)
{
    if (!value || !value[0])
        return n;
    snprintf(buf, size, "%s=%s", key, value);
    iov[n].iov_base = buf;
    iov[n].iov_len = strlen(buf);
    return n + 1;
}

void corrald_log(const struct corrald_log *l, int prio, const struct corrald_fields *f,
                 const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (prio == LOG_DEBUG && !l->verbose)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (l->journal) {
        char m[2100], p[16], g[256], w[96], a[96];
        struct iovec iov[6];
        size_t n = 0;

        n = field(iov, n, m, sizeof(m), "MESSAGE", msg);
        snprintf(p, sizeof(p), "PRIORITY=%d", prio);
        iov[n].iov_base = p;
        iov[n].iov_len = strlen(p);
        n++;
        if (f) {
            n = field(iov, n, g, sizeof(g), "CORRAL_GROUP", f->group);
            n = field(iov, n, w, sizeof(w), "CORRAL_WORKLOAD", f->workload);
            n = field(iov, n, a, sizeof(a), "CORRAL_ACCOUNT", f->account);
        }
        iov[n].iov_base = (char *)"SYSLOG_IDENTIFIER=corrald";
        iov[n].iov_len = strlen("SYSLOG_IDENTIFIER=corrald");
        n++;
        if (sd_journal_sendv(iov, (int)n) >= 0)
            return;
    }
    if (f && f->group && f->group[0])
        fprintf(stderr, "corrald: %s%s [group=%s]\n", prio_word(prio), msg, f->group);
    else
        fprintf(stderr, "corrald: %s%s\n", prio_word(prio), msg);
}

void corrald_log_err(const struct corrald_log *l, int prio, const char *what,
                     const struct cg_err *e, int r)
{
    char buf[1024];
    struct cg_err tmp = {.error = r};

    corrald_log(l, prio, e && e->group[0] ? &(struct corrald_fields){.group = e->group} : NULL,
                "%s: %s", what, cg_err_format(e && e->error ? e : &tmp, buf, sizeof(buf)));
}
