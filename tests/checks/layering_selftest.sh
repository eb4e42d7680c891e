#!/bin/sh
# Self-test of layering.sh: in a temporary tree, a clean nn/ and optim/ pass, and each bad
# include (added alone) fails with its file and line named.
# Usage: layering_selftest.sh [path of layering.sh]   Exits 0 when layering.sh behaves.
check=${1:-$(cd "$(dirname "$0")" && pwd)/layering.sh}
[ -f "$check" ] || { echo "layering_selftest: no $check"; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
status=0

# A tree with the headers the includes below resolve to.
mkdir -p "$tmp/include/tapegrad" "$tmp/core" "$tmp/backends/cpu" "$tmp/nn" "$tmp/optim" "$tmp/dist"
for h in include/tapegrad/tapegrad.h include/tapegrad/nn.h core/internal.h \
         backends/backend_impl.h backends/cpu/cpu_internal.h nn/module_impl.h \
         optim/optim_impl.h; do
    echo '#pragma once' >"$tmp/$h"
done
cat >"$tmp/nn/layers.c" <<'EOF'
#include <math.h>
#  include <stdio.h>   // a comment
#include <tapegrad/tapegrad.h>
#include "tapegrad/nn.h"
#include "nn/module_impl.h"
#include "module_impl.h"
EOF
printf '#include <stdlib.h>\n#include "optim/optim_impl.h"\n#include "optim_impl.h"\n' \
    >"$tmp/optim/optim.c"
printf '#include <tapegrad/tapegrad.h>\n' >"$tmp/dist/dist.c"

if ! out=$(sh "$check" "$tmp" 2>&1); then
    echo "layering_selftest: a clean tree failed:"; echo "$out"; status=1
fi

# Each bad include, appended alone to the file named; the report must name file:line.
while IFS='|' read -r file inc; do
    cp "$tmp/$file" "$tmp/saved"
    printf '%s\n' "$inc" >>"$tmp/$file"
    line=$(wc -l <"$tmp/$file" | tr -d ' ')
    out=$(sh "$check" "$tmp" 2>&1); rc=$?
    if [ "$rc" -ne 1 ] || ! printf '%s\n' "$out" | grep -qF "$file:$line:"; then
        echo "layering_selftest: '$inc' in $file gave exit $rc and:"; echo "$out"; status=1
    fi
    mv "$tmp/saved" "$tmp/$file"
done <<'EOF'
nn/layers.c|#include "core/internal.h"
nn/layers.c|#include <core/internal.h>
nn/layers.c|#include "../core/internal.h"
nn/layers.c|#include "nn/../core/internal.h"
nn/layers.c|#include "backends/backend_impl.h"
nn/layers.c|#include "../backends/cpu/cpu_internal.h"
nn/layers.c|#include <blis.h>
nn/layers.c|#include <cuda_runtime.h>
nn/layers.c|#include <cublas_v2.h>
nn/layers.c|#include "optim/optim_impl.h"
nn/layers.c|#include "no_such.h"
nn/layers.c|#include <tapegrad/no_such.h>
nn/layers.c|#include TG_HEADER
nn/module_impl.h|#include "../core/internal.h"
optim/optim.c|#include "nn/module_impl.h"
optim/optim.c|  #  include "core/internal.h"
dist/dist.c|#include "nn/module_impl.h"
EOF
[ "$status" -eq 0 ] &&
    echo "layering_selftest: layering.sh accepts a clean tree, refuses 17 bad includes"
exit $status
