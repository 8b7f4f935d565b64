#!/usr/bin/env bash
# Fails when a tracked C file differs from .clang-format's layout.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then
    echo "format: $f differs from .clang-format (run clang-format -i $f)"
    bad=1
  fi
done < <(git ls-files '*.c' '*.h')
exit $bad
