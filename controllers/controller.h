/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The controllers corral manages, described by one table (ctl_table). Each maps
 * abstract settings to the files of the running cgroup version, writes them through a
 * transaction (so apply can diff, roll back and prove idempotence), reads back what the
 * kernel reports, and reads usage counters.
 *
 * Units: CPU time in nanoseconds (usage) and microseconds (quota, period); memory in
 * bytes; weights 1..10000 as cgroup v2's cpu.weight.
 * Special values: CTL_MAX is the kernel's "no limit"; CTL_UNSET is "not configured" in
 * settings and "not available here" in usage, so zero and unknown are never confused.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cgroup.h"
#include "core/txn.h"

#define CTL_MAX   UINT64_MAX
#define CTL_UNSET (UINT64_MAX - 1)

/*
 * The controllers in table order, each as C(ID, name) followed by K(KEY) for each of its
 * settings and U(CTR) for each of its usage counters: this gives enum ctl_id (CTL_ID), the
 * settings' ids (CTL_KEY_KEY), the counters' ids (CTL_CTR_CTR), the extern ctl_name and its
 * ctl_table entry. A controller is its file (controllers/name.c, with the descriptors of
 * its settings and counters), its line here and its line in controllers/meson.build.
 * The order is the order of the settings in the policy documentation.
 */
/* clang-format off */
#define CTL_CONTROLLERS(C, K, U)                                                                   \
    C(CPU, cpu) K(CPU_WEIGHT) K(CPU_MAX) K(CPU_PERIOD)                                             \
        U(CPU_USER) U(CPU_SYS) U(CPU_USAGE) U(CPU_STAT)                                            \
    C(CPUSET, cpuset) K(CPUSET_CPUS) K(CPUSET_MEMS)                                                \
    C(MEMORY, memory) K(MEM_MAX) K(MEM_HIGH) K(MEM_LOW) K(MEM_SWAP_MAX)                            \
        U(MEM_CUR) U(MEM_PEAK) U(MEM_OOM)                                                          \
    C(PIDS, pids) K(PIDS_MAX) U(PIDS_CUR) U(PIDS_PEAK)                                             \
    C(FREEZER, freezer) U(FROZEN)
/* clang-format on */

#define CTL_NONE_(...)
#define CTL_ID_(ID, name) CTL_##ID,
typedef enum ctl_id {
    CTL_CONTROLLERS(CTL_ID_, CTL_NONE_, CTL_NONE_) _CTL_MAX,
    _CTL_INVALID = -EINVAL,
} ctl_id;

#define CTL_MASK(id) (1u << (id))

/* cpu.weight's range and default (CPU.Weight's descriptor, and a class's CPUWeight=), and
 * v1 cpu.shares bounds. */
#define CTL_WEIGHT_MIN     1
#define CTL_WEIGHT_MAX     10000
#define CTL_WEIGHT_DEFAULT 100
#define CTL_SHARES_MIN     2
#define CTL_SHARES_MAX     262144

/* The longest value one write of a plan carries, with its NUL (a transaction entry's). */
#define CTL_VALUE_MAX 96

/*
 * A list of CPU or memory node numbers (CTL_UNIT_CPU_LIST, controllers/cpu-list.c), as
 * cpuset.cpus and cpuset.mems show it: "0-3,6". `set` is the u64 the generic code sees at
 * the descriptor's offset: CTL_UNSET when not configured, anything else when bits holds
 * the list (an empty list is a list). Numbers run 0..CTL_CPU_LIST_MAX-1, and the kernel
 * form must be shorter than CTL_VALUE_MAX.
 */
#define CTL_CPU_LIST_MAX 1024
struct ctl_cpu_list {
    uint64_t set;
    uint64_t bits[CTL_CPU_LIST_MAX / 64];
};

struct ctl_settings {
    uint64_t cpu_weight;      /* 1..10000 */
    uint64_t cpu_max_usec;    /* quota per period, or CTL_MAX */
    uint64_t cpu_period_usec; /* 1000..1000000; unset means the kernel default 100000 */
    uint64_t mem_max;         /* bytes or CTL_MAX; rounded down to the page size */
    uint64_t mem_high;
    uint64_t mem_low;
    uint64_t mem_swap_max;
    uint64_t pids_max; /* count or CTL_MAX */
    /* The CTL_UNIT_CPU_LIST settings, one each, by their descriptors' offsets. */
    struct ctl_cpu_list cpu_lists[2];
};

