/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory: hard limit, throttling and protection thresholds, swap, and usage.
 *   v2: memory.max, memory.high, memory.low, memory.swap.max ("max" = no limit);
 *       memory.current, memory.peak (5.19+), memory.events oom_kill.
 *   v1: memory.limit_in_bytes ("-1" = no limit), memory.memsw.limit_in_bytes = memory +
 *       swap (only with swap accounting); no high or low: those settings are warnings.
 *       memory.usage_in_bytes, memory.max_usage_in_bytes, memory.oom_control oom_kill
 *       (4.13+).
 * Every limit is rounded down to the page size before it is compared or written: the
 * kernel keeps whole pages, so what we write is then exactly what reads back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/ctl-internal.h"

/* Sizes: Max and High at least one page (0 would let nothing run), Low and SwapMax 0 for
 * none. */
static const struct ctl_key_desc memory_keys[] = {
    {
        .id = CTL_KEY_MEM_MAX,
        .ctl = CTL_MEMORY,
        .section = "Memory",
        .key = "Max",
        .unit = CTL_UNIT_BYTES,
        .min = 1,
        .max = UINT64_MAX,
        .max_ok = true,
        .def = CTL_MAX,
        .offset = offsetof(struct ctl_settings, mem_max),
        .file = {"memory.limit_in_bytes", "memory.max"},
    },
    {
        .id = CTL_KEY_MEM_HIGH,
        .ctl = CTL_MEMORY,
        .section = "Memory",
        .key = "High",
        .unit = CTL_UNIT_BYTES,
        .min = 1,
        .max = UINT64_MAX,
        .max_ok = true,
        .def = CTL_MAX,
        .offset = offsetof(struct ctl_settings, mem_high),
        .file = {NULL, "memory.high"},
        .missing = {"cgroup v1 has no memory.high (throttling); not applied"},
    },
    {
        .id = CTL_KEY_MEM_LOW,
        .ctl = CTL_MEMORY,
        .section = "Memory",
        .key = "Low",
        .unit = CTL_UNIT_BYTES,
        .min = 0,
        .max = UINT64_MAX,
        .max_ok = true,
        .def = 0,
        .offset = offsetof(struct ctl_settings, mem_low),
        .file = {NULL, "memory.low"},
        .missing = {"cgroup v1 has no memory.low (protection); not applied"},
    },
    {
        .id = CTL_KEY_MEM_SWAP_MAX,
        .ctl = CTL_MEMORY,
        .section = "Memory",
        .key = "SwapMax",
        .unit = CTL_UNIT_BYTES,
        .min = 0,
        .max = UINT64_MAX,
        .max_ok = true,
        .def = CTL_MAX,
        .offset = offsetof(struct ctl_settings, mem_swap_max),
        .file = {"memory.memsw.limit_in_bytes", "memory.swap.max"},
    },
};

/* SwapMax needs swap accounting (CONFIG_MEMCG_SWAP, swapaccount=1), and on v1 a memory
 * limit to add the allowance to. */
static const char *const no_swap[_CG_VOCAB_MAX] = {
    "memory.memsw.limit_in_bytes is not available (swap accounting is off; boot with "
    "swapaccount=1)",
    "memory.swap.max is not available (no swap accounting)",
};
static const char swap_unlimited_v1[] =
    "cgroup v1 limits memory+swap together; without Memory.Max swap is not limited";

uint64_t ctl_mem_round(uint64_t bytes, uint64_t page_size)
{
    if (bytes == CTL_MAX || bytes == CTL_UNSET || page_size == 0)
        return bytes;
    return bytes - bytes % page_size;
}

uint64_t ctl_mem_normalise(uint64_t raw, uint64_t page_size)
{
    uint64_t unlimited = page_size ? (uint64_t)INT64_MAX / page_size * page_size : INT64_MAX;

    if (raw == CTL_UNSET)
        return raw;
    return raw >= unlimited ? CTL_MAX : raw;
}

int ctl_mem_parse(const char *raw, bool v2, uint64_t page_size, uint64_t *ret)
{
    uint64_t v;
    int r;

    if (!v2 && strcmp(raw, "-1") == 0) {
        *ret = CTL_MAX;
        return 0;
    }
    r = cg_parse_u64(raw, &v);
    if (r < 0)
        return r;
    *ret = ctl_mem_normalise(v, page_size);
    return 0;
}

