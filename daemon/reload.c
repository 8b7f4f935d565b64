/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading corral.conf and the policy directory and applying them, at the start, at SIGHUP
 * and (debounced, so an editor's write-rename-chmod sequence gives one apply) when the
 * directory changes. An invalid set changes nothing that runs.
 */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "core/txn.h"
#include "daemon/daemon.h"
#include "policy/apply.h"

static int reload_later(sd_event_source *s, uint64_t usec, void *userdata)
{
    (void)corrald_reload(userdata, "policy directory changed");
    return 0;
}

void corrald_schedule_reload(struct corrald *d)
{
    if (d->debounce) {
        (void)sd_event_source_set_time_relative(d->debounce, CORRALD_DEBOUNCE_USEC);
        (void)sd_event_source_set_enabled(d->debounce, SD_EVENT_ONESHOT);
        return;
    }
    if (sd_event_add_time_relative(d->ev, &d->debounce, CLOCK_MONOTONIC, CORRALD_DEBOUNCE_USEC,
                                   10000, reload_later, d) < 0)
        (void)corrald_reload(d, "policy directory changed");
}

void corrald_watch_policy(struct corrald *d)
{
    int r = corrald_watch_policy_dir(&d->watches);

    if (r < 0) {
        corrald_log(&d->log, LOG_DEBUG, NULL, "cannot watch %s: %s (retrying every pass)",
                    d->o.p.policy_dir, strerror(-r));
    } else if (r > 0) {
        corrald_log(&d->log, LOG_INFO, NULL, "watching %s again", d->o.p.policy_dir);
        corrald_schedule_reload(d);
    }
}

static void apply_done(struct corrald *d, const struct cg_txn *t, const struct pol_set *set,
                       const char *why)
{
    unsigned mk = 0, set_n = 0, rm = 0;

    for (size_t i = 0; i < t->n; i++) {
        mk += t->e[i].kind == CG_TXN_MKDIR;
        set_n += t->e[i].kind == CG_TXN_WRITE;
        rm += t->e[i].kind == CG_TXN_RMDIR;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].kind == CG_TXN_WRITE)
            corrald_log(&d->log, LOG_DEBUG, &(struct corrald_fields){.group = t->e[i].group},
                        "%s: %s -> %s", t->e[i].file, t->e[i].old_value, t->e[i].new_value);
    corrald_log(&d->log, t->n ? LOG_NOTICE : LOG_INFO, NULL,
                "policies applied (%s): %zu workloads, %u groups created, %u values set, %u "
                "groups removed",
                why, set->n, mk, set_n, rm);
}

/* corral.conf and the policies, every problem logged: 0, or < 0 with nothing to apply. */
static int load(struct corrald *d, const char *why, struct pol_config *cfg, struct pol_set *set)
{
    struct pol_diags diags = {0}, skipped = {0};
    char buf[1024];
    int r;

    /* What is not a regular file in the directory is skipped (and said), not waited on. */
    diags.skipped = &skipped;
    r = corral_load_policies(&d->o.p, NULL, 0, cfg, set, &diags);
    for (size_t i = 0; i < skipped.n; i++)
        corrald_log(&d->log, LOG_WARNING, NULL, "skipped: %s",
                    pol_diag_format(&skipped.d[i], buf, sizeof(buf)));
    if (r >= 0 && diags.n > 0) {
        for (size_t i = 0; i < diags.n; i++)
            corrald_log(&d->log, LOG_ERR, NULL, "%s",
                        pol_diag_format(&diags.d[i], buf, sizeof(buf)));
        corrald_log(&d->log, LOG_ERR, NULL,
                    "%zu problem%s in corral.conf or the policies (%s): nothing was applied, "
                    "the running state is unchanged",
                    diags.n, diags.n == 1 ? "" : "s", why);
        r = -EINVAL;
    } else if (r < 0) {
        corrald_log_err(&d->log, LOG_ERR, "cannot load the policies", NULL, r);
    }
    pol_diags_free(&diags);
    pol_diags_free(&skipped);
    return r;
}

/* Applies cfg and set (prune), every warning and result logged. */
static int apply(struct corrald *d, const char *why, const struct pol_config *cfg,
                 const struct pol_set *set)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    int r;

    cg_txn_init(&t, false);
    r = pol_apply(d->ctx, cfg, set, true, &t, &res, &e);
    for (size_t i = 0; i < res.n_warnings; i++)
        corrald_log(&d->log, LOG_WARNING, &(struct corrald_fields){.group = res.warnings[i].group},
                    "%s: %s: %s", res.warnings[i].group, res.warnings[i].key, res.warnings[i].msg);
    if (r < 0) {
        corrald_log_err(&d->log, LOG_ERR, "apply failed; every change was rolled back", &e, r);
    } else {
        apply_done(d, &t, set, why);
        for (size_t i = 0; i < res.n_busy; i++)
            corrald_log(&d->log, LOG_WARNING, &(struct corrald_fields){.group = res.busy[i]},
                        "%s: no policy names it, but processes live in it: kept", res.busy[i]);
    }
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    return r;
}

/* The applied set becomes the running one; a new interval takes effect at once. */
static void adopt(struct corrald *d, struct pol_config *cfg, struct pol_set *set)
{
    uint64_t now = 0;

    pol_set_free(&d->set);
    pol_config_free(&d->cfg);
    d->set = *set;
    d->cfg = *cfg;
    *set = (struct pol_set){0};
    *cfg = (struct pol_config){0};
    d->have_set = true;
    d->insts.set = &d->set;
    d->tree_dirty = true;
    if (!d->cfg.interval_usec || d->cfg.interval_usec == d->interval_usec)
        return;
    d->interval_usec = d->cfg.interval_usec;
    corrald_log(&d->log, LOG_INFO, NULL, "sampling every %.1f s", (double)d->interval_usec / 1e6);
    if (d->timer && sd_event_now(d->ev, CLOCK_MONOTONIC, &now) >= 0)
        (void)sd_event_source_set_time(d->timer, now + d->interval_usec);
}

int corrald_reload(struct corrald *d, const char *why)
{
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    int r;

    corrald_watch_policy(d);
    r = load(d, why, &cfg, &set);
    if (r >= 0) {
        /* A prune removes empty instances of workloads no policy names: read them first. */
        corrald_insts_sweep(&d->insts);
        corrald_store_finals(d);
        r = apply(d, why, &cfg, &set);
    }
    if (r >= 0)
        adopt(d, &cfg, &set);
    pol_set_free(&set);
    pol_config_free(&cfg);
    return r;
}
