/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cgroup.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/name.h"

static char *path_join(const char *a, const char *b)
{
    char *r;
    size_t la = strlen(a);

    while (la > 0 && a[la - 1] == '/')
        la--;
    if (asprintf(&r, "%.*s/%s", (int)la, a, b) < 0)
        return NULL;
    return r;
}

static char *path_parent(const char *p)
{
    const char *s = strrchr(p, '/');
    if (!s || s == p)
        return strdup("/");
    return strndup(p, (size_t)(s - p));
}

bool cg_ctx_is_v2(const struct cg_ctx *ctx)
{
    return ctx->sys.mode == CG_MODE_V2;
}

enum cg_place_how cg_ctx_place_how(const struct cg_ctx *ctx)
{
    return ctx->be->place_how;
}

enum cg_vocab cg_ctx_vocab(const struct cg_ctx *ctx)
{
    return ctx->be->vocab;
}

const char *cg_ctx_events_file(const struct cg_ctx *ctx)
{
    return ctx->be->events_file;
}

int cg_ctx_slot_of(const struct cg_ctx *ctx, enum cg_hier h)
{
    if (h < 0 || h >= _CG_H_MAX || !ctx->sys.mount[h])
        return -1;
    return ctx->sys.alias[h] >= 0 ? ctx->sys.alias[h] : (int)h;
}

bool cg_ctx_has(const struct cg_ctx *ctx, enum cg_hier h)
{
    return h >= 0 && h < _CG_H_MAX && ctx->sys.mount[h] != NULL;
}

void cg_ctx_free(struct cg_ctx *ctx)
{
    if (!ctx)
        return;
    cg_group_free(ctx->root_cache);
    cg_sysinfo_done(&ctx->sys);
    for (int h = 0; h < _CG_H_MAX; h++) {
        free(ctx->root_path[h]);
        free(ctx->base_path[h]);
    }
    free(ctx->root_arg);
    free(ctx->root_rel);
    free(ctx->root_id);
    cg_strv_free(ctx->roots_inside);
    free(ctx);
}

int cg_ctx_new(const char *root, struct cg_ctx **ret, struct cg_err *e)
{
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    const char *rel;
    bool nested = false;
    int r;

    if (!root)
        root = getenv("CORRAL_ROOT");
    if (!root)
        root = "corral";
    /* Not the machine-wide default in disguise: an empty value is a mistake (an unset
     * variable in a script), and silently acting on /corral would hit the wrong tree. */
    if (!*root)
        return cg_err_set(e, -EINVAL, NULL, NULL,
                          "empty root (--root '' or CORRAL_ROOT=''): give /NAME[/NAME...] or "
                          "./NAME[/NAME...], or leave both unset for the default 'corral'");

    if (strncmp(root, "./", 2) == 0) {
        nested = true;
        rel = root + 2;
    } else if (root[0] == '/') {
        rel = root + 1;
    } else {
        rel = root;
    }
    r = cg_path_validate(rel, e);
    if (r < 0)
        return cg_err_set(e, r, NULL, NULL,
                          "invalid root '%s': give /NAME[/NAME...] or ./NAME[/NAME...] with "
                          "names [a-z0-9_-]{1,64}",
                          root);

    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    r = cg_sysinfo_discover(&ctx->sys);
    if (r < 0)
        return cg_err_set(e, r, NULL, NULL, "no usable cgroup hierarchy found");
    ctx->be = cg_ctx_is_v2(ctx) ? &cg_backend_v2 : &cg_backend_v1;
    ctx->root_arg = strdup(root);
    ctx->root_rel = strdup(rel);
    if (!ctx->root_arg || !ctx->root_rel)
        return -ENOMEM;

    for (int h = 0; h < _CG_H_MAX; h++) {
        const char *own = ctx->sys.own[h];
        char *base;

        if (!ctx->sys.mount[h])
            continue;
        if (!nested)
            base = strdup("/");
        else if (ctx->be->self_leaf) {
            const char *bn = strrchr(own, '/');
            base = (bn && strcmp(bn + 1, ctx->be->self_leaf) == 0) ? path_parent(own) : strdup(own);
        } else
            base = strdup(own);
        if (!base)
            return -ENOMEM;
        ctx->base_path[h] = base;
        ctx->root_path[h] = path_join(base, rel);
        if (!ctx->root_path[h])
            return -ENOMEM;
        cg_debug("root[%s] = %s%s", cg_hier_to_string((enum cg_hier)h), ctx->sys.mount[h],
                 ctx->root_path[h]);
    }
    cg_debug("cgroup mode %s, backend %s", cg_mode_to_string(ctx->sys.mode), ctx->be->name);
    *ret = TAKE_PTR(ctx);
    return 0;
}
