#!/bin/sh
# Issue 5's linkage rules: the core library links no CUDA library (NEEDED has no libcudart,
# libcublas or libcuda), and the cuda module links no core library and exports exactly one
# symbol, tg_backend_module_entry.
# Usage: cuda_linkage.sh LIBTAPEGRAD_SO [LIBTAPEGRAD_CUDA_SO]   Exits 1 naming the offence.
lib=$1
mod=${2:-}
if ! command -v readelf >/dev/null 2>&1; then
    echo "cuda linkage: readelf not found (binutils)"
    exit 77
fi
needed=$(readelf -d "$lib") || { echo "cuda linkage: cannot read $lib"; exit 1; }
bad=$(printf '%s\n' "$needed" | grep NEEDED | grep -E 'libcudart|libcublas|libcuda\.')
if [ -n "$bad" ]; then
    echo "cuda linkage: $lib links CUDA:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "cuda linkage: $(basename "$lib") NEEDED has no CUDA library"
[ -n "$mod" ] || exit 0
if readelf -d "$mod" | grep NEEDED | grep -q 'libtapegrad\.'; then
    echo "cuda linkage: $mod links libtapegrad (it must use the host API only)"
    exit 1
fi
exports=$(readelf --dyn-syms -W "$mod" |
          awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $8 != "" { print $8 }')
if [ "$exports" != "tg_backend_module_entry" ]; then
    echo "cuda linkage: $mod must export exactly tg_backend_module_entry, exports:"
    printf '%s\n' "$exports"
    exit 1
fi
echo "cuda linkage: $(basename "$mod") exports only tg_backend_module_entry"