void ctl_mem_format(uint64_t bytes, bool v2, char *buf, size_t size)
{
    if (bytes == CTL_MAX)
        snprintf(buf, size, "%s", v2 ? "max" : "-1");
    else
        snprintf(buf, size, "%llu", (unsigned long long)bytes);
}

uint64_t ctl_memsw_sum(uint64_t mem_max, uint64_t swap_max)
{
    if (mem_max == CTL_MAX || swap_max == CTL_MAX || mem_max > CTL_MAX - 2 - swap_max)
        return CTL_MAX;
    return mem_max + swap_max;
}

bool ctl_memsw_first(uint64_t new_limit, uint64_t cur_memsw)
{
    return new_limit > cur_memsw;
}

static uint64_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096;
}

/* The wanted value of a limit as the kernel will hold it. */
static uint64_t want_bytes(uint64_t v)
{
    return ctl_mem_normalise(ctl_mem_round(v, page_size()), page_size());
}

/* Parses a limit file's raw text into *ret_cur and turns raw into what to write back. */
static int parse_limit(struct cg_group *g, const char *file, char *raw, size_t size,
                       uint64_t *ret_cur, struct cg_err *e)
{
    bool v2 = cg_ctx_is_v2(cg_group_ctx(g));
    int r = ctl_mem_parse(raw, v2, page_size(), ret_cur);

    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), file, "unexpected content '%s'", raw);
    /* The rollback value in the form the kernel takes back on any page size. */
    if (*ret_cur == CTL_MAX)
        snprintf(raw, size, "%s", v2 ? "max" : "-1");
    return 0;
}

/* One limit file: *ret_cur is what the kernel holds now, raw what to write back. */
static int read_limit(struct cg_group *g, const char *file, char *raw, size_t size,
                      uint64_t *ret_cur, struct cg_err *e)
{
    int r = ctl_read_raw(g, CG_H_MEMORY, "memory", file, raw, size, e);

    if (r < 0)
        return r;
    return parse_limit(g, file, raw, size, ret_cur, e);
}

/* v1 has no throttling threshold and no protection. Their defaults ("High=max", "Low=0")
 * are what v1 does anyway, so only other values are reported. */
static void missing_warnings(const struct ctl_settings *s, enum cg_vocab v, struct ctl_warnings *w)
{
    for (size_t i = 0; i < ARRAY_SIZE(memory_keys); i++) {
        const struct ctl_key_desc *d = &memory_keys[i];
        uint64_t x = ctl_key_get(d, s);

        if (!d->file[v] && x != CTL_UNSET && x != d->def)
            ctl_warn(w, d->id, "%s", d->missing[v]);
    }
}

/* Reads a limit file into *field if it exists; absent files leave it CTL_UNSET. */
static int read_setting(int fd, const char *file, bool v2, uint64_t *field)
{
    char buf[64];
    int r = ctl_read_opt(fd, file, buf, sizeof(buf));

    if (r <= 0)
        return r;
    return ctl_mem_parse(buf, v2, page_size(), field);
}

static int memory_read_settings(struct cg_group *g, struct ctl_settings *ret)
{
    int fd = cg_group_fd(g, CG_H_MEMORY), r;
    uint64_t sw = CTL_UNSET;

    if (cg_ctx_is_v2(cg_group_ctx(g))) {
        r = read_setting(fd, "memory.max", true, &ret->mem_max);
        if (r >= 0)
            r = read_setting(fd, "memory.high", true, &ret->mem_high);
        if (r >= 0)
            r = read_setting(fd, "memory.low", true, &ret->mem_low);
        if (r >= 0)
            r = read_setting(fd, "memory.swap.max", true, &ret->mem_swap_max);
        return r;
    }
    r = read_setting(fd, "memory.limit_in_bytes", false, &ret->mem_max);
    if (r >= 0)
        r = read_setting(fd, "memory.memsw.limit_in_bytes", false, &sw);
    if (r < 0 || sw == CTL_UNSET || ret->mem_max == CTL_UNSET)
        return r;
    /* The kernel keeps memsw >= limit, so the difference is the swap allowance. */
    if (sw == CTL_MAX || ret->mem_max == CTL_MAX)
        ret->mem_swap_max = CTL_MAX;
    else
        ret->mem_swap_max = sw >= ret->mem_max ? sw - ret->mem_max : 0;
    return 0;
}

