#!/usr/bin/env bash
# The whole test suite: builds corral, runs the unit and integration suites on this
# machine's cgroupfs (as root), then the integration suites again inside a cgroup v2
# guest (QEMU). Usage: tests/run-all.sh [BUILD_DIR]   (default: build)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

.ci/install-deps || exit 1
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" >/dev/null || exit 1
fi
ninja -C "$build" || exit 1

rc=0
echo "== host suites (unit, integration) on $(stat -fc %T /sys/fs/cgroup) cgroupfs"
meson test -C "$build" --no-suite v2 --no-suite bench --print-errorlogs --logbase host || rc=1
echo "== cgroup v2 guest suite"
meson test -C "$build" --suite v2 --print-errorlogs --logbase v2 || rc=1

leftover=$(find /sys/fs/cgroup -maxdepth 5 -type d -name 'corral-test-*' 2>/dev/null | head -5)
if [ -n "$leftover" ]; then
  echo "test groups left behind in cgroupfs:" >&2
  echo "$leftover" >&2
  rc=1
fi
exit $rc
