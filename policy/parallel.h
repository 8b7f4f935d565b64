/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A loop over independent items, run on a few threads that live only for the call.
 *
 * Used where the work is many small, independent system calls that cost the same on any
 * CPU: reading and parsing the policy files, and reading the kernel's current values of
 * every workload to find which ones differ. Nothing is kept between calls and nothing is
 * shared between two calls: the counter that hands out the items lives on the caller's
 * stack. Each item's result goes where fn puts it (a slot per item, chosen by the
 * caller), so the caller can merge the results in item order afterwards and the outcome
 * does not depend on which thread ran which item.
 */

#include <stddef.h>

/* Upper bound on threads (the caller's included). */
#define POL_THREADS_MAX 8

/* Runs one item. worker is 0 (the calling thread) .. threads-1; the items of one worker
 * run one after another on one thread. */
typedef void (*pol_parallel_fn)(void *arg, size_t item, unsigned worker);

/*
 * Calls fn(arg, i, worker) once for each i in [0, n), on up to `threads` threads: the
 * caller and threads-1 new ones (0 or 1: the caller alone; capped at POL_THREADS_MAX).
 * Items are handed out `chunk` at a time (at least 1). The new threads start with every
 * signal blocked, so signals keep going to the caller's threads. fn must close what it
 * opens, and the caller must not open or close descriptors fn uses while the loop runs.
 * If a thread cannot be started, the ones running (at least the caller) do all the
 * items. Returns when every item is done and every thread has ended; everything fn wrote
 * is then visible to the caller. Returns the number of threads that ran items (the caller
 * included).
 */
unsigned pol_parallel_for(size_t n, unsigned threads, size_t chunk, pol_parallel_fn fn, void *arg);

/*
 * How many threads pol_parallel_for should use for n items when one thread is worth it
 * only from `min_per_thread` items on: requested when not 0 (capped at POL_THREADS_MAX),
 * otherwise one per online CPU, at most POL_THREADS_MAX, and no more than
 * n / min_per_thread (at least 1).
 */
unsigned pol_parallel_threads(size_t n, unsigned requested, size_t min_per_thread);