struct ctl_usage {
    uint64_t cpu_usage_ns;
    uint64_t cpu_user_ns;
    uint64_t cpu_system_ns;
    uint64_t cpu_nr_periods;
    uint64_t cpu_nr_throttled;
    uint64_t cpu_throttled_ns;
    uint64_t mem_current;
    uint64_t mem_peak;
    uint64_t mem_oom_kills;
    uint64_t pids_current;
    uint64_t pids_peak;
    uint64_t frozen; /* 1 frozen, 0 thawed (or freezing), CTL_UNSET no freezer */
};

/* The settings corral manages, one id each. What a setting is (policy key, unit, range,
 * default, kernel files, how each version expresses it) is its descriptor, owned by its
 * controller (struct ctl_key_desc); everyone else iterates the descriptors. */
#define CTL_KEY_(KEY) CTL_KEY_##KEY,
typedef enum ctl_key {
    CTL_CONTROLLERS(CTL_NONE_, CTL_KEY_, CTL_NONE_) _CTL_KEY_MAX,
    _CTL_KEY_INVALID = -EINVAL,
} ctl_key;

/* How a policy spells a setting's value (policy/parse.c has one parser per unit). */
enum ctl_unit {
    CTL_UNIT_COUNT,     /* an integer */
    CTL_UNIT_CPU_SHARE, /* a share of one CPU in ppm ("150%"); kept as quota usec */
    CTL_UNIT_DURATION,  /* usec ("100ms") */
    CTL_UNIT_BYTES,     /* bytes ("256M"), rounded down to the page size */
    CTL_UNIT_CPU_LIST,  /* CPU or memory node numbers ("0-3,6"), a struct ctl_cpu_list */
};

struct ctl_key_desc {
    ctl_key id;
    ctl_id ctl;
    const char *section; /* policy section, "Memory" */
    const char *key;     /* policy key, "High" */
    enum ctl_unit unit;
    uint64_t min, max; /* accepted range in the unit; BYTES: min 0 or 1 (one page);
                        * CPU_LIST: min 1 refuses an empty list, max is not used */
    bool max_ok;       /* "max" (CTL_MAX, no limit) is accepted */
    uint64_t def;      /* a new group's value, and what a key a policy leaves out means */
    size_t offset;     /* of its field in struct ctl_settings */
    /* The kernel file per vocabulary; NULL where that version cannot express it, and then
     * `missing` is the warning for a value other than the default. */
    const char *file[_CG_VOCAB_MAX];
    const char *missing[_CG_VOCAB_MAX];
};

/* The usage counters corral samples, one id each; what a counter is (its hierarchy, its
 * file in each vocabulary, how that file is parsed, whether the sampler reads it at every
 * pass) is its descriptor, owned by its controller (struct ctl_ctr_desc). */
#define CTL_CTR_(CTR) CTL_CTR_##CTR,
typedef enum ctl_ctr {
    CTL_CONTROLLERS(CTL_NONE_, CTL_NONE_, CTL_CTR_) _CTL_CTR_MAX,
    _CTL_CTR_INVALID = -EINVAL,
} ctl_ctr;

/* How a counter's file is spelled. */
enum ctl_ctr_form {
    CTL_CTR_NONE,   /* no file in this vocabulary: the counter is unavailable there */
    CTL_CTR_NUMBER, /* one number ("max" is CTL_MAX) */
    CTL_CTR_KEYED,  /* "key value" lines (cpu.stat, memory.events) */
    CTL_CTR_STATE,  /* a state word: 1 when the file starts with it, else 0 */
};

/* Where a value of the file goes: the field at offset in struct ctl_usage, times mult.
 * key is the line's key (KEYED) or the word (STATE); NULL for a NUMBER. */
struct ctl_ctr_field {
    const char *key;
    size_t offset;
    uint64_t mult;
};

