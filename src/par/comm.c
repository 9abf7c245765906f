/* Agreement on a status across ranks (STYLE.md: collective calls agree). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "par/par.h"

ps_status ps_mpi_error(int code, const char *call)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error code %d", code);
    return ps_error(PS_ERR_MPI, "%s failed: %s", call, text);
}

static ps_par_counters counters;

void ps_par_note(size_t bytes)
{
    counters.calls++;
    counters.bytes += (double)bytes;
}

void ps_par_add_seconds(double seconds)
{
    counters.seconds += seconds;
}

ps_par_counters ps_par_counters_get(void)
{
    return counters;
}

void ps_mpi_must(int code, const char *call, MPI_Comm comm)
{
    if (code == MPI_SUCCESS)
        return;
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error code %d", code);
    fprintf(stderr, "psample: rank %d: %s failed inside a collective operation: %s\n", rank, call,
            text);
    fflush(stderr);
    MPI_Abort(comm, PS_EXIT_RUNTIME);
}

ps_status ps_comm_agree(MPI_Comm comm, ps_status local)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine[2] = {local != PS_OK ? rank : INT_MAX, local != PS_OK ? 1 : 0};
    int first = INT_MAX, failing = 0;
    /* Two reductions: the lowest failing rank and the number of failing ranks. If either
     * fails, MPI itself is broken and the job cannot agree on anything: abort. */
    PS_MPI(MPI_Allreduce(&mine[0], &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce", comm);
    PS_MPI(MPI_Allreduce(&mine[1], &failing, 1, MPI_INT, MPI_SUM, comm), "MPI_Allreduce", comm);
    if (first == INT_MAX)
        return PS_OK;
    /* The first failing rank broadcasts its status and message. */
    enum { CAP = 4096 };
    char message[CAP];
    int status = (int)local;
    if (rank == first) {
        if (failing < size)
            snprintf(message, sizeof message, "rank %d of %d: %s", rank, size,
                     ps_error_message()[0] ? ps_error_message() : ps_status_name(local));
        else
            snprintf(message, sizeof message, "%s",
                     ps_error_message()[0] ? ps_error_message() : ps_status_name(local));
    }
    PS_MPI(MPI_Bcast(&status, 1, MPI_INT, first, comm), "MPI_Bcast", comm);
    PS_MPI(MPI_Bcast(message, CAP, MPI_CHAR, first, comm), "MPI_Bcast", comm);
    message[CAP - 1] = '\0';
    return ps_error_set((ps_status)status, message);
}
