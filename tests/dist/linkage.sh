#!/bin/sh
# The core library never links MPI, and libtapegrad-dist links neither CUDA nor NCCL (they
# live in the dlopen'ed libtapegrad-dist-nccl module) (issue 14).
# Usage: linkage.sh LIBTAPEGRAD LIBTAPEGRAD_DIST
status=0
if readelf -d "$1" | grep -E 'NEEDED.*(libmpi|libopen-|libnccl)'; then
    echo "linkage: $1 must not link MPI or NCCL"
    status=1
fi
if readelf -d "$2" | grep -E 'NEEDED.*(libcuda|libnccl|libcublas)'; then
    echo "linkage: $2 must not link CUDA or NCCL"
    status=1
fi
if ! readelf -d "$2" | grep -qE 'NEEDED.*libmpi'; then
    echo "linkage: $2 does not link MPI?"
    status=1
fi
[ "$status" -eq 0 ] && echo "linkage: libtapegrad has no MPI; libtapegrad-dist has MPI and no CUDA/NCCL"
exit "$status"
