/* The psample command line. */
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include "core/core.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int code = PS_EXIT_OK;
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        if (rank == 0)
            printf("psample %s\n", ps_version_string());
    }
    MPI_Finalize();
    return code;
}
