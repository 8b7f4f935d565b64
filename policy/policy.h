/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Policies (one INI file per workload) and corral.conf (classes, sampling interval, rate
 * card), parsed with inih and validated as a whole before anything is touched.
 * Every problem is collected as FILE:LINE: message (all of them, not just the first).
 *
 * The other halves of the policy engine have their own headers:
 *   policy/units.h   sizes, durations, percentages, decimals (exact integers)
 *   policy/apply.h   reconciling cgroupfs with a policy set (plan, apply, rollback)
 *   policy/status.h  the tree as the kernel reports it
 *   policy/remove.h  resolving and removing a target
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "accounting/rates.h"
#include "controllers/controller.h"

/* Namespaces a workload may ask for ([Namespaces] Isolate=). */
enum pol_ns {
    POL_NS_PID = 1u << 0,
    POL_NS_NET = 1u << 1,
    POL_NS_IPC = 1u << 2,
    POL_NS_MNT = 1u << 3,
    POL_NS_UTS = 1u << 4,
    POL_NS_USER = 1u << 5,
    POL_NS_CGROUP = 1u << 6,
};

/* "pid" -> POL_NS_PID; 0 when unknown. */
unsigned pol_ns_from_string(const char *s);
const char *pol_ns_to_string(unsigned bit);

struct pol_diag {
    char file[256];
    unsigned line; /* 0 when the problem is about the file as a whole */
    char msg[256];
};

/* All problems found in one validation pass. */
struct pol_diags {
    size_t n, cap;
    struct pol_diag *d;
    /* When not 0: problems beyond the first `limit` are counted in `dropped`, not kept (a
     * hostile file of a million bad lines must not cost a million entries). The parser
     * sets it per file (POL_DIAGS_PER_FILE) and says how many were left out. */
    size_t limit, dropped;
    /* When set: entries of a policy directory that are not regular files (FIFO, socket,
     * device, directory) are skipped, and said here, instead of making the set invalid
     * (corrald: one such entry must not stop the rest from being applied). */
    struct pol_diags *skipped;
};

/* Problems kept per file; the rest are counted ("N more problems in this file"). */
#define POL_DIAGS_PER_FILE 1000

/* A short, escaped excerpt of text from a file, for messages: at most POL_EXCERPT_CHARS
 * characters of s, every byte that is not printable ASCII (and \ and ') written as \xNN,
 * "..." when cut. Messages never echo a whole line of a file that may not be a policy. */
#define POL_EXCERPT_CHARS 64
#define POL_EXCERPT_SIZE  (POL_EXCERPT_CHARS * 4 + 4)
const char *pol_excerpt(const char *s, char buf[POL_EXCERPT_SIZE]);

/* Appends one problem. -ENOMEM only. */
/* pol_diag_add with a va_list, for callers that wrap it in their own reporters. */
int pol_diag_addv(struct pol_diags *d, const char *file, unsigned line, const char *fmt,
                  va_list ap);
