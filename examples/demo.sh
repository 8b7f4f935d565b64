#!/usr/bin/env bash
# The corral demo, on a fresh Debian 12 machine as root:
#   installs what is needed, builds, then on the policies in examples/:
#   check and apply them, run an isolated workload, freeze and thaw a running one, and
#   print a chargeback report. Everything lives under ./corral-demo (nested beneath this
#   shell's own cgroup in every hierarchy) and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/install-deps
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

state=$(mktemp -d /tmp/corral-demo.XXXXXX)
corral=(build/cli/corral --root ./corral-demo --config examples/corral.conf
        --policy-dir examples/policies --ledger "$state/ledger.db")
bg=""

cleanup() {
    [ -n "$bg" ] && kill "$bg" 2>/dev/null && wait "$bg" 2>/dev/null
    for t in web batch db backup; do "${corral[@]}" remove --kill "$t" >/dev/null 2>&1 || true; done
    # the classes and the root itself: nothing of the demo stays in cgroupfs
    while IFS=: read -r _ ctrls path; do
        case "$ctrls" in
            "") dir=/sys/fs/cgroup$path ;;
            name=*) continue ;;
            *) dir=/sys/fs/cgroup/${ctrls%%,*}$path ;;
        esac
        [ -d "$dir/corral-demo" ] && find "$dir/corral-demo" -depth -type d -exec rmdir {} + 2>/dev/null
    done < /proc/self/cgroup
    rm -rf "$state"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "corral check: validate the example policies"
"${corral[@]}" check

step "corral apply: create <root>/<class>/<workload> with the policies' limits"
"${corral[@]}" apply
"${corral[@]}" apply --dry-run

step "corral status"
"${corral[@]}" status

step "corral run: the web workload, isolated (PID, NET, IPC, MNT, UTS namespaces)"
"${corral[@]}" run --policy web --name demo -- /bin/sh -c '
    echo "inside: pid $$, hostname $(hostname), uid $(id -u)"
    echo "inside: network interfaces: $(awk -F: "NR > 2 { printf \"%s \", \$1 }" /proc/net/dev)"
    echo "inside: processes visible: $(ls /proc | grep -c "^[0-9]")"
    echo "inside: cgroup: $(grep -m1 -E "pids|^0::" /proc/self/cgroup)"'

step "corral run in its own root: examples/rootfs/ plus the host's /usr, read-only"
# sandbox.policy.in is a template (a root's path is absolute): made for this checkout.
mkdir -m 0755 "$state/sandbox"
sed "s|@EXAMPLES@|$PWD/examples|" examples/sandbox.policy.in >"$state/sandbox/sandbox.policy"
"${corral[@]}" --policy-dir "$state/sandbox" run --policy sandbox --name box -- /bin/sh -c "
    echo \"inside: ls /: \$(ls / | tr '\n' ' ')\"
    echo \"inside: /etc/passwd has \$(wc -l < /etc/passwd) lines; processes: \$(ls /proc | grep -c '^[0-9]')\"
    echo \"inside: the host's $PWD: \$(ls -d '$PWD' 2>&1)\"
    echo \"inside: /usr is read-only: \$(touch /usr/x 2>&1)\""

step "corral run in the background: the batch workload burns CPU for a few seconds"
"${corral[@]}" run --policy batch --name burn -- /bin/sh -c \
    'end=$(( $(date +%s) + 6 )); while [ "$(date +%s)" -lt "$end" ]; do :; done' &
bg=$!
sleep 1

step "corral freeze batch: waits until the kernel reports it frozen"
"${corral[@]}" freeze batch --timeout 10s
"${corral[@]}" status batch
"${corral[@]}" sample
sleep 1

step "corral thaw batch"
"${corral[@]}" thaw batch
wait "$bg"
bg=""

step "corral sample + corral report: chargeback per account from examples/rates.conf"
"${corral[@]}" sample
"${corral[@]}" report --by account --rates examples/rates.conf

step "corral report --per day --by instance: a row per day and instance, with its life"
"${corral[@]}" report --per day --by instance --rates examples/rates.conf
