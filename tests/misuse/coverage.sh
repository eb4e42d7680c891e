#!/bin/sh
# Fails when a public function (declared TG_API in include/tapegrad/*.h) has no misuse
# scenario: every scenario names its function as a string ("tg_add") in tests/misuse/*.c
# (known_bugs.c, the list of failing scenarios, does not count).
# Usage: tests/misuse/coverage.sh SOURCE_ROOT
root=${1:-.}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# libtapegrad-dist's headers (dist.h, dist_mpi.h) are left out: that library has its own
# bad-input and fault tests, run under mpirun (tests/dist/test_dist_faults.c).
ls "$root"/include/tapegrad/*.h | grep -v '/dist[_a-z]*\.h$' | xargs cat | tr '\n' ' ' |
    grep -oE 'TG_API[^;{(]*\(' |
    sed -E 's/ *\($//; s/.*[ *]//' | grep '^tg_' | sort -u >"$tmp/public"
for f in "$root"/tests/misuse/*.c; do
    case $f in */known_bugs.c) continue ;; esac
    grep -oE '"tg_[a-z0-9_]+"' "$f"
done | tr -d '"' | sort -u >"$tmp/named"
total=$(wc -l <"$tmp/public")
missing=$(comm -23 "$tmp/public" "$tmp/named" | tr '\n' ' ')
if [ "$total" -lt 200 ]; then
    echo "misuse coverage: found only $total public functions: is the header scan broken?"
    exit 1
fi
if [ -n "$missing" ]; then
    echo "misuse coverage: public functions without a scenario in tests/misuse/: $missing"
    exit 1
fi
echo "misuse coverage: all $total public functions have scenarios"