/* memory.peak: 5.19+; oom_kill in memory.oom_control: 4.13+. */
static const struct ctl_ctr_desc memory_ctrs[] = {
    {.id = CTL_CTR_MEM_CUR,
     .ctl = CTL_MEMORY,
     .hier = CG_H_MEMORY,
     .file = {[CG_VOCAB_V1] = {"memory.usage_in_bytes", CTL_CTR_NUMBER, true, CTL_NUM(mem_current)},
              [CG_VOCAB_V2] = {"memory.current", CTL_CTR_NUMBER, true, CTL_NUM(mem_current)}}},
    {.id = CTL_CTR_MEM_PEAK,
     .ctl = CTL_MEMORY,
     .hier = CG_H_MEMORY,
     .file = {[CG_VOCAB_V1] = {"memory.max_usage_in_bytes", CTL_CTR_NUMBER, false,
                               CTL_NUM(mem_peak)},
              [CG_VOCAB_V2] = {"memory.peak", CTL_CTR_NUMBER, false, CTL_NUM(mem_peak)}}},
    {.id = CTL_CTR_MEM_OOM,
     .ctl = CTL_MEMORY,
     .hier = CG_H_MEMORY,
     .file = {[CG_VOCAB_V1] = {"memory.oom_control",
                               CTL_CTR_KEYED,
                               false,
                               {CTL_KEY("oom_kill", mem_oom_kills, 1)}},
              [CG_VOCAB_V2] = {"memory.events",
                               CTL_CTR_KEYED,
                               false,
                               {CTL_KEY("oom_kill", mem_oom_kills, 1)}}}},
};

static int memory_read_usage(struct cg_group *g, struct ctl_usage *ret)
{
    _cleanup_free_ char *text = NULL;
    int fd = cg_group_fd(g, CG_H_MEMORY), r;
    enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));

    r = ctl_read_counter(fd, memory_ctrs[0].file[v].name, &ret->mem_current);
    if (r >= 0)
        r = ctl_read_counter(fd, memory_ctrs[1].file[v].name, &ret->mem_peak);
    if (r >= 0)
        r = ctl_read_text(fd, memory_ctrs[2].file[v].name, &text);
    if (r < 0)
        return r;
    if (text)
        ctl_ctr_parse(&memory_ctrs[2], v, text, true, ret);
    return 0;
}

static void add_limit(struct ctl_plan *ret, const char *file, bool v2, uint64_t cur, uint64_t want)
{
    char a[32], b[32];

    ctl_mem_format(cur, v2, a, sizeof(a));
    ctl_mem_format(want, v2, b, sizeof(b));
    ctl_plan_add(ret, CG_H_MEMORY, file, a, b);
}

/* v1: memory.limit_in_bytes and memory.memsw.limit_in_bytes (memory + swap; cur's swap
 * allowance CTL_UNSET when that file is not there). The kernel keeps limit_in_bytes <=
 * memsw.limit_in_bytes after every write (-EINVAL otherwise): memsw is raised before a
 * limit that would pass it, and otherwise the limit moves first. Rollback replays in
 * reverse and stays within the rule too. SwapMax left alone keeps the allowance. */
static void diff_v1(const struct ctl_settings *cur, const struct ctl_settings *want,
                    struct ctl_plan *ret)
{
    uint64_t cur_lim = cur->mem_max, cur_sw = ctl_memsw_sum(cur->mem_max, cur->mem_swap_max);
    uint64_t want_lim = want->mem_max != CTL_UNSET ? want_bytes(want->mem_max) : cur_lim, want_sw;
    const char *lim = memory_keys[0].file[CG_VOCAB_V1], *sw = memory_keys[3].file[CG_VOCAB_V1];
    bool sw_first;