int pol_diag_add(struct pol_diags *d, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sorts by file, then line (stable for equal lines); O(n log n). */
void pol_diags_sort(struct pol_diags *d);
/* "FILE:LINE: msg" (or "FILE: msg" for line 0) into buf. */
const char *pol_diag_format(const struct pol_diag *g, char *buf, size_t size);

/* Built-in classes (DESIGN.md): the weight ratio between neighbours is about 4x, so each
 * class gets ~80% of the CPU against the next one down when both are busy. */
#define POL_CLASS_DEFAULT "normal"

struct pol_class {
    char name[65];
    uint64_t cpu_weight; /* 1..10000 */
    uint64_t mem_low;    /* bytes; 0 (no protection) unless configured */
    bool mem_low_given;  /* MemoryLow= was written (warnings are shown only then) */
    bool builtin;
    char file[256]; /* where it was (re)defined; "" for a built-in */
    unsigned line;
};

/* The rate card is accounting's (accounting/rates.h); [Rates] is parsed into it. Same as
 * acct_rates_multiplier(). */
uint64_t pol_rates_multiplier(const struct acct_rates *r, const char *account);

#define POL_INTERVAL_DEFAULT_USEC (10u * 1000000u)

struct pol_config {
    char file[256];         /* "" when only the built-ins are in use */
    uint64_t interval_usec; /* [Accounting] Interval=, default 10 s, 1 s .. 24 h */
    size_t n_classes;
    struct pol_class *classes;
    struct acct_rates rates;
};

/* Which keys a policy wrote (for warnings: only settings that were asked for are warned
 * about when the running cgroup version cannot express them). */
#define POL_KEY(id) (1u << (id))
enum pol_key {
    POL_KEY_CPU_WEIGHT = POL_KEY(CTL_KEY_CPU_WEIGHT),
    POL_KEY_CPU_MAX = POL_KEY(CTL_KEY_CPU_MAX),
    POL_KEY_CPU_PERIOD = POL_KEY(CTL_KEY_CPU_PERIOD),
    POL_KEY_MEM_MAX = POL_KEY(CTL_KEY_MEM_MAX),
    POL_KEY_MEM_HIGH = POL_KEY(CTL_KEY_MEM_HIGH),
    POL_KEY_MEM_LOW = POL_KEY(CTL_KEY_MEM_LOW),
    POL_KEY_MEM_SWAP_MAX = POL_KEY(CTL_KEY_MEM_SWAP_MAX),
    POL_KEY_PIDS_MAX = POL_KEY(CTL_KEY_PIDS_MAX),
};

/* Upper bound for Layers=: overlayfs takes at most 500 lower layers, and the mount
 * option string must fit in one page. */
#define POL_FS_LAYERS_MAX 64

/*
 * [Filesystem]: the workload's own filesystem (corral(5)). Plain data, filled by the
 * policy parser and read by the launcher (launcher/rootfs.h builds it), so neither module
 * depends on the other's code. Paths are as written in the policy: the parser checks their
 * syntax; whether they exist, are directories, are canonical and are safe is checked by
 * launch_fs_check() (`corral check`) and again when the workload starts.
 *
 * Two modes: with root_directory or layers set, the workload gets a tree of its own
 * (root mode, needs a PID namespace); otherwise the host's tree is kept and only
 * private_tmp, the binds and the read-only paths apply (host mode).
 */
struct pol_fs {
    /* RootDirectory=: absolute host path of the workload's root tree, canonical (no
     * symlink on the way). Bound onto itself read-write, as it is. NULL: unset. Exclusive
     * with layers. */
    char *root_directory;
    /* Layers=: absolute, canonical host paths of the read-only lower layers of an overlay
     * root, top first, NULL-terminated; at most POL_FS_LAYERS_MAX. NULL: unset. */
    char **layers;
    /* Writable=: "tmpfs" (a fresh tmpfs per run: changes vanish when the instance ends) or
     * an absolute, canonical directory DIR whose DIR/upper (0755) and DIR/work (0700) hold
     * the overlay's upper and work dirs, created when missing (changes persist to the next
     * run). NULL: unset, the overlay root is read-only. Only with layers. */
    char *writable;
    /* PrivateTmp=: a fresh tmpfs (mode 1777, nosuid, nodev) on /tmp and on /var/tmp.
     * Default false. */
    bool private_tmp;
    /* ReadOnlyPaths=: absolute paths as the workload sees them (inside the new root in root
     * mode), made read-only recursively after the binds. NULL-terminated, or NULL. */
    char **read_only_paths;
    /* BindPaths= / BindReadOnlyPaths=: "SRC" or "SRC:DST"; SRC an absolute host path (file
     * or directory), DST an absolute path inside (default: SRC), resolved inside the new
     * root so a symlink in the tree cannot point it outside. Recursive binds. The read-only
     * ones are read-only recursively. NULL-terminated, or NULL. */
    char **bind_paths;
    char **bind_ro_paths;
};

/* The line of each [Filesystem] key in the policy file; 0 when the key was not written. */
struct pol_fs_lines {
    unsigned root_directory, layers, writable, private_tmp, read_only_paths, bind_paths,
        bind_ro_paths;
};

/* Frees every member and zeroes *fs; the struct itself is the caller's. NULL is fine. */
void pol_fs_free(struct pol_fs *fs);

struct pol_policy {
    char file[256];
    unsigned name_line;  /* line of Name=, 0 when derived from the file name */
    char name[65];       /* [Workload] Name=, default: file name without .policy */
    char class_name[65]; /* [Workload] Class=, default "normal" */
    unsigned class_line; /* line of Class=, 0 when defaulted */
    char account[65];    /* [Workload] Account=, default: the workload name */
    /* Every field is set: keys not written get the kernel's default (weight 100, no
     * limits), so removing a key from a policy puts the default back on the next apply. */
    struct ctl_settings limits;
    unsigned keys;       /* enum pol_key mask of what the file wrote */
    unsigned namespaces; /* enum pol_ns mask */
    char hostname[65];   /* "" = workload name when UTS is isolated */
    char user[65];       /* "" = stay root */
    char group[65];
    char workdir[256];     /* "" = "/" */
    unsigned workdir_line; /* line of WorkingDirectory=, 0 when not written */
    bool no_new_privs;     /* default true */
    bool clear_env;        /* [Process] Environment=clear|inherit, default inherit */
    struct pol_fs fs;      /* [Filesystem]; all unset by default (the host's tree) */
    struct pol_fs_lines fs_lines;
};

/*
 * A numeric user or group id as User= and Group= take it: decimal digits only, from 0 to
 * POL_ID_MAX. (uid_t)-1 is not an id (to the kernel it means "leave unchanged").
 * Returns 0, -EINVAL when s is not all digits (a name then), -ERANGE when above the range.
 * Inline, so that the launcher takes the ids exactly as the parser does.
 */
#define POL_ID_MAX 4294967294u
static inline int pol_parse_id(const char *s, uint32_t *ret)
{
    uint64_t v = 0;

    if (!*s)
        return -EINVAL;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9')
            return -EINVAL;
    for (const char *c = s; *c && v <= POL_ID_MAX; c++)
        v = v * 10 + (uint64_t)(*c - '0');
    if (v > POL_ID_MAX)
        return -ERANGE;
    *ret = (uint32_t)v;
    return 0;
}

/* Frees what a policy owns (its [Filesystem] strings) and zeroes them. NULL is fine. */
void pol_policy_done(struct pol_policy *p);

/* The line of [Filesystem] key `key` ("RootDirectory", "Layers", ...) in p's file: for
 * messages about a key found at check time. 0 when unknown or not written. */
unsigned pol_fs_key_line(const struct pol_policy *p, const char *key);

struct pol_set {
    size_t n;
    struct pol_policy *p;
};

void pol_diags_free(struct pol_diags *d);
void pol_config_free(struct pol_config *c);
void pol_set_free(struct pol_set *s);

/* Class by name, or NULL. */
const struct pol_class *pol_config_class(const struct pol_config *c, const char *name);
/* Policy by workload name, or NULL. */
const struct pol_policy *pol_set_find(const struct pol_set *s, const char *name);

/* Only the built-in classes and defaults. */
int pol_config_builtin(struct pol_config *ret);

/*
 * Loads corral.conf. path NULL: built-ins only. A missing file is an error only when
 * `required` (the operator named it); otherwise the built-ins are used. Problems go to
 * diags (the return value is 0 then); a negative errno is returned only for failures that
 * are not about the input (out of memory).
 */
int pol_config_load(const char *path, bool required, struct pol_config *ret,
                    struct pol_diags *diags);

/* Loads a rate card: a file holding a [Rates] section (a whole corral.conf also works).
 * Unset keys keep the defaults. */
int pol_rates_load(const char *path, struct acct_rates *ret, struct pol_diags *diags);
void pol_rates_done(struct acct_rates *r);

/* Parses one policy from an in-memory text (file is the name used in messages and to
 * derive the default workload name). Problems go to diags; returns 1 when the policy is
 * valid on its own, 0 when not, negative errno on allocation failure. */
int pol_policy_parse_text(const char *file, const char *text, size_t len, struct pol_policy *ret,
                          struct pol_diags *diags);

/*
 * Loads a policy set: the given files, or (n_files == 0) every *.policy in dir, sorted.
 * Then validates the set as a whole against cfg (unknown class, duplicate workload names).
 * When running as root, files and the directory must be owned by root and not writable by
 * group or others. All problems go to diags; the set is only usable when diags->n == 0.
 */
int pol_set_load(const char *dir, char *const *files, size_t n_files, const struct pol_config *cfg,
                 struct pol_set *ret, struct pol_diags *diags);

/* Loads corral.conf and a policy set together: what check, apply and status call. */
int pol_load_all(const char *config, bool config_required, const char *dir, char *const *files,
                 size_t n_files, struct pol_config *ret_cfg, struct pol_set *ret_set,
                 struct pol_diags *diags);

/* Loads corral.conf and what `run` needs for workload `name`: NAME.policy of dir, read and
 * trusted exactly as when the whole directory is loaded (the directory checked, the file
 * not followed out of it, only a regular file); without that file, the whole directory
 * (a policy there may set Name=NAME). */
int pol_load_workload(const char *config, bool config_required, const char *dir, const char *name,
                      struct pol_config *ret_cfg, struct pol_set *ret_set, struct pol_diags *diags);

/* The settings a class group carries (weight and memory protection; the rest unset). */
void pol_class_settings(const struct pol_class *c, struct ctl_settings *ret);

/* Whether a controller warning (ctl_warning.key) is about a key the policy (or class, for
 * class groups) actually wrote. */
bool pol_policy_warning_relevant(const struct pol_policy *p, ctl_key key);
bool pol_class_warning_relevant(const struct pol_class *c, ctl_key key);
