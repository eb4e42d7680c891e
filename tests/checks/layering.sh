#!/bin/sh
# DESIGN.md's layering rule: nothing in nn/ or optim/ includes a backend header
# (backends/..., backend_impl.h, elem_math.h, cpu_internal.h, blis.h, CUDA/cuBLAS).
# They are written against the public API only.
# Usage: layering.sh [source root]   Exits 0 when clean, 1 listing the offending lines.
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2
pattern='^[[:space:]]*#[[:space:]]*include.*(backends/|backend_impl\.h|elem_math\.h|cpu_internal\.h|blis|cuda|cublas)'
bad=$(grep -rnIiE "$pattern" nn optim 2>/dev/null)
if [ -n "$bad" ]; then
    echo "layering: nn/ and optim/ must include only public headers; found:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "layering: nn/ and optim/ include no backend header"
