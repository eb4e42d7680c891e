#!/bin/sh
# DESIGN.md's layering rule: nn/, optim/ and dist/ are written against the public API only.
# Every #include of every file under them must be one of:
#   - a public header: <tapegrad/NAME.h> or "tapegrad/NAME.h" (present in include/tapegrad/);
#   - a header of the file's own area: "nn/NAME.h" from nn/, "optim/NAME.h" from optim/, or
#     a quoted name relative to the file that resolves inside that area;
#   - a system header <...> that is neither a project path (<core/internal.h> resolves
#     through the build's -I.) nor a backend library (BLIS, CUDA, cuBLAS); the one exception
#     is dist/nccl.c, the NCCL transport module (CUDA runtime headers, no tapegrad header).
# Anything else (core/, ops/, backends/, the other area, a macro include) fails with file:line.
# Usage: layering.sh [source root]   Exits 0 when clean, 1 listing offenders, 2 on bad root.
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2
[ -d include/tapegrad ] || { echo "layering: $root has no include/tapegrad"; exit 2; }

# Normalises a relative path (removes "." and resolves ".." lexically); prints it or nothing
# when it climbs above the root.
normalise() {
    printf '%s\n' "$1" | awk -F/ '{
        n = 0
        for (i = 1; i <= NF; i++) {
            if ($i == "" || $i == ".") continue
            if ($i == "..") { if (n == 0) exit; n--; continue }
            part[++n] = $i
        }
        out = ""
        for (i = 1; i <= n; i++) out = out (i > 1 ? "/" : "") part[i]
        print out
    }'
}

# Why `target` (with its delimiter: '<' or '"') may not be included from `file` of `area`;
# prints nothing when it may.
verdict() {
    file=$1 area=$2 delim=$3 target=$4
    case $target in
    tapegrad/*.h)
        if [ -f "include/$target" ] && [ "${target#tapegrad/*/}" = "$target" ]; then return; fi
        echo "no such public header include/$target"; return ;;
    esac
    first=${target%%/*}
    if [ "$delim" = '<' ]; then
        case $target in
        blis.h | blis/* | cuda*.h | cublas*.h | cuda/* | cuda_runtime* | nvrtc*.h | cudnn*.h)
            # dist/nccl.c is the NCCL transport, a module loaded with dlopen that links
            # NCCL and the CUDA runtime and includes no tapegrad header (see its top).
            [ "$file" = dist/nccl.c ] && return
            echo "backend library header"; return ;;
        esac
        case $first in
        core | ops | backends | nn | optim | dist | tools | tests | bench | examples | include)
            echo "project header through the include path (not public)"; return ;;
        esac
        if [ "$first" != "$target" ] && [ -e "$first" ]; then
            echo "project header through the include path (not public)"; return
        fi
        return
    fi
    # quoted: found next to the file first, then through -I. (the root), as the compiler
    # searches; it must resolve to a header of the file's own area
    path=$(normalise "$(dirname "$file")/$target")
    [ -n "$path" ] && [ -f "$path" ] || path=$(normalise "$target")
    if [ -z "$path" ] || [ ! -f "$path" ]; then echo "no such header"; return; fi
    case $path in
    "$area"/*) ;;
    *) echo "$path is not a public header nor one of $area/'s own" ;;
    esac
}

report=$(mktemp) || exit 2
trap 'rm -f "$report"' EXIT
for area in nn optim dist; do
    [ -d "$area" ] || continue
    find "$area" -type f \( -name '*.c' -o -name '*.h' \) | sort | while IFS= read -r file; do
        grep -n '^[[:space:]]*#[[:space:]]*include' "$file" | while IFS= read -r hit; do
            line=${hit%%:*}
            text=${hit#*:}
            spec=$(printf '%s\n' "$text" |
                   sed -n 's/^[[:space:]]*#[[:space:]]*include[_a-z]*[[:space:]]*//p')
            case $spec in
            '<'*'>'*) delim='<'; target=${spec#<}; target=${target%%>*} ;;
            '"'*'"'*) delim='"'; target=${spec#\"}; target=${target%%\"*} ;;
            *) delim=''; target='' ;;
            esac
            case $text in
            *include_next*) why="#include_next is not allowed" ;;
            *)
                if [ -z "$delim" ]; then why="not a literal <...> or \"...\" include"
                else why=$(verdict "$file" "$area" "$delim" "$target"); fi ;;
            esac
            if [ -n "$why" ]; then
                printf '  %s:%s: %s  (%s)\n' "$file" "$line" \
                    "$(printf '%s' "$text" | sed 's/^[[:space:]]*//')" "$why" >>"$report"
            fi
        done
    done
done
if [ -s "$report" ]; then
    echo "layering: nn/, optim/ and dist/ may include only public tapegrad/ headers, their own"
    echo "area's headers and system headers; found:"
    cat "$report"
    exit 1
fi
echo "layering: nn/, optim/ and dist/ include only public, own-area and system headers"
