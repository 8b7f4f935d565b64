#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Launch latency, side by side in one hyperfine run (issue 5):
#   1. unshare -pf --mount-proc -u -i -n -m /bin/true                 (namespaces alone)
#   2. cgexec -g <cpu,cpuacct,memory,pids,freezer groups> unshare ...  (what users do today)
#   3. corral run --policy bench -- /bin/true                          (5 namespaces, 4 controllers)
# and prints corral/unshare and cgexec/unshare from the medians. Target: corral <= 1.2x.
#
#   bench/launch-bench.sh [CORRAL_BINARY] [RUNS]
#
# Root only. Every group it makes is nested under this shell's own cgroup in each
# hierarchy (the memory hierarchy here is shared with the machine's supervisor), and is
# removed on exit. The cgexec groups get the same limits as the corral policy.

set -euo pipefail

corral=${1:-$(dirname "$0")/../build/cli/corral}
runs=${2:-200}
tag=corral-bench-$$
work=$(mktemp -d)
cgv2=0
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && cgv2=1

die() { echo "launch-bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$corral" ] || die "no corral binary at $corral (give its path)"
command -v hyperfine >/dev/null || die "needs hyperfine"
command -v cgexec >/dev/null || die "needs cgexec (cgroup-tools)"
corral=$(readlink -f "$corral")

# Own cgroup in hierarchy $1 ("" for v2), from /proc/self/cgroup.
own() {
    if [ $cgv2 = 1 ]; then sed -n 's/^0:://p' /proc/self/cgroup; return; fi
    awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup
}

cg_dirs=()
cleanup() {
    set +e
    for d in "${cg_dirs[@]}"; do rmdir "$d" 2>/dev/null; done
    # Whatever corral run left (it should leave nothing but its root): remove bottom-up.
    for h in cpu cpuacct memory pids freezer ""; do
        base=/sys/fs/cgroup/$h$(own "$h")
        [ $cgv2 = 1 ] && base=/sys/fs/cgroup$(own "")
        [ -d "$base/$tag" ] && find "$base/$tag" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/bench.policy" <<'EOF'
[Workload]
Class=normal
[CPU]
Weight=100
Max=200%
[Memory]
Max=1G
[Pids]
Max=512
[Namespaces]
Isolate=pid net ipc mnt uts
EOF

# The cgexec groups, with the same limits.
gopts=()
if [ $cgv2 = 1 ]; then
    # v2: cgexec takes the unified tree; nest beside ourselves (no-internal-process rule
    # is the caller's concern: this shell is moved into a leaf first).
    base=/sys/fs/cgroup$(own "")
    mkdir -p "$base/$tag/self" "$base/$tag/x"
    cg_dirs+=("$base/$tag/x" "$base/$tag/self")
    echo $$ >"$base/$tag/self/cgroup.procs"
    echo "+cpu +memory +pids" >"$base/$tag/cgroup.subtree_control"
    echo "200000 100000" >"$base/$tag/x/cpu.max"
    echo 1073741824 >"$base/$tag/x/memory.max"
    echo 512 >"$base/$tag/x/pids.max"
    gopts+=(-g "cpu,memory,pids:$(own "")/x")
else
    for h in cpu cpuacct memory pids freezer; do
        d=/sys/fs/cgroup/$h$(own $h)/$tag
        mkdir -p "$d"
        cg_dirs=("$d" "${cg_dirs[@]}")
        gopts+=(-g "$h:$(own $h | sed 's|/$||')/$tag")
    done
    echo 200000 >"/sys/fs/cgroup/cpu$(own cpu)/$tag/cpu.cfs_quota_us"
    echo 1073741824 >"/sys/fs/cgroup/memory$(own memory)/$tag/memory.limit_in_bytes"
    echo 512 >"/sys/fs/cgroup/pids$(own pids)/$tag/pids.max"
fi

unshare_cmd="unshare -pf --mount-proc -u -i -n -m /bin/true"
cgexec_cmd="cgexec ${gopts[*]} $unshare_cmd"
corral_cmd="$corral --root ./$tag --policy-dir $work --ledger $work/ledger.db run --policy bench -- /bin/true"

# One corral run first: it creates the class and workload groups (applied once, as a
# deployed policy would be); every timed run then creates and removes its instance.
$corral_cmd || die "corral run failed"

echo "# $(uname -r), cgroup $([ $cgv2 = 1 ] && echo v2 || echo v1/hybrid), $(nproc) CPUs, $runs runs each"
echo "# unshare: $unshare_cmd"
echo "# cgexec:  $cgexec_cmd"
echo "# corral:  $corral_cmd"
hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/r.json" \
    -n unshare "$unshare_cmd" -n cgexec+unshare "$cgexec_cmd" -n corral "$corral_cmd"

jq -r '
  (.results | map({key: .command, value: .median}) | from_entries) as $m |
  "median ms: unshare \($m["unshare"] * 1000 | . * 100 | round / 100)  " +
  "cgexec+unshare \($m["cgexec+unshare"] * 1000 | . * 100 | round / 100)  " +
  "corral \($m["corral"] * 1000 | . * 100 | round / 100)",
  "ratio cgexec+unshare / unshare = \($m["cgexec+unshare"] / $m["unshare"] | . * 100 | round / 100)",
  "ratio corral / unshare         = \($m["corral"] / $m["unshare"] | . * 100 | round / 100)  (target <= 1.2)",
  "ratio corral / cgexec+unshare  = \($m["corral"] / $m["cgexec+unshare"] | . * 100 | round / 100)"
' "$work/r.json"
