#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs Criterion test binaries as root inside a cgroup v2 guest: the newest installed
# kernel (/boot/vmlinuz-*) under QEMU with software emulation (TCG), with this machine's
# root file system mounted read-only over 9p under a tmpfs overlay, so the binaries run
# at the same absolute paths. See tests/vm/README.md.
#
#   tests/vm/run-v2.sh [OPTIONS] BUILD_DIR TEST_BIN...
#
# Options (or the environment variable in brackets):
#   --timeout S        whole VM run, boot to power-off (CORRAL_VM_TIMEOUT, 900)
#   --bin-timeout S    each binary inside the guest (CORRAL_VM_BIN_TIMEOUT, 600)
#   --test-args ARGS   extra words for every binary, e.g. "--filter core/*"
#                      (CORRAL_VM_TEST_ARGS)
#   --console          print the whole serial console, not only on failure
#   --keep             keep the work directory (initramfs, logs) and print its path
#
# Every CORRAL_* variable of the caller is passed on to the tests, plus CORRAL_TEST_VM=1.
# Exit status: 0 all passed; 1 a test failed, a binary failed, the guest did not finish
# (boot failure or timeout) or no test ran; 2 usage; 77 skipped (no QEMU, kernel or
# static busybox here; the reason is printed).

set -u -o pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    sed -n '9,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}
skip() { printf '%s: SKIP: %s\n' "$prog" "$*" >&2; exit 77; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

timeout_s=${CORRAL_VM_TIMEOUT:-900}
bin_timeout_s=${CORRAL_VM_BIN_TIMEOUT:-600}
test_args=${CORRAL_VM_TEST_ARGS:-}
show_console=0
keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
        --timeout=*) timeout_s=${1#*=}; shift ;;
        --bin-timeout) [ $# -ge 2 ] || usage; bin_timeout_s=$2; shift 2 ;;
        --bin-timeout=*) bin_timeout_s=${1#*=}; shift ;;
        --test-args) [ $# -ge 2 ] || usage; test_args=$2; shift 2 ;;
        --test-args=*) test_args=${1#*=}; shift ;;
        --console) show_console=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage 0 ;;
        --) shift; break ;;
        -*) log "unknown option $1"; usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
case $timeout_s$bin_timeout_s in *[!0-9]*) die "timeouts must be whole seconds" ;; esac

build_dir=$(realpath -e -- "$1") || die "no build directory $1"
shift
[ $# -ge 1 ] || skip "no test binaries given (no integration tests are built)"
bins=()
for b in "$@"; do
    p=$(realpath -e -- "$b") || die "no test binary $b"
    [ -x "$p" ] || die "$p is not executable"
    bins+=("$p")
done

# ------------------------------------------------------------------ what the VM needs
qemu=$(command -v qemu-system-x86_64) ||
    skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ "$(uname -m)" = x86_64 ] || skip "the guest is x86_64; this host is $(uname -m)"

# The newest kernel that has its modules installed.
kernel='' kver=''
while IFS= read -r k; do
    v=${k#/boot/vmlinuz-}
    if [ -d "/lib/modules/$v/kernel" ]; then kernel=$k; kver=$v; fi
done < <(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V)
[ -n "$kernel" ] ||
    skip "no /boot/vmlinuz-* with modules in /lib/modules (apt-get install linux-image-amd64)"
[ -r "$kernel" ] || skip "$kernel is not readable (run as root)"

busybox=
for c in /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null)"; do
    # A dynamic busybox cannot run alone in the initramfs; busybox-static can.
    if [ -n "$c" ] && [ -x "$c" ] && ! ldd "$c" >/dev/null 2>&1; then busybox=$c; break; fi
done
[ -n "$busybox" ] || skip "no static busybox (apt-get install busybox-static)"
command -v timeout >/dev/null || skip "no timeout(1) (coreutils)"

# ------------------------------------------------------------------ the initramfs
work=$(mktemp -d "${TMPDIR:-/tmp}/corral-v2vm.XXXXXX") || die "mktemp failed"
qpid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    if [ "$keep" = 1 ]; then log "work directory kept: $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,mods,host,ovl,newroot} || die "cannot populate $root"
cp "$busybox" "$root/bin/busybox" || die "cannot copy $busybox"
for a in sh mount umount mkdir cat cp ls tr insmod switch_root sleep sync; do
    ln -s busybox "$root/bin/$a"
done

moddir=/lib/modules/$kver
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         netfs fscache 9pnet 9pnet_virtio 9p overlay; do
    f=$(find "$moddir/kernel" -name "$m.ko*" -print -quit 2>/dev/null)
    case $f in
        "") grep -q "/$m.ko\$" "$moddir/modules.builtin" 2>/dev/null ||
                log "warning: module $m is neither in $moddir nor built in" ;;
        *.ko) cp "$f" "$root/mods/$m.ko" ;;
        *.ko.xz) xz -dc "$f" > "$root/mods/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" > "$root/mods/$m.ko" ;;
        *.ko.gz) gzip -dc "$f" > "$root/mods/$m.ko" ;;
        *) log "warning: cannot use module file $f" ;;
    esac || die "cannot unpack $f"
done

install -m 0755 "$here/guest-init.sh" "$root/init" || die "cannot install guest-init.sh"
printf '%s\n' "${bins[@]}" > "$root/vmtest.bins"

