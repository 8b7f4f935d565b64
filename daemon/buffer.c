/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the ledger could not take yet (locked, read-only, disk full), kept in time order
 * and written oldest first once it can, so the delta rule sees the samples in the order
 * they were taken.
 *
 * Beyond the bound the oldest sample passes go first. Dropping a pass of cumulative
 * counters loses no CPU time, OOM kills or throttling: the next sample that is written
 * carries them (delta.h). What is lost is resolution: the memory integral over the gap is
 * a straight line between the samples either side, peaks in between are not seen, and
 * hour rollups put the gap's usage in the hour of the next sample. Final records go only
 * when nothing else is left to drop; each one dropped is counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/final.h"

void corrald_buffer_init(struct corrald_buffer *b, uint64_t max_bytes)
{
    memset(b, 0, sizeof(*b));
    b->max_bytes = max_bytes;
}

static struct corrald_item *item(struct corrald_buffer *b, size_t i)
{
    return &b->items[(b->head + i) % b->cap];
}

static void item_free(struct corrald_buffer *b, struct corrald_item *it)
{
    b->bytes -= it->n * sizeof(*it->smp);
    free(it->smp);
    it->smp = NULL;
}

/* Removes the oldest item, or the oldest final when sample passes are gone. */
static void drop_one(struct corrald_buffer *b)
{
    size_t victim = 0;
    struct corrald_item *it;

    for (size_t i = 0; i < b->n; i++)
        if (!item(b, i)->final) {
            victim = i;
            break;
        }
    it = item(b, victim);
    if (it->final)
        b->dropped_finals++;
    else
        b->dropped_samples += it->n;
    if (it->n > 0) {
        uint64_t t = it->smp[0].t_ns;
        if (!b->dropped_from_ns || t < b->dropped_from_ns)
            b->dropped_from_ns = t;
        if (it->smp[it->n - 1].t_ns > b->dropped_to_ns)
            b->dropped_to_ns = it->smp[it->n - 1].t_ns;
    }
    item_free(b, it);
    /* close the gap: shift the younger items one place toward the head */
    for (size_t i = victim; i > 0; i--)
        *item(b, i) = *item(b, i - 1);
    b->head = (b->head + 1) % b->cap;
    b->n--;
}

int corrald_buffer_push(struct corrald_buffer *b, const struct acct_sample *smp, size_t n,
                        bool final, uint64_t start_ns)
{
    struct corrald_item it = {.final = final, .n = n, .start_ns = start_ns};
    uint64_t size = n * sizeof(*smp);

    if (n == 0)
        return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct corrald_item *items = calloc(cap, sizeof(*items));
        if (!items)
            return -ENOMEM;
        for (size_t i = 0; i < b->n; i++)
            items[i] = *item(b, i);
        free(b->items);
        b->items = items;
        b->cap = cap;
        b->head = 0;
    }
    while (b->n > 0 && b->bytes + size > b->max_bytes)
        drop_one(b);
    if (size > b->max_bytes) {
        /* one pass alone is larger than the bound: count it as dropped */
        b->dropped_samples += final ? 0 : n;
        b->dropped_finals += final ? 1 : 0;
        return 0;
    }
    it.smp = malloc(size);
    if (!it.smp)
        return -ENOMEM;
    memcpy(it.smp, smp, size);
    *item(b, b->n) = it;
    b->n++;
    b->bytes += size;
    return 0;
}

int corrald_buffer_flush(struct corrald_buffer *b, struct acct_ledger *l, size_t *ret_n,
                         struct cg_err *e)
{
    size_t total = 0;
    int r = 0;

    while (b->n > 0) {
        struct corrald_item *it = item(b, 0);
        size_t w = 0;

        if (it->final) {
            struct corral_final f;
            corral_final_of_sample(&it->smp[0], it->start_ns, &f);
            r = corral_final_record(l, &f, e);
            w = 1;
        } else {
            r = acct_ledger_write(l, it->smp, it->n, &w, e);
        }
        if (r < 0)
            break;
        total += w;
        item_free(b, it);
        b->head = (b->head + 1) % b->cap;
        b->n--;
    }
    if (ret_n)
        *ret_n = total;
    return r;
}

void corrald_buffer_done(struct corrald_buffer *b)
{
    while (b->n > 0) {
        item_free(b, item(b, 0));
        b->head = (b->head + 1) % b->cap;
        b->n--;
    }
    free(b->items);
    b->items = NULL;
    b->cap = 0;
}

size_t corrald_buffer_samples(const struct corrald_buffer *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n; i++)
        n += b->items[(b->head + i) % b->cap].n;
    return n;
}
