/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * corral run --policy NAME [--name INSTANCE] [--] CMD [ARGS...]
 *
 * Exit status: CMD's own, or 128+signal; 127 when CMD is not found and 126 when it cannot
 * be executed (as a shell); otherwise corral's codes: 1 unknown or invalid policy, unknown
 * user/group, invalid or existing instance name; 2 usage; 3 system errors, including a
 * namespace the kernel refuses and a frozen workload (thaw it first).
 *
 * CORRAL_LAUNCH_FALLBACK=1 forces the parent-writes-pid placement on cgroup v2 (tests).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "accounting/ledger.h"
#include "cli/cli.h"
#include "cli/hooks.h"
#include "cli/policy-fs.h"
#include "core/lock.h"
#include "daemon/final.h"
#include "launcher/launcher.h"
#include "policy/apply.h"

static void usage(FILE *f)
{
    fputs("Usage: corral run --policy NAME [--name INSTANCE] [--] CMD [ARGS...]\n"
          "\n"
          "Run CMD in a new instance of the workload NAME: in the namespaces its policy\n"
          "lists, inside its cgroup from the first instruction, as its user. The instance\n"
          "group is INSTANCE itself, so status shows it and freeze, thaw and remove take\n"
          "it as NAME/INSTANCE or CLASS/NAME/INSTANCE. When CMD exits, whatever it left\n"
          "running in the instance is killed and the instance is removed. Exits with\n"
          "CMD's status (128+N if killed by signal N).\n"
          "\n"
          "An instance removed while it runs (corral remove --kill NAME/INSTANCE) is\n"
          "reported as such (\"the instance was removed while it ran; the workload was\n"
          "killed by SIGKILL\", exit 137); remove recorded its final usage.\n"
          "\n"
          "  -p, --policy NAME      the workload (NAME.policy in the policy dir)\n"
          "  -n, --name INSTANCE    the instance's name, [a-z0-9_-]{1,64}; one that exists\n"
          "                         is refused (exit 1). Default: run-<corral's pid>\n"
          "  -v, --verbose          print the instance's final usage on stderr\n"
          "  -h, --help             this help\n",
          f);
}

static void print_u64(const char *k, uint64_t v)
{
    if (v == CTL_UNSET)
        fprintf(stderr, " %s=?", k);
    else
        fprintf(stderr, " %s=%" PRIu64, k, v);
}

static void print_usage(const struct launch_result *res)
{
    const struct ctl_usage *u = &res->usage;

    fprintf(stderr, "corral: instance %s: exit=%d wall_us=%" PRIu64 " placement=%s", res->group,
            res->exit_code, res->wall_usec, res->into_cgroup ? "clone3" : "fallback");
    print_u64("cpu_ns", u->cpu_usage_ns);
    print_u64("cpu_user_ns", u->cpu_user_ns);
    print_u64("cpu_system_ns", u->cpu_system_ns);
    print_u64("mem_peak", u->mem_peak);
    print_u64("oom_kills", u->mem_oom_kills);
    print_u64("pids_peak", u->pids_peak);
    fputc('\n', stderr);
}

/* An instance that `corral remove --kill` ended while CMD ran: remove recorded its final
 * usage; say what became of the workload. */
