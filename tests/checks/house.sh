#!/bin/sh
# The house rules of CONTRIBUTING.md, checked on the source tree:
#   1. one door to the kernels: no backend table call (`->ops->slot`) outside
#      core/dispatch.c; only the backend's name (`->ops->name`) is read elsewhere;
#   2. typed op parameters: no untyped attribute slots (tg_attrs, at->i[..], ->f[..],
#      ->i[..], ->s[..]) in ops/, core/, nn/ or optim/;
#   3. core/ sees ops/ only through the descriptor type: the one ops/ header it includes is
#      ops/op_def.h;
#   4. one list of ops: TG_OP_<ID> enum values are written only in ops/op_list.h's
#      expansion (no hand-written `TG_OP_X,` enum rows elsewhere).
# Usage: house.sh [source root]. Exits 0 when clean, 1 listing offenders.
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2
fail=0
report() { printf '%s\n' "$1"; fail=1; }

hits=$(grep -rn -e '->ops->' core ops nn optim dist --include='*.c' --include='*.h' 2>/dev/null |
       grep -v '^core/dispatch\.c:' | grep -v -e '->ops->name\b')
[ -z "$hits" ] || report "backend table called outside core/dispatch.c:
$hits"

hits=$(grep -rnE 'tg_attrs|\bat->[isf]\[|->f\[[0-9]\]|m->i\[[0-9]\]|attrs\.[isf]\[' \
       ops core nn optim --include='*.c' --include='*.h' 2>/dev/null)
[ -z "$hits" ] || report "untyped attribute slots (declare a parameter struct):
$hits"

hits=$(grep -rnE '#[[:space:]]*include[[:space:]]*"ops/' core --include='*.c' --include='*.h' |
       grep -v '"ops/op_def\.h"')
[ -z "$hits" ] || report "core/ includes an ops/ header other than ops/op_def.h:
$hits"

hits=$(grep -rnE '^[[:space:]]*TG_OP_[A-Z_]+[[:space:]]*(=[^=]*)?,[[:space:]]*$' \
       core ops --include='*.c' --include='*.h')
[ -z "$hits" ] || report "op ids listed by hand (add the op to ops/op_list.h instead):
$hits"

[ $fail = 0 ] && echo "house rules: clean"
exit $fail
