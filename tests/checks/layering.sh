#!/bin/sh
# DESIGN.md's layering rule: nn/, optim/ and dist/ are written against the public API only.
# Every #include in their files may name only
#   - a public header:           <tapegrad/x.h> or "tapegrad/x.h"
#   - a header of the same area: "nn/x.h" from nn/ (it is checked by the same rule)
#   - a system header:           <x.h> not under the project's own folders
# anything else (core/internal.h, ops/, backends/, blis.h with quotes, ...) fails.
# Usage: layering.sh [source root]   Exits 0 when clean, 1 listing the offending lines.
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2
bad=$(
    for area in nn optim dist; do
        [ -d "$area" ] || continue
        find "$area" -type f \( -name '*.c' -o -name '*.h' \) | sort | while read -r file; do
            grep -nE '^[[:space:]]*#[[:space:]]*include' "$file" | while IFS= read -r line; do
                target=$(printf '%s\n' "$line" | sed -E 's/^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*//')
                case "$target" in
                    '<tapegrad/'*'>' | '"tapegrad/'*'"') ;;
                    "\"$area/"*'"') ;;
                    '<core/'* | '<ops/'* | '<backends/'* | '<nn/'* | '<optim/'* | '<dist/'*)
                        printf '%s:%s\n' "$file" "$line" ;;
                    '<'*'>') ;;
                    *) printf '%s:%s\n' "$file" "$line" ;;
                esac
            done
        done
    done
)
if [ -n "$bad" ]; then
    echo "layering: nn/, optim/ and dist/ may include only tapegrad/*.h, their own area's"
    echo "headers and system headers; found:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "layering: nn/, optim/ and dist/ include only public, own-area and system headers"
