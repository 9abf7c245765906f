/*
 * A profiling library for the benchmark harness (scripts/bench/run --mpi-profile): through
 * MPI's profiling interface (PMPI, MPI standard Chapter 15) it counts the collective calls
 * of a process by kind, with the bytes the process sends and receives in them and the time
 * spent inside them, and at MPI_Finalize writes one JSON file per rank into
 * $PSBENCH_MPIPROF_DIR (rank<R>.json). Loaded with LD_PRELOAD; psample is not changed.
 *
 * Bytes are counted as the MPI calls describe them (count x type size): for a rooted call
 * (Bcast, Gather, Reduce) the root's received bytes are the whole gathered payload, and
 * MPI_IN_PLACE counts the caller's own block as sent. The harness models the cost of the
 * calls from these figures.
 *
 *   mpicc -O2 -shared -fPIC -o libpsbench_mpiprof.so scripts/bench/mpi_profile.c
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    K_ALLREDUCE,
    K_REDUCE,
    K_BCAST,
    K_GATHER,
    K_GATHERV,
    K_ALLGATHER,
    K_ALLGATHERV,
    K_ALLTOALL,
    K_ALLTOALLV,
    K_BARRIER,
    K_SCATTER,
    K_SCATTERV,
    K_FILE_OPEN,
    K_FILE_CLOSE,
    K_FILE_WRITE_AT,
    K_FILE_WRITE_AT_ALL,
    K_FILE_WRITE,
    K_FILE_WRITE_ALL,
    K_FILE_READ_AT,
    K_FILE_READ_AT_ALL,
    K_FILE_SYNC,
    K_FILE_SET_SIZE,
    N_KINDS
};

static const char *const kind_names[N_KINDS] = {
    "Allreduce",         "Reduce",       "Bcast",          "Gather",       "Gatherv",
    "Allgather",         "Allgatherv",   "Alltoall",       "Alltoallv",    "Barrier",
    "Scatter",           "Scatterv",     "File_open",      "File_close",   "File_write_at",
    "File_write_at_all", "File_write",   "File_write_all", "File_read_at", "File_read_at_all",
    "File_sync",         "File_set_size"};

static struct {
    unsigned long long count;
    double send_bytes, recv_bytes, seconds, max_call_bytes;
} stats[N_KINDS];

static double type_bytes(MPI_Datatype type, long long count)
{
    int size = 0;
    if (type == MPI_DATATYPE_NULL || PMPI_Type_size(type, &size) != MPI_SUCCESS)
        return 0.0;
    return (double)size * (double)count;
}

static long long sum_counts(const int *counts, int n)
{
    long long s = 0;
    for (int i = 0; counts != NULL && i < n; i++)
        s += counts[i];
    return s;
}

static int comm_size(MPI_Comm comm)
{
    int n = 1;
    PMPI_Comm_size(comm, &n);
    return n;
}

static int comm_rank(MPI_Comm comm)
{
    int r = 0;
    PMPI_Comm_rank(comm, &r);
    return r;
}

static void note(int kind, double sent, double received, double t0)
{
    stats[kind].count++;
    stats[kind].send_bytes += sent;
    stats[kind].recv_bytes += received;
    stats[kind].seconds += PMPI_Wtime() - t0;
    double call = sent > received ? sent : received;
    if (call > stats[kind].max_call_bytes)
        stats[kind].max_call_bytes = call;
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                  MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm);
    double b = type_bytes(datatype, count);
    note(K_ALLREDUCE, b, b, t0);
    return rc;
}

int MPI_Reduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
               int root, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Reduce(sendbuf, recvbuf, count, datatype, op, root, comm);
    double b = type_bytes(datatype, count);
    note(K_REDUCE, b, comm_rank(comm) == root ? b : 0.0, t0);
    return rc;
}

int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Bcast(buffer, count, datatype, root, comm);
    double b = type_bytes(datatype, count);
    int me = comm_rank(comm);
    note(K_BCAST, me == root ? b : 0.0, me == root ? 0.0 : b, t0);
    return rc;
}

int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
               int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Gather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm);
    int me = comm_rank(comm);
    double sent =
        sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcount) : type_bytes(sendtype, sendcount);
    double received =
        me == root ? type_bytes(recvtype, (long long)recvcount * comm_size(comm)) : 0.0;
    note(K_GATHER, sent, received, t0);
    return rc;
}

int MPI_Gatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root,
                MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Gatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, root,
                          comm);
    int me = comm_rank(comm);
    double received =
        me == root ? type_bytes(recvtype, sum_counts(recvcounts, comm_size(comm))) : 0.0;
    double sent = sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcounts ? recvcounts[me] : 0)
                                          : type_bytes(sendtype, sendcount);
    note(K_GATHERV, sent, received, t0);
    return rc;
}

int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                  int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
    double sent =
        sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcount) : type_bytes(sendtype, sendcount);
    note(K_ALLGATHER, sent, type_bytes(recvtype, (long long)recvcount * comm_size(comm)), t0);
    return rc;
}

int MPI_Allgatherv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                   const int recvcounts[], const int displs[], MPI_Datatype recvtype, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc =
        PMPI_Allgatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm);
    int me = comm_rank(comm);
    double sent = sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcounts[me])
                                          : type_bytes(sendtype, sendcount);
    note(K_ALLGATHERV, sent, type_bytes(recvtype, sum_counts(recvcounts, comm_size(comm))), t0);
    return rc;
}

int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                 int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Alltoall(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
    int n = comm_size(comm);
    note(K_ALLTOALL, type_bytes(sendtype, (long long)sendcount * n),
         type_bytes(recvtype, (long long)recvcount * n), t0);
    return rc;
}

int MPI_Alltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[],
                  MPI_Datatype sendtype, void *recvbuf, const int recvcounts[], const int rdispls[],
                  MPI_Datatype recvtype, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Alltoallv(sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls,
                            recvtype, comm);
    int n = comm_size(comm);
    note(K_ALLTOALLV, type_bytes(sendtype, sum_counts(sendcounts, n)),
         type_bytes(recvtype, sum_counts(recvcounts, n)), t0);
    return rc;
}

int MPI_Barrier(MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Barrier(comm);
    note(K_BARRIER, 0.0, 0.0, t0);
    return rc;
}

int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
                int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Scatter(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm);
    int me = comm_rank(comm);
    note(K_SCATTER, me == root ? type_bytes(sendtype, (long long)sendcount * comm_size(comm)) : 0.0,
         type_bytes(recvtype, recvcount), t0);
    return rc;
}

int MPI_Scatterv(const void *sendbuf, const int sendcounts[], const int displs[],
                 MPI_Datatype sendtype, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                 int root, MPI_Comm comm)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_Scatterv(sendbuf, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype,
                           root, comm);
    int me = comm_rank(comm);
    note(K_SCATTERV,
         me == root ? type_bytes(sendtype, sum_counts(sendcounts, comm_size(comm))) : 0.0,
         type_bytes(recvtype, recvcount), t0);
    return rc;
}

/* MPI-IO, as the parallel HDF5 trace writer uses it: measured, not modelled. */