    if (want->mem_swap_max == CTL_UNSET && want_lim == cur_lim)
        return;
    if (cur->mem_swap_max == CTL_UNSET) {
        /* No memory+swap file here (no swap accounting): the limit alone. */
        if (want_lim != cur_lim)
            add_limit(ret, lim, false, cur_lim, want_lim);
        return;
    }
    if (want->mem_swap_max != CTL_UNSET)
        want_sw = ctl_memsw_sum(want_lim, want_bytes(want->mem_swap_max));
    else
        want_sw = cur_sw == CTL_MAX || cur_lim == CTL_MAX
                      ? cur_sw
                      : ctl_memsw_sum(want_lim, cur_sw - cur_lim);
    want_sw = ctl_mem_normalise(want_sw, page_size());
    sw_first = ctl_memsw_first(want_lim, cur_sw);
    if (sw_first && want_sw != cur_sw)
        add_limit(ret, sw, false, cur_sw, want_sw);
    if (want_lim != cur_lim)
        add_limit(ret, lim, false, cur_lim, want_lim);
    if (!sw_first && want_sw != cur_sw)
        add_limit(ret, sw, false, cur_sw, want_sw);
}

static void memory_diff(const struct ctl_settings *cur, const struct ctl_settings *want,
                        enum cg_vocab v, struct ctl_plan *ret)
{
    if (v == CG_VOCAB_V1) {
        diff_v1(cur, want, ret);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(memory_keys); i++) {
        const struct ctl_key_desc *d = &memory_keys[i];
        uint64_t c = ctl_key_get(d, cur), x = ctl_key_get(d, want);

        if (x != CTL_UNSET && want_bytes(x) != c)
            add_limit(ret, d->file[v], true, c, want_bytes(x));
    }
}

/* v2: reads every limit asked for (memory.swap.max only where swap accounting is on;
 * otherwise that is a warning, not a failure), plans, writes. */
static int apply_v2(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                    struct ctl_warnings *w, struct cg_err *e)
{
    int fd = cg_group_fd(g, CG_H_MEMORY), r;
    struct ctl_raw raw[ARRAY_SIZE(memory_keys)] = {0};
    struct ctl_settings cur, want = *s;
    struct ctl_plan p = {0};

    ctl_settings_init(&cur);
    for (size_t i = 0; i < ARRAY_SIZE(memory_keys); i++) {
        const struct ctl_key_desc *d = &memory_keys[i];

        if (ctl_key_get(d, s) == CTL_UNSET)
            continue;
        if (d->id == CTL_KEY_MEM_SWAP_MAX && faccessat(fd, d->file[CG_VOCAB_V2], F_OK, 0) < 0 &&
            errno == ENOENT && faccessat(fd, "memory.max", F_OK, 0) == 0) {
            ctl_warn(w, d->id, "%s", no_swap[CG_VOCAB_V2]);
            want.mem_swap_max = CTL_UNSET;
            continue;
        }
        raw[i].file = d->file[CG_VOCAB_V2];
        r = read_limit(g, raw[i].file, raw[i].value, sizeof(raw[i].value), ctl_key_field(d, &cur),
                       e);
        if (r < 0)
            return r;
    }
    memory_diff(&cur, &want, CG_VOCAB_V2, &p);
    return ctl_plan_write(g, &p, raw, ARRAY_SIZE(raw), t, e);
}

/* v1: memory.limit_in_bytes, and memory.memsw.limit_in_bytes (memory + swap) when swap
 * accounting is on and something there may change; plans with diff_v1, writes. */
