/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "accounting/delta.h"

static int known(uint64_t v)
{
    return v != CTL_UNSET && v != CTL_MAX;
}

uint64_t acct_counter_step(uint64_t *cum, uint64_t cur)
{
    uint64_t prev = *cum, d;

    if (cur == CTL_UNSET || cur == CTL_MAX)
        return 0;
    if (cur >= prev) {
        d = cur - prev;
        *cum = cur;
        return d;
    }
    if (prev - cur <= prev / 64)
        return 0;
    *cum = cur;
    return cur;
}

/* limit per second x wall, or used when there is no limit; all in the used unit. */
static uint64_t reserved(uint64_t limit, uint64_t scale, uint64_t wall_ns, uint64_t used)
{
    unsigned __int128 r;

    if (!known(limit))
        return used;
    r = (unsigned __int128)limit * wall_ns / scale;
    if (r > UINT64_MAX / 2)
        r = UINT64_MAX / 2;
    return (uint64_t)r > used ? (uint64_t)r : used;
}

/* CPU (rule 2b): the total (usage, precise) drives the reset/jitter rule; the user/system
 * split, which the kernel estimates from ticks, is scaled to the total and kept monotonic
 * the way the kernel's cputime_adjust() does, so user + system deltas always add up to
 * the total's delta. */
static void cpu_step(struct acct_state *s, const struct ctl_usage *u, struct acct_delta *d)
{
    uint64_t T = u->cpu_usage_ns, uu = u->cpu_user_ns, ss = u->cpu_system_ns;
    uint64_t U = s->cpu_user_ns, S = s->cpu_system_ns, tot = U + S, nu, ns;

    if (!known(uu) || !known(ss)) {
        if (!known(T))
            return;
        uu = T;
        ss = 0;
    }
    if (!known(T))
        T = uu + ss;
    if (uu + ss != T) {
        nu = uu + ss ? (uint64_t)((unsigned __int128)T * uu / (uu + ss)) : T;
        uu = nu;
        ss = T - nu;
    }
    (void)acct_counter_step(&tot, T);
    if (tot != T) /* jitter: hold */
        return;
    if (T < U + S) { /* reset: counted from zero */
        s->cpu_user_ns = d->cpu_user_ns = uu;
        s->cpu_system_ns = d->cpu_system_ns = ss;
        return;
    }
    nu = uu > U ? uu : U;
    ns = T - nu;
    if (ns < S) {
        ns = S;
        nu = T - ns;
    }
    d->cpu_user_ns = nu - U;
    d->cpu_system_ns = ns - S;
    s->cpu_user_ns = nu;
    s->cpu_system_ns = ns;
}

void acct_delta_step(const struct acct_state *prev, uint64_t start_ns, uint64_t t_ns,
                     const struct ctl_usage *u, uint64_t cpu_limit_ucores, uint64_t mem_limit,
                     struct acct_state *ret_state, struct acct_delta *ret_delta)
{
    struct acct_state s = {0};
    struct acct_delta d = {0};
    uint64_t t0 = 0, m0 = CTL_UNSET, f0 = CTL_UNSET;

    if (prev) {
        s = *prev;
        t0 = prev->t_ns;
        m0 = prev->mem_current;
        f0 = prev->frozen;
    } else if (start_ns > 0 && start_ns <= t_ns) {
        t0 = start_ns;
        m0 = 0;
        f0 = 0;
    }
    s.t_ns = t_ns;
    cpu_step(&s, u, &d);
    d.oom_kills = acct_counter_step(&s.oom_kills, u->mem_oom_kills);
    d.throttled_ns = acct_counter_step(&s.throttled_ns, u->cpu_throttled_ns);
    s.mem_current = known(u->mem_current) ? u->mem_current : CTL_UNSET;
    s.frozen = known(u->frozen) ? u->frozen : CTL_UNSET;

    if (t0 > 0 && t_ns > t0) {
        uint64_t dt = t_ns - t0;

        d.wall_ns = dt;
        if (known(m0) && known(s.mem_current)) {
            unsigned __int128 twice = ((unsigned __int128)m0 + s.mem_current) * dt;
            /* (m0 + m1) / 2 x dt_ns / 1e9, rounded half up */
            d.mem_bs = (uint64_t)((twice + 1000000000) / 2000000000);
        }
        if (known(f0) && known(s.frozen))
            d.frozen_ns = (f0 && s.frozen) ? dt : (f0 || s.frozen) ? dt / 2 : 0;
    }
    s.mem_integral_bs += d.mem_bs;
    d.cpu_reserved_ns =
        reserved(cpu_limit_ucores, 1000000, d.wall_ns, d.cpu_user_ns + d.cpu_system_ns);
    d.mem_reserved_bs = reserved(mem_limit, 1000000000, d.wall_ns, d.mem_bs);
    *ret_state = s;
    *ret_delta = d;
}

bool acct_row_admit(const struct acct_state *prev, bool prev_final, bool final, uint64_t *t_ns)
{
    if (!prev)
        return true;
    if (prev_final)
        return false;
    if (prev->t_ns >= *t_ns) {
        if (!final)
            return false;
        *t_ns = prev->t_ns + 1;
    }
    return true;
}
