/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the sampler's files only: sample-counters.c (the counter files and their
 * parsing, one-off reads), sample-scan.c (the walk and its kept-open fds) and sample.c
 * (the sampler's table, the pass, its rows). */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "accounting/sample.h"

/* The sampler's counters are the controllers' (struct ctl_ctr_desc), in their id order:
 * their files, parse rules and hot/cold come from the descriptors. The rules of the pass
 * name these. */
enum ctr {
    C_CPU_USAGE = CTL_CTR_CPU_USAGE,
    C_PIDS_CUR = CTL_CTR_PIDS_CUR,
    C_FROZEN = CTL_CTR_FROZEN,
    _C_MAX = _CTL_CTR_MAX,
};

_Static_assert(_C_MAX <= 16, "struct grp keeps a counter's bit in a uint16_t");

/* The cgroup generation (inode number) of g. */
int acct_cg_generation(struct cg_group *g, uint64_t *ret);

/* The files of the idle fast path (sample.h) are the descriptors' hot ones, read at every
 * pass; the others only when the group moved. On v1 the CPU total may be skipped too
 * (parent rule, sample.h). */
#define ALL_FILES ((1u << _C_MAX) - 1)
#define NO_PARENT UINT32_MAX

enum {
    G_HAVE = 1u << 0,      /* u holds a complete read */
    G_EMITTED = 1u << 1,   /* a row was handed out for this generation */
    G_HELD = 1u << 2,      /* a row at held_ns (content u) was held back */
    G_READ = 1u << 3,      /* read by the last pass */
    G_CPU_STILL = 1u << 4, /* its CPU total did not move between the last two passes */
    G_GONE = 1u << 5,      /* found removed: no longer read, forgotten at the next scan */
    G_TAKEN = 1u << 7,     /* (old table, during a scan) handed over to the new one */
};

/* One group: ~220 bytes plus its path. */
struct grp {
    char *path; /* owned */
    uint64_t generation;
    uint64_t cpu_limit, mem_limit;
    uint64_t t_ns;     /* of the last read */
    uint64_t held_ns;  /* G_HELD: time of the row held back */
    uint64_t quiet_ns; /* quiet rule: the last scheduled read of pids current, frozen */
    uint64_t start_ns; /* an instance's estimated start (acct_instance_start), at its scan */
    uint32_t parent;   /* index in the table, or NO_PARENT */
    uint32_t read_pass;
    uint16_t account; /* 1-based index in s->accounts, 0 none */
    uint16_t absent;  /* files known to be missing */
    uint8_t kind;
    uint8_t flags;
    int fd[_C_MAX]; /* kept open, or -1 (read on demand unless absent) */
    struct ctl_usage u;
};

/* A row for the ledger, before it is spelled out as a struct acct_sample. */
struct row {
    uint32_t g;
    uint64_t t_ns;
    struct ctl_usage u;
};

struct acct_sampler {
    struct cg_ctx *ctx;
    bool v2; /* the v1 parent rule (sample.h) holds only where v2 is false */
    enum cg_vocab vocab;
    unsigned fast; /* the hot counters, 1u << c */
    const struct ctl_ctr_desc *ctr[_C_MAX];
    acct_account_fn account_fn;
    void *userdata;
    struct cg_group *root; /* its dir fds serve on-demand reads */
    size_t n, cap;
    struct grp *g; /* sorted by path (strcmp): a parent precedes its descendants */
    char **accounts;
    size_t n_accounts;
    uint32_t pass;
    unsigned full_every;
    uint64_t (*clock)(void *);
    void *clock_data;
    size_t nfds;
    struct acct_sampler_stats st;
    size_t n_rows, cap_rows;
    struct row *rows;
    struct acct_sample *all; /* acct_sampler_read()'s result */
};

/* Counter c's file in the sampler's vocabulary (its name is NULL where there is none). */
static inline const struct ctl_ctr_file *acct_ctr_file(const struct acct_sampler *s, int c)
{
    return &s->ctr[c]->file[s->vocab];
}

/* An open or read that failed for want of fds or memory. */
static inline bool acct_out_of_fds(int r)
{
    return r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/* sample-scan.c: the table's entry for path (binary search), or NULL. */
struct grp *acct_grp_find(struct acct_sampler *s, const char *path);

/* sample.c */
uint64_t acct_sampler_now(const struct acct_sampler *s);
unsigned acct_sampler_fast_mask(const struct acct_sampler *s);
void acct_grp_free(struct acct_sampler *s, struct grp *g);
void acct_grp_take(struct grp *old);
void acct_free_accounts(char **a, size_t n);
void acct_sampler_clear(struct acct_sampler *s);