static int apply_v1_limits(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                           struct ctl_warnings *w, struct cg_err *e)
{
    int fd = cg_group_fd(g, CG_H_MEMORY), r;
    struct ctl_raw raw[2] = {{memory_keys[0].file[CG_VOCAB_V1]},
                             {memory_keys[3].file[CG_VOCAB_V1]}};
    struct ctl_settings cur, want = *s;
    struct ctl_plan p = {0};
    uint64_t want_lim, sw;

    ctl_settings_init(&cur);
    r = read_limit(g, raw[0].file, raw[0].value, sizeof(raw[0].value), &cur.mem_max, e);
    if (r < 0)
        return r;
    want_lim = s->mem_max != CTL_UNSET ? want_bytes(s->mem_max) : cur.mem_max;
    /* With SwapMax left alone and the limit as wanted, the swap allowance (memsw - limit)
     * stays as it is whatever memsw holds (the kernel keeps memsw >= limit): nothing to
     * read there. */
    if (s->mem_swap_max == CTL_UNSET && want_lim == cur.mem_max)
        return 0;
    /* A missing file (no swap accounting) is told apart from a group that is gone by
     * ctl_read_opt, so no separate existence check is needed. */
    r = ctl_read_opt(fd, raw[1].file, raw[1].value, sizeof(raw[1].value));
    if (r < 0)
        return ctl_file_error(g, CG_H_MEMORY, "memory", raw[1].file, r, e);
    if (r == 0) {
        if (s->mem_swap_max != CTL_UNSET)
            ctl_warn(w, CTL_KEY_MEM_SWAP_MAX, "%s", no_swap[CG_VOCAB_V1]);
        want.mem_swap_max = CTL_UNSET; /* and cur's stays unknown: the limit alone */
    } else {
        r = parse_limit(g, raw[1].file, raw[1].value, sizeof(raw[1].value), &sw, e);
        if (r < 0)
            return r;
        if (s->mem_swap_max != CTL_UNSET && want_lim == CTL_MAX && s->mem_swap_max != CTL_MAX)
            ctl_warn(w, CTL_KEY_MEM_SWAP_MAX, "%s", swap_unlimited_v1);
        /* The swap allowance; the kernel keeps memsw >= limit. */
        cur.mem_swap_max = sw == CTL_MAX || cur.mem_max == CTL_MAX ? CTL_MAX
                           : sw >= cur.mem_max                     ? sw - cur.mem_max
                                                                   : 0;
    }
    diff_v1(&cur, &want, &p);
    return ctl_plan_write(g, &p, raw, ARRAY_SIZE(raw), t, e);
}

static int apply_v1(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                    struct ctl_warnings *w, struct cg_err *e)
{
    missing_warnings(s, CG_VOCAB_V1, w);
    if (s->mem_max == CTL_UNSET && s->mem_swap_max == CTL_UNSET)
        return 0;
    if (cg_group_fd(g, CG_H_MEMORY) < 0)
        return ctl_file_error(g, CG_H_MEMORY, "memory", "memory.limit_in_bytes", -ENODEV, e);
    return apply_v1_limits(g, s, t, w, e);
}

static int memory_apply(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                        struct ctl_warnings *w, struct cg_err *e)
{
    return cg_ctx_is_v2(cg_group_ctx(g)) ? apply_v2(g, s, t, w, e) : apply_v1(g, s, t, w, e);
}

static unsigned memory_probe(struct cg_group *g)
{
    bool v2 = cg_ctx_is_v2(cg_group_ctx(g));
    int fd = cg_group_fd(g, CG_H_MEMORY);
    unsigned f = 0;

    /* v2's top cgroup has no memory.max: only a group below it tells. */
    if (fd >= 0 && (!v2 || faccessat(fd, "memory.max", F_OK, 0) == 0))
        f |= CTL_FEAT_MEMORY;
    if (fd >= 0 &&
        faccessat(fd, v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes", F_OK, 0) == 0)
        f |= CTL_FEAT_SWAP;
    return f;
}

/* What a new group with settings s would warn about (as apply_v1/apply_v2 would). */
static void memory_warn(const struct ctl_settings *s, enum cg_vocab v, unsigned features,
                        struct ctl_warnings *w)
{
    missing_warnings(s, v, w);
    if (s->mem_swap_max == CTL_UNSET || !(features & CTL_FEAT_MEMORY))
        return;
    if (!(features & CTL_FEAT_SWAP))
        ctl_warn(w, CTL_KEY_MEM_SWAP_MAX, "%s", no_swap[v]);
    else if (v == CG_VOCAB_V1 && (s->mem_max == CTL_UNSET || s->mem_max == CTL_MAX) &&
             s->mem_swap_max != CTL_MAX)
        ctl_warn(w, CTL_KEY_MEM_SWAP_MAX, "%s", swap_unlimited_v1);
}

const struct ctl_controller ctl_memory = {
    .name = "memory",
    .id = CTL_MEMORY,
    .diff = memory_diff,
    .probe = memory_probe,
    .warn = memory_warn,
    .apply = memory_apply,
    .read_settings = memory_read_settings,
    .read_usage = memory_read_usage,
    .keys = memory_keys,
    .n_keys = ARRAY_SIZE(memory_keys),
    .ctrs = memory_ctrs,
    .n_ctrs = ARRAY_SIZE(memory_ctrs),
};
