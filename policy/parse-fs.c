/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The [Filesystem] keys of a policy file: their syntax (absolute paths, SRC[:DST],
 * layers) and the rules between them. What only the running system can tell is
 * launch_fs_check()'s.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "policy/units.h"

static bool abs_path_ok(const char *v)
{
    return v[0] == '/' && strlen(v) < PATH_MAX;
}

/* Splits v at any of seps into a NULL-terminated vector. With keep_empty, an empty entry
 * ("a::b", a trailing ':') is kept as "" for the caller to refuse; otherwise runs of
 * separators count as one. NULL on allocation failure. */
static char **strv_split(const char *v, const char *seps, bool keep_empty, size_t *ret_n)
{
    char **strv = NULL;
    size_t n = 0;

    for (const char *p = v;;) {
        size_t len = strcspn(p, seps);
        char **nv;

        if (len > 0 || keep_empty) {
            nv = realloc(strv, (n + 2) * sizeof(char *));
            if (!nv)
                goto fail;
            strv = nv;
            strv[n] = strndup(p, len);
            if (!strv[n])
                goto fail;
            strv[++n] = NULL;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    if (!strv) /* only separators */
        strv = calloc(1, sizeof(char *));
    *ret_n = n;
    return strv;
fail:
    for (size_t i = 0; i < n; i++)
        free(strv[i]);
    free(strv);
    return NULL;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void set_fs_path(struct pol_pstate *st, const char *key, char **dst, const char *v,
                        unsigned line)
{
    char *copy;

    if (!abs_path_ok(v) && !(strcmp(key, "Writable") == 0 && strcmp(v, "tmpfs") == 0)) {
        pol_bad(st, line, "Filesystem.%s='%s': expected an absolute path (at most %d characters)",
                key, POL_X(v), PATH_MAX - 1);
        return;
    }
    copy = strdup(v);
    if (!copy) {
        st->error = -ENOMEM;
        return;
    }
    free(*dst);
    *dst = copy;
}

void pol_k_root_directory(struct pol_pstate *st, const char *v, unsigned line)
{
    set_fs_path(st, "RootDirectory", &st->p->fs.root_directory, v, line);
    st->p->fs_lines.root_directory = line;
}

void pol_k_layers(struct pol_pstate *st, const char *v, unsigned line)
{
    size_t n = 0;
    char **layers = strv_split(v, ":", true, &n);
    bool ok = true;

    if (!layers) {
        st->error = -ENOMEM;
        return;
    }
    st->p->fs_lines.layers = line;
    if (n > POL_FS_LAYERS_MAX) {
        pol_bad(st, line, "Filesystem.Layers: %zu layers, at most %d", n, POL_FS_LAYERS_MAX);
        ok = false;
    }
    for (size_t i = 0; ok && i < n; i++)
        if (!abs_path_ok(layers[i])) {
            pol_bad(
                st, line,
                "Filesystem.Layers: layer %zu '%s': expected DIR1:DIR2:... (top first), each an "
                "absolute path",
                i + 1, POL_X(layers[i]));
            ok = false;
        }
    if (!ok) {
        strv_free(layers);
        return;
    }
    strv_free(st->p->fs.layers);
    st->p->fs.layers = layers;
}

void pol_k_writable(struct pol_pstate *st, const char *v, unsigned line)
{
    st->p->fs_lines.writable = line;
    if (strcmp(v, "tmpfs") != 0 && !abs_path_ok(v)) {
        pol_bad(st, line, "Filesystem.Writable='%s': expected tmpfs or an absolute directory",
                POL_X(v));
        return;
    }
    set_fs_path(st, "Writable", &st->p->fs.writable, v, line);
}

void pol_k_private_tmp(struct pol_pstate *st, const char *v, unsigned line)
{
    st->p->fs_lines.private_tmp = line;
    if (pol_parse_bool(v, &st->p->fs.private_tmp) < 0)
        pol_bad(st, line, "Filesystem.PrivateTmp='%s': expected yes or no", POL_X(v));
}

/* A space-separated list of absolute paths, or of SRC[:DST] with both absolute. */
static void k_path_list(struct pol_pstate *st, const char *key, char ***dst, unsigned *lp,
                        bool bind, const char *v, unsigned line)
{
    size_t n = 0;
    char **list = strv_split(v, " \t", false, &n);
    bool ok = true;

    if (!list) {
        st->error = -ENOMEM;
        return;
    }
    *lp = line;
    for (size_t i = 0; i < n; i++) {
        const char *colon = bind ? strchr(list[i], ':') : NULL;
        size_t src_len = colon ? (size_t)(colon - list[i]) : strlen(list[i]);

        if (list[i][0] == '/' && src_len < PATH_MAX &&
            (!colon || (colon[1] == '/' && strlen(colon + 1) < PATH_MAX)))
            continue;
        if (bind)
            pol_bad(st, line,
                    "Filesystem.%s: '%s': expected SRC or SRC:DST, both absolute paths (entries "
                    "separated by spaces)",
                    key, POL_X(list[i]));
        else
            pol_bad(st, line, "Filesystem.%s: '%s': expected absolute paths separated by spaces",
                    key, POL_X(list[i]));
        ok = false;
    }
    if (!ok) {
        strv_free(list);
        return;
    }
    strv_free(*dst);
    *dst = list;
}

void pol_k_read_only_paths(struct pol_pstate *st, const char *v, unsigned line)
{
    k_path_list(st, "ReadOnlyPaths", &st->p->fs.read_only_paths, &st->p->fs_lines.read_only_paths,
                false, v, line);
}

void pol_k_bind_paths(struct pol_pstate *st, const char *v, unsigned line)
{
    k_path_list(st, "BindPaths", &st->p->fs.bind_paths, &st->p->fs_lines.bind_paths, true, v, line);
}

void pol_k_bind_ro_paths(struct pol_pstate *st, const char *v, unsigned line)
{
    k_path_list(st, "BindReadOnlyPaths", &st->p->fs.bind_ro_paths, &st->p->fs_lines.bind_ro_paths,
                true, v, line);
}

/* The [Filesystem] rules between keys. A key refused here is dropped, so that the
 * check-time validation (launch_fs_check) does not report the same conflict again. */
void pol_finish_fs(struct pol_pstate *st)
{
    struct pol_fs *fs = &st->p->fs;
    const struct pol_fs_lines *l = &st->p->fs_lines;

    if (fs->writable && !fs->layers && !l->layers) {
        pol_bad(st, l->writable,
                "Filesystem.Writable needs Layers= (it is the writable top of the overlay root)");
        free(fs->writable);
        fs->writable = NULL;
    }
    if (fs->root_directory && fs->layers) {
        pol_bad(st, l->layers,
                "Filesystem.Layers: RootDirectory= and Layers= are exclusive (the root is one "
                "tree, or an overlay of layers)");
        strv_free(fs->layers);
        fs->layers = NULL;
        free(fs->writable);
        fs->writable = NULL;
    }
    /* A /proc of the host's PID namespace would list every host process, and
     * /proc/PID/root would lead back to the host's tree. */
    if ((l->root_directory || l->layers) && !(st->p->namespaces & POL_NS_PID))
        pol_bad(st, l->root_directory ? l->root_directory : l->layers,
                "Filesystem.%s needs a PID namespace of its own: add pid to Namespaces.Isolate "
                "(the host's /proc would lead back to the host's tree)",
                l->root_directory ? "RootDirectory" : "Layers");
}
