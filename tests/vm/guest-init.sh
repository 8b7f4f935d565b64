#!/bin/sh
# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# PID 1 of the cgroup v2 test guest started by tests/vm/run-v2.sh. Not meant to be run
# on a host. It runs twice:
#
#   stage 1  (/init in the initramfs, busybox sh): load the virtio/9p/overlay modules,
#            mount the host's root read-only over 9p under a tmpfs overlay, switch_root.
#   stage 2  (/.vmtest/init.sh stage2, the host's /bin/sh inside the new root): mount
#            proc/sys/dev/run/tmp and cgroup2, enable +cpu +memory +pids, move itself
#            into /init.scope as systemd would, run each test binary as root with
#            CORRAL_TEST_VM=1, report, power off.
#
# Results go to /dev/ttyS1 (a serial port that carries nothing else, so kernel messages
# cannot interleave), or to the console when there is no ttyS1. Marker lines, each at
# the start of a line:
#   VMINFO <text>                          facts about the guest
#   VMBEGIN <name>                         the binary's output follows, unprefixed
#   VMTAP <name> <TAP line>                one per test: "ok - ...", "not ok - ..."
#   VMTEST <name> rc=<rc> passed=<n> failed=<n> skipped=<n>
#   VMFATAL <text>                         the guest could not set up; no tests ran
#   VMDONE                                 every binary was run
#
# Configuration comes from /vmtest.conf, written by run-v2.sh (shell assignments), and
# /vmtest.bins (one absolute binary path a line).

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

poweroff_now() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 10
}

# ---------------------------------------------------------------------------- stage 1
stage1() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    echo 1 > /proc/sys/kernel/printk
    for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
             netfs fscache 9pnet 9pnet_virtio 9p overlay; do
        [ -f "/mods/$m.ko" ] && insmod "/mods/$m.ko"
    done
    mkdir -p /host /ovl /newroot
    if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /host; then
        echo "VMFATAL cannot mount the host root over 9p (modules: $(echo /mods/*))"
        poweroff_now
    fi
    mount -t tmpfs -o mode=0755 tmpfs /ovl
    mkdir -p /ovl/upper /ovl/work
    if ! mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work /newroot; then
        echo "VMFATAL cannot mount the overlay over the host root"
        poweroff_now
    fi
    mkdir -p /newroot/.vmtest
    cp /init /newroot/.vmtest/init.sh
    cp /vmtest.conf /vmtest.bins /newroot/.vmtest/
    umount /proc /sys /dev
    exec switch_root /newroot /bin/sh /.vmtest/init.sh stage2
}

# ---------------------------------------------------------------------------- stage 2
say() { printf '%s\n' "$*" >&3; }

# Facts a test author wants to know about the kernel's cgroup v2, checked directly.
probe() {
    cg=/sys/fs/cgroup
    say "VMINFO kernel $(uname -r)"
    say "VMINFO cgroup.controllers: $(cat $cg/cgroup.controllers)"
    say "VMINFO root cgroup.subtree_control: $(cat $cg/cgroup.subtree_control)"
    say "VMINFO own cgroup: $(cat /proc/self/cgroup)"
    p=$cg/vmtest-probe
    if mkdir "$p" 2>/dev/null; then
        have='' missing=
        for f in cpu.weight cpu.max cpu.stat memory.max memory.high memory.low memory.peak \
                 memory.events pids.max pids.peak pids.events cgroup.freeze cgroup.kill \
                 cgroup.events; do
            if [ -e "$p/$f" ]; then have="$have $f"; else missing="$missing $f"; fi
        done
        say "VMINFO child group files present:$have"
        say "VMINFO child group files missing:${missing:- none}"
        rmdir "$p"
    fi
    # A group under the (populated) /init.scope, freeze, thaw and kill a process in it.
    x=$cg/init.scope/vmtest-probe
    if mkdir "$x" 2>/dev/null; then
        sleep 1000 &
        spid=$!
        echo "$spid" > "$x/cgroup.procs"
        echo 1 > "$x/cgroup.freeze"
        i=0
        while ! grep -q '^frozen 1' "$x/cgroup.events" && [ $i -lt 50 ]; do
            sleep 0.1; i=$((i + 1))
        done
        fz=$(grep '^frozen' "$x/cgroup.events")
        echo 0 > "$x/cgroup.freeze"
        if [ -e "$x/cgroup.kill" ]; then echo 1 > "$x/cgroup.kill"; else kill -9 "$spid"; fi
        wait "$spid" 2>/dev/null
        say "VMINFO init.scope/child: freeze -> '$fz', sleep killed (status $?)"
        i=0
        while ! rmdir "$x" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    else
        say "VMINFO cannot mkdir $x"
    fi
}

