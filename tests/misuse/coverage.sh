#!/bin/sh
# Fails when a public function (declared TG_API in include/tapegrad/*.h) has no misuse
# scenario: every scenario names its function as a string ("tg_add") in tests/misuse/*.c.
# Usage: tests/misuse/coverage.sh SOURCE_ROOT
root=${1:-.}
names=$(cat "$root"/include/tapegrad/*.h | tr '\n' ' ' | grep -oE 'TG_API[^;{(]*\(' |
    sed -E 's/ *\($//; s/.*[ *]//' | grep '^tg_' | sort -u)
total=0
missing=""
for n in $names; do
    total=$((total + 1))
    # (known_bugs.c lists failing scenarios; it is not one)
    grep -q "\"$n\"" $(ls "$root"/tests/misuse/*.c | grep -v known_bugs.c) ||
        missing="$missing $n"
done
if [ "$total" -lt 200 ]; then
    echo "misuse coverage: found only $total public functions: is the header scan broken?"
    exit 1
fi
if [ -n "$missing" ]; then
    echo "misuse coverage: public functions without a scenario in tests/misuse/:$missing"
    exit 1
fi
echo "misuse coverage: all $total public functions have scenarios"