#define CTL_CTR_FIELDS 6
struct ctl_ctr_file {
    const char *name;
    enum ctl_ctr_form form;
    bool hot; /* read at every pass of the sampler; the others only when the group moved */
    struct ctl_ctr_field f[CTL_CTR_FIELDS]; /* f[0], then up to the first without a key */
};

struct ctl_ctr_desc {
    ctl_ctr id;
    ctl_id ctl;
    enum cg_hier hier;
    struct ctl_ctr_file file[_CG_VOCAB_MAX]; /* by the group's vocabulary */
};

/* A setting the running cgroup version cannot express: reported, never dropped. */
struct ctl_warning {
    ctl_key key;
    char msg[160];
};

struct ctl_warnings {
    size_t n;
    struct ctl_warning w[16];
};

void ctl_warn(struct ctl_warnings *w, ctl_key key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One write of a plan, in the kernel's vocabulary. */
struct ctl_step {
    enum cg_hier hier;
    const char *file;
    char old_value[CTL_VALUE_MAX];
    char new_value[CTL_VALUE_MAX];
};

struct ctl_plan {
    size_t n;
    struct ctl_step s[16];
};

/* What a system offers beyond its vocabulary, probed on a group that exists. */
enum {
    CTL_FEAT_MEMORY = 1u << 0, /* the memory controller's files */
    CTL_FEAT_SWAP = 1u << 1,   /* swap accounting (memory.swap.max, memory.memsw.*) */
};

struct ctl_controller {
    const char *name;
    ctl_id id;
    /* Pure: the writes, in a safe order, that turn what the kernel holds (cur, in the
     * settings' units) into want, in vocabulary v; settings want leaves CTL_UNSET are
     * left alone. May be NULL. */
    void (*diff)(const struct ctl_settings *cur, const struct ctl_settings *want, enum cg_vocab v,
                 struct ctl_plan *ret);
    /* Writes the controller's settings to g through t (only values that differ). Settings
     * this version cannot express go to w. May be NULL (freezer: state, not a limit). */
    int (*apply)(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                 struct ctl_warnings *w, struct cg_err *e);
    /* Fills the controller's fields of *ret from what the kernel reports; fields the
     * version cannot express stay CTL_UNSET. */
    int (*read_settings)(struct cg_group *g, struct ctl_settings *ret);
    /* Fills the controller's fields of *ret; unavailable counters stay CTL_UNSET. */
    int (*read_usage)(struct cg_group *g, struct ctl_usage *ret);
    /* Which CTL_FEAT_* group g shows (only reads). May be NULL. */
    unsigned (*probe)(struct cg_group *g);
    /* Pure: the warnings for a new group given settings s, in vocabulary v on a system
     * with features (what apply would warn about once the group exists). May be NULL. */
    void (*warn)(const struct ctl_settings *s, enum cg_vocab v, unsigned features,
                 struct ctl_warnings *w);
    /* Its settings, in the order their policy keys are documented. */
    const struct ctl_key_desc *keys;
    size_t n_keys;
    /* Its usage counters, in id order. */
    const struct ctl_ctr_desc *ctrs;
    size_t n_ctrs;
};

#define CTL_EXTERN_(ID, name) extern const struct ctl_controller ctl_##name;
CTL_CONTROLLERS(CTL_EXTERN_, CTL_NONE_, CTL_NONE_)
extern const struct ctl_controller *const ctl_table[_CTL_MAX];

const char *ctl_id_to_string(ctl_id id);
ctl_id ctl_id_from_string(const char *s);

void ctl_settings_init(struct ctl_settings *s);
/* Every setting at its descriptor's default (what a new group holds). */
void ctl_settings_defaults(struct ctl_settings *s);
/* The same for the settings that are CTL_UNSET only. */
void ctl_settings_fill_defaults(struct ctl_settings *s);

/* The descriptor of key id (NULL if out of range), its field in s, and "Section.Key". */
const struct ctl_key_desc *ctl_key_desc(ctl_key id);
uint64_t *ctl_key_field(const struct ctl_key_desc *d, struct ctl_settings *s);
uint64_t ctl_key_get(const struct ctl_key_desc *d, const struct ctl_settings *s);
const char *ctl_key_name(ctl_key id, char *buf, size_t size);
/* Iterates every descriptor of every controller: for (d = NULL; (d = ctl_key_next(d));). */
const struct ctl_key_desc *ctl_key_next(const struct ctl_key_desc *d);
void ctl_usage_init(struct ctl_usage *u);

/* CPU lists (controllers/cpu-list.c). Parse takes the kernel's and a policy's syntax:
 * -EINVAL for junk or a range N-M with M < N, -ERANGE for a number at or above
 * CTL_CPU_LIST_MAX, -E2BIG for a list whose kernel form is too long for one write; sets
 * `set`. Format prints the kernel's form (-ENOBUFS if size is too small). */
int ctl_cpu_list_parse(const char *s, struct ctl_cpu_list *ret);
int ctl_cpu_list_format(const struct ctl_cpu_list *l, char *buf, size_t size);
bool ctl_cpu_list_has(const struct ctl_cpu_list *l, unsigned n);
bool ctl_cpu_list_empty(const struct ctl_cpu_list *l);
bool ctl_cpu_list_eq(const struct ctl_cpu_list *a, const struct ctl_cpu_list *b);
/* *ret = a without b; whether anything is left. */
bool ctl_cpu_list_minus(const struct ctl_cpu_list *a, const struct ctl_cpu_list *b,
                        struct ctl_cpu_list *ret);
/* The list of a CTL_UNIT_CPU_LIST descriptor in s (NULL for other units). */
struct ctl_cpu_list *ctl_key_list(const struct ctl_key_desc *d, struct ctl_settings *s);
const struct ctl_cpu_list *ctl_key_list_get(const struct ctl_key_desc *d,
                                            const struct ctl_settings *s);

/* Every controller in turn. Stops at the first error (the caller rolls t back). */
int ctl_apply_all(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                  struct ctl_warnings *w, struct cg_err *e);
int ctl_read_settings_all(struct cg_group *g, struct ctl_settings *ret);
/* Every controller's diff in turn, appended to *ret (zeroed by the caller). */
void ctl_diff(const struct ctl_settings *cur, const struct ctl_settings *want, enum cg_vocab v,
              struct ctl_plan *ret);
/* A kernel file's value as read before a plan runs: what rollback writes back. */
struct ctl_raw {
    const char *file;
    char value[CTL_VALUE_MAX];
};
/* Writes the steps of p to g through t, each with the rollback value read from the kernel
 * (raw[i] for raw[i].file; the step's own old value when the file was not read). */
int ctl_plan_write(struct cg_group *g, const struct ctl_plan *p, const struct ctl_raw *raw,
                   size_t n_raw, struct cg_txn *t, struct cg_err *e);

/* Every controller's probe ORed, and every controller's warn in turn. */
unsigned ctl_probe(struct cg_group *g);
void ctl_warn_new(const struct ctl_settings *s, enum cg_vocab v, unsigned features,
                  struct ctl_warnings *w);
/* Appends a step (controllers' diffs). */
void ctl_plan_add(struct ctl_plan *p, enum cg_hier h, const char *file, const char *old_value,
                  const char *new_value);
int ctl_read_usage_all(struct cg_group *g, struct ctl_usage *ret);

/* The descriptor of counter id (NULL if out of range). */
const struct ctl_ctr_desc *ctl_ctr_desc(ctl_ctr id);
/* Parses the text of counter d's file in vocabulary v into the fields of u it names; a
 * key the text lacks (or a value that does not parse) sets its field to CTL_UNSET, or
 * leaves it alone with keep_missing. */
void ctl_ctr_parse(const struct ctl_ctr_desc *d, enum cg_vocab v, const char *text,
                   bool keep_missing, struct ctl_usage *u);
/* The number at p (digits, or "max" as CTL_MAX); CTL_UNSET when nothing parses. */
uint64_t ctl_ctr_num(const char *p);

/* cpu.shares = weight * 1024 / 100, clamped to 2..262144 (v1), and its inverse rounded to
 * nearest and clamped to 1..10000, so weight -> shares -> weight is exact for the
 * weights that shares can express. */
uint64_t ctl_weight_to_shares(uint64_t weight);
uint64_t ctl_shares_to_weight(uint64_t shares);