# Puts PID 1 back alone into a plain /init.scope before each binary, so that every binary
# starts as a process in a populated, non-root group with no controllers enabled below
# it. (corral moves the caller, and PID 1 with it, into /init.scope/corral-self and
# enables controllers in /init.scope.) Reports groups a binary left behind.
reset_scope() {
    s=/sys/fs/cgroup/init.scope
    after=$1
    read -r ctl < "$s/cgroup.subtree_control"
    for c in $ctl; do
        echo "-$c" > "$s/cgroup.subtree_control" 2>/dev/null
    done
    cg=$(cat /proc/1/cgroup)
    [ "$cg" = 0::/init.scope ] || say "VMINFO after $after PID 1 was in ${cg#0::}"
    echo $$ > "$s/cgroup.procs" 2>/dev/null ||
        say "VMINFO could not move PID 1 back into /init.scope after $after"
    [ -d "$s/corral-self" ] && rmdir "$s/corral-self" 2>/dev/null
    left=$(find /sys/fs/cgroup -mindepth 1 -type d ! -path "$s/vmtest-probe" | sort)
    [ "$left" = "$s" ] && return
    say "VMWARN cgroups left behind after $after: $(echo "$left" | grep -vx "$s" | tr '\n' ' ')"
    find /sys/fs/cgroup -mindepth 1 -depth -type d ! -path "$s" -exec rmdir {} + 2>/dev/null
}

run_one() {
    bin=$1
    name=${bin##*/}
    tap=/.vmtest/$name.tap
    rm -f "$tap"
    say "VMBEGIN $name"
    if [ ! -x "$bin" ]; then
        say "$bin: not found or not executable in the guest"
        say "VMTEST $name rc=127 passed=0 failed=0 skipped=0"
        return
    fi
    # shellcheck disable=SC2086 # VM_TEST_ARGS is a list of words on purpose
    ( cd "$VM_WORKDIR" 2>/dev/null || cd /
      exec timeout -k 10 "$VM_BIN_TIMEOUT" "$bin" --verbose -j1 --color=never \
          --tap="$tap" $VM_TEST_ARGS ) </dev/null >&3 2>&1
    rc=$?
    [ $rc -eq 124 ] && say "$name: killed after ${VM_BIN_TIMEOUT}s"
    passed=0 failed=0 skipped=0
    if [ -f "$tap" ]; then
        while IFS= read -r line; do
            case $line in
                "ok "*"# SKIP"*) skipped=$((skipped + 1)) ;;
                "ok "*) passed=$((passed + 1)) ;;
                "not ok"*) failed=$((failed + 1)) ;;
                *) continue ;;
            esac
            say "VMTAP $name $line"
        done < "$tap"
    else
        say "$name: no TAP report was written"
    fi
    say "VMTEST $name rc=$rc passed=$passed failed=$failed skipped=$skipped"
    reset_scope "$name"
}

stage2() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    mkdir -p /dev/pts /dev/shm
    mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts 2>/dev/null
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    echo 1 > /proc/sys/kernel/printk
    hostname corral-v2-guest 2>/dev/null

    # shellcheck source=/dev/null
    . /.vmtest/vmtest.conf
    # /tmp gets a fresh tmpfs: tests need a real tmpfs there (an overlay's upper layer
    # cannot live on overlayfs). Directories of the build tree that live under /tmp
    # (run-v2.sh lists them) are bound back from the overlay's view.
    if [ -n "${VM_KEEP_TMP:-}" ]; then
        mkdir -p /.vmtest/oldtmp
        mount --bind /tmp /.vmtest/oldtmp
    fi
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    for d in ${VM_KEEP_TMP:-}; do
        mkdir -p "$d"
        mount --bind "/.vmtest/oldtmp/${d#/tmp/}" "$d" || say "VMWARN cannot bind $d"
    done
    # /run likewise gets a fresh tmpfs unless the build tree lives there.
    [ "${VM_KEEP_RUN:-0}" = 1 ] || mount -t tmpfs -o mode=0755 tmpfs /run

    if [ -c /dev/ttyS1 ] && exec 3>/dev/ttyS1; then
        stty -F /dev/ttyS1 raw -echo 2>/dev/null
    else
        exec 3>/dev/console
    fi
    say "VMSTART"

    # The mount options systemd uses; plain cgroup2 if the kernel refuses them.
    if ! mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup 2>/dev/null &&
       ! mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
        say "VMFATAL cannot mount cgroup2 at /sys/fs/cgroup"
        exec 3>&-
        poweroff_now
    fi
    echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control ||
        say "VMINFO could not enable +cpu +memory +pids in the root"
    # As systemd does; separately, so that a kernel without cpuset keeps the others.
    echo "+cpuset" > /sys/fs/cgroup/cgroup.subtree_control ||
        say "VMINFO could not enable +cpuset in the root"
    mkdir -p /sys/fs/cgroup/init.scope
    echo $$ > /sys/fs/cgroup/init.scope/cgroup.procs ||
        say "VMINFO could not move PID 1 into /init.scope"

    probe

    export HOME=/root CORRAL_TEST_VM=1
    while IFS= read -r b; do
        [ -n "$b" ] && run_one "$b"
    done < /.vmtest/vmtest.bins
    say "VMDONE"
    exec 3>&-
    poweroff_now
}

case ${1:-stage1} in
    stage2) stage2 ;;
    *) stage1 ;;
esac
poweroff_now