int MPI_File_open(MPI_Comm comm, const char *filename, int amode, MPI_Info info, MPI_File *fh)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_open(comm, filename, amode, info, fh);
    note(K_FILE_OPEN, 0.0, 0.0, t0);
    return rc;
}

int MPI_File_close(MPI_File *fh)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_close(fh);
    note(K_FILE_CLOSE, 0.0, 0.0, t0);
    return rc;
}

int MPI_File_write_at(MPI_File fh, MPI_Offset offset, const void *buf, int count,
                      MPI_Datatype datatype, MPI_Status *status)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_write_at(fh, offset, buf, count, datatype, status);
    note(K_FILE_WRITE_AT, type_bytes(datatype, count), 0.0, t0);
    return rc;
}

int MPI_File_write_at_all(MPI_File fh, MPI_Offset offset, const void *buf, int count,
                          MPI_Datatype datatype, MPI_Status *status)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_write_at_all(fh, offset, buf, count, datatype, status);
    note(K_FILE_WRITE_AT_ALL, type_bytes(datatype, count), 0.0, t0);
    return rc;
}

int MPI_File_write(MPI_File fh, const void *buf, int count, MPI_Datatype datatype,
                   MPI_Status *status)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_write(fh, buf, count, datatype, status);
    note(K_FILE_WRITE, type_bytes(datatype, count), 0.0, t0);
    return rc;
}

int MPI_File_write_all(MPI_File fh, const void *buf, int count, MPI_Datatype datatype,
                       MPI_Status *status)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_write_all(fh, buf, count, datatype, status);
    note(K_FILE_WRITE_ALL, type_bytes(datatype, count), 0.0, t0);
    return rc;
}

int MPI_File_read_at(MPI_File fh, MPI_Offset offset, void *buf, int count, MPI_Datatype datatype,
                     MPI_Status *status)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_read_at(fh, offset, buf, count, datatype, status);
    note(K_FILE_READ_AT, 0.0, type_bytes(datatype, count), t0);
    return rc;
}

int MPI_File_read_at_all(MPI_File fh, MPI_Offset offset, void *buf, int count,
                         MPI_Datatype datatype, MPI_Status *status)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_read_at_all(fh, offset, buf, count, datatype, status);
    note(K_FILE_READ_AT_ALL, 0.0, type_bytes(datatype, count), t0);
    return rc;
}

int MPI_File_sync(MPI_File fh)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_sync(fh);
    note(K_FILE_SYNC, 0.0, 0.0, t0);
    return rc;
}

int MPI_File_set_size(MPI_File fh, MPI_Offset size)
{
    double t0 = PMPI_Wtime();
    int rc = PMPI_File_set_size(fh, size);
    note(K_FILE_SET_SIZE, 0.0, 0.0, t0);
    return rc;
}

int MPI_Finalize(void)
{
    const char *dir = getenv("PSBENCH_MPIPROF_DIR");
    if (dir != NULL && dir[0] != '\0') {
        int rank = comm_rank(MPI_COMM_WORLD), size = comm_size(MPI_COMM_WORLD);
        char path[4096];
        snprintf(path, sizeof path, "%s/rank%d.json", dir, rank);
        FILE *f = fopen(path, "w");
        if (f != NULL) {
            fprintf(f, "{\"rank\": %d, \"size\": %d, \"calls\": {", rank, size);
            int first = 1;
            for (int k = 0; k < N_KINDS; k++) {
                if (stats[k].count == 0)
                    continue;
                fprintf(f,
                        "%s\n \"%s\": {\"count\": %llu, \"send_bytes\": %.17g, "
                        "\"recv_bytes\": %.17g, \"seconds\": %.17g, \"max_call_bytes\": %.17g}",
                        first ? "" : ",", kind_names[k], stats[k].count, stats[k].send_bytes,
                        stats[k].recv_bytes, stats[k].seconds, stats[k].max_call_bytes);
                first = 0;
            }
            fprintf(f, "}}\n");
            fclose(f);
        }
    }
    return PMPI_Finalize();
}