# Shell-quotes $1 for the guest's /bin/sh.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
under() { case $2/ in "$1"/*) return 0 ;; esac; return 1; }
keep_tmp="" keep_run=0
for p in "$build_dir" "${bins[@]}" "${CORRAL_SOURCE_ROOT:-}" "${CORRAL_BUILD_ROOT:-}"; do
    [ -n "$p" ] || continue
    # what lives under /tmp is bound back into the guest's fresh /tmp, by top-level dir
    if under /tmp "$p"; then
        t=${p#/tmp/}
        t=/tmp/${t%%/*}
        case " $keep_tmp " in *" $t "*) ;; *) keep_tmp="$keep_tmp $t" ;; esac
    fi
    under /run "$p" && keep_run=1
done
{
    echo "VM_WORKDIR=$(shq "$build_dir")"
    echo "VM_BIN_TIMEOUT=$bin_timeout_s"
    echo "VM_TEST_ARGS=$(shq "$test_args")"
    echo "VM_KEEP_TMP=$(shq "${keep_tmp# }")"
    echo "VM_KEEP_RUN=$keep_run"
    while IFS= read -r var; do
        [ "$var" = CORRAL_TEST_VM ] && continue
        echo "export $var=$(shq "${!var}")"
    done < <(compgen -e | grep '^CORRAL_' | grep -v '^CORRAL_VM_')
} > "$root/vmtest.conf"

(cd "$root" && find . | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) > "$work/initrd.cpio" ||
    die "cannot build the initramfs"

# ------------------------------------------------------------------ boot
console=$work/console.log
results=$work/results.log
: > "$console"; : > "$results"
log "booting $kernel (TCG, 2 vCPUs, 2 GiB) for ${#bins[@]} test binaries, timeout ${timeout_s}s"
start=$(date +%s)
# serial0 (ttyS0) is the kernel console; serial1 (ttyS1) carries only the test results.
timeout -k 10 "$timeout_s" "$qemu" \
    -accel tcg -cpu max -m 2048 -smp 2 -nographic -no-reboot -nodefaults \
    -monitor none -serial "file:$console" -serial "file:$results" \
    -kernel "$kernel" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 oops=panic" \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    </dev/null >"$work/qemu.log" 2>&1 &
qpid=$!
wait "$qpid"
qrc=$?
qpid=
elapsed=$(( $(date +%s) - start ))

# ------------------------------------------------------------------ results
tr -d '\r' < "$results" > "$work/results.txt"
tr -d '\r' < "$console" > "$work/console.txt"
# Without a ttyS1 in the guest, the results went to the console.
res=$work/results.txt
grep -qa 'VMSTART' "$res" || res=$work/console.txt

if [ "$show_console" = 1 ]; then
    echo "==================== guest console ===================="
    cat "$work/console.txt"
fi
echo "==================== guest test output ===================="
# Everything but the per-test TAP lines, which are summarised below.
grep -av '^VMTAP ' "$res" | sed -n '/VMSTART/,$p'

echo "==================== per test ===================="
declare -A seen=()
fail=0 total_run=0
while IFS= read -r line; do
    line=${line#*VMTAP }
    name=${line%% *}; tap=${line#* }
    case $tap in
        "ok "*"# SKIP"*) verdict=SKIP ;;
        "ok "*) verdict=PASS ;;
        *) verdict=FAIL ;;
    esac
    t=${tap#*- }; t=${t%%  (*}
    case $t in *"# SKIP"*) t="${t%%  # SKIP*} (${t#*# SKIP })" ;; esac
    printf '%-4s %s: %s\n' "$verdict" "$name" "$t"
done < <(grep -a 'VMTAP ' "$res")

echo "==================== per binary ===================="
while IFS= read -r line; do
    line=${line#*VMTEST }
    name=${line%% *}
    seen[$name]=1
    rc=$(sed -n 's/.*rc=\([0-9]*\).*/\1/p' <<<"$line")
    p=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$line")
    f=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
    if [ "${rc:-1}" != 0 ] || [ "${f:-1}" != 0 ]; then
        echo "FAIL $line"; fail=1
    else
        echo "ok   $line"
    fi
    total_run=$((total_run + ${p:-0} + ${f:-0}))
done < <(grep -a 'VMTEST ' "$res")
for b in "${bins[@]}"; do
    n=${b##*/}
    [ -n "${seen[$n]:-}" ] || { echo "FAIL $n: no result (not run, or the guest died)"; fail=1; }
done

echo "==================== verdict ===================="
grep -a 'VMWARN ' "$res" | sed 's/.*VMWARN /warning: /'
if grep -qa 'VMFATAL' "$res" "$work/console.txt"; then
    grep -ah 'VMFATAL' "$res" "$work/console.txt" | sort -u
    fail=1
fi
if ! grep -qa 'VMDONE' "$res"; then
    if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        echo "the guest did not finish within ${timeout_s}s"
    else
        echo "the guest did not finish (qemu exit status $qrc)"
    fi
    if [ "$show_console" = 0 ]; then
        echo "---- last 60 lines of the guest console ----"
        tail -n 60 "$work/console.txt"
        echo "---- qemu ----"
        cat "$work/qemu.log"
    fi
    fail=1
fi
if [ "$total_run" = 0 ]; then
    echo "no test ran (every test was skipped, or none started)"
    fail=1
fi
echo "guest kernel $kver, VM run ${elapsed}s, ${total_run} tests run in ${#bins[@]} binaries"
if [ "$fail" = 0 ]; then echo "PASS"; else echo "FAIL"; fi
exit "$fail"
