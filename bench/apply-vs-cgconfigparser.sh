#!/usr/bin/env bash
# Benchmark: apply N workload policies into an empty tree with corral, side by side with
# cgconfigparser (cgroup-tools) loading an equivalent cgconfig.conf, then a no-op
# re-apply of the same policies. Not a test: prints times and ratios.
#
#   bench/apply-vs-cgconfigparser.sh [CORRAL] [N] [ROUNDS]
#     CORRAL  the corral binary (default build/cli/corral)
#     N       workloads (default 1000), half in class normal, half in batch
#     ROUNDS  repetitions; the median of each figure is reported (default 3)
#
# Both trees are nested under this shell's own cgroup in every hierarchy (corral with
# --root ./corral-bench, cgconfigparser with group paths built from /proc/self/cgroup),
# so nothing outside groups created here is written, and both are removed afterwards.
# Equivalent means: the same groups (<class>/<workload>, in cpu, cpuacct, memory, pids,
# freezer) and the same values (cpu.shares, cpu.cfs_quota_us, memory.limit_in_bytes,
# pids.max on v1; cpu.weight, cpu.max, memory.max, pids.max on v2).
# Targets (issue 4): corral <= 0.5x cgconfigparser; no-op re-apply <= 0.1x first apply.
set -euo pipefail

corral=${1:-build/cli/corral}
n=${2:-1000}
rounds=${3:-3}
[ "$(id -u)" = 0 ] || { echo "needs root (creates cgroups)" >&2; exit 77; }
command -v cgconfigparser >/dev/null || { echo "cgconfigparser not installed (apt install cgroup-tools)" >&2; exit 77; }
[ -x "$corral" ] || { echo "no corral binary at $corral" >&2; exit 77; }

work=$(mktemp -d /tmp/corral-bench.XXXXXX)
chmod 755 "$work"
mkdir -m 755 "$work/policies"
v2=false
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && v2=true

# Own cgroup per controller: "cpu /", "memory /process_api/x", or "" for v2 ("0::/...").
own() {
    local c=$1
    if $v2; then sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup; return; fi
    awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup
}
mountdir() { if $v2; then echo /sys/fs/cgroup; else echo "/sys/fs/cgroup/$1"; fi; }
prefix() { local p; p=$(own "$1"); p=${p#/}; echo "${p:+$p/}"; }

cleanup() {
    local c d
    for c in cpu cpuacct memory pids freezer; do
        d="$(mountdir "$c")/$(prefix "$c")"
        for t in corral-bench corral-bench-cgc; do
            [ -d "$d$t" ] && find "$d$t" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
        if $v2; then break; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

# --- the policies and the equivalent cgconfig.conf -------------------------------------
class_of() { if (( $1 % 2 )); then echo batch; else echo normal; fi; }
for ((i = 0; i < n; i++)); do
    printf '[Workload]\nName=w%04d\nClass=%s\n[CPU]\nWeight=200\nMax=50%%\n[Memory]\nMax=256M\n[Pids]\nMax=100\n' \
        "$i" "$(class_of "$i")" > "$work/policies/w$(printf %04d "$i").policy"
done

{
    # One group block per distinct own-cgroup prefix: on v1 the hierarchies may place this
    # shell in different cgroups (here memory is in the supervisor's /process_api/ID).
    declare -A pre
    if $v2; then ctrls="cpu memory pids"; else ctrls="cpu cpuacct memory pids freezer"; fi
    for c in $ctrls; do pre[$c]=$(prefix "$c"); done
    emit() { # relative group, then "controller=settings" pairs
        local rel=$1; shift
        declare -A body=()
        local kv c
        for kv in "$@"; do
            c=${kv%%=*}
            body["@${pre[$c]}"]+="  $c { ${kv#*=} }"$'\n'
        done
        for p in "${!body[@]}"; do
            printf 'group %s%s {\n%s}\n' "${p#@}" "$rel" "${body[$p]}"
        done
    }
    for cls in normal:100 batch:25; do
        c=${cls%%:*} w=${cls##*:}
        if $v2; then
            emit "corral-bench-cgc/$c" "cpu=cpu.weight = $w;" "memory=" "pids="
        else
            emit "corral-bench-cgc/$c" "cpu=cpu.shares = $((w * 1024 / 100));" "cpuacct=" \
                "memory=" "pids=" "freezer="
        fi
    done
    for ((i = 0; i < n; i++)); do
        g="corral-bench-cgc/$(class_of "$i")/w$(printf %04d "$i")"
        if $v2; then
            emit "$g" 'cpu=cpu.weight = 200; cpu.max = "50000 100000";' \
                "memory=memory.max = 268435456;" "pids=pids.max = 100;"
        else
            emit "$g" "cpu=cpu.shares = 2048; cpu.cfs_quota_us = 50000;" "cpuacct=" \
                "memory=memory.limit_in_bytes = 268435456;" "pids=pids.max = 100;" "freezer="
        fi
    done
} > "$work/cgconfig.conf"

now() { date +%s%N; }
ms() { echo "scale=1; $1 / 1000000" | bc; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# No --config: the default corral.conf, or the built-in classes when there is none.
unset CORRAL_CONFIG
run_corral() { "$corral" --root ./corral-bench --policy-dir "$work/policies" apply >/dev/null; }

: > "$work/t_corral"; : > "$work/t_noop"; : > "$work/t_cgc"
for ((r = 1; r <= rounds; r++)); do
    cleanup_trees() {
        local c d
        for c in cpu cpuacct memory pids freezer; do
            d="$(mountdir "$c")/$(prefix "$c")"
            for t in corral-bench corral-bench-cgc; do
                [ -d "$d$t" ] && find "$d$t" -depth -type d -exec rmdir {} + 2>/dev/null || true
            done
            if $v2; then break; fi
        done
    }
    cleanup_trees
    t0=$(now); run_corral; t1=$(now)
    run_corral; t2=$(now)
    cgconfigparser -l "$work/cgconfig.conf"; t3=$(now)
    echo $((t1 - t0)) >> "$work/t_corral"
    echo $((t2 - t1)) >> "$work/t_noop"
    echo $((t3 - t2)) >> "$work/t_cgc"
    # the two trees hold the same values
    d=$(mountdir cpu)/$(prefix cpu)
    if ! $v2; then
        [ "$(cat "$d/corral-bench/batch/w0001/cpu.cfs_quota_us")" = "$(cat "$d/corral-bench-cgc/batch/w0001/cpu.cfs_quota_us")" ] ||
            { echo "trees differ" >&2; exit 1; }
    fi
    printf 'round %d: corral first apply %s ms, no-op re-apply %s ms, cgconfigparser %s ms\n' \
        "$r" "$(ms $((t1 - t0)))" "$(ms $((t2 - t1)))" "$(ms $((t3 - t2)))"
done

c=$(median < "$work/t_corral"); o=$(median < "$work/t_noop"); g=$(median < "$work/t_cgc")
printf '\n%d workloads (%s), median of %d rounds:\n' "$n" "$($v2 && echo v2 || echo v1)" "$rounds"
printf '  corral apply (empty tree)   %8s ms\n' "$(ms "$c")"
printf '  cgconfigparser -l           %8s ms\n' "$(ms "$g")"
printf '  corral no-op re-apply       %8s ms\n' "$(ms "$o")"
printf '  corral / cgconfigparser     %8s x   (target <= 0.5)\n' "$(echo "scale=3; $c / $g" | bc)"
printf '  no-op / first apply         %8s x   (target <= 0.1)\n' "$(echo "scale=3; $o / $c" | bc)"
