#!/usr/bin/env python3
"""Prints 'N passed, N failed' from meson's JSON test logs given as arguments."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                res = json.loads(line).get("result", "")
                if res in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif res == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        failed += 1
        print(f"missing test log {path}", file=sys.stderr)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
