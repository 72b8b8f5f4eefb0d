#!/usr/bin/env python3
"""Counts test cases over every build's meson test log and prints the one
closing line `N passed, N failed`. TAP executables count each case; a test
that crashed or timed out without reporting a failing case counts as one
failure; a non-TAP test counts as one case. Exit status 1 on any failure."""
import json
import os
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b", re.M)
TAP_PLAN = re.compile(r"^1\.\.\d+$", re.M)


def count(logfile):
    passed = failed = 0
    if not os.path.exists(logfile):  # a build with no test selected
        return 0, 0
    with open(logfile) as f:
        for line in f:
            entry = json.loads(line)
            result = entry.get("result")
            if result == "SKIP":
                continue
            ok = result in ("OK", "EXPECTEDFAIL")
            p = f_ = 0
            stdout = entry.get("stdout") or ""
            # meson 1.0's log has no "protocol" field: a TAP plan line marks
            # a TAP executable, whose cases are counted one by one
            if TAP_PLAN.search(stdout):
                for m in TAP_LINE.finditer(stdout):
                    if m.group(1) == "ok":
                        p += 1
                    else:
                        f_ += 1
            if p == 0 and f_ == 0:
                p, f_ = (1, 0) if ok else (0, 1)
            elif not ok and f_ == 0:
                f_ = 1
            if f_:
                print(f"FAILED: {entry.get('name')} ({result})")
            passed += p
            failed += f_
    return passed, failed


def main():
    passed = failed = 0
    for d in sys.argv[1:]:
        p, f = count(f"{d}/meson-logs/testlog.json")
        print(f"{d}: {p} passed, {f} failed")
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
