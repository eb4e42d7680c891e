#!/bin/sh
# The layering check must fail on a tree that breaks the rule and pass on one that keeps it.
# Usage: layering_selftest.sh PATH/TO/layering.sh
check=$1
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/good/nn" "$tmp/good/optim" "$tmp/bad/nn" "$tmp/bad2/optim"
printf '#include <tapegrad/nn.h>\n#include "nn/module_impl.h"\n#include <stdio.h>\n' \
    >"$tmp/good/nn/a.c"
printf '#include "tapegrad/optim.h"\n' >"$tmp/good/optim/b.c"
printf '#include "core/internal.h"\n' >"$tmp/bad/nn/a.c"
printf '#include "nn/module_impl.h"\n' >"$tmp/bad2/optim/b.c"
"$check" "$tmp/good" >/dev/null || { echo "layering self-test: a clean tree failed"; exit 1; }
for t in bad bad2; do
    if "$check" "$tmp/$t" >/dev/null; then
        echo "layering self-test: tree '$t' with a forbidden include passed"
        exit 1
    fi
done
echo "layering self-test: ok"
