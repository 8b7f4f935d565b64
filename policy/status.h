/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The tree as the kernel reports it: for each class, workload and instance group under
 * the root, its limits (read back from cgroupfs, not from the policy), its freezer state
 * and its live usage.
 */

#include "controllers/controller.h"
#include "controllers/freezer.h"
#include "core/cgroup.h"

enum pol_node_kind {
    POL_NODE_CLASS,
    POL_NODE_WORKLOAD,
    POL_NODE_INSTANCE,
};

const char *pol_node_kind_to_string(enum pol_node_kind k);

struct pol_status_node {
    char path[256]; /* relative to the root: class[/workload[/instance]] */
    enum pol_node_kind kind;
    char class_name[65];
    char workload[65]; /* "" for a class */
    char instance[65]; /* "" unless an instance */
    struct ctl_settings limits;
    struct ctl_usage usage;
    int freeze; /* enum ctl_freeze_state, or -1 when this system has no freezer */
    int error;  /* negative errno when the group could not be read (it vanished) */
};

struct pol_status {
    size_t n;
    struct pol_status_node *nodes; /* depth first: a class, its workloads, their instances */
};

/* Collects the group at path (relative to the root; "" for the whole tree) and everything
 * below it. -ENOENT when the root or the group does not exist. */
int pol_status_collect(struct cg_ctx *ctx, const char *path, struct pol_status *ret,
                       struct cg_err *e);
void pol_status_free(struct pol_status *s);
