#!/usr/bin/env python3
"""Compiles every public header of the tree on its own (dav1d's `headers`
suite): a header that forgets an include fails here, not in the next file
that happens to include it first. Prints TAP.

usage: check_headers.py CC SOURCE_ROOT -- CFLAGS..."""
import os
import subprocess
import sys

FOLDERS = ["core", "adapters", "projections", "cmd"]
PKGS = ["lmdb", "msgpack", "libsodium", "libuv", "libcjson", "libjwt", "libpq", "libcurl",
        "libidn2", "libpsl", "libutf8proc"]


def main():
    cc, root = sys.argv[1], sys.argv[2]
    cflags = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    cflags += subprocess.run(["pkg-config", "--cflags", *PKGS], text=True,
                             capture_output=True, check=True).stdout.split()
    headers = []
    for folder in FOLDERS:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            headers += [os.path.join(dirpath, f) for f in files if f.endswith(".h")]
    headers.sort()
    print(f"1..{len(headers)}")
    failed = 0
    for i, h in enumerate(headers, 1):
        rel = os.path.relpath(h, root)
        src = f'#include "{rel}"\n#include "{rel}"\n'  # and include guards work
        proc = subprocess.run(
            [cc, "-x", "c", "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
             "-D_GNU_SOURCE", "-I", root, *cflags, "-"],
            input=src, text=True, capture_output=True)
        if proc.returncode == 0:
            print(f"ok {i} - {rel}")
        else:
            failed += 1
            print(f"not ok {i} - {rel}")
            sys.stderr.write(proc.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
