// dist with the program's own MPI communicator. Include after building with MPI's flags
// (pkg-config tapegrad-dist gives them); dist.h alone needs no MPI header.
#pragma once

#include <mpi.h>
#include "tapegrad/dist.h"

#ifdef __cplusplus
extern "C" {
#endif

// A group over a duplicate of `comm` (MPI already initialised by the program, with at
// least MPI_THREAD_SERIALIZED when backward passes run on several threads). tg_dist_free
// frees the duplicate and leaves MPI running. Collective over comm.
TG_API tg_dist *tg_dist_from_comm(MPI_Comm comm);
// The group's communicator (the duplicate; owned by the group).
TG_API MPI_Comm tg_dist_comm(const tg_dist *d);

#ifdef __cplusplus
}
#endif
