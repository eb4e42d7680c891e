#!/bin/sh
# STYLE.md's size budget: no source file over 1,000 lines (800 is the soft limit).
# Checks C/CUDA sources and headers, Python and shell scripts and meson.build files under
# the source directories. Usage: file_sizes.sh [source root]   Exits 1 listing offenders.
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2
limit=1000
dirs=
for d in core ops backends nn optim tools tests examples bench include scripts; do
    [ -d "$d" ] && dirs="$dirs $d"
done
# shellcheck disable=SC2086  # $dirs is a list of plain directory names
bad=$(find $dirs -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \
        -o -name '*.py' -o -name '*.sh' -o -name 'meson.build' \) -print0 |
      xargs -0 -r wc -l | awk -v max=$limit '$2 != "total" && $1 > max { print "  " $2 ": " $1 " lines" }')
if [ -n "$bad" ]; then
    echo "file sizes: files over $limit lines:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "file sizes: no source file over $limit lines"
