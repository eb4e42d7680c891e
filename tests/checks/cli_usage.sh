#!/usr/bin/env bash
# A CLI given a bad option names it, prints usage and exits 2; --help exits 0.
# Usage: cli_usage.sh PROGRAM...
set -u
status=0
for prog in "$@"; do
    name=$(basename "$prog")
    out=$("$prog" --no-such-option 2>&1 >/dev/null); rc=$?
    if [ "$rc" -ne 2 ] || ! grep -q -- "--no-such-option" <<<"$out" || ! grep -q "usage" <<<"$out"; then
        echo "$name: bad option gave exit $rc and: $out"; status=1
    fi
    if ! "$prog" --help >/dev/null 2>&1; then echo "$name: --help did not exit 0"; status=1; fi
done
exit $status