static void report_removed(struct cli *cli, const struct launch_result *res)
{
    const char *name = strchr(res->group, '/'); /* CLASS/WORKLOAD/INSTANCE */
    int st = res->wait_status;

    name = name ? name + 1 : res->group;
    if (WIFSIGNALED(st))
        cli_error(cli,
                  "%s: the instance was removed while it ran; the workload was killed by SIG%s",
                  name, sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
    else
        cli_error(cli,
                  "%s: the instance was removed while it ran; the workload exited with "
                  "status %d",
                  name, WEXITSTATUS(st));
}

/* What `corral run` exits with once CMD's child has ended (also for the ledger). */
static int run_status(const struct launch_result *res)
{
    if (res->failed == LAUNCH_STAGE_NONE || res->failed == LAUNCH_STAGE_EXEC)
        return res->exit_code;
    if (res->failed == LAUNCH_STAGE_CHDIR &&
        (res->failed_errno == ENOENT || res->failed_errno == ENOTDIR ||
         res->failed_errno == EACCES))
        return EXIT_INVALID;
    return EXIT_SYSTEM;
}

/* A failure before CMD ran, reported by the child. */
static int child_failure(struct cli *cli, const struct launch_result *res, const char *cmd)
{
    const char *why = strerror(res->failed_errno);

    if (res->failed == LAUNCH_STAGE_EXEC) {
        if (res->exit_code == LAUNCH_EXIT_NOTFOUND)
            cli_error(cli, "%s: command not found", cmd);
        else
            cli_error(cli, "%s: cannot execute: %s", cmd, why);
        return run_status(res);
    }
    if (res->failed_detail[0])
        cli_error(cli, "cannot start %s: %s failed: %s: %s", cmd,
                  launch_stage_to_string(res->failed), res->failed_detail, why);
    else
        cli_error(cli, "cannot start %s: %s failed: %s", cmd, launch_stage_to_string(res->failed),
                  why);
    return run_status(res);
}

/* The named workload's policy: NAME.policy in the policy dir when that file exists (the
 * common case, and what keeps `run` fast), else the whole dir searched for Name=NAME. The
 * policies are validated exactly as `corral check` does. */
static int load_policy(struct cli *cli, const char *name, struct pol_config *cfg,
                       struct pol_set *set, const struct pol_policy **ret)
{
    struct pol_diags d = {0};
    _cleanup_free_ char *file = NULL;
    int r;

    if (asprintf(&file, "%s/%s.policy", cli->p.policy_dir, name) < 0)
        return -ENOMEM;
    r = cli_load_workload(cli, name, cfg, set, &d);
    if (r >= 0 && d.n > 0)
        r = -EINVAL;
    pol_diags_free(&d);
    if (r < 0)
        return r;
    *ret = pol_set_find(set, name);
    if (!*ret) {
        cli_error(cli, "run: unknown policy '%s' (no %s, and no policy in %s has Name=%s)", name,
                  file, cli->p.policy_dir, name);
        return -ENOENT;
    }
    return 0;
}

/* Makes <class>/<workload> match the one policy (as `corral apply FILE` does: the class
 * group with its weight, the workload group with its limits; nothing is written when they
 * match already) and opens the workload group. */
static int ensure_workload(struct cli *cli, struct cg_ctx *ctx, const struct pol_config *cfg,
                           const struct pol_policy *p, struct cg_group **ret, struct cg_err *e)
{
    struct pol_set one = {.n = 1, .p = (struct pol_policy *)p};
    struct pol_apply_result res = {0};
    char path[2 * 65 + 2];
    struct cg_txn t;
    int r;

    cg_txn_init(&t, false);
    r = pol_apply(ctx, cfg, &one, false, &t, &res, e);
    cg_txn_done(&t);
    /* check, apply and status show these; run repeats them only when asked (--verbose). */
    for (size_t i = 0; cli->verbose && i < res.n_warnings; i++)
        cli_warn(cli, "%s: %s: %s", res.warnings[i].group, res.warnings[i].key,
                 res.warnings[i].msg);
    pol_apply_result_free(&res);
    if (r < 0)
        return r;
    snprintf(path, sizeof(path), "%s/%s", p->class_name, p->name);
    return cg_group_open(ctx, path, false, ret, NULL, e);
}

/* launch_run_open's callback: ensure_workload, possibly in a second thread (launcher.h). */
struct workload_ctx {
    struct cli *cli;
    struct cg_ctx *ctx;
    const struct pol_config *cfg;
    const struct pol_policy *policy;
    bool failed;
};

static int open_workload(void *userdata, struct cg_group **ret, struct cg_err *e)
{
    struct workload_ctx *w = userdata;
    int r = ensure_workload(w->cli, w->ctx, w->cfg, w->policy, ret, e);

    w->failed = r < 0;
    return r;
}

/*
 * The instance's final usage goes to the ledger before its group is removed: it is read
 * from the group, and the group's identity too, before launch_run removes it. The commit
 * (a sync of the WAL, and of its directory on a handle's first commit) then runs in a
 * thread while the main one removes the instance's directories; corral exits once both
 * are done. A ledger that cannot be written is reported; the workload's own outcome stands.
 */
struct final_ctx {
    struct cli *cli;
    const struct pol_policy *policy;
    struct acct_ledger *ledger; /* opened by `opener` while the rest goes on */
    int ledger_error;           /* 0 open, or the error */
    struct cg_err ledger_err;
    pthread_t opener;
    bool opening;
    /* the record, written by `writer` */
    bool group_read;
    struct corral_final rec;
    pthread_t writer;
    bool writing;
    int write_error;
    struct cg_err write_err;
    /* The root's lock: held while the instance is made and the child placed, let go while
     * CMD runs, taken again to record and remove the instance. */
    struct cg_lock *lock;
};

/* Opening the ledger (SQLite reads its schema and prepares its statements) costs about as
 * much as starting a short CMD. It runs in a thread of its own from the start, beside the
 * namespaces' creation and CMD's run: a main thread that did it once the child is cloned
 * kept the child waiting for the CPU. An error is reported after the workload, with its
 * record. */
/* corral's own threads take no signal: the workload's are the main thread's to forward
 * (launch_run blocks them there and reads them from a signalfd), and one taken here
 * would end corral with the instance still standing. */
static void block_signals(void)
{
    sigset_t all;

    sigfillset(&all);
    (void)pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void *open_ledger(void *userdata)
{
    struct final_ctx *f = userdata;

    block_signals();
    f->ledger_error =
        corral_ledger_open(&f->cli->p, ACCT_LEDGER_SHORT_LIVED, &f->ledger, &f->ledger_err);
    return NULL;
}

static void ledger_start(struct final_ctx *f)
{
    if (pthread_create(&f->opener, NULL, open_ledger, f) == 0)
        f->opening = true;
    else
        (void)open_ledger(f);
}

static void ledger_wait(struct final_ctx *f)
{
    if (f->opening)
        (void)pthread_join(f->opener, NULL);
    f->opening = false;
}

/* While CMD runs: what the ledger knows the instance by (names, generation, the
 * workload's limits) does not change while it runs, so it is read here rather than
 * between the exit and corral's own. */
static void instance_started(void *userdata, struct cg_group *instance)
{
    struct final_ctx *f = userdata;

    cg_lock_release(TAKE_PTR(f->lock));
    /* quietly: record_final tries again, and says why if it fails there too */
    f->group_read =
        cli_final_group(f->cli, instance, f->policy->account[0] ? f->policy->account : NULL, true,
                        &f->rec.group) == 0;
}

static void *write_final(void *userdata)
{
    struct final_ctx *f = userdata;
    _cleanup_free_ char *policy = NULL;

    block_signals();
    policy = realpath(f->policy->file, NULL);
    f->rec.end.policy = policy ? policy : f->policy->file;
    f->write_error = corral_final_record(f->ledger, &f->rec, &f->write_err);
    return NULL;
}

static int record_final(void *userdata, struct cg_group *instance, const struct launch_result *res)
{
    struct final_ctx *f = userdata;
    int r;

    if (cli_lock_root(f->cli, cg_group_ctx(instance), "run", &f->lock) != EXIT_OK)
        cli_warn(f->cli, "run: recording and removing instance '%s' without the lock",
                 cg_group_path(instance));
    ledger_wait(f);
    if (f->ledger_error < 0) {
        cli_error_ctx(f->cli, "ledger", &f->ledger_err, f->ledger_error);
        return f->ledger_error;
    }
    if (!f->group_read) {
        r = cli_final_group(f->cli, instance, f->policy->account[0] ? f->policy->account : NULL,
                            false, &f->rec.group);
        if (r < 0)
            return r;
    }
    f->rec.usage = res->usage;
    f->rec.end = (struct acct_final){
        .start_ns = res->start_ns, .end_ns = res->end_ns, .exit_status = run_status(res)};
    if (pthread_create(&f->writer, NULL, write_final, f) == 0)
        f->writing = true;
    else
        (void)write_final(f);
    return 0;
}

/* Waits for the record's commit and reports it if it failed. */
static void final_done(struct final_ctx *f)
{
    ledger_wait(f);
    if (f->writing)
        (void)pthread_join(f->writer, NULL);
    f->writing = false;
    if (f->write_error < 0)
        cli_error_ctx(f->cli, "final usage not recorded", &f->write_err, f->write_error);
    f->write_error = 0;
}

/* corral run's own options; argv is CMD [ARGS...]. */
struct run_args {
    const char *policy, *id;
    char **argv;
};

/* -1 to go on, else the exit status. */
static int parse_args(struct cli *cli, int argc, char **argv, struct run_args *a)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    int c;

    /* "+": options end at CMD, whose own options are its business. */
    while ((c = getopt_long(argc, argv, "+p:n:vh", opts, NULL)) >= 0) {
        switch (c) {
        case 'p':
            a->policy = optarg;
            break;
        case 'n':
            a->id = optarg;
            break;
        case 'v':
            cli->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!a->policy) {
        cli_error(cli, "run: --policy NAME is required");
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error(cli, "run: no command given (corral run --policy NAME -- CMD [ARGS...])");
        return EXIT_USAGE;
    }
    a->argv = argv + optind;
    return -1;
}

/* What launch_run_open's result (r, res) comes to: the exit status. */
static int outcome(struct cli *cli, int r, bool workload_failed, const struct launch_result *res,
                   const char *cmd, const struct cg_err *e)
{
    if (r < 0 && workload_failed) {
        cli_error_ctx(cli, "run: workload", e, r);
        return EXIT_SYSTEM;
    }
    if (r < 0) {
        cli_error_ctx(cli, "run", e, r);
        return r == -ESRCH || r == -EEXIST || (r == -EINVAL && !e->group[0]) ? EXIT_INVALID
                                                                             : EXIT_SYSTEM;
    }
    if (res->removed)
        report_removed(cli, res);
    else if (cli->verbose)
        print_usage(res);
    if (res->cleanup_error < 0)
        cli_error_ctx(cli, "run: removing the instance", e, res->cleanup_error);
    return res->failed != LAUNCH_STAGE_NONE ? child_failure(cli, res, cmd) : res->exit_code;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    const char *fb;
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    const struct pol_policy *policy = NULL;
    struct final_ctx fin = {0};
    struct run_args a = {0};
    struct workload_ctx wo;
    struct launch_result res;
    struct launch_opts o;
    struct cg_err e = {0};
    int r;

    r = parse_args(cli, argc, argv, &a);
    if (r >= 0)
        return r;
    /* Check the input before anything is created. */
    r = load_policy(cli, a.policy, &cfg, &set, &policy);
    if (r < 0) {
        r = r == -ENOENT || r == -EINVAL ? EXIT_INVALID : EXIT_SYSTEM;
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.policy = policy;
    fin.cli = cli;
    fin.policy = policy;
    o.on_final = record_final;
    o.on_started = instance_started;
    o.userdata = &fin;
    o.id = a.id;
    o.argv = a.argv;
    fb = getenv("CORRAL_LAUNCH_FALLBACK");
    if (fb && strcmp(fb, "1") == 0)
        o.flags |= LAUNCH_FORCE_FALLBACK;
    r = launch_check(&o, &e);
    if (r < 0) {
        cli_error_ctx(cli, "run", &e, r);
        r = EXIT_INVALID;
        goto out;
    }

    r = cli_open_target(cli, "run", NULL, &ctx, NULL);
    if (r == EXIT_OK)
        r = cli_lock_root(cli, ctx, "run", &fin.lock);
    if (r != EXIT_OK)
        goto out;
    ledger_start(&fin);
    wo = (struct workload_ctx){.cli = cli, .ctx = ctx, .cfg = &cfg, .policy = policy};

    /* An inherited SIG_IGN would make the kernel reap our child before we see its status. */
    (void)signal(SIGCHLD, SIG_DFL);
    r = launch_run_open(ctx, open_workload, &wo, &o, &res, &e);
    cg_lock_release(TAKE_PTR(fin.lock));
    final_done(&fin);
    r = outcome(cli, r, wo.failed, &res, o.argv[0], &e);
out:
    cg_lock_release(fin.lock);
    ledger_wait(&fin);
    acct_ledger_close(fin.ledger);
    pol_set_free(&set);
    pol_config_free(&cfg);
    return r;
}
