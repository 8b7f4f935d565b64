/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Policies (one INI file per workload) and corral.conf (classes, sampling interval, rate
 * card), parsed with inih and validated as a whole before anything is touched.
 * Every problem is collected as FILE:LINE: message (all of them, not just the first).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

struct pol_diag {
    char file[256];
    unsigned line; /* 0 when the problem is about the file as a whole */
    char msg[256];
};

/* All problems found in one validation pass. */
struct pol_diags {
    size_t n, cap;
    struct pol_diag *d;
};

struct pol_class {
    char name[65];
    uint64_t cpu_weight; /* 1..10000 */
    uint64_t mem_low;    /* bytes, CTL_UNSET when not given */
    char file[256];      /* where it was (re)defined; "" for a built-in */
    unsigned line;
};

struct pol_rates {
    char currency[8];
    /* Prices in micro-units of the currency per unit (integer, exact). */
    uint64_t cpu_core_hour_micro;
    uint64_t mem_gib_hour_micro;
    /* Optional per-account multipliers in parts per million (1000000 = x1). */
    size_t n_multipliers;
    struct {
        char account[65];
        uint64_t ppm;
    } * multipliers;
};

struct pol_config {
    uint64_t interval_usec; /* [Accounting] Interval=, default 10 s */
    size_t n_classes;
    struct pol_class *classes;
    struct pol_rates rates;
};

struct pol_policy {
    char file[256];
    char name[65];       /* [Workload] Name=, default: file name without .policy */
    char class_name[65]; /* [Workload] Class=, default "normal" */
    char account[65];    /* [Workload] Account=, default: the workload name */
    struct ctl_settings limits;
    unsigned namespaces; /* enum pol_ns mask */
    char hostname[65];   /* "" = workload name when UTS is isolated */
    char user[65];       /* "" = stay root */
    char group[65];
    char workdir[256]; /* "" = "/" */
    bool no_new_privs; /* default true */
    bool clear_env;    /* [Process] Environment=clear|inherit, default inherit */
};

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
