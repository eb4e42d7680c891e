#!/bin/sh
# A rank that dies mid-step must end the whole job with a message, not hang the others
# (issue 14). Runs test_dist_die on 2 ranks (rank 1 SIGKILLs itself while rank 0 waits in
# a gradient reduction) under a 60 s limit; passes when mpirun ends by itself, non-zero,
# and says which process died.
# Usage: rank_dies.sh MPIRUN TEST_DIST_DIE
mpirun=$1
prog=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
timeout -k 5 60 "$mpirun" -np 2 --oversubscribe "$prog" >"$out" 2>&1
rc=$?
secs=$(($(date +%s) - start))
cat "$out"
# (mpirun's own status for a rank killed by SIGKILL is 137 too: tell them apart by time)
if [ "$secs" -ge 60 ]; then
    echo "rank_dies: FAIL: the job was still running after 60 s (hang)"
    exit 1
fi
if [ "$rc" -eq 0 ]; then
    echo "rank_dies: FAIL: mpirun exited 0 although rank 1 died"
    exit 1
fi
if ! grep -qiE 'signal 9|killed|exited on signal|terminated' "$out"; then
    echo "rank_dies: FAIL: mpirun's output does not say that a process died"
    exit 1
fi
echo "rank_dies: ok: the job ended by itself in ${secs} s with status $rc and a message"
