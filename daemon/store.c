/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * corrald and the ledger: rows and finals are written at once when the ledger takes
 * them, else kept in the buffer (buffer.c) and written, oldest first, once it does.
 */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "daemon/daemon.h"
#include "daemon/final.h"

void corrald_ledger_open(struct corrald *d)
{
    struct cg_err e = {0};
    int r;

    if (d->ledger)
        return;
    /* A pass never waits for another writer (a lock costs at most ACCT_LEDGER_NOWAIT_MS per
     * pass; the samples stay buffered and go at a later pass); the last one, at SIGTERM,
     * waits as long as any writer does. */
    r = acct_ledger_open(d->o.p.ledger, d->stopping ? 0 : ACCT_LEDGER_NOWAIT, &d->ledger, &e);
    if (r < 0 && !d->ledger_failing) {
        corrald_log_err(&d->log, LOG_ERR, "cannot open the ledger (samples are kept in memory)", &e,
                        r);
        d->ledger_failing = true;
    }
}

static void report_drops(struct corrald *d)
{
    struct corrald_buffer *b = &d->buf;

    if (!b->dropped_samples && !b->dropped_finals)
        return;
    corrald_log(&d->log, LOG_WARNING, NULL,
                "the in-memory buffer is full (%llu bytes): dropped %llu samples and %llu final "
                "records taken between %llu and %llu (ns since the epoch); cumulative counters "
                "carry on in later samples, the memory integral over the gap is interpolated",
                (unsigned long long)b->max_bytes, (unsigned long long)b->dropped_samples,
                (unsigned long long)b->dropped_finals, (unsigned long long)b->dropped_from_ns,
                (unsigned long long)b->dropped_to_ns);
    b->dropped_samples = b->dropped_finals = b->dropped_from_ns = b->dropped_to_ns = 0;
}

/* Writes what is buffered, then smp: 0, or the first error. */
static int write_through(struct corrald *d, const struct acct_sample *smp, size_t n, bool final,
                         uint64_t start_ns, struct cg_err *e)
{
    size_t w = 0;
    int r = 0;

    if (d->buf.n > 0) {
        r = corrald_buffer_flush(&d->buf, d->ledger, &w, e);
        if (r >= 0)
            corrald_log(&d->log, LOG_NOTICE, NULL,
                        "the ledger is writable again: %zu buffered records written", w);
    }
    if (r >= 0 && n > 0 && final) {
        struct corral_final f;
        corral_final_of_sample(&smp[0], start_ns, &f);
        r = corral_final_record(d->ledger, &f, e);
    } else if (r >= 0 && n > 0) {
        r = acct_ledger_write(d->ledger, smp, n, &w, e);
    }
    if (r >= 0)
        d->samples_written += w;
    return r;
}

int corrald_store(struct corrald *d, const struct acct_sample *smp, size_t n, bool final,
                  uint64_t start_ns)
{
    struct cg_err e = {0};
    int r = -ENOENT;

    if (n == 0 && d->buf.n == 0)
        return d->ledger ? 0 : -ENOENT;
    /* Locked by another writer earlier in this pass: straight to the buffer, so a pass
     * waits for the lock once, not once per batch. */
    if (d->ledger && !d->ledger_busy) {
        r = write_through(d, smp, n, final, start_ns, &e);
        if (r >= 0) {
            d->ledger_failing = false;
            return 0;
        }
    }
    if (r == -EBUSY)
        d->ledger_busy = true;
    if (!d->ledger_failing && d->ledger && r != -ENOENT)
        corrald_log_err(&d->log, LOG_ERR, "cannot write the ledger (keeping samples in memory)", &e,
                        r);
    d->ledger_failing = true;
    if (corrald_buffer_push(&d->buf, smp, n, final, start_ns) < 0)
        corrald_log(&d->log, LOG_ERR, NULL, "out of memory: %zu samples lost", n);
    report_drops(d);
    return r;
}

int corrald_store_rows(struct corrald *d, size_t rows)
{
    int r = 0;

    if (rows == 0)
        return corrald_store(d, NULL, 0, false, 0);
    if (!d->batch) {
        d->batch = malloc(CORRALD_BATCH * sizeof(*d->batch));
        if (!d->batch)
            return -ENOMEM;
    }
    for (size_t from = 0; from < rows;) {
        size_t k = acct_sampler_rows(d->sampler, from, d->batch, CORRALD_BATCH);
        int q = corrald_store(d, d->batch, k, false, 0);
        if (q < 0 && r >= 0)
            r = q;
        from += k;
    }
    return r;
}

void corrald_store_finals(struct corrald *d)
{
    struct corrald_insts *s = &d->insts;

    for (size_t i = 0; i < s->n_due; i++) {
        const struct corrald_final *f = &s->due[i];
        const struct acct_group *g = &f->final.group;
        struct corrald_fields fl = {g->path, g->workload, g->account[0] ? g->account : g->workload};

        if (f->have_held)
            (void)corrald_store(d, &f->held, 1, false, 0);
        if (corrald_store(d, &f->final, 1, true, 0) >= 0)
            corrald_log(&d->log, LOG_INFO, &fl, "final usage of %s recorded (%.3f s CPU)", g->path,
                        f->final.usage.cpu_usage_ns == CTL_UNSET
                            ? 0.0
                            : (double)f->final.usage.cpu_usage_ns / 1e9);
    }
    s->n_due = 0;
}
