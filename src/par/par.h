/*
 * Everything MPI that the other modules share: agreement on a status, and the collective
 * loading of the configuration.
 */
#ifndef PS_PAR_H
#define PS_PAR_H

#include <mpi.h>

#include "config/config.h"
#include "core/core.h"

/*
 * The agreement point of STYLE.md. Collective on comm.
 *
 * Every rank passes its local status. If all are PS_OK, returns PS_OK everywhere.
 * Otherwise every rank returns the status of the lowest-numbered failing rank, and every
 * rank's recorded error message becomes that rank's message; when some ranks did not
 * fail, the message is prefixed with "rank R of N: " so that rank 0 can print where the
 * failure happened. Nothing is left waiting: every rank makes the same calls.
 */
ps_status ps_comm_agree(MPI_Comm comm, ps_status local);

/* Checks the return code of a collective MPI call that peers may already be blocked in:
 * on failure, aborts the whole job with a message tagged by rank (STYLE.md). */
void ps_mpi_must(int code, const char *call, MPI_Comm comm);

/* Translates an MPI error code into PS_ERR_MPI with a message naming the call. Local. */
ps_status ps_mpi_error(int code, const char *call);

/*
 * Reads the configuration on rank 0, broadcasts its text (and rank 0's working folder
 * and, when the file sets no seed, a random seed) to every rank, and parses and
 * validates it identically everywhere, so every rank ends with the same ps_config.
 * A read or validation error becomes the same status on every rank, with rank 0's
 * message. Collective on comm.
 */
ps_status ps_config_load_collective(MPI_Comm comm, const char *path, const char *const *overrides,
                                    size_t n_overrides, ps_config **out);

#endif
