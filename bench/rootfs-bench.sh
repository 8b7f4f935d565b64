#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Filesystem isolation cost (issue 9), side by side in one hyperfine run:
#   1. corral run --policy plain  -- /bin/true   pid net ipc mnt uts, no [Filesystem]
#   2. corral run --policy rootfs -- /bin/true   the same, plus an overlay root of two
#      layers (Layers=app:base, Writable=tmpfs), the host's /usr bound read-only and
#      PrivateTmp=yes (corral also mounts /proc, a minimal /dev and /sys read-only)
#   3. bwrap with the equivalent setup: the same namespaces, the base layer as /, /usr and
#      /sys bound read-only, /proc, /dev, a tmpfs /tmp. Debian 12's bubblewrap (0.8) has no
#      overlay option (--overlay-src came in 0.10), so its root is the bottom layer alone,
#      bound read-only: bwrap does a little less work than corral here.
# and prints rootfs/plain (target <= 1.3) and rootfs/bwrap from the medians.
#
#   bench/rootfs-bench.sh [CORRAL_BINARY] [RUNS]
#
# Root only (hyperfine, jq, bwrap). The corral groups are nested under this shell's own
# cgroup in each hierarchy and removed on exit, with the layers.

set -euo pipefail

corral=${1:-$(dirname "$0")/../build/cli/corral}
runs=${2:-200}
tag=corral-fsbench-$$
work=$(mktemp -d)
cgv2=0
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && cgv2=1

die() { echo "rootfs-bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$corral" ] || die "no corral binary at $corral (give its path)"
for t in hyperfine jq bwrap; do command -v $t >/dev/null || die "needs $t"; done
corral=$(readlink -f "$corral")

own() {
    if [ $cgv2 = 1 ]; then sed -n 's/^0:://p' /proc/self/cgroup; return; fi
    awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup
}

cleanup() {
    set +e
    for h in cpu cpuacct memory pids freezer ""; do
        base=/sys/fs/cgroup/$h$(own "$h")
        [ $cgv2 = 1 ] && base=/sys/fs/cgroup$(own "")
        [ -d "$base/$tag" ] && find "$base/$tag" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Two layers: base (a skeleton root, /usr comes from the host) and app on top.
chmod 0755 "$work"
mkdir -p "$work"/base/{etc,usr,proc,dev,sys,tmp,var/tmp} "$work/app/etc" "$work/policies"
for l in bin:usr/bin sbin:usr/sbin lib:usr/lib lib64:usr/lib64; do ln -s "${l#*:}" "$work/base/${l%%:*}"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$work/base/etc/passwd"
echo 'app=1' >"$work/app/etc/app.conf"

ns='Isolate=pid net ipc mnt uts'
printf '[Workload]\nClass=normal\n[Namespaces]\n%s\n' "$ns" >"$work/policies/plain.policy"
printf '[Workload]\nClass=normal\n[Namespaces]\n%s\n[Filesystem]\nLayers=%s:%s\nWritable=tmpfs\nBindReadOnlyPaths=/usr\nPrivateTmp=yes\n' \
    "$ns" "$work/app" "$work/base" >"$work/policies/rootfs.policy"

c="$corral --root ./$tag --policy-dir $work/policies --ledger $work/ledger.db run --policy"
plain_cmd="$c plain -- /bin/true"
rootfs_cmd="$c rootfs -- /bin/true"
bwrap_cmd="bwrap --unshare-pid --unshare-net --unshare-ipc --unshare-uts --ro-bind $work/base / --ro-bind /usr /usr --ro-bind /sys /sys --proc /proc --dev /dev --tmpfs /tmp /bin/true"

# One run each first: it creates the class and workload groups (applied once, as a
# deployed policy would be), and shows that every command works.
$plain_cmd || die "corral run (plain) failed"
$rootfs_cmd || die "corral run (rootfs) failed"
$bwrap_cmd || die "bwrap failed"
mi=$(cat /proc/self/mountinfo)

echo "# $(uname -r), cgroup $([ $cgv2 = 1 ] && echo v2 || echo v1/hybrid), $(nproc) CPUs, $runs runs each, $(bwrap --version)"
echo "# plain:  $plain_cmd"
echo "# rootfs: $rootfs_cmd"
echo "# bwrap:  $bwrap_cmd"
hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/r.json" \
    -n plain "$plain_cmd" -n rootfs "$rootfs_cmd" -n bwrap "$bwrap_cmd"
[ "$(cat /proc/self/mountinfo)" = "$mi" ] || die "the host's mount table changed"

jq -r '
  (.results | map({key: .command, value: .median}) | from_entries) as $m |
  "median ms: plain \($m["plain"] * 1000 | . * 100 | round / 100)  " +
  "rootfs \($m["rootfs"] * 1000 | . * 100 | round / 100)  " +
  "bwrap \($m["bwrap"] * 1000 | . * 100 | round / 100)",
  "ratio rootfs / plain = \($m["rootfs"] / $m["plain"] | . * 100 | round / 100)  (target <= 1.3)",
  "ratio rootfs / bwrap = \($m["rootfs"] / $m["bwrap"] | . * 100 | round / 100)",
  "ratio plain / bwrap  = \($m["plain"] / $m["bwrap"] | . * 100 | round / 100)"
' "$work/r.json"
